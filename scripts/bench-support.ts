// Building blocks for scripts/bench.ts: hotreload started the way the image starts it, the
// baseline processes, a volume that records when each swap committed, a reload target that
// records when each request arrived and what the volume held then, /proc RSS readings,
// statistics and the markdown table. It measures nothing by itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AtomicWriter, makeTempDir } from '../test/support/atomic-writer.js';
import { spawnHotreload, type HotreloadProcess } from '../test/support/hotreload-process.js';
import { startTarget } from '../test/support/http-target.js';

/** The key every bench volume holds; the target reads it at request time. */
export const KEY = 'app.conf';

/**
 * The floor a hand-written reloader reaches: fs.watch on the volume directory and one POST per
 * event naming `..data` (as configmap-reload does per swap). argv: volume dir, reload URL.
 */
const MINIMAL_RELOADER = `
const fs = require('node:fs');
const http = require('node:http');
const [dir, url] = process.argv.slice(1);
fs.watch(dir, (_event, name) => {
  if (name !== '..data') return;
  const req = http.request(url, { method: 'POST' }, (res) => res.resume());
  req.on('error', () => {});
  req.end();
});
console.log('ready');
`;

// ---- hotreload as the image runs it -------------------------------------------------------------

/** A running hotreload, as the tests start it, with its JSON log records. */
export type EntrypointProcess = HotreloadProcess;

/** The first line of `main`: the command the image's entrypoint runs it with. */
export function entrypointCommand(main: string): string {
  return readFileSync(main, 'utf8').split('\n', 1)[0]!;
}

/**
 * Executes `main` itself, as the image's ENTRYPOINT does, so its first line
 * (`#!/usr/bin/env -S node FLAGS`) chooses Node's flags. The bench's own Node comes first in
 * PATH, so that is the `node` it starts.
 */
export function startEntrypoint(main: string, args: readonly string[]): EntrypointProcess {
  const hr = spawnHotreload(main, args, {
    env: { PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` },
  });
  spawned.add(hr.proc);
  hr.proc.once('exit', () => spawned.delete(hr.proc));
  return hr;
}

// ---- processes ---------------------------------------------------------------------------------

const spawned = new Set<ChildProcess>();

/** `node -e source ...args` with the bench's own Node binary and an environment of PATH only. */
export function spawnNodeEval(source: string, args: readonly string[] = []): ChildProcess {
  const proc = spawn(process.execPath, ['-e', source, ...args], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.add(proc);
  proc.once('exit', () => spawned.delete(proc));
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
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code}) before writing to stdout`));
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

/** Starts the minimal reloader on `dir` and waits for its 'ready' line. */
export async function startMinimalReloader(dir: string, url: string): Promise<ChildProcess> {
  const proc = spawnNodeEval(MINIMAL_RELOADER, [dir, url]);
  await firstStdout(proc, 10_000);
  return proc;
}

/** Plain idle Node: the RSS yardstick. */
export function startIdleNode(): ChildProcess {
  return spawnNodeEval('setInterval(() => {}, 1000)');
}

/** Sends SIGKILL to every process spawnNodeEval started and is still running, and waits. */
export async function killSpawned(): Promise<void> {
  const procs = [...spawned];
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => exited(p, 5000)));
}

/** VmRSS of a process in MiB, from /proc (Linux); undefined when unavailable. */
export function rssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

// ---- volume and target -------------------------------------------------------------------------

export interface Volume {
  readonly dir: string;
  /** Projects `content` under KEY the kubelet's way; resolves performance.now() of the commit. */
  swap(content: string): Promise<number>;
}

/**
 * A kubelet-style volume in a temp dir, already holding `initial`. The commit time is taken in
 * AtomicWriter's 'committed' step, i.e. as soon as the rename of `..data_tmp` over `..data` has
 * returned: the instant the new content became visible (give or take one promise turn).
 */
export async function makeVolume(name: string, initial: string): Promise<Volume> {
  const dir = await makeTempDir(`bench-${name}`);
  let committedAt = Number.NaN;
  const writer = new AtomicWriter(dir, (step) => {
    if (step === 'committed') committedAt = performance.now();
    return Promise.resolve();
  });
  await writer.write({ [KEY]: initial });
  return {
    dir,
    async swap(content) {
      committedAt = Number.NaN;
      if (!(await writer.write({ [KEY]: content }))) throw new Error('swap wrote nothing');
      return committedAt;
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
          const hit = hits.find(pred);
          if (hit) done(hit);
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
  const head = ['metric', 'hotreload', 'baseline', 'ratio (hotreload/baseline)', 'target', 'pass?'];
  const lines = [head, head.map(() => '---')].map((cells) => `| ${cells.join(' | ')} |`);
  for (const r of rows) {
    const pass = r.pass === undefined ? 'info' : r.pass ? 'PASS' : 'FAIL';
    lines.push(`| ${[r.metric, r.hotreload, r.baseline, r.ratio, r.target, pass].join(' | ')} |`);
  }
  return lines.join('\n');
}
