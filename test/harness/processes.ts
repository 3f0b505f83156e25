// Processes an end-to-end test starts itself (nginx, prometheus, small Node applications, a
// kubelet-like restart loop), the /proc reads its assertions need, and the cleanup that kills
// every such process tree after each test, passed or failed. It does not start hotreload
// (hotreload-process.ts does), but killTracked() also kills the children of a hotreload that
// trackTree() was given.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import type { Exit } from './hotreload-process.js';
import { waitFor } from './wait.js';

export interface Started {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** When it was spawned, ms since the epoch. */
  readonly startedAt: number;
  /** Resolves when the process exited; a process that could not start exits with code 127. */
  readonly exited: Promise<Exit>;
  /** What it wrote to stdout and stderr so far (the last 64 KiB), for assertions and failures. */
  output(): string;
  /** Waits until `text` appears in the output; rejects when the process exits first. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
}

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number;
  readonly gid?: number;
  /** argv[0] as the process sees it (and as /proc/<pid>/cmdline shows it). */
  readonly argv0?: string;
}

const OUTPUT_LIMIT = 64 * 1024;
const roots = new Set<ChildProcess>();
const extraPids = new Map<number, string>();
const loops = new Set<RestartLoop>();

/** Spawns `file` with piped output; killTracked() stops it and its descendants. */
export function startProcess(
  file: string,
  args: readonly string[],
  options: StartOptions = {},
): Started {
  const startedAt = Date.now();
  const proc = spawn(file, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    uid: options.uid,
    gid: options.gid,
    argv0: options.argv0,
  });
  trackTree(proc);
  let out = '';
  const append = (chunk: Buffer | string) => {
    out = (out + chunk.toString()).slice(-OUTPUT_LIMIT);
  };
  proc.stdout?.on('data', append);
  proc.stderr?.on('data', append);
  const exited = new Promise<Exit>((resolve) => {
    proc.once('error', (err) => {
      append(`\nspawn ${file} failed: ${err.message}\n`);
      resolve({ code: 127, signal: null });
    });
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const isDone = () => proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined;
  return {
    proc,
    pid: proc.pid ?? -1,
    startedAt,
    exited,
    output: () => out,
    async waitForOutput(text, timeoutMs = 10_000) {
      await waitFor(
        () => {
          if (out.includes(text)) return true;
          if (isDone()) throw new Error(`${file} exited before printing ${text}; output: ${out}`);
          return false;
        },
        timeoutMs,
        `${JSON.stringify(text)} from ${file}; output so far: ${out.slice(-2000)}`,
      );
    },
  };
}

/**
 * Restarts a process whenever it exits, as the kubelet restarts a container (without its
 * back-off): after `delayMs`, at most `maxRestarts` times, until stop().
 */
export class RestartLoop {
  readonly runs: Started[] = [];
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    private readonly args: readonly string[],
    private readonly opts: {
      readonly maxRestarts: number;
      readonly delayMs: number;
      readonly env?: NodeJS.ProcessEnv;
    },
  ) {
    loops.add(this);
    this.startOne();
  }

  /** The latest run (it may have exited and be waiting for its restart). */
  get current(): Started {
    return this.runs[this.runs.length - 1]!;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    loops.delete(this);
  }

  private startOne(): void {
    const run = startProcess(this.file, this.args, { env: this.opts.env });
    this.runs.push(run);
    void run.exited.then(() => {
      if (this.stopped || this.runs.length > this.opts.maxRestarts) return;
      this.timer = setTimeout(() => this.startOne(), this.opts.delayMs);
    });
  }
}

/** killTracked() will stop `proc` and every descendant it has at that time. */
export function trackTree(proc: ChildProcess): void {
  roots.add(proc);
}

/** killTracked() will stop `pid` if it still names the same process (same start time). */
export async function trackPid(pid: number): Promise<void> {
  const stat = await readStat(pid);
  if (stat) extraPids.set(pid, stat.startTime);
}

/**
 * For afterEach: stops every restart loop, then stops every tracked tree and pid: SIGTERM to the
 * roots first (nginx then reaps its own workers, hotreload stops its child), SIGKILL to whatever
 * of the trees is left after `graceMs`. Resolves once all of them are gone.
 */
export async function killTracked(graceMs = 2000, timeoutMs = 5000): Promise<void> {
  for (const loop of loops) loop.stop();
  const table = await processTable();
  const victims = new Set<number>();
  const live = [...roots].filter(
    (r) => r.pid !== undefined && r.exitCode === null && r.signalCode === null,
  );
  for (const root of live) {
    victims.add(root.pid!);
    for (const pid of descendantsIn(table, root.pid!)) victims.add(pid);
  }
  for (const [pid, startTime] of extraPids) {
    if (table.some((p) => p.pid === pid && p.startTime === startTime)) victims.add(pid);
  }
  roots.clear();
  extraPids.clear();
  const allGone = async () =>
    (await Promise.all([...victims].map(isAlive))).every((alive) => !alive);
  for (const root of live) root.kill('SIGTERM');
  await waitFor(allGone, graceMs).catch(() => {
    for (const pid of victims) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
  await waitFor(allGone, timeoutMs, `processes ${[...victims].join(', ')} to die`);
}

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** 'R', 'S', 'Z' (zombie), ... */
  readonly state: string;
  readonly startTime: string;
}

/** Parses /proc/<pid>/stat; undefined when the process is gone. */
async function readStat(pid: number): Promise<ProcStat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // The comm (field 2) may hold spaces and parentheses: the fields start after the LAST ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0]!, ppid: Number(fields[1]), startTime: fields[19]! };
}

/** The command line of `pid` with its NULs as spaces; '' when it is gone. */
export async function cmdlineOf(pid: number): Promise<string> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return raw.replace(/\0+$/, '').replaceAll('\0', ' ');
}

/** Every process readable in /proc. */
async function processTable(): Promise<ProcStat[]> {
  const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number);
  const stats = await Promise.all(pids.map(readStat));
  return stats.filter((s): s is ProcStat => s !== undefined);
}

/** The live (not zombie) children of `pid`, sorted: nginx's workers are its master's children. */
export async function childPids(pid: number): Promise<number[]> {
  return (await processTable())
    .filter((p) => p.ppid === pid && p.state !== 'Z' && p.state !== 'X')
    .map((p) => p.pid)
    .sort((a, b) => a - b);
}

/** True while `pid` exists and is neither a zombie nor dead. */
export async function isAlive(pid: number): Promise<boolean> {
  const stat = await readStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

function descendantsIn(table: readonly ProcStat[], pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const p of table) {
      if (p.ppid === parent && !found.includes(p.pid)) {
        found.push(p.pid);
        queue.push(p.pid);
      }
    }
  }
  return found;
}
