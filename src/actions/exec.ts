// --exec: runs a shell command on change, with HOTRELOAD_CHANGED (changed paths, one per line)
// and HOTRELOAD_FINGERPRINT in its environment. A non-zero exit or a timeout is a failed reload.
import type { Logger } from 'pino';
import type { Clock } from '../lib/clock.js';
import { ReloadError } from '../lib/errors.js';
import { describeExit, runShell } from '../process/shell.js';
import type { Action } from './action.js';

export interface ExecActionOptions {
  readonly command: string;
  readonly timeoutMs: number;
  /** The environment the command starts from (hotreload's own). */
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
  readonly log: Logger;
}

export function createExecAction(opts: ExecActionOptions): Action {
  return {
    kind: 'exec',
    target: opts.command,
    async run(ctx) {
      const result = await runShell({
        ...opts,
        changed: ctx.changed,
        fingerprint: ctx.fingerprint,
        signal: ctx.signal,
        label: 'exec',
      });
      switch (result.kind) {
        case 'exited':
          if (result.code === 0) return;
          throw new ReloadError('E_EXEC_FAILED', `--exec exited with ${describeExit(result)}`);
        case 'timeout':
          throw new ReloadError(
            'E_EXEC_TIMEOUT',
            `--exec did not finish within ${opts.timeoutMs}ms and was stopped`,
            {
              hint: 'raise --exec-timeout',
            },
          );
        case 'aborted':
          throw new ReloadError(
            'E_ABORTED',
            '--exec was stopped because hotreload is shutting down',
          );
        case 'spawn-error':
          throw new ReloadError(
            'E_EXEC',
            `--exec could not start /bin/sh: ${result.error.message}`,
            { cause: result.error },
          );
      }
    },
  };
}
