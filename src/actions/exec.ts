// --exec: runs a shell command on change, with HOTRELOAD_CHANGED (changed paths, one per line)
// and HOTRELOAD_FINGERPRINT in its environment; its output is logged line by line. A non-zero
// exit or a timeout is a failed reload. The command runs in its own process group so a timeout
// stops everything it started.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { sleep, type Clock } from '../clock.js';
import { ReloadError } from '../errors.js';
import type { Action, ReloadContext } from './action.js';

export interface ExecActionOptions {
  readonly command: string;
  readonly timeoutMs: number;
  /** The environment the command starts from (hotreload's own). */
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
  readonly log: Logger;
}

/** After a timeout's SIGTERM, how long the command gets before SIGKILL. */
const TERM_GRACE_MS = 2000;

export function createExecAction(opts: ExecActionOptions): Action {
  return {
    kind: 'exec',
    target: opts.command,
    run: (ctx) => runCommand(opts, ctx),
  };
}

async function runCommand(opts: ExecActionOptions, ctx: ReloadContext): Promise<void> {
  const child = spawn('/bin/sh', ['-c', opts.command], {
    env: {
      ...opts.env,
      HOTRELOAD_CHANGED: ctx.changed.join('\n'),
      HOTRELOAD_FINGERPRINT: ctx.fingerprint,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  for (const stream of ['stdout', 'stderr'] as const) {
    createInterface({ input: child[stream], crlfDelay: Infinity }).on('line', (line) =>
      opts.log.info({ stream, pid: child.pid }, `exec: ${line}`),
    );
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    },
  );
  let why: 'timeout' | 'aborted' | undefined;
  const stopGroup = (reason: 'timeout' | 'aborted') => {
    why = reason;
    killGroup(child.pid, 'SIGTERM');
    void sleep(opts.clock, TERM_GRACE_MS).then(() => killGroup(child.pid, 'SIGKILL'));
  };
  const timer = opts.clock.setTimeout(() => stopGroup('timeout'), opts.timeoutMs);
  const onAbort = () => stopGroup('aborted');
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const result = await exited.finally(() => {
    timer.cancel();
    ctx.signal.removeEventListener('abort', onAbort);
  });
  if (result.error)
    throw new ReloadError('E_EXEC', `--exec could not start /bin/sh: ${result.error.message}`, {
      cause: result.error,
    });
  if (why === 'timeout') {
    throw new ReloadError(
      'E_EXEC_TIMEOUT',
      `--exec did not finish within ${opts.timeoutMs}ms and was stopped`,
      { hint: 'raise --exec-timeout' },
    );
  }
  if (why === 'aborted')
    throw new ReloadError('E_ABORTED', '--exec was stopped because hotreload is shutting down');
  if (result.code !== 0) {
    throw new ReloadError(
      'E_EXEC_FAILED',
      `--exec exited with ${result.code === null ? `signal ${result.signal}` : `code ${result.code}`}`,
    );
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}
