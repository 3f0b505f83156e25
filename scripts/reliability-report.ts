// Runs the reliability suites (test/reliability/*.test.ts) with node's test runner and writes
// docs/RELIABILITY.md: how it was generated, every case of each suite with its result and
// duration, and the totals. Exits 1 when a case failed (the report is written either way). It
// does not build: the suites run dist/main.js (or HOTRELOAD_MAIN), so `npm run build` first.
// Run with `node --import tsx scripts/reliability-report.ts`.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run } from 'node:test';
import type { TestEvent } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { format, resolveConfig } from 'prettier';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const OUT = path.join(ROOT, 'docs', 'RELIABILITY.md');
const COMMAND = 'node --import tsx scripts/reliability-report.ts';

interface SuiteSpec {
  readonly title: string;
  readonly file: string;
  readonly about: string;
}

const SUITES: readonly SuiteSpec[] = [
  {
    title: 'Faults',
    file: 'test/reliability/faults.test.ts',
    about:
      'The built CLI against real peers (an HTTP endpoint that re-reads its configuration, processes found through `/proc`, kubelet-style volume writes), one fault at a time. Each case asserts that the sidecar keeps running (alive, `/healthz` 200) and that the final configuration is applied exactly when it should be.',
  },
  {
    title: 'Promises',
    file: 'test/reliability/promises.test.ts',
    about:
      "The scenarios of the peers' own test suites (thanos `pkg/reloader`, prometheus-operator's config-reloader, configmap-reload) and their neighbours, with real nginx, real Prometheus, an HTTP endpoint that re-reads its configuration and processes that die to a signal they get too early: a rollback after a failed reload, a change before hotreload's first look, a restarting process, several `--http-url`, verification of what the application says, newer content during a verification, a replaced symlink, and outcomes that must be reported as they happened.",
  },
  {
    title: 'Hostile input',
    file: 'test/reliability/hostile.test.ts',
    about:
      'What a hostile or broken pod puts in the way, against the built CLI: entries that fail to read (ENAMETOOLONG), a 64 GiB sparse file and a link to an endless `/proc` file, FIFOs and a 300 MB file where a flag names a small file, a value HTTP cannot carry in a header file, a plain tree of 20,000 files, a log pipe nobody reads, a volume that never holds still during start-up, SIGUSR1 at start, a malformed request, a filesystem mounted over the watched directory. Each case asserts that the sidecar is neither wedged, crashed nor silenced: it answers, ends on SIGTERM within its bound, and still delivers other changes.',
  },
  {
    title: 'Bad input',
    file: 'test/reliability/bad-input.test.ts',
    about:
      'Every flag of the CLI (checked against `OPTIONS` in `src/config/options.ts`) given a bad value on the command line or through `HOTRELOAD_<FLAG>`, missing values, unknown flags and typos, and flags that need another one. Each case asserts exit code 2, nothing on stdout, and a message naming the flag and the bad value.',
  },
  {
    title: 'Bad rules files',
    file: 'test/reliability/bad-rules.test.ts',
    about:
      'Every bad value of every rule setting (the flag cases above), written as a key of a rules file (`--config`), a key with no value for every setting, and what only a file gets wrong (its YAML, its shape, names, unknown keys, a FIFO, a file over 1 MiB), given to the built CLI. Each case asserts exit code 2, nothing on stdout, and a message naming the file, the rule, the key and the bad value.',
  },
];

type Result = 'pass' | 'fail' | 'skip' | 'todo';

interface CaseRow {
  /** The describe blocks around the case, outermost first. */
  readonly group: string;
  readonly name: string;
  readonly result: Result;
  /** Why it was skipped, or the first line of the failure. */
  readonly reason: string | undefined;
  readonly durationMs: number;
}

interface SuiteRun {
  readonly spec: SuiteSpec;
  readonly rows: CaseRow[];
  readonly wallMs: number;
}

/**
 * Runs one test file and turns its events into rows:
 * 1. each test:start at nesting n names level n of the describe path;
 * 2. each test:pass/test:fail of a test (not a suite) is a row under the path above it;
 * 3. a suite that failed for its own reason (a hook, a file that does not load) is a row too.
 */
async function runSuite(spec: SuiteSpec): Promise<SuiteRun> {
  const started = Date.now();
  const rows: CaseRow[] = [];
  const names: string[] = [];
  const stream = run({ files: [path.join(ROOT, spec.file)], concurrency: 1 });
  for await (const event of stream as AsyncIterable<TestEvent>) {
    if (event.type === 'test:start') {
      names.length = event.data.nesting; // (1)
      names.push(event.data.name);
    } else if (event.type === 'test:pass' || event.type === 'test:fail') {
      const { data } = event;
      const failed = event.type === 'test:fail';
      const isSuite = data.details.type === 'suite';
      const error = failed ? event.data.details.error : undefined;
      if (isSuite && !(failed && failureType(error) !== 'subtestsFailed')) continue; // (2), (3)
      const result: Result = data.skip ? 'skip' : data.todo ? 'todo' : failed ? 'fail' : 'pass';
      rows.push({
        group: names.slice(0, data.nesting).join(' › '),
        name: isSuite ? `${data.name} (the suite itself)` : data.name,
        result,
        reason: result === 'fail' ? firstLine(error) : reasonOf(data.skip ?? data.todo),
        durationMs: data.details.duration_ms,
      });
    }
  }
  return { spec, rows, wallMs: Date.now() - started };
}

function failureType(err: unknown): unknown {
  return (err as { failureType?: unknown } | undefined)?.failureType;
}

/**
 * The message of the error a test threw (the runner wraps it), on one line. An assertion with a
 * generated message ("Expected values to be strictly equal:") says what it got instead.
 */
function firstLine(err: unknown): string {
  const inner = (err as { cause?: unknown } | undefined)?.cause ?? err;
  const message = inner instanceof Error ? inner.message : String(inner);
  let line = message.split('\n').find((l) => l.trim() !== '') ?? message;
  const a = inner as { generatedMessage?: boolean; actual?: unknown; expected?: unknown };
  if (a.generatedMessage) line = `${line} expected ${show(a.expected)}, got ${show(a.actual)}`;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

function show(value: unknown): string {
  return inspect(value, { depth: 3, breakLength: Infinity, maxStringLength: 80 });
}

function reasonOf(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

interface Totals {
  readonly cases: number;
  readonly pass: number;
  readonly fail: number;
  readonly skip: number;
  readonly todo: number;
}

function totals(rows: readonly CaseRow[]): Totals {
  const count = (r: Result) => rows.filter((row) => row.result === r).length;
  return {
    cases: rows.length,
    pass: count('pass'),
    fail: count('fail'),
    skip: count('skip'),
    todo: count('todo'),
  };
}

/** Text for a Markdown table cell: no line breaks, pipes escaped, no HTML (`<ENOENT>` stays text). */
function cell(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').replace(/</g, '&lt;').trim();
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function resultCell(row: CaseRow): string {
  const reason = row.reason ? `: ${row.reason}` : '';
  if (row.result === 'fail') return cell(`**FAIL**${reason}`);
  return cell(`${row.result}${reason}`);
}

function totalsRow(title: string, t: Totals, ms: number): string {
  return `| ${title} | ${t.cases} | ${t.pass} | ${t.fail} | ${t.skip} | ${t.todo} | ${seconds(ms)} |`;
}

function suiteSection(s: SuiteRun): string[] {
  const lines = [
    `## ${s.spec.title}: \`${s.spec.file}\``,
    '',
    s.spec.about,
    '',
    '| # | Group | Case | Result | Time |',
    '| -: | --- | --- | --- | -: |',
  ];
  s.rows.forEach((row, i) => {
    const time = seconds(row.durationMs);
    lines.push(
      `| ${i + 1} | ${cell(row.group)} | ${cell(row.name)} | ${resultCell(row)} | ${time} |`,
    );
  });
  return [...lines, ''];
}

function cliUnderTest(): string {
  const main = process.env.HOTRELOAD_MAIN ?? path.join(ROOT, 'dist', 'main.js');
  const shown = path.relative(ROOT, main).startsWith('..') ? main : path.relative(ROOT, main);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    version?: string;
  };
  return `\`${shown}\` (hotreload ${pkg.version ?? 'unknown'})`;
}

function render(runs: readonly SuiteRun[], at: Date): string {
  const all = runs.flatMap((r) => r.rows);
  const uid = process.getuid?.();
  const lines = [
    '# Reliability report',
    '',
    `Generated by \`${COMMAND}\` on ${at.toISOString()}; do not edit by hand.`,
    '',
    `- Node.js ${process.version} on ${os.platform()} ${os.arch()}, ${os.availableParallelism()} CPUs`,
    `- Run as UID ${uid ?? 'unknown'}${uid === 0 ? ' (root: the cases that run processes as other users ran)' : ''}`,
    `- CLI under test: ${cliUnderTest()}`,
    `- CI: ${process.env.CI === 'true' ? 'yes (CI=true: nothing may be skipped for a missing program)' : 'no'}`,
    '',
    '| Suite | Cases | Passed | Failed | Skipped | Todo | Time |',
    '| --- | -: | -: | -: | -: | -: | -: |',
    ...runs.map((r) => totalsRow(r.spec.title, totals(r.rows), r.wallMs)),
    totalsRow(
      '**Total**',
      totals(all),
      runs.reduce((ms, r) => ms + r.wallMs, 0),
    ),
    '',
    ...runs.flatMap(suiteSection),
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  const main = process.env.HOTRELOAD_MAIN ?? path.join(ROOT, 'dist', 'main.js');
  if (!existsSync(main)) {
    process.stderr.write(`${main} does not exist; run \`npm run build\` first\n`);
    return 2;
  }
  const at = new Date();
  const runs: SuiteRun[] = [];
  for (const spec of SUITES) {
    process.stdout.write(`running ${spec.file}\n`);
    const suite = await runSuite(spec);
    const t = totals(suite.rows);
    process.stdout.write(
      `  ${t.cases} cases: ${t.pass} passed, ${t.fail} failed, ${t.skip} skipped in ${seconds(suite.wallMs)}\n`,
    );
    for (const row of suite.rows.filter((r) => r.result === 'fail'))
      process.stdout.write(`  FAIL ${row.name}: ${row.reason ?? ''}\n`);
    runs.push(suite);
  }
  await mkdir(path.dirname(OUT), { recursive: true });
  // Formatted as `npm run format` would, so the generated file never fails a Prettier check.
  const options = { ...(await resolveConfig(OUT)), filepath: OUT };
  await writeFile(OUT, await format(render(runs, at), options));
  process.stdout.write(`wrote ${path.relative(ROOT, OUT)}\n`);
  const failed = runs.some((r) => r.rows.some((row) => row.result === 'fail'));
  const empty = runs.some((r) => r.rows.length === 0);
  return failed || empty ? 1 : 0;
}

process.exitCode = await main();
