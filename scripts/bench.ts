// Benchmarks the built hotreload (dist/main.js) against baselines in one run: swap-to-request
// latency, reloads per burst of swaps, RSS and start-up time. Prints a markdown table and writes it
// to .bench/results.md. Run with `npm run bench`; exits 0 whenever the bench ran, targets met or
// not (a summary line says which were missed), and 1 only when the bench itself failed.
//
// Method, in short (the header of the report repeats it):
// - hotreload runs as the image runs it: dist/main.js is executed, and its first line chooses
//   Node's flags (scripts/build.ts); the bench's own Node is the one `env` finds first in PATH.
// - Latency: t0 = performance.now() in AtomicWriter's 'committed' step, right after the rename of
//   ..data_tmp over ..data returned; t1 = performance.now() when the reload request arrived at
//   the target, which runs in this process. Swaps are sequential: each waits for its request (at
//   most SWAP_WAIT_MS, else it counts as lost), then SWAP_GAP_MS, before the next one. The
//   hotreload and baseline swaps alternate, so both see the same machine conditions.
// - Baseline: a minimal reloader (`node -e`, fs.watch + one POST per `..data` event) for latency
//   and bursts; plain idle Node for RSS; `node -e "console.log('ready')"` for start-up.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { cleanupTempDirs } from '../test/support/atomic-writer.js';
import { MAIN } from '../test/support/hotreload-process.js';
import {
  entrypointCommand,
  exited,
  firstStdout,
  fmt,
  killSpawned,
  makeVolume,
  median,
  percentile,
  ratio,
  renderTable,
  rssMiB,
  spawnNodeEval,
  startEntrypoint,
  startIdleNode,
  startMinimalReloader,
  startRecordingTarget,
  type EntrypointProcess,
  type Hit,
  type RecordingTarget,
  type Row,
  type Volume,
} from './bench-support.js';

const LATENCY_SWAPS = 200;
const SWAP_WAIT_MS = 5000;
const SWAP_GAP_MS = 20;
/** After this many lost reloads in a row a subject gets no more swaps; the rest count as lost. */
const MAX_LOST_IN_A_ROW = 10;
const BURST_SWAPS = 50;
const BURST_QUIET_MS = 3000;
const BURST_LIMIT_MS = 30_000;
const STARTUP_RUNS = 5;
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5000;
/** Idle time after every process is ready, before the first RSS reading. */
const SETTLE_MS = 500;

const TARGET_P99_MS = 10;
const TARGET_BURST_RELOADS = 2;
const TARGET_RSS_RATIO = 1.4;

const RUN_ID = `${Date.now()}-${process.pid}`;
const RESULTS_FILE = '.bench/results.md';

/** A reloader under test: its volume, the endpoint it calls, and its process id. */
interface Subject {
  readonly name: string;
  readonly volume: Volume;
  readonly target: RecordingTarget;
  readonly pid: number | undefined;
  /** False once its process has exited. */
  alive(): boolean;
}

// ---- clean-up ----------------------------------------------------------------------------------

const cleanups: (() => Promise<unknown>)[] = [];

/** Registers a clean-up step; they run in reverse order, each even if an earlier one failed. */
function defer(fn: () => Promise<unknown>): void {
  cleanups.push(fn);
}

async function runCleanups(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    await fn().catch((err: unknown) => console.error(`clean-up step failed: ${String(err)}`));
  }
}

// ---- subjects ----------------------------------------------------------------------------------

function contentFor(tag: string, seq: number): string {
  return `run = ${RUN_ID}\nsubject = ${tag}\nseq = ${seq}\n`;
}

function hotreloadArgs(dir: string, url: string, extra: readonly string[]): string[] {
  return [
    '--watch',
    dir,
    '--http-url',
    url,
    ...extra,
    '--max-wait',
    '10s',
    '--listen',
    '127.0.0.1:0',
    '--log-level',
    'info',
  ];
}

/** A volume and a target of its own; closed (target) and removed (dir) at clean-up. */
async function volumeWithTarget(name: string): Promise<[Volume, RecordingTarget]> {
  const volume = await makeVolume(name, contentFor(name, -1));
  const target = await startRecordingTarget(volume.dir);
  defer(() => target.close());
  return [volume, target];
}

/** hotreload with `extra` flags (e.g. a --debounce), started and ready. */
async function startHotreloadSubject(
  name: string,
  extra: readonly string[],
): Promise<Subject & { readonly hr: EntrypointProcess }> {
  const [volume, target] = await volumeWithTarget(name);
  const hr = startEntrypoint(MAIN, hotreloadArgs(volume.dir, target.url, extra));
  defer(() => hr.stop('SIGTERM', STOP_TIMEOUT_MS));
  await hr.ready(READY_TIMEOUT_MS);
  const alive = () => hr.proc.exitCode === null && hr.proc.signalCode === null;
  return { name, volume, target, pid: hr.proc.pid, alive, hr };
}

async function startMinimalSubject(name: string): Promise<Subject> {
  const [volume, target] = await volumeWithTarget(name);
  const proc = await startMinimalReloader(volume.dir, target.url);
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  return { name, volume, target, pid: proc.pid, alive };
}

// ---- 1. latency --------------------------------------------------------------------------------

interface LatencyResult {
  readonly samples: number[];
  lost: number;
  lostInARow: number;
  /** Requests received during the run, matched or not. */
  requests: number;
}

/** Swaps once and resolves the commit-to-request time, or undefined when no request came. */
async function swapAndWait(s: Subject, seq: number): Promise<number | undefined> {
  const text = contentFor(s.name, seq);
  const committedAt = await s.volume.swap(text);
  const hit = await s.target.waitForHit((h) => h.content === text, SWAP_WAIT_MS);
  return hit && hit.t - committedAt;
}

/** One swap of the latency run, recorded in `r`; throws when the subject's process has died. */
async function latencyStep(s: Subject, seq: number, r: LatencyResult): Promise<void> {
  if (r.lostInARow >= MAX_LOST_IN_A_ROW) {
    r.lost++;
    return;
  }
  const latency = await swapAndWait(s, seq);
  if (latency !== undefined) {
    r.samples.push(latency);
    r.lostInARow = 0;
  } else {
    if (!s.alive()) throw new Error(`${s.name} exited during the latency run`);
    r.lost++;
    r.lostInARow++;
  }
  await delay(SWAP_GAP_MS);
}

async function measureLatency(subjects: readonly Subject[]): Promise<Map<string, LatencyResult>> {
  const results = new Map<string, LatencyResult>();
  const before = new Map<string, number>();
  for (const s of subjects) {
    results.set(s.name, { samples: [], lost: 0, lostInARow: 0, requests: 0 });
    before.set(s.name, s.target.hits.length);
  }
  for (let seq = 0; seq < LATENCY_SWAPS; seq++) {
    for (const s of subjects) {
      await latencyStep(s, seq, results.get(s.name)!);
    }
  }
  for (const s of subjects) {
    results.get(s.name)!.requests = s.target.hits.length - before.get(s.name)!;
  }
  return results;
}

// ---- 2. bursts ---------------------------------------------------------------------------------

interface BurstResult {
  readonly reloads: number;
  readonly finalSeen: boolean;
  /** From the last swap's commit to the last request, in ms. */
  readonly settleMs: number;
}

/** Resolves once no request arrived for BURST_QUIET_MS after `since` (bounded). */
async function quietAfter(hits: readonly Hit[], since: number): Promise<void> {
  const deadline = since + BURST_LIMIT_MS;
  for (;;) {
    const lastActivity = hits.reduce((t, h) => Math.max(t, h.t), since);
    const now = performance.now();
    if (now - lastActivity >= BURST_QUIET_MS || now >= deadline) return;
    await delay(50);
  }
}

/** BURST_SWAPS swaps back to back; counts the requests and checks the last one's content. */
async function measureBurst(s: Subject, round: string): Promise<BurstResult> {
  const from = s.target.hits.length;
  let final = '';
  let lastCommitAt = Number.NaN;
  for (let seq = 0; seq < BURST_SWAPS; seq++) {
    final = contentFor(`${s.name}-${round}`, seq);
    lastCommitAt = await s.volume.swap(final);
  }
  await quietAfter(s.target.hits, lastCommitAt);
  const hits = s.target.hits.slice(from);
  const last = hits.reduce<Hit | undefined>((a, h) => (a && a.t > h.t ? a : h), undefined);
  return {
    reloads: hits.length,
    finalSeen: last?.content === final,
    settleMs: last ? last.t - lastCommitAt : Number.NaN,
  };
}

/** A fresh hotreload with `extra` flags, one burst, then it is stopped. */
async function burstOfHotreload(name: string, extra: readonly string[]): Promise<BurstResult> {
  const s = await startHotreloadSubject(name, extra);
  try {
    return await measureBurst(s, 'burst');
  } finally {
    await s.hr.stop('SIGTERM', STOP_TIMEOUT_MS);
  }
}

// ---- 3. RSS ------------------------------------------------------------------------------------

interface RssReading {
  readonly hotreload: number | undefined;
  readonly idleNode: number | undefined;
  readonly minimal: number | undefined;
}

function readRss(hotreload: Subject, idleNodePid: number | undefined, minimal: Subject) {
  return {
    hotreload: rssMiB(hotreload.pid),
    idleNode: rssMiB(idleNodePid),
    minimal: rssMiB(minimal.pid),
  } satisfies RssReading;
}

// ---- 4. start-up -------------------------------------------------------------------------------

interface StartupResult {
  readonly hotreload: number[];
  readonly node: number[];
}

/** Spawn to 'hotreload started', then a clean stop. */
async function hotreloadStartup(dir: string, url: string): Promise<number> {
  const t0 = performance.now();
  const hr = startEntrypoint(MAIN, hotreloadArgs(dir, url, ['--debounce', '0']));
  try {
    await hr.ready(READY_TIMEOUT_MS);
    return performance.now() - t0;
  } finally {
    await hr.stop('SIGTERM', STOP_TIMEOUT_MS);
  }
}

/** Spawn of `node -e "console.log('ready')"` to its first stdout. */
async function nodeStartup(): Promise<number> {
  const t0 = performance.now();
  const proc = spawnNodeEval("console.log('ready')");
  const t1 = await firstStdout(proc, READY_TIMEOUT_MS);
  await exited(proc, STOP_TIMEOUT_MS);
  return t1 - t0;
}

/** STARTUP_RUNS of each, alternating. */
async function measureStartup(): Promise<StartupResult> {
  const [volume, target] = await volumeWithTarget('startup');
  const result: StartupResult = { hotreload: [], node: [] };
  for (let i = 0; i < STARTUP_RUNS; i++) {
    result.hotreload.push(await hotreloadStartup(volume.dir, target.url));
    result.node.push(await nodeStartup());
  }
  return result;
}

// ---- the table ---------------------------------------------------------------------------------

function latencyRows(h: LatencyResult, b: LatencyResult): Row[] {
  const row = (label: string, p: number, target?: number): Row => {
    const hv = percentile(h.samples, p);
    const bv = percentile(b.samples, p);
    return {
      metric: `swap→request ${label} (ms, ${LATENCY_SWAPS} swaps, --debounce 0)`,
      hotreload: fmt(hv),
      baseline: fmt(bv),
      ratio: ratio(hv, bv),
      target: target === undefined ? '' : `≤ ${target} ms`,
      pass: target === undefined ? undefined : hv <= target,
    };
  };
  return [
    row('p50', 50),
    row('p99', 99, TARGET_P99_MS),
    row('max', 100),
    {
      metric: `lost reloads (no request within ${SWAP_WAIT_MS} ms)`,
      hotreload: String(h.lost),
      baseline: String(b.lost),
      ratio: ratio(h.lost, b.lost),
      target: '0',
      pass: h.lost === 0,
    },
    {
      metric: 'requests per swap (latency run)',
      hotreload: fmt(h.requests / LATENCY_SWAPS),
      baseline: fmt(b.requests / LATENCY_SWAPS),
      ratio: ratio(h.requests, b.requests),
      target: '',
      pass: undefined,
    },
  ];
}

function burstRow(label: string, h: BurstResult, b: BurstResult): Row {
  const cell = (r: BurstResult) =>
    `${r.reloads} (${r.finalSeen ? 'final seen' : 'FINAL NOT SEEN'}, last at ${fmt(r.settleMs, 0)} ms)`;
  return {
    metric: `reloads per ${BURST_SWAPS}-swap burst, ${label}`,
    hotreload: cell(h),
    baseline: cell(b),
    ratio: ratio(h.reloads, b.reloads),
    target: `≤ ${TARGET_BURST_RELOADS}, final content seen`,
    pass: h.reloads >= 1 && h.reloads <= TARGET_BURST_RELOADS && h.finalSeen,
  };
}

function rssRows(start: RssReading, after: RssReading): Row[] {
  const vsIdle = (label: string, r: RssReading): Row => {
    const h = r.hotreload ?? Number.NaN;
    const n = r.idleNode ?? Number.NaN;
    return {
      metric: `RSS ${label} (MiB; baseline: idle node)`,
      hotreload: fmt(h, 1),
      baseline: fmt(n, 1),
      ratio: ratio(h, n),
      target: `≤ ${TARGET_RSS_RATIO}x idle node`,
      pass: h / n <= TARGET_RSS_RATIO,
    };
  };
  const vsMinimal = (label: string, r: RssReading): Row => ({
    metric: `RSS ${label} (MiB; baseline: minimal reloader)`,
    hotreload: fmt(r.hotreload, 1),
    baseline: fmt(r.minimal, 1),
    ratio: ratio(r.hotreload ?? Number.NaN, r.minimal ?? Number.NaN),
    target: '',
    pass: undefined,
  });
  return [
    vsIdle('after start-up', start),
    vsIdle('after latency run', after),
    vsMinimal('after start-up', start),
    vsMinimal('after latency run', after),
  ];
}

function startupRow(s: StartupResult): Row {
  const h = median(s.hotreload);
  const n = median(s.node);
  return {
    metric: `start-up to ready, median of ${STARTUP_RUNS} (ms; baseline: node -e console.log)`,
    hotreload: fmt(h, 1),
    baseline: fmt(n, 1),
    ratio: ratio(h, n),
    target: '',
    pass: undefined,
  };
}

// ---- the report --------------------------------------------------------------------------------

function header(): string {
  const cpus = os.cpus();
  return [
    '# hotreload bench',
    '',
    `- date: ${new Date().toISOString()}`,
    `- node: ${process.version} (${process.execPath}), for every process`,
    `- machine: ${os.platform()} ${os.arch()}, ${cpus.length} CPUs (${cpus[0]?.model ?? '?'}), ` +
      `${fmt(os.totalmem() / 2 ** 30, 1)} GiB RAM`,
    `- hotreload: ${MAIN}, executed as the image's entrypoint executes it: \`${entrypointCommand(MAIN)}\``,
    `- latency: t0 = the 'committed' step (rename of ..data_tmp over ..data returned), ` +
      `t1 = request arrival at the in-process target (performance.now()); ` +
      `${LATENCY_SWAPS} sequential swaps, ${SWAP_GAP_MS} ms apart, hotreload and baseline alternating`,
    `- baseline: minimal reloader = node -e (fs.watch + POST per ..data event); ` +
      `RSS yardstick = idle node -e setInterval; start-up yardstick = node -e console.log`,
    `- bursts: ${BURST_SWAPS} swaps back to back, counted until ${BURST_QUIET_MS} ms without a request; ` +
      `"last at" = the last request's time after the last commit`,
    `- t0 is when this process saw the rename return, so it can trail the real commit by up to one ` +
      `event-loop turn (sub-ms): a very fast reloader can show ~0 or slightly negative times`,
  ].join('\n');
}

/** Facts about the latency run's hotreload worth a look: its warnings and its log counts. */
function logNotes(hr: EntrypointProcess): string[] {
  const count = (msg: string) => hr.logs.filter((r) => r.msg === msg).length;
  const notes = [
    `hotreload (latency run) logged ${count('change detected')} 'change detected' and ` +
      `${count('reload succeeded')} 'reload succeeded' for ${LATENCY_SWAPS} swaps`,
  ];
  for (const r of hr.logs.filter((rec) => !['info', 'debug', 'trace'].includes(rec.level))) {
    notes.push(`hotreload ${r.level}: ${JSON.stringify(r)}`);
  }
  if (hr.stderr().trim()) notes.push(`hotreload stderr: ${hr.stderr().trim()}`);
  return notes;
}

function summary(rows: readonly Row[]): string {
  const judged = rows.filter((r) => r.pass !== undefined);
  const missed = judged.filter((r) => !r.pass).map((r) => r.metric);
  const met = judged.length - missed.length;
  return missed.length === 0
    ? `SUMMARY: all ${judged.length} targets met`
    : `SUMMARY: ${met}/${judged.length} targets met; missed: ${missed.join('; ')}`;
}

/** Runs every measurement and returns the report's body: the table, notes and summary line. */
async function runBench(): Promise<string> {
  console.log('measuring start-up...');
  const startup = await measureStartup();

  console.log('starting the latency subjects...');
  const idleNode = startIdleNode();
  const hot = await startHotreloadSubject('hotreload', ['--debounce', '0']);
  const minimal = await startMinimalSubject('minimal');
  await delay(SETTLE_MS);
  const rssStart = readRss(hot, idleNode.pid, minimal);

  console.log(`measuring latency (${LATENCY_SWAPS} swaps each)...`);
  const latency = await measureLatency([hot, minimal]);
  const rssAfter = readRss(hot, idleNode.pid, minimal);

  console.log('measuring bursts...');
  const burstDefault = await burstOfHotreload('burst-default', []);
  const burstMinimalA = await measureBurst(minimal, 'a');
  const burst200 = await burstOfHotreload('burst-200ms', ['--debounce', '200ms']);
  const burstMinimalB = await measureBurst(minimal, 'b');

  const rows = [
    ...latencyRows(latency.get(hot.name)!, latency.get(minimal.name)!),
    burstRow('default --debounce (1s)', burstDefault, burstMinimalA),
    burstRow('--debounce 200ms', burst200, burstMinimalB),
    ...rssRows(rssStart, rssAfter),
    startupRow(startup),
  ];
  const notes = logNotes(hot.hr).map((n) => `- ${n}`);
  return [renderTable(rows), '', ...notes, '', summary(rows), ''].join('\n');
}

async function main(): Promise<number> {
  defer(() => cleanupTempDirs());
  defer(() => killSpawned());
  try {
    const head = header();
    console.log(`${head}\n`);
    const body = await runBench();
    console.log(`\n${body}`);
    await mkdir('.bench', { recursive: true });
    await writeFile(RESULTS_FILE, `${head}\n\n${body}`);
    console.log(`written to ${RESULTS_FILE}`);
    return 0;
  } finally {
    await runCleanups();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    process.exit(1);
  },
);
