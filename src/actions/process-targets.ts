// The processes a process action (--signal, --restart, --exit) works on, chosen once when the
// actions are built: the processes the selectors pick (read from /proc at each attempt), or the
// supervised child when no selector is given. The actions ask this one object, never "selector
// or child?". It also tells which of them may hold older content than a given one (those that
// started before it was written).
import type { Clock } from '../lib/clock.js';
import { ReloadError } from '../lib/errors.js';
import { describeSelector, findTargets, type ProcessSelector } from '../process/select.js';
import type { Supervisor } from '../process/supervisor.js';
import { hasContent, readProcess, startClock, type ProcInfo } from '../process/table.js';

/** A target process and when it started (ms since the epoch). */
export interface AgedProcess {
  readonly proc: ProcInfo;
  readonly startedAt: number;
}

export interface ProcessTargets {
  /** What is told, for the action's target: "the selected process" or "the child". */
  readonly short: string;
  /** What is looked for, for messages: the selectors ("--process-name nginx") or "the child". */
  readonly wanted: string;
  /** The processes now; throws E_NO_PROCESS when there are none. */
  find(): Promise<ProcInfo[]>;
  /** The processes now, each with its start time. */
  aged(): Promise<AgedProcess[]>;
  /** When the oldest started; 'idle' when none runs (Action.holderSince). */
  oldestStart(): Promise<number | 'idle'>;
  /** The supervisor of `p` when `p` is the supervised child (restarted in place), else undefined. */
  supervisorOf(p: ProcInfo): Supervisor | undefined;
}

export interface TargetsDeps {
  readonly supervisor: Supervisor | undefined;
  readonly procRoot: string;
  readonly selfPid: number;
  readonly clock: Clock;
}

/** The processes `selector` picks; the supervised child among them is known as such. */
export function selectedProcesses(selector: ProcessSelector, deps: TargetsDeps): ProcessTargets {
  return targetsOf(deps, 'the selected process', describeSelector(selector), () => {
    const childPid = deps.supervisor?.pid;
    const supervised = new Set(childPid === undefined ? [] : [childPid]);
    return findTargets(deps.procRoot, selector, { selfPid: deps.selfPid, supervised });
  });
}

/** The child hotreload supervises (--exec-child): one process, or none while it restarts. */
export function supervisedChild(supervisor: Supervisor, deps: Omit<TargetsDeps, 'supervisor'>) {
  return targetsOf({ ...deps, supervisor }, 'the child', 'the child', async () => {
    const pid = supervisor.pid;
    const info = pid === undefined ? undefined : await readProcess(deps.procRoot, pid);
    if (!info) {
      throw new ReloadError('E_NO_PROCESS', 'the supervised child is not running', {
        hint: 'it is being restarted; the reload is retried',
      });
    }
    return [info];
  });
}

function targetsOf(
  deps: TargetsDeps,
  short: string,
  wanted: string,
  find: () => Promise<ProcInfo[]>,
): ProcessTargets {
  const aged = async (): Promise<AgedProcess[]> => {
    const targets = await find();
    const startedAt = await startClock(deps.procRoot, () => deps.clock.now());
    return targets.map((proc) => ({ proc, startedAt: startedAt(proc) }));
  };
  return {
    short,
    wanted,
    find,
    aged,
    async oldestStart() {
      try {
        return Math.min(...(await aged()).map((t) => t.startedAt));
      } catch (err) {
        if (err instanceof ReloadError && err.code === 'E_NO_PROCESS') return 'idle';
        throw err;
      }
    },
    supervisorOf: (p) => (p.pid === deps.supervisor?.pid ? deps.supervisor : undefined),
  };
}

/**
 * The targets that may hold older content than the content written at `writtenAt`: those that
 * started before it. One that started after it read it at start and is never told again.
 */
export function olderThan(targets: readonly AgedProcess[], writtenAt: number): AgedProcess[] {
  return targets.filter((t) => !hasContent(t.startedAt, writtenAt));
}

/** "nginx (pid 12)" for logs and messages. */
export function describeProcess(p: ProcInfo): string {
  return `${p.comm} (pid ${p.pid})`;
}
