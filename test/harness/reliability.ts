// What the reliability suites share: an application stand-in that reloads by reading its
// configuration when told to (over HTTP, or on SIGHUP), readers for hotreload's /status and
// /metrics, the liveness check every fault ends with, and a runner for usage errors. It starts
// no hotreload itself (e2e.ts does) and keeps no state between tests beyond what
// closeEndpoints() and killProcesses() clean up.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readEvents } from './apps.js';
import { healthz } from './e2e.js';
import { MAIN, type HotreloadProcess } from './hotreload-process.js';
import { startTarget, type Reply, type Target } from './http-target.js';
import { request } from './net.js';
import { waitFor } from './wait.js';

/** One reload request the application got: when, what its configuration file held, the answer. */
export interface EndpointCall {
  readonly at: number;
  readonly content: Buffer;
  readonly reply: Reply;
}

/**
 * A real HTTP reload endpoint that behaves like an application: on each request it re-reads its
 * configuration file (as the application would) and records what it read, then answers as the
 * test says. A request answered 2xx is a configuration the application took.
 */
export interface ReloadEndpoint {
  readonly url: string;
  readonly calls: readonly EndpointCall[];
  /** What each request answered 2xx had read, in order, as UTF-8. */
  taken(): string[];
  /** What each request answered 2xx had read, in order, as bytes. */
  takenBytes(): Buffer[];
  /** How the next requests are answered; `n` counts requests from 1. */
  answer(fn: (n: number) => Reply): void;
  close(): Promise<void>;
}

const endpoints = new Set<Target>();

/** Starts a reload endpoint for the application whose configuration is `file`. */
export async function startEndpoint(
  file: string,
  options: { port?: number; answer?: (n: number) => Reply } = {},
): Promise<ReloadEndpoint> {
  const calls: EndpointCall[] = [];
  let answer = options.answer ?? (() => ({}));
  const target = await startTarget(
    async (req) => {
      const content = await readFile(file).catch((err: NodeJS.ErrnoException) =>
        Buffer.from(`<${err.code ?? 'error'}>`),
      );
      const reply = answer(calls.length + 1);
      calls.push({ at: req.at, content, reply });
      return reply;
    },
    { port: options.port },
  );
  endpoints.add(target);
  const takenBytes = () => calls.filter((c) => isSuccess(c.reply)).map((c) => c.content);
  return {
    url: `${target.url}/-/reload`,
    calls,
    takenBytes,
    taken: () => takenBytes().map((b) => b.toString('utf8')),
    answer(fn) {
      answer = fn;
    },
    async close() {
      endpoints.delete(target);
      await target.close();
    },
  };
}

function isSuccess(reply: Reply): boolean {
  if (reply.hang || reply.reset || reply.stallBody) return false;
  const status = reply.status ?? 200;
  return status >= 200 && status < 300;
}

/** For afterEach: closes every endpoint a test started, hung requests included. */
export async function closeEndpoints(): Promise<void> {
  const all = [...endpoints];
  endpoints.clear();
  await Promise.all(all.map((t) => t.close()));
}

/**
 * `node reloading-app.mjs EVENTS CONFIG DIE_ONCE MARKER PADDING`: an application that reloads on
 * SIGHUP. Once its handlers are in place it appends '<pid> ready <config>' to EVENTS and only
 * then renames itself to 'reloading-app MARKER' (as nginx names itself 'nginx: master process'),
 * so `--process-match '^reloading-app MARKER'` never finds it before it can take a SIGHUP. Each
 * SIGHUP re-reads CONFIG and appends '<pid> reload <config>'; but if the file DIE_ONCE exists, it
 * removes it, appends '<pid> died' and exits 0 instead (a crash on reload, once). With
 * LIFETIME_MS in its environment it exits (code 3) that long after starting: a crash loop.
 * PADDING only makes room in argv for the new name.
 */
const RELOADING_APP = `
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
const [events, configPath, dieOnce, marker] = process.argv.slice(2);
const note = (event) => appendFileSync(events, process.pid + ' ' + event + '\\n');
const config = () => readFileSync(configPath, 'utf8').trim();
process.on('SIGHUP', () => {
  try {
    rmSync(dieOnce);
  } catch {
    note('reload ' + config());
    return;
  }
  note('died');
  process.exit(0);
});
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1 << 30);
if (process.env.LIFETIME_MS) setTimeout(() => process.exit(3), Number(process.env.LIFETIME_MS));
note('ready ' + config());
process.title = 'reloading-app ' + marker;
`;

export interface ReloadingApp {
  /** The script to run with node. */
  readonly file: string;
  /** Its arguments after the script. */
  args(events: string, config: string, dieOnce: string, marker: string): string[];
  /** The --process-match regex that finds it once it can take a SIGHUP. */
  match(marker: string): string;
}

/** Writes reloading-app.mjs into `dir` (readable by every user). */
export async function writeReloadingApp(dir: string): Promise<ReloadingApp> {
  const file = path.join(dir, 'reloading-app.mjs');
  await writeFile(file, RELOADING_APP.trimStart(), { mode: 0o644 });
  return {
    file,
    args: (events, config, dieOnce, marker) => [events, config, dieOnce, marker, 'x'.repeat(64)],
    match: (marker) => `^reloading-app ${marker}`,
  };
}

/** The reloads `pid` made, as the configuration each one read. */
export async function reloadsOf(events: string, pid: number): Promise<string[]> {
  return (await readEvents(events))
    .filter((e) => e.pid === pid && e.event.startsWith('reload '))
    .map((e) => e.event.slice('reload '.length));
}

export interface Status {
  readonly watched: { path: string; kind: string | null; state: string; watches?: number }[];
  readonly problems?: { path: string; code: string }[];
  readonly applied?: string;
  readonly current?: string;
  // Absent (not null) while there is none: JSON.stringify drops undefined.
  readonly lastChange?: { changed: string[]; added: string[]; removed: string[] };
  readonly lastReload?: {
    ok: boolean;
    attempt: number;
    error?: { code: string; message: string };
  };
  readonly pending?: { attempt: number; fingerprint: string };
  readonly gaveUp?: string;
  readonly rejected?: {
    fingerprint: string;
    problems: { path: string; format: string; line?: number; message: string }[];
    error: { code: string; message: string };
  };
}

/** GET <base>/status, parsed. */
export async function status(base: string | undefined): Promise<Status> {
  const res = await request(`${base}/status`);
  assert.equal(res.status, 200, `/status answered ${res.status}`);
  return JSON.parse(res.body) as Status;
}

/** The value of an unlabelled metric (or the sum over its series) from <base>/metrics. */
export async function metric(base: string | undefined, name: string): Promise<number> {
  const res = await request(`${base}/metrics`);
  const values = res.body
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
  assert.ok(values.length > 0, `metric ${name} not found`);
  return values.reduce((a, b) => a + b, 0);
}

/** The fault's first promise: hotreload is still running, and (with a server) /healthz is 200. */
export async function assertAlive(hr: HotreloadProcess, base?: string): Promise<void> {
  assert.equal(hr.proc.exitCode, null, `hotreload exited: ${hr.stderr()}`);
  assert.equal(hr.proc.signalCode, null, 'hotreload was killed');
  if (base !== undefined) assert.equal(await healthz(base), 200, '/healthz is not 200');
}

/** The records logged with `msg`. */
export function logsWith(hr: HotreloadProcess, msg: string): HotreloadProcess['logs'] {
  return hr.logs.filter((r) => r.msg === msg);
}

/** Waits until `file` holds a state whose fingerprint is `fingerprint` (--state-file). */
export async function waitForState(file: string, fingerprint: string): Promise<void> {
  await waitFor(
    async () => {
      const text = await readFile(file, 'utf8').catch(() => '');
      return text.includes(`"fingerprint":"${fingerprint}"`);
    },
    5000,
    `${file} to hold ${fingerprint.slice(0, 12)}`,
  );
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface UsageRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when hotreload got past option checking and started (it was then killed). */
  readonly started: boolean;
}

/**
 * Runs the built CLI expecting it to stop at option checking. A hotreload that starts instead
 * (it logs 'starting' on stdout) is killed at once and reported as `started`, so a missing check
 * fails its case quickly instead of running until a timeout.
 */
export function runUsage(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<UsageRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    let started = false;
    proc.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
      if (!started && stdout.includes('"msg":"starting"')) {
        started = true;
        proc.kill('SIGKILL');
      }
    });
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`hotreload ${args.join(' ')} did not exit within ${timeoutMs}ms`));
    }, timeoutMs);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, started });
    });
  });
}

/**
 * For a test's `skip` option when it must switch users: false as root; otherwise the reason to
 * skip, or, under CI=true, it throws (call it inside the describe callback, so the suite fails):
 * CI runs as root, and a silent skip there would hide a broken setup.
 */
export function requireRoot(env: NodeJS.ProcessEnv = process.env): string | false {
  if (process.getuid?.() === 0) return false;
  const reason = 'needs root, to run processes as other users (run-as.ts)';
  if (env.CI === 'true') throw new Error(`CI=true: ${reason}; this test must run in CI`);
  return reason;
}

/** What hotreload logged about changes and reloads, in order and on one line, for a failure message. */
export function story(hr: HotreloadProcess): string {
  const lists = ['added', 'changed', 'removed'] as const;
  return hr.logs
    .filter((r) => /^(change detected|reload |configuration rejected|content changed)/.test(r.msg))
    .map((r) => {
      const files = lists.flatMap((k) => {
        const paths = (r[k] as string[] | undefined) ?? [];
        return paths.length > 0 ? [`${k} ${paths.map((p) => path.basename(p)).join(',')}`] : [];
      });
      return [r.msg, ...files].join(' ');
    })
    .join('; ');
}
