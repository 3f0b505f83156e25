// Building blocks for scripts/bench.ts: hotreload started the way the image starts it, the floor
// program and bare Node beside it, volumes that record when each swap committed, a reload target
// that records when each request arrived and what the volume held then, /proc readings (memory,
// CPU, wake-ups), statistics and the markdown table. It measures nothing by itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  AtomicWriter,
  makeTempDir,
  type Payload,
  type Projection,
} from '../test/harness/atomic-writer.js';
import { spawnHotreload, type HotreloadProcess } from '../test/harness/hotreload-process.js';
import { startTarget } from '../test/harness/http-target.js';

/** The key every bench volume changes; the target reads it at request time. */
export const KEY = 'app.conf';

/** The floor program (see its header). */
export const FLOOR = fileURLToPath(new URL('./bench-floor.mjs', import.meta.url));

// ---- processes ---------------------------------------------------------------------------------

const spawned = new Set<ChildProcess>();

function track(proc: ChildProcess): void {
  spawned.add(proc);
  proc.once('exit', () => spawned.delete(proc));
}

/** A running hotreload, as the tests start it, with its JSON log records. */
export type EntrypointProcess = HotreloadProcess;

/** The first line of `main`: the command the image's entrypoint runs it with. */
export function entrypointCommand(main: string): string {
  return readFileSync(main, 'utf8').split('\n', 1)[0]!;
}

/** Node's flags on the first line of `main` (`#!/usr/bin/env -S [NAME=VALUE...] node FLAGS`). */
export function entrypointFlags(main: string): string[] {
  return entrypointCommand(main)
    .split(/\s+/)
    .filter((word) => word.startsWith('--'));
}

/** The environment the first line of `main` sets (`NAME=VALUE` before `node`). */
export function entrypointEnv(main: string): Record<string, string> {
  const words = entrypointCommand(main).split(/\s+/);
  const assignments = words.filter((w) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
  return Object.fromEntries(assignments.map(assignment));
}

/** `NAME=VALUE` as [NAME, VALUE]. */
function assignment(text: string): [string, string] {
  const at = text.indexOf('=');
  return [text.slice(0, at), text.slice(at + 1)];
}

/** The PATH the bench gives its processes: its own Node first, so `env node` finds it. */
function benchPath(): string {
  return `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`;
}

/**
 * Executes `main` itself, as the image's ENTRYPOINT does, so its first line
 * (`#!/usr/bin/env -S node FLAGS`) chooses Node's flags. `wrap` runs it under a command (a
 * memory cgroup's). `asNodeScript` starts it as `node main` instead, without the first line.
 */
export function startEntrypoint(
  main: string,
  args: readonly string[],
  options: { wrap?: readonly string[]; asNodeScript?: boolean } = {},
): EntrypointProcess {
  const command = options.asNodeScript ? [process.execPath, main, ...args] : [main, ...args];
  const [file, ...rest] = [...(options.wrap ?? []), ...command];
  const hr = spawnHotreload(file!, rest, { env: { PATH: benchPath() } });
  track(hr.proc);
  return hr;
}

/** `node ...args` with the bench's own Node binary and an environment of PATH (and `env`) only. */
export function spawnNode(
  args: readonly string[],
  options: { wrap?: readonly string[]; env?: Readonly<Record<string, string>> } = {},
): ChildProcess {
  const [file, ...rest] = [...(options.wrap ?? []), process.execPath, ...args];
  const proc = spawn(file!, rest, {
    env: { ...options.env, PATH: benchPath() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(proc);
  return proc;
}

/** performance.now() when the process first wrote to stdout; rejects after timeoutMs or on exit. */
export function firstStdout(proc: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no stdout within the time limit')), timeoutMs);
    proc.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve(performance.now());
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code ?? signal}) before writing to stdout`));
    });
  });
}

/** Resolves when the process has exited, or after timeoutMs (then it is left to killSpawned). */
export function exited(proc: ChildProcess, timeoutMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export function isAlive(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

/**
 * Starts the floor program on `dirs` (plain directories with `plain`) and waits for 'ready'. It
 * runs with `nodeFlags` and `env`: the bench gives it hotreload's own, so that the difference
 * between the two is what hotreload does, not how Node and the C library are tuned.
 */
export async function startFloor(
  url: string,
  dirs: readonly string[],
  options: {
    plain?: boolean;
    wrap?: readonly string[];
    timeoutMs?: number;
    nodeFlags?: readonly string[];
    env?: Readonly<Record<string, string>>;
  } = {},
): Promise<ChildProcess> {
  const args = [...(options.nodeFlags ?? []), FLOOR, ...(options.plain ? ['--plain'] : [])];
  const proc = spawnNode([...args, url, ...dirs], options);
  await firstStdout(proc, options.timeoutMs ?? 30_000);
  return proc;
}

/** Sends SIGKILL to every process this module started and is still running, and waits. */
export async function killSpawned(): Promise<void> {
  const procs = [...spawned];
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => exited(p, 5000)));
}

// ---- /proc readings (Linux) ----------------------------------------------------------------------

export interface Memory {
  /** VmRSS, RssAnon (private: heap, stacks), RssFile (mapped files: mostly the node binary), MiB. */
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
}

const NO_MEMORY: Memory = { rss: Number.NaN, anon: Number.NaN, file: Number.NaN };

/** The process's resident memory from /proc/PID/status; NaNs when it is gone. */
export function memory(pid: number | undefined): Memory {
  if (pid === undefined) return NO_MEMORY;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const mib = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024;
    return { rss: mib('VmRSS'), anon: mib('RssAnon'), file: mib('RssFile') };
  } catch {
    return NO_MEMORY;
  }
}

/** Sums a number read from each thread of the process (/proc/PID/task/TID/...); NaN when gone. */
function sumOverThreads(pid: number | undefined, read: (taskDir: string) => number): number {
  if (pid === undefined) return Number.NaN;
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) total += read(`/proc/${pid}/task/${tid}`);
    return total;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU time the process's threads have used, in ms, from each thread's schedstat (nanoseconds,
 * unlike /proc/PID/stat's 10 ms ticks). Node's threads (the libuv pool, V8's platform workers)
 * live as long as the process, so the sum over the live threads is the process's total.
 */
export function cpuMs(pid: number | undefined): number {
  return sumOverThreads(pid, (task) => {
    try {
      return Number(readFileSync(`${task}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    } catch {
      return 0; // the thread ended between the listing and the read
    }
  });
}

/**
 * How many times the process's threads were switched in after sleeping or being preempted
 * (voluntary + involuntary context switches, all threads): an idle process's wake-ups.
 */
export function contextSwitches(pid: number | undefined): number {
  return sumOverThreads(pid, (task) => {
    try {
      const status = readFileSync(`${task}/status`, 'utf8');
      const field = (name: string) =>
        Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
      return field('voluntary_ctxt_switches') + field('nonvoluntary_ctxt_switches');
    } catch {
      return 0;
    }
  });
}

/** The process's command line, as /proc shows it (arguments joined by spaces). */
export function commandLine(pid: number | undefined): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** The process's environment (/proc/PID/environ); empty when it is gone. */
export function environment(pid: number | undefined): Record<string, string> {
  try {
    const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
    return Object.fromEntries(entries.map(assignment));
  } catch {
    return {};
  }
}

// ---- volumes and target ------------------------------------------------------------------------

export interface Volume {
  readonly dir: string;
  /** Writes `content` under KEY; resolves performance.now() of the moment it became visible. */
  swap(content: string): Promise<number>;
}

/** `count` keys of `bytes` bytes each besides KEY, named key-0000 ..., constant across swaps. */
export function fillerKeys(count: number, bytes: number): Payload {
  const keys: Record<string, Projection> = {};
  for (let i = 0; i < count; i++) {
    keys[`key-${String(i).padStart(5, '0')}`] = `${i}:`.padEnd(bytes, 'x');
  }
  return keys;
}

/**
 * A kubelet-style volume in a temp dir holding `initial` under KEY and the `filler` keys. The
 * time a swap returns is taken in AtomicWriter's 'linked' step, right before `..data_tmp` is
 * renamed over `..data` (the commit). Not after the rename returned: the request it
 * causes can reach this process's event loop before the rename's completion does, which made
 * latencies come out negative.
 */
export async function makeVolume(
  name: string,
  initial: string,
  filler: Payload = {},
): Promise<Volume> {
  const dir = await makeTempDir(`bench-${name}`);
  let committedAt = Number.NaN;
  const writer = new AtomicWriter(dir, (step) => {
    if (step === 'linked') committedAt = performance.now();
    return Promise.resolve();
  });
  await writer.write({ ...filler, [KEY]: initial });
  return {
    dir,
    async swap(content) {
      committedAt = Number.NaN;
      if (!(await writer.write({ ...filler, [KEY]: content }))) {
        throw new Error('swap wrote nothing');
      }
      return committedAt;
    },
  };
}

/**
 * A plain directory holding KEY and `files - 1` other files of `bytes` bytes. A swap writes KEY
 * the way careful tools do: to a temporary name in the directory, then renamed over it.
 */
export async function makePlainDir(
  name: string,
  initial: string,
  files: number,
  bytes: number,
): Promise<Volume> {
  const dir = await makeTempDir(`bench-${name}`);
  for (const [key, content] of Object.entries(fillerKeys(files - 1, bytes))) {
    await writeFile(path.join(dir, key), content as string);
  }
  await writeFile(path.join(dir, KEY), initial);
  return {
    dir,
    async swap(content) {
      const tmp = path.join(dir, `.${KEY}.tmp`);
      await writeFile(tmp, content);
      await rename(tmp, path.join(dir, KEY));
      return performance.now();
    },
  };
}

export interface Hit {
  /** performance.now() when the request had arrived (in this process). */
  readonly t: number;
  /** What the volume's KEY held when the request arrived. */
  readonly content: string;
}

export interface RecordingTarget {
  readonly url: string;
  readonly hits: readonly Hit[];
  /** The first hit (already recorded or future) matching `pred`, or undefined after timeoutMs. */
  waitForHit(pred: (h: Hit) => boolean, timeoutMs: number): Promise<Hit | undefined>;
  close(): Promise<void>;
}

/** A reload endpoint that answers 200 and records each request with the volume's content. */
export async function startRecordingTarget(volumeDir: string): Promise<RecordingTarget> {
  const hits: Hit[] = [];
  const waiters = new Set<() => void>();
  const target = await startTarget(async () => {
    const t = performance.now();
    const content = await readFile(path.join(volumeDir, KEY), 'utf8').catch(
      (err: NodeJS.ErrnoException) => `<unreadable: ${err.code}>`,
    );
    hits.push({ t, content });
    for (const w of waiters) w();
    return {};
  });
  return {
    url: `${target.url}/-/reload`,
    hits,
    waitForHit: (pred, timeoutMs) =>
      new Promise((resolve) => {
        const check = () => {
          // Newest first: a swap's request comes after the earlier swaps' ones.
          for (let i = hits.length - 1; i >= 0; i--) {
            if (pred(hits[i]!)) return done(hits[i]);
          }
        };
        const timer = setTimeout(() => done(undefined), timeoutMs);
        const done = (hit: Hit | undefined) => {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(hit);
        };
        waiters.add(check);
        check();
      }),
    close: () => target.close(),
  };
}

// ---- statistics and output ---------------------------------------------------------------------

/** Nearest-rank percentile (p in 0..100) of the values; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export const median = (values: readonly number[]): number => percentile(values, 50);

export interface Row {
  readonly metric: string;
  readonly hotreload: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly target: string;
  /** true/false for a target, undefined for an information row. */
  readonly pass: boolean | undefined;
}

/** `a / b` as "1.23x", or "n/a" when either is not a finite number or b is 0. */
export function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}x` : 'n/a';
}

/** A number with `digits` decimals, or "n/a". */
export function fmt(value: number | undefined, digits = 2): string {
  return value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function renderTable(rows: readonly Row[]): string {
  const head = ['figure', 'hotreload', 'baseline', 'ratio', 'target', 'pass?'];
  const lines = [head, head.map(() => '---')].map((cells) => `| ${cells.join(' | ')} |`);
  for (const r of rows) {
    const pass = r.pass === undefined ? 'info' : r.pass ? 'PASS' : 'FAIL';
    lines.push(`| ${[r.metric, r.hotreload, r.baseline, r.ratio, r.target, pass].join(' | ')} |`);
  }
  return lines.join('\n');
}
