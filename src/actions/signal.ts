// --signal: sends a signal to the target processes (chosen by the selectors, or the supervised
// child), then verifies: each target must still be alive shortly after, and with
// --verify-children must have replaced a child process (nginx starts new workers only when the
// new configuration loaded). In order:
//   1. find the targets; one that started after the content was written read it at start and is
//      not signalled (none left: nothing to send);
//   2. wait until the youngest is --min-process-age old: a process signalled before it installs
//      its handler dies of the signal (Prometheus in its first ~10 ms);
//   3. signal each (a process gone between finding and signalling fails the attempt, to be
//      retried), then check that each is alive and, with --verify-children, has a new child.
import type { Logger } from 'pino';
import { pause, pollUntil, sleep, type Clock } from '../lib/clock.js';
import { ReloadError } from '../lib/errors.js';
import { isGone, sendSignal, type KillFn, type SignalSpec } from '../process/signals.js';
import { listProcesses, type ProcInfo } from '../process/table.js';
import type { Action, ReloadContext } from './action.js';
import {
  describeProcess,
  olderThan,
  type AgedProcess,
  type ProcessTargets,
} from './process-targets.js';

export interface SignalActionOptions {
  readonly targets: ProcessTargets;
  readonly procRoot: string;
  readonly signal: SignalSpec;
  readonly kill: KillFn;
  readonly selfUid: number;
  readonly verifyChildren: boolean;
  readonly verifyTimeoutMs: number;
  /** A process younger than this is not signalled yet (--min-process-age). */
  readonly minAgeMs: number;
  readonly clock: Clock;
  readonly log: Logger;
}

/** How long after the signal a target must still be alive. */
const ALIVE_GRACE_MS = 100;
const POLL_MS = 50;

export function createSignalAction(opts: SignalActionOptions): Action {
  return {
    kind: 'signal',
    target: `${opts.signal.name} to ${opts.targets.short}`,
    holderSince: () => opts.targets.oldestStart(),
    async run(ctx) {
      // (1)
      const found = await opts.targets.aged();
      const targets = olderThan(found, ctx.writtenAt);
      if (targets.length === 0) {
        opts.log.info(
          { pids: found.map((t) => t.proc.pid) },
          'every target process started after this content was written; not signalled',
        );
        return 'had-it';
      }
      // (2)
      await untilOldEnough(targets, ctx, opts);
      // (3)
      const before = new Map<number, Set<number>>();
      for (const { proc } of targets) {
        if (opts.verifyChildren) before.set(proc.pid, await childrenOf(opts.procRoot, proc.pid));
        await sendSignal(proc, opts.signal, opts);
        opts.log.info(
          { signal: opts.signal.name, pid: proc.pid, comm: proc.comm },
          `sent ${opts.signal.name} to ${describeProcess(proc)}`,
        );
      }
      await sleep(opts.clock, ALIVE_GRACE_MS);
      for (const { proc } of targets) {
        if (await isGone(opts.procRoot, proc)) {
          throw new ReloadError(
            'E_VERIFY_DIED',
            `${describeProcess(proc)} exited after ${opts.signal.name}`,
            {
              hint: `the application does not reload on ${opts.signal.name} (filebeat exits on HUP): use --restart if it must be restarted; if it was still starting, raise --min-process-age`,
            },
          );
        }
        const old = before.get(proc.pid);
        if (old) await waitForNewChild(proc, old, ctx, opts);
      }
    },
  };
}

async function untilOldEnough(
  targets: readonly AgedProcess[],
  ctx: ReloadContext,
  opts: SignalActionOptions,
): Promise<void> {
  const youngest = Math.max(...targets.map((t) => t.startedAt));
  const waitMs = youngest + opts.minAgeMs - opts.clock.now();
  if (waitMs <= 0) return;
  opts.log.info(
    { pids: targets.map((t) => t.proc.pid), waitMs },
    'a target process is still starting; signalling it once it is --min-process-age old',
  );
  stopUnless(await pause(opts.clock, waitMs, [ctx.signal, ctx.superseded]), ctx);
}

/** Ends the attempt when a pause was cut short by shutdown or newer content. */
function stopUnless(by: AbortSignal | undefined, ctx: ReloadContext): void {
  if (by === ctx.superseded) {
    throw new ReloadError('E_SUPERSEDED', 'newer content arrived before the signal was sent');
  }
  if (by === ctx.signal) {
    throw new ReloadError('E_ABORTED', 'the signal was not sent: hotreload is shutting down');
  }
}

async function childrenOf(procRoot: string, pid: number): Promise<Set<number>> {
  return new Set((await listProcesses(procRoot)).filter((p) => p.ppid === pid).map((p) => p.pid));
}

async function waitForNewChild(
  target: ProcInfo,
  old: ReadonlySet<number>,
  ctx: ReloadContext,
  opts: SignalActionOptions,
): Promise<void> {
  const replaced = await pollUntil(
    opts.clock,
    opts.verifyTimeoutMs,
    POLL_MS,
    async () => [...(await childrenOf(opts.procRoot, target.pid))].some((pid) => !old.has(pid)),
    [ctx.signal, ctx.superseded],
  );
  if (replaced) return;
  if (ctx.superseded.aborted) {
    throw new ReloadError('E_SUPERSEDED', 'verification ended: newer content arrived');
  }
  throw new ReloadError(
    'E_VERIFY_CHILDREN',
    `${describeProcess(target)} started no new child process within ${opts.verifyTimeoutMs}ms after ${opts.signal.name}`,
    {
      hint: 'it probably rejected the new configuration and kept the old one; check its error log',
    },
  );
}
