// What an errno code means for a process; reading the code off an error is lib/errors' codeOf.

/** Codes that mean the process (or its /proc entry) no longer exists. */
export function isGoneCode(code: string | undefined): boolean {
  return code === 'ENOENT' || code === 'ESRCH';
}
