// The error family: every error hotreload raises carries a stable `code`, an optional operator
// `hint`, and the `cause` it wraps. ConfigError is fatal at start-up (exit 2); ReloadError is
// recoverable (logged, counted, retried); anything else escaping main is fatal (exit 1).

export class HotreloadError extends Error {
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
}

/** A bad flag or environment value. The message names the flag, the bad value and what is accepted. */
export class ConfigError extends HotreloadError {
  readonly flag: string;

  constructor(flag: string, value: unknown, accepted: string) {
    const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
    super(
      'E_CONFIG',
      value === undefined
        ? `missing --${flag}: ${accepted}`
        : `invalid value for --${flag}: ${shown}; ${accepted}`,
    );
    this.flag = flag;
  }
}

/** A reload attempt that failed; the change stays pending and is retried. */
export class ReloadError extends HotreloadError {
  constructor(code: string, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(code, message, options);
  }
}

/** The message of any thrown value, for logs. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export interface ErrorFields {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
}

/** Loggable fields of an error: code, message, hint (never file contents or header values). */
export function errorFields(err: unknown): ErrorFields {
  if (err instanceof HotreloadError)
    return { code: err.code, message: err.message, ...(err.hint && { hint: err.hint }) };
  const code = (err as { code?: unknown } | null)?.code;
  return { code: typeof code === 'string' ? code : 'E_UNKNOWN', message: messageOf(err) };
}
