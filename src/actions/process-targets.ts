// Finds the processes a process action works on: the ones the selectors pick (read from /proc at
// each attempt), or the supervised child when no selector is given; and tells which of them may
// hold older content than a given one (those that started before it was written).
import type { Supervisor } from '../process/supervisor.js';
import type { Clock } from '../lib/clock.js';
import { ReloadError } from '../lib/errors.js';
import { findTargets, type ProcessSelector } from '../process/select.js';
import { hasContent, readProcess, startClock, type ProcInfo } from '../process/table.js';

export interface TargetDeps {
  readonly selector: ProcessSelector | undefined;
  readonly supervisor: Supervisor | undefined;
  readonly procRoot: string;
  readonly selfPid: number;
}

export async function resolveTargets(deps: TargetDeps): Promise<ProcInfo[]> {
  const childPid = deps.supervisor?.pid;
  if (deps.selector) {
    const supervised = new Set(childPid === undefined ? [] : [childPid]);
    return findTargets(deps.procRoot, deps.selector, { selfPid: deps.selfPid, supervised });
  }
  const info = childPid === undefined ? undefined : await readProcess(deps.procRoot, childPid);
  if (!info) {
    throw new ReloadError('E_NO_PROCESS', 'the supervised child is not running', {
      hint: 'it is being restarted; the reload is retried',
    });
  }
  return [info];
}

/** A target process and when it started (ms since the epoch). */
export interface AgedProcess {
  readonly proc: ProcInfo;
  readonly startedAt: number;
}

/** The targets now, each with its start time. */
export async function agedTargets(deps: TargetDeps, clock: Clock): Promise<AgedProcess[]> {
  const targets = await resolveTargets(deps);
  const startedAt = await startClock(deps.procRoot, () => clock.now());
  return targets.map((proc) => ({ proc, startedAt: startedAt(proc) }));
}

/**
 * The targets that may hold older content than the content written at `writtenAt`: those that
 * started before it. One that started after it read it at start and is never told again.
 */
export function olderThan(targets: readonly AgedProcess[], writtenAt: number): AgedProcess[] {
  return targets.filter((t) => !hasContent(t.startedAt, writtenAt));
}

/** When the oldest target started; 'idle' when none runs (Action.holderSince). */
export async function oldestStart(deps: TargetDeps, clock: Clock): Promise<number | 'idle'> {
  try {
    const targets = await agedTargets(deps, clock);
    return Math.min(...targets.map((t) => t.startedAt));
  } catch (err) {
    if (err instanceof ReloadError && err.code === 'E_NO_PROCESS') return 'idle';
    throw err;
  }
}

/** "nginx (pid 12)" for logs and messages. */
export function describeProcess(p: ProcInfo): string {
  return `${p.comm} (pid ${p.pid})`;
}
