// The checks that run before the actions: --validate (syntax of changed files) and
// --validate-cmd (a user's command). A failed check is a ValidationError: the reload is not
// attempted, the application keeps its configuration, and only a new change tries again.
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Clock } from '../lib/clock.js';
import { ReloadError, messageOf } from '../lib/errors.js';
import { describeExit, runShell } from '../process/shell.js';
import { readSmallFile } from '../lib/small-file.js';
import type { checkerFor } from './syntax.js';

export interface FileProblem {
  readonly path: string;
  readonly format: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly message: string;
}

export class ValidationError extends ReloadError {
  constructor(
    message: string,
    readonly problems: readonly FileProblem[],
    hint?: string,
  ) {
    super('E_VALIDATION', message, hint === undefined ? {} : { hint });
  }
}

export interface ValidateContext {
  /** Files added or changed since the content the application last took (not removed ones). */
  readonly files: readonly string[];
  readonly fingerprint: string;
  readonly signal: AbortSignal;
}

export interface Validator {
  readonly kind: string;
  /** Resolves when the content may be delivered; throws a ValidationError otherwise. */
  check(ctx: ValidateContext): Promise<void>;
}

const SKIPPED = new Set(['ENOENT', 'E2BIG', 'EINVAL']);

/** Files bigger than this are not parsed (a ConfigMap holds at most 1 MiB in all). */
export const MAX_VALIDATED_BYTES = 8 * 1024 * 1024;

/** How the syntax check reaches the files; the real filesystem unless a test says otherwise. */
export interface ValidatedFiles {
  read(p: string): Promise<Buffer>;
  size(p: string): Promise<number>;
}

const realFiles: ValidatedFiles = {
  read: (p) => readSmallFile(p, { maxBytes: MAX_VALIDATED_BYTES, timeoutMs: 5000 }),
  size: async (p) => (await stat(p)).size,
};

export function createSyntaxValidator(files: ValidatedFiles = realFiles): Validator {
  return {
    kind: 'syntax',
    async check(ctx) {
      // The parsers load on first use: most pods never set --validate, and they cost memory.
      const { checkerFor } = await import('./syntax.js');
      const problems: FileProblem[] = [];
      for (const file of ctx.files) {
        const checker = checkerFor(file);
        if (!checker) continue;
        const problem = await checkFile(file, checker, files);
        if (problem) problems.push(problem);
      }
      if (problems.length === 0) return;
      const where = problems
        .map((p) => `${p.path}${p.line ? `:${p.line}:${p.column ?? 1}` : ''}`)
        .join(', ');
      throw new ValidationError(
        `invalid ${problems[0]!.format} in ${where}: ${problems[0]!.message}`,
        problems,
        'fix the file; the application keeps its current configuration until then',
      );
    },
  };
}

async function checkFile(
  file: string,
  checker: NonNullable<ReturnType<typeof checkerFor>>,
  files: ValidatedFiles,
): Promise<FileProblem | undefined> {
  const base = { path: file, format: checker.format, line: undefined, column: undefined };
  let data: Buffer;
  try {
    // Skipped before it is read: a huge file would be read whole (or, past 2 GiB, not at all).
    if ((await files.size(file)) > MAX_VALIDATED_BYTES) return undefined;
    data = await files.read(file);
  } catch (err) {
    // Gone, grown past the bound or no longer a regular file since the fingerprint: the next
    // run sees the newer content.
    if (SKIPPED.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    return {
      ...base,
      message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`,
    };
  }
  if (data.length > MAX_VALIDATED_BYTES) return undefined;
  const problem = checker.check(data.toString('utf8'));
  return problem && { ...base, ...problem };
}

export interface CommandValidatorOptions {
  readonly command: string;
  readonly timeoutMs: number;
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
  readonly log: Logger;
}

function createCommandValidator(opts: CommandValidatorOptions): Validator {
  return {
    kind: 'command',
    async check(ctx) {
      const result = await runShell({
        ...opts,
        changed: ctx.files,
        fingerprint: ctx.fingerprint,
        signal: ctx.signal,
        label: 'validate-cmd',
      });
      switch (result.kind) {
        case 'exited':
          if (result.code === 0) return;
          throw new ValidationError(
            `--validate-cmd exited with ${describeExit(result)}`,
            [],
            'see its output above; the application keeps its current configuration',
          );
        case 'aborted':
          throw new ReloadError(
            'E_ABORTED',
            '--validate-cmd was stopped because hotreload is shutting down',
          );
        // A check that could not run says nothing about the content: retried like a failed reload.
        case 'timeout':
          throw new ReloadError(
            'E_VALIDATE_TIMEOUT',
            `--validate-cmd did not finish within ${opts.timeoutMs}ms`,
            { hint: 'raise --validate-timeout' },
          );
        case 'spawn-error':
          throw new ReloadError(
            'E_VALIDATE_CMD',
            `--validate-cmd could not start /bin/sh: ${result.error.message}`,
          );
      }
    },
  };
}

export interface ValidatorDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
  readonly log: Logger;
}

/** The configured checks, in order: syntax first (cheap), then the user's command. */
export function createValidators(
  safety: {
    readonly validate: boolean;
    readonly validateCmd: { readonly command: string; readonly timeoutMs: number } | undefined;
  },
  deps: ValidatorDeps,
): Validator[] {
  const validators: Validator[] = [];
  if (safety.validate) validators.push(createSyntaxValidator());
  if (safety.validateCmd)
    validators.push(createCommandValidator({ ...safety.validateCmd, ...deps }));
  return validators;
}
