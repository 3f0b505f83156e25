// The error family. Every error hotreload raises carries a code from ERROR_CODES, an optional
// operator `hint`, and the `cause` it wraps; the code says whether it is fatal or recoverable,
// and the class keeps to it:
// - FatalError (and ConfigError, a bad flag: exit 2): hotreload cannot start or go on; main logs
//   it and exits 1. Only start-up raises them.
// - RecoverableError (and ReloadError, a failed reload attempt; ValidationError): logged and
//   counted; the reload is retried, the watch or the snapshot tried again. Never ends hotreload.
// Anything else escaping main is a bug: exit 1 with its stack.

/** Every code hotreload raises, its kind, and what it means (docs/ERRORS.md lists them). */
export const ERROR_CODES = {
  E_CONFIG: {
    kind: 'fatal',
    means: 'a flag, HOTRELOAD_* variable or the rules file (--config) has a bad value (exit 2)',
  },
  E_LISTEN: { kind: 'fatal', means: 'the --listen address cannot be bound' },
  E_STATE_FILE: { kind: 'fatal', means: "--state-file's directory is not writable" },

  E_WATCH: { kind: 'recoverable', means: 'watching a path failed; tried again, /healthz fails' },
  E_WATCH_LIMIT: {
    kind: 'recoverable',
    means: 'the inotify limits are reached; the path is polled instead',
  },
  E_FINGERPRINT_UNSTABLE: {
    kind: 'recoverable',
    means: "a volume's ..data moved during every read; the snapshot is taken again",
  },
  E_STATE_FORMAT: {
    kind: 'recoverable',
    means: '--state-file was written by an older hotreload; replaced at the next reload',
  },
  E_RULES_FILE: {
    kind: 'recoverable',
    means: 'a changed rules file (--config) cannot be used; the rules before it keep running',
  },
  E_VALIDATION: { kind: 'recoverable', means: 'the new content failed --validate' },
  E_VALIDATE_CMD: { kind: 'recoverable', means: '--validate-cmd refused the new content' },
  E_VALIDATE_TIMEOUT: { kind: 'recoverable', means: '--validate-cmd did not finish in time' },
  E_RENDER: {
    kind: 'recoverable',
    means: '--config-file could not be rendered into --config-envsubst-file',
  },
  E_HTTP: { kind: 'recoverable', means: 'the reload request failed' },
  E_HTTP_CONNECT: { kind: 'recoverable', means: 'the reload endpoint refused or is unreachable' },
  E_HTTP_STATUS: {
    kind: 'recoverable',
    means: 'the reload endpoint answered an unexpected status',
  },
  E_HTTP_TIMEOUT: { kind: 'recoverable', means: 'the reload endpoint did not answer in time' },
  E_HTTP_TLS: {
    kind: 'recoverable',
    means: "TLS with an https:// endpoint failed (its certificate, or the client's)",
  },
  E_TLS_FILE: {
    kind: 'recoverable',
    means: '--http-ca-file, --http-client-cert or --http-client-key cannot be read',
  },
  E_HEADER_FILE: { kind: 'recoverable', means: 'a --http-header-file cannot be read or sent' },
  E_VERIFY: { kind: 'recoverable', means: '--verify-url says the application did not take it' },
  E_VERIFY_DIED: { kind: 'recoverable', means: 'the signalled process exited' },
  E_VERIFY_CHILDREN: {
    kind: 'recoverable',
    means: 'the signalled process started no new child (--verify-children)',
  },
  E_NO_PROCESS: { kind: 'recoverable', means: 'no process matches the selectors' },
  E_PID_FILE: { kind: 'recoverable', means: '--pid-file cannot be read or holds no pid' },
  E_PROC_READ: { kind: 'recoverable', means: 'the process table cannot be read' },
  E_PROCESS_GONE: { kind: 'recoverable', means: 'the process exited before it was signalled' },
  E_PERMISSION: { kind: 'recoverable', means: 'not permitted to signal the process' },
  E_REFUSED: { kind: 'recoverable', means: 'hotreload never signals PID 1 or itself' },
  E_SIGNAL: { kind: 'recoverable', means: 'sending the signal failed' },
  E_RESTART_STUCK: { kind: 'recoverable', means: 'the process survived SIGKILL' },
  E_RESTART_WAIT: { kind: 'recoverable', means: 'no new process appeared after --restart' },
  E_EXEC: { kind: 'recoverable', means: '--exec could not start' },
  E_EXEC_FAILED: { kind: 'recoverable', means: '--exec exited non-zero' },
  E_EXEC_TIMEOUT: { kind: 'recoverable', means: '--exec did not finish in time' },
  E_SUPERSEDED: { kind: 'recoverable', means: 'newer content arrived; it is delivered instead' },
  E_ABORTED: { kind: 'recoverable', means: 'hotreload is shutting down' },
} as const satisfies Record<string, { kind: 'fatal' | 'recoverable'; means: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
type CodeOfKind<K> = {
  [C in ErrorCode]: (typeof ERROR_CODES)[C]['kind'] extends K ? C : never;
}[ErrorCode];
export type FatalCode = CodeOfKind<'fatal'>;
export type RecoverableCode = CodeOfKind<'recoverable'>;

interface ErrorOptions {
  readonly cause?: unknown;
  readonly hint?: string;
}

export abstract class HotreloadError extends Error {
  readonly hint: string | undefined;

  protected constructor(
    readonly code: ErrorCode,
    message: string,
    options: ErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }

  get kind(): 'fatal' | 'recoverable' {
    return ERROR_CODES[this.code].kind;
  }
}

/** Hotreload cannot start: main logs it and exits 1. */
export class FatalError extends HotreloadError {
  constructor(code: FatalCode, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A bad flag or environment value. The message names the flag, the bad value and what is accepted. */
export class ConfigError extends HotreloadError {
  readonly flag: string;
  /** The value given (undefined: none was), and what would do. */
  readonly value: unknown;
  readonly accepted: string;

  constructor(flag: string, value: unknown, accepted: string) {
    const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
    super(
      'E_CONFIG',
      value === undefined
        ? `missing --${flag}: ${accepted}`
        : `invalid value for --${flag}: ${shown}; ${accepted}`,
    );
    this.flag = flag;
    this.value = value;
    this.accepted = accepted;
  }
}

/** Something that failed for now: logged and counted, and tried again. */
export class RecoverableError extends HotreloadError {
  constructor(code: RecoverableCode, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A reload attempt that failed; the change stays pending and is retried. */
export class ReloadError extends RecoverableError {}

/**
 * The string `code` of any thrown value: a hotreload code (E_...) or a system error's (ENOENT,
 * EPERM, ...); undefined when it has none.
 */
export function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
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
  return { code: codeOf(err) ?? 'E_UNKNOWN', message: messageOf(err) };
}
