// The soak: hotreload as the image runs it (dist/main.js executed, its first line choosing Node's
// flags), a kubelet-style volume swapped 10 times a second for 10 minutes, and a reload endpoint
// that fails one request in five. Samples resident memory (all, anonymous, file-backed), the V8
// heap, external memory and open file descriptors every 10 s, checks that the final content was
// delivered, and prints the samples and the growth after the first minute as a markdown table
// (also written to .bench/soak.md). Exits 1 when the final content was not delivered or the bench
// itself failed; the growth is reported against its target, not enforced.
// Run with `npm run soak` (`-- --minutes 3 --rate 10` to change the defaults).
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { cleanupTempDirs } from '../test/harness/atomic-writer.js';
import { MAIN } from '../test/harness/hotreload-process.js';
import { startTarget } from '../test/harness/http-target.js';
import { entrypointCommand, killSpawned, makeVolume, startEntrypoint } from './bench-support.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '10' },
    'sample-every': { type: 'string', default: '10' },
  },
});
const MINUTES = Number(values.minutes);
const RATE = Number(values.rate);
const SAMPLE_S = Number(values['sample-every']);
/** The growth of RSS after the first minute this soak is judged against, in MiB. */
const TARGET_GROWTH_MIB = 5;
const RESULTS_FILE = '.bench/soak.md';

interface Sample {
  readonly atS: number;
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly fds: number;
  readonly ok: number;
  readonly failed: number;
}

const MiB = 1024 * 1024;

async function statusKb(pid: number, field: string): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

async function metricValue(base: string, name: string): Promise<number> {
  const body = await (await fetch(`${base}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

async function main(): Promise<number> {
  const volume = await makeVolume('soak', 'seq = 0\n');
  let requests = 0;
  let ok = 0;
  let failed = 0;
  let lastTaken = '';
  const target = await startTarget(async () => {
    requests++;
    const content = await readFile(path.join(volume.dir, 'app.conf'), 'utf8');
    if (requests % 5 === 0) {
      failed++;
      return { status: 503, body: 'try again' };
    }
    ok++;
    lastTaken = content;
    return {};
  });
  const hr = startEntrypoint(MAIN, [
    '--watch',
    volume.dir,
    '--http-url',
    `${target.url}/-/reload`,
    '--debounce',
    '20ms',
    '--retry-initial',
    '50ms',
    '--retry-max',
    '500ms',
    '--listen',
    '127.0.0.1:0',
  ]);
  const base = (await hr.ready(10_000))!;
  const pid = hr.proc.pid!;
  const samples: Sample[] = [];
  const started = performance.now();
  const sample = async () => {
    samples.push({
      atS: Math.round((performance.now() - started) / 1000),
      rss: (await statusKb(pid, 'VmRSS')) / 1024,
      anon: (await statusKb(pid, 'RssAnon')) / 1024,
      file: (await statusKb(pid, 'RssFile')) / 1024,
      heapUsed: (await metricValue(base, 'nodejs_heap_size_used_bytes')) / MiB,
      external: (await metricValue(base, 'nodejs_external_memory_bytes')) / MiB,
      fds: (await readdir(`/proc/${pid}/fd`)).length,
      ok,
      failed,
    });
  };
  await sample();
  let seq = 0;
  let nextSample = SAMPLE_S * 1000;
  const endMs = MINUTES * 60_000;
  while (performance.now() - started < endMs) {
    await volume.swap(`seq = ${++seq}\n`);
    await delay(1000 / RATE);
    if (performance.now() - started >= nextSample) {
      await sample();
      nextSample += SAMPLE_S * 1000;
    }
  }
  const final = `seq = ${seq}\n`;
  const deadline = performance.now() + 15_000;
  while (lastTaken !== final && performance.now() < deadline) await delay(100);
  await sample();
  await hr.stop('SIGTERM', 10_000);
  await target.close();

  const first = samples.find((s) => s.atS >= 60) ?? samples[0]!;
  const last = samples[samples.length - 1]!;
  const growth = last.rss - first.rss;
  const rows = samples.map(
    (s) =>
      `| ${s.atS} | ${s.rss.toFixed(1)} | ${s.anon.toFixed(1)} | ${s.file.toFixed(1)} | ${s.heapUsed.toFixed(1)} | ${s.external.toFixed(1)} | ${s.fds} | ${s.ok} | ${s.failed} |`,
  );
  const report = [
    `# Soak: ${MINUTES} min, ${RATE} kubelet swaps/s, 1 request in 5 answered 503`,
    '',
    `- hotreload: \`${entrypointCommand(MAIN)}\` on Node ${process.version}`,
    `- ${seq} swaps; the endpoint took ${ok} requests and refused ${failed}`,
    `- final content delivered: ${lastTaken === final ? 'yes' : 'NO'}`,
    `- RSS growth after the first minute: ${growth.toFixed(1)} MiB (${first.rss.toFixed(1)} at ${first.atS} s -> ${last.rss.toFixed(1)} at ${last.atS} s); target < ${TARGET_GROWTH_MIB} MiB: ${growth < TARGET_GROWTH_MIB ? 'PASS' : 'FAIL'}`,
    '',
    '| s | RSS MiB | anon MiB | file MiB | heap used MiB | external MiB | fds | requests ok | refused |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  console.log(report);
  await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
  await writeFile(RESULTS_FILE, report);
  return lastTaken === final ? 0 : 1;
}

main()
  .then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  )
  .finally(async () => {
    await killSpawned();
    await cleanupTempDirs();
  });
