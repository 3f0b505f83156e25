// Reads the errno code (ENOENT, EPERM, ...) off a thrown value; it does not decide what a code means.

/** The `code` of a Node.js system error, or undefined for anything else. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

/** Codes that mean the process (or its /proc entry) no longer exists. */
export function isGoneCode(code: string | undefined): boolean {
  return code === 'ENOENT' || code === 'ESRCH';
}
