// --signal: sends a signal to the target processes (chosen by the selectors, or the supervised
// child), then verifies: each target must still be alive shortly after, and with
// --verify-children must have replaced a child process (nginx starts new workers only when the
// new configuration loaded). A process gone between finding and signalling fails the attempt, to
// be retried.
import type { Logger } from 'pino';
import { pollUntil, sleep, type Clock } from '../clock.js';
import { ReloadError } from '../errors.js';
import { isGone, sendSignal, type KillFn, type SignalSpec } from '../proc/signals.js';
import { listProcesses, type ProcInfo } from '../proc/table.js';
import type { Action } from './action.js';
import { describeProcess, resolveTargets, type TargetDeps } from './targets.js';

export interface SignalActionOptions extends TargetDeps {
  readonly signal: SignalSpec;
  readonly kill: KillFn;
  readonly selfUid: number;
  readonly verifyChildren: boolean;
  readonly verifyTimeoutMs: number;
  readonly clock: Clock;
  readonly log: Logger;
}

/** How long after the signal a target must still be alive. */
const ALIVE_GRACE_MS = 100;
const POLL_MS = 50;

export function createSignalAction(opts: SignalActionOptions): Action {
  return {
    kind: 'signal',
    target: `${opts.signal.name} to ${opts.selector ? 'the selected process' : 'the child'}`,
    async run() {
      const targets = await resolveTargets(opts);
      const before = new Map<number, Set<number>>();
      for (const target of targets) {
        if (opts.verifyChildren)
          before.set(target.pid, await childrenOf(opts.procRoot, target.pid));
        await sendSignal(target, opts.signal, opts);
        opts.log.info(
          { signal: opts.signal.name, pid: target.pid, comm: target.comm },
          `sent ${opts.signal.name} to ${describeProcess(target)}`,
        );
      }
      await sleep(opts.clock, ALIVE_GRACE_MS);
      for (const target of targets) {
        if (await isGone(opts.procRoot, target)) {
          throw new ReloadError(
            'E_VERIFY_DIED',
            `${describeProcess(target)} exited after ${opts.signal.name}`,
            {
              hint: `the application does not reload on ${opts.signal.name}; use --restart if it must be restarted (filebeat exits on HUP)`,
            },
          );
        }
        const old = before.get(target.pid);
        if (old) await waitForNewChild(target, old, opts);
      }
    },
  };
}

async function childrenOf(procRoot: string, pid: number): Promise<Set<number>> {
  return new Set((await listProcesses(procRoot)).filter((p) => p.ppid === pid).map((p) => p.pid));
}

async function waitForNewChild(
  target: ProcInfo,
  old: ReadonlySet<number>,
  opts: SignalActionOptions,
): Promise<void> {
  const replaced = await pollUntil(opts.clock, opts.verifyTimeoutMs, POLL_MS, async () =>
    [...(await childrenOf(opts.procRoot, target.pid))].some((pid) => !old.has(pid)),
  );
  if (replaced) return;
  throw new ReloadError(
    'E_VERIFY_CHILDREN',
    `${describeProcess(target)} started no new child process within ${opts.verifyTimeoutMs}ms after ${opts.signal.name}`,
    {
      hint: 'it probably rejected the new configuration and kept the old one; check its error log',
    },
  );
}
