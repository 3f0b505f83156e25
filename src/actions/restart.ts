// --restart: stops the target processes so their container is restarted by the kubelet (or, for
// the supervised child, restarts it in place). In order, per process:
//   1. send --stop-signal; a process already gone counts as stopped;
//   2. wait up to --stop-timeout for it to exit (gone, zombie, or its PID reused);
//   3. still there: SIGKILL, and wait a little more; still there then is a failed reload;
//   4. with --restart-wait: wait for a new matching process to appear and log its PID.
// A retry of the same change never stops a process that started after its first attempt (it
// already runs the new configuration): it stops only what the first attempt found and could not
// stop yet, then waits again.
// A selector that picks the supervised child restarts it in place instead.
import type { Logger } from 'pino';
import { pollUntil, type Clock } from '../clock.js';
import { ReloadError } from '../errors.js';
import { describeSelector } from '../proc/select.js';
import { isGone, parseSignal, sendSignal, type KillFn, type SignalSpec } from '../proc/signals.js';
import type { ProcInfo } from '../proc/table.js';
import type { Action } from './action.js';
import { describeProcess, resolveTargets, type TargetDeps } from './targets.js';

export interface RestartActionOptions extends TargetDeps {
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
  const { supervisor, selector } = opts;
  // The restart of one fingerprint across its attempts: the processes its first attempt found
  // (the ones running the old configuration), those already stopped, and whether all were. A
  // retry stops only old processes still running: stopping one that started since would kill a
  // process that already runs the new configuration (a container slower to come back than
  // --restart-wait, or one restarted before a later target failed to stop).
  let restart:
    | { fingerprint: string; old: Set<string> | undefined; stopped: ProcInfo[]; done: boolean }
    | undefined;
  return {
    kind: 'restart',
    target: selector ? describeSelector(selector) : 'the child',
    async run(ctx) {
      if (!selector && supervisor) {
        await supervisor.restart(opts.stopSignal, opts.stopTimeoutMs);
        return;
      }
      if (restart?.fingerprint !== ctx.fingerprint) {
        restart = { fingerprint: ctx.fingerprint, old: undefined, stopped: [], done: false };
      }
      if (!restart.done) {
        const targets = await resolveTargets(opts);
        const old = (restart.old ??= new Set(targets.map(processKey)));
        for (const target of targets) {
          if (!old.has(processKey(target))) continue;
          // A selector that picks hotreload's own child restarts it in place, as without one.
          if (target.pid === supervisor?.pid) {
            await supervisor.restart(opts.stopSignal, opts.stopTimeoutMs);
          } else {
            await stopProcess(target, opts);
            restart.stopped.push(target);
          }
        }
        restart.done = true;
      }
      if (opts.restartWaitMs > 0 && restart.stopped.length > 0)
        await waitForNew(restart.stopped, opts);
      restart = undefined;
    },
  };
}

/** Tells a process from a later one with the same PID. */
function processKey(p: ProcInfo): string {
  return `${p.pid}:${p.startTime}`;
}

async function stopProcess(target: ProcInfo, opts: RestartActionOptions): Promise<void> {
  const { log } = opts;
  // (1)
  if (!(await signalUnlessGone(target, opts.stopSignal, opts))) return;
  log.info(
    { pid: target.pid, comm: target.comm, signal: opts.stopSignal.name },
    `stopping ${describeProcess(target)}`,
  );
  // (2)
  if (await waitGone(target, opts.stopTimeoutMs, opts)) return;
  // (3)
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

// (4)
async function waitForNew(old: readonly ProcInfo[], opts: RestartActionOptions): Promise<void> {
  const known = new Set(old.map(processKey));
  const appeared = await pollUntil(opts.clock, opts.restartWaitMs, POLL_MS * 2, async () => {
    const targets = await resolveTargets(opts).catch(() => []);
    const fresh = targets.filter((p) => !known.has(processKey(p)));
    if (fresh.length > 0) opts.log.info({ pids: fresh.map((p) => p.pid) }, 'new process started');
    return fresh.length > 0;
  });
  if (appeared) return;
  throw new ReloadError(
    'E_RESTART_WAIT',
    `no new process matching ${opts.selector ? describeSelector(opts.selector) : 'the child'} appeared within ${opts.restartWaitMs}ms after the restart`,
    {
      hint: 'check that the container restarts (kubectl describe pod: restart count, back-off) or raise --restart-wait',
    },
  );
}
