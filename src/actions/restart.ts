// --restart: stops the target processes so their container is restarted by the kubelet (or, for
// the supervised child, restarts it in place). In order:
//   1. find the targets; one that started after the content was written read it at start and is
//      not stopped (none left: nothing to do). This also keeps a retry from stopping a process
//      that came back after the first attempt: it already runs the new configuration;
//   2. per process: send --stop-signal (a process already gone counts as stopped), wait up to
//      --stop-timeout for it to exit (gone, zombie, or its PID reused), then SIGKILL, and wait a
//      little more; still there then is a failed reload;
//   3. with --restart-wait: wait for a new matching process to appear and log its PID.
// A selector that picks the supervised child restarts it in place instead.
import type { Logger } from 'pino';
import { pollUntil, type Clock } from '../lib/clock.js';
import { ReloadError } from '../lib/errors.js';
import {
  isGone,
  parseSignal,
  sendSignal,
  type KillFn,
  type SignalSpec,
} from '../process/signals.js';
import type { ProcInfo } from '../process/table.js';
import type { Action, ReloadContext } from './action.js';
import { describeProcess, olderThan, type ProcessTargets } from './process-targets.js';

export interface RestartActionOptions {
  readonly targets: ProcessTargets;
  readonly procRoot: string;
  readonly stopSignal: SignalSpec;
  readonly stopTimeoutMs: number;
  /** 0: do not wait for the new process. */
  readonly restartWaitMs: number;
  readonly kill: KillFn;
  readonly selfUid: number;
  readonly clock: Clock;
  readonly log: Logger;
}

const POLL_MS = 100;
const KILL_WAIT_MS = 5000;
const SIGKILL = parseSignal('KILL')!;

export function createRestartAction(opts: RestartActionOptions): Action {
  return {
    kind: 'restart',
    target: opts.targets.wanted,
    holderSince: () => opts.targets.oldestStart(),
    async run(ctx) {
      // (1)
      const found = await opts.targets.aged();
      const targets = olderThan(found, ctx.writtenAt).map((t) => t.proc);
      if (targets.length === 0) {
        opts.log.info(
          { pids: found.map((t) => t.proc.pid) },
          'every target process started after this content was written; not restarted',
        );
        return 'had-it';
      }
      // (2)
      const stopped: ProcInfo[] = [];
      for (const target of targets) {
        // The supervised child, picked by a selector or as the target without one, restarts in place.
        const supervisor = opts.targets.supervisorOf(target);
        if (supervisor) {
          await supervisor.restart(opts.stopSignal, opts.stopTimeoutMs);
        } else {
          await stopProcess(target, opts);
          stopped.push(target);
        }
      }
      // (3)
      if (opts.restartWaitMs > 0 && stopped.length > 0) await waitForNew(stopped, ctx, opts);
    },
  };
}

/** Tells a process from a later one with the same PID. */
function processKey(p: ProcInfo): string {
  return `${p.pid}:${p.startTime}`;
}

async function stopProcess(target: ProcInfo, opts: RestartActionOptions): Promise<void> {
  const { log } = opts;
  if (!(await signalUnlessGone(target, opts.stopSignal, opts))) return;
  log.info(
    { pid: target.pid, comm: target.comm, signal: opts.stopSignal.name },
    `stopping ${describeProcess(target)}`,
  );
  if (await waitGone(target, opts.stopTimeoutMs, opts)) return;
  log.warn(
    { pid: target.pid, comm: target.comm, stopTimeoutMs: opts.stopTimeoutMs },
    'process did not stop in time; sending SIGKILL',
  );
  if (!(await signalUnlessGone(target, SIGKILL, opts))) return;
  if (await waitGone(target, KILL_WAIT_MS, opts)) return;
  throw new ReloadError(
    'E_RESTART_STUCK',
    `${describeProcess(target)} is still running after SIGKILL`,
    {
      hint: 'the process may be in uninterruptible sleep (state D); check the node',
    },
  );
}

/** Sends `signal`; false when the process was already gone (which is what stopping wants). */
async function signalUnlessGone(
  target: ProcInfo,
  signal: SignalSpec,
  opts: RestartActionOptions,
): Promise<boolean> {
  try {
    await sendSignal(target, signal, opts);
    return true;
  } catch (err) {
    if (err instanceof ReloadError && err.code === 'E_PROCESS_GONE') return false;
    throw err;
  }
}

function waitGone(target: ProcInfo, ms: number, opts: RestartActionOptions): Promise<boolean> {
  return pollUntil(opts.clock, ms, POLL_MS, () => isGone(opts.procRoot, target));
}

// (3)
async function waitForNew(
  old: readonly ProcInfo[],
  ctx: ReloadContext,
  opts: RestartActionOptions,
): Promise<void> {
  const known = new Set(old.map(processKey));
  const appeared = await pollUntil(
    opts.clock,
    opts.restartWaitMs,
    POLL_MS * 2,
    async () => {
      const targets = await opts.targets.find().catch(() => []);
      const fresh = targets.filter((p) => !known.has(processKey(p)));
      if (fresh.length > 0) opts.log.info({ pids: fresh.map((p) => p.pid) }, 'new process started');
      return fresh.length > 0;
    },
    [ctx.superseded],
  );
  if (appeared) return;
  if (ctx.superseded.aborted) {
    throw new ReloadError(
      'E_SUPERSEDED',
      'stopped waiting for the new process: newer content arrived',
    );
  }
  throw new ReloadError(
    'E_RESTART_WAIT',
    `no new process matching ${opts.targets.wanted} appeared within ${opts.restartWaitMs}ms after the restart`,
    {
      hint: 'check that the container restarts (kubectl describe pod: restart count, back-off) or raise --restart-wait',
    },
  );
}
