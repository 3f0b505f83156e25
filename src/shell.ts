// Runs a user's shell command (--exec, --validate-cmd) through /bin/sh -c in its own process
// group, logging its output line by line, stopping the whole group (TERM, then KILL) on timeout
// or abort. It reports how the command ended; the callers decide what that means.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { sleep, type Clock } from './clock.js';

export interface ShellOptions {
  readonly command: string;
  readonly timeoutMs: number;
  /** The environment the command starts from (hotreload's own), plus `extraEnv`. */
  readonly env: NodeJS.ProcessEnv;
  readonly extraEnv: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly log: Logger;
  /** Prefix of each logged output line, e.g. "exec". */
  readonly label: string;
}

export type ShellResult =
  | {
      readonly kind: 'exited';
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
    }
  | { readonly kind: 'timeout' | 'aborted' }
  | { readonly kind: 'spawn-error'; readonly error: Error };

/** After a timeout's SIGTERM, how long the command gets before SIGKILL. */
const TERM_GRACE_MS = 2000;

export async function runShell(opts: ShellOptions): Promise<ShellResult> {
  const child = spawn('/bin/sh', ['-c', opts.command], {
    env: { ...opts.env, ...opts.extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  for (const stream of ['stdout', 'stderr'] as const) {
    createInterface({ input: child[stream], crlfDelay: Infinity }).on('line', (line) =>
      opts.log.info({ stream, pid: child.pid }, `${opts.label}: ${line}`),
    );
  }
  const exited = new Promise<ShellResult>((resolve) => {
    child.once('error', (error) => resolve({ kind: 'spawn-error', error }));
    child.once('close', (code, signal) => resolve({ kind: 'exited', code, signal }));
  });
  let stoppedFor: 'timeout' | 'aborted' | undefined;
  const stopGroup = (reason: 'timeout' | 'aborted') => {
    stoppedFor ??= reason;
    killGroup(child.pid, 'SIGTERM');
    void sleep(opts.clock, TERM_GRACE_MS).then(() => killGroup(child.pid, 'SIGKILL'));
  };
  const timer = opts.clock.setTimeout(() => stopGroup('timeout'), opts.timeoutMs);
  const onAbort = () => stopGroup('aborted');
  opts.signal.addEventListener('abort', onAbort, { once: true });
  const result = await exited.finally(() => {
    timer.cancel();
    opts.signal.removeEventListener('abort', onAbort);
  });
  return stoppedFor && result.kind === 'exited' ? { kind: stoppedFor } : result;
}

/** "code 3" or "signal SIGTERM", for messages. */
export function describeExit(r: { code: number | null; signal: NodeJS.Signals | null }): string {
  return r.code === null ? `signal ${r.signal}` : `code ${r.code}`;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}
