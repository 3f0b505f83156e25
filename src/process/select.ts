// Chooses the processes a signal or restart goes to: the selector's criteria (all must match),
// the exclusions (PID 1, hotreload and its own children, zombies) and the topmost rule. It does
// not signal; only findTargets reads /proc and the pid file.
import { readSmallFile } from '../lib/small-file.js';
import path from 'node:path';

import { ReloadError, messageOf } from '../lib/errors.js';
import { kinship, type Kinship } from './kinship.js';
import { readPidFile } from './pid-file.js';
import { listProcesses, type ProcInfo } from './table.js';

export interface ProcessSelector {
  readonly name?: string;
  readonly match?: RegExp;
  readonly pidFile?: string;
  /** Every match, not only the topmost ones (a master, not its workers). */
  readonly all: boolean;
}

export interface SelectionContext {
  readonly selfPid: number;
  /** Pids of hotreload's supervised child: hotreload's descendants that may be targets. */
  readonly supervised: ReadonlySet<number>;
}

/**
 * A pid file holds a few digits (PIDs stop at 4194304); the application writes it, so it is read
 * within a small bound, and a FIFO or a hung mount fails the attempt instead of blocking it.
 */
const PID_FILE_LIMITS = { maxBytes: 64, timeoutMs: 2000 };
/** The kernel keeps TASK_COMM_LEN - 1 = 15 bytes of a process name. */
const COMM_BYTES = 15;
const HINT =
  'check that the pod sets shareProcessNamespace: true and that the selector matches ' +
  '(see /status or ps in the sidecar)';
const NOT_SHARED_HINT =
  "only PID 1 and hotreload's own processes are visible: the process namespace is not shared; " +
  'set shareProcessNamespace: true in the pod spec';

/** The selector as the flags that set it: "--process-name nginx and --pid-file /run/nginx.pid". */
export function describeSelector(s: ProcessSelector): string {
  const parts: string[] = [];
  if (s.name !== undefined) parts.push(`--process-name ${s.name}`);
  if (s.match !== undefined) parts.push(`--process-match '${s.match.source}'`);
  if (s.pidFile !== undefined) parts.push(`--pid-file ${s.pidFile}`);
  return parts.length > 0 ? parts.join(' and ') : 'an empty process selector';
}

/**
 * The targets among `procs`, sorted by pid. An empty selector matches nothing.
 * 1. A process matches when every criterion given matches (`pidFromFile` stands for --pid-file).
 * 2. A match is never a target when it is PID 1 (the pause process), hotreload itself, a
 *    descendant of hotreload that is not supervised, a zombie or dead.
 * 3. Unless `all`, a match whose parent also matches is that parent's worker and not a target.
 *    Any matching parent counts (PID 1 too, so the workers of an application that runs as PID 1
 *    are not signalled in its place), except hotreload's own processes.
 */
export function selectTargets(
  procs: readonly ProcInfo[],
  s: ProcessSelector,
  ctx: SelectionContext,
  pidFromFile?: number,
): ProcInfo[] {
  return classify(procs, s, ctx, pidFromFile).targets;
}

/** Reads the pid file and /proc, then selects; E_NO_PROCESS, E_PID_FILE or E_PROC_READ otherwise. */
export async function findTargets(
  procRoot: string,
  s: ProcessSelector,
  ctx: SelectionContext,
  readFile: (p: string) => Promise<string> = async (p) =>
    (await readSmallFile(p, PID_FILE_LIMITS)).toString('utf8'),
): Promise<ProcInfo[]> {
  const pidFromFile = s.pidFile === undefined ? undefined : await readPidFile(s.pidFile, readFile);
  const procs = await readTable(procRoot);
  const selection = classify(procs, s, ctx, pidFromFile);
  if (selection.targets.length === 0) throw noMatch(procs, s, selection);
  return selection.targets;
}

interface Selection {
  readonly targets: ProcInfo[];
  /** Matches that step 2 excludes, with the reason, for the error message. */
  readonly refused: { readonly proc: ProcInfo; readonly reason: string }[];
  /** How many processes are neither PID 1 nor hotreload's own. */
  readonly foreign: number;
}

function classify(
  procs: readonly ProcInfo[],
  s: ProcessSelector,
  ctx: SelectionContext,
  pidFromFile: number | undefined,
): Selection {
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const kin = new Map(procs.map((p) => [p.pid, kinship(p, byPid, ctx)]));
  const matched = new Set(procs.filter((p) => matches(p, s, pidFromFile)).map((p) => p.pid));
  const shadows = (pid: number) => matched.has(pid) && !isHotreload(kin.get(pid));
  const targets: ProcInfo[] = [];
  const refused: Selection['refused'] = [];
  for (const p of [...procs].sort((a, b) => a.pid - b.pid)) {
    if (!matched.has(p.pid)) continue; // 1.
    const reason = refusal(p, kin.get(p.pid)); // 2.
    if (reason !== undefined) refused.push({ proc: p, reason });
    else if (s.all || !shadows(p.ppid)) targets.push(p); // 3.
  }
  const foreign = procs.filter((p) => p.pid !== 1 && kin.get(p.pid) === 'foreign').length;
  return { targets, refused, foreign };
}

function matches(p: ProcInfo, s: ProcessSelector, pidFromFile: number | undefined): boolean {
  if (s.name === undefined && s.match === undefined && s.pidFile === undefined) return false;
  if (s.name !== undefined && !nameMatches(p, s.name)) return false;
  // String#search ignores and restores lastIndex, so a /g regex gives the same answer each time.
  if (s.match !== undefined && p.cmdline.search(s.match) < 0) return false;
  return s.pidFile === undefined || p.pid === pidFromFile;
}

/** Exact comm, comm cut to 15 bytes by the kernel, or the basename of argv[0]. */
function nameMatches(p: ProcInfo, name: string): boolean {
  if (p.comm === name) return true;
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length >= COMM_BYTES && p.comm === bytes.subarray(0, COMM_BYTES).toString('utf8')) {
    return true;
  }
  const argv0 = p.argv[0];
  return argv0 !== undefined && path.posix.basename(argv0) === name;
}

function isHotreload(kin: Kinship | undefined): boolean {
  return kin === 'self' || kin === 'own';
}

function refusal(p: ProcInfo, kin: Kinship | undefined): string | undefined {
  if (kin === 'self') return 'is hotreload itself';
  if (p.pid === 1) return 'is PID 1';
  if (kin === 'own') return 'was started by hotreload';
  if (p.state === 'Z') return 'is a zombie';
  if (p.state === 'X') return 'is dead';
  return undefined;
}

function noMatch(procs: readonly ProcInfo[], s: ProcessSelector, sel: Selection): ReloadError {
  const visible = `${procs.length} ${procs.length === 1 ? 'process' : 'processes'} visible`;
  let message = `no process matches ${describeSelector(s)} (${visible})`;
  if (sel.refused.length > 0) {
    const why = sel.refused.map((r) => `${r.proc.pid} (${r.proc.comm}) ${r.reason}`);
    message += `; matched but never signalled: ${why.join(', ')}`;
  }
  return new ReloadError('E_NO_PROCESS', message, {
    hint: sel.foreign === 0 ? NOT_SHARED_HINT : HINT,
  });
}

async function readTable(procRoot: string): Promise<ProcInfo[]> {
  try {
    return await listProcesses(procRoot);
  } catch (err) {
    throw new ReloadError(
      'E_PROC_READ',
      `cannot read the process table at ${procRoot}: ${messageOf(err)}`,
      { cause: err, hint: 'check --proc-root (default /proc)' },
    );
  }
}
