// The promises suite: the scenarios of the peers' own test suites (thanos pkg/reloader,
// prometheus-operator's config-reloader, configmap-reload) and their neighbours, replayed against
// the built CLI with real peers (an HTTP endpoint that re-reads its configuration, nginx,
// Prometheus, processes that die to a signal they get too early) and kubelet-style volume writes.
// Each case checks both promises: no reload is lost (the application ends on the final content)
// and no outcome is false (what hotreload reports is what happened).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, describe, it } from 'node:test';
import { START_MARGIN_MS } from '../../src/process/table.js';
import { cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import {
  FAST,
  errOf,
  escapeRegExp,
  failed,
  hotreload,
  killProcesses,
  reloaded,
  sentTo,
  volume,
} from '../harness/e2e.js';
import type { HotreloadProcess } from '../harness/hotreload-process.js';
import { request, waitForBody } from '../harness/net.js';
import { masterOf, startNginx, workers } from '../harness/nginx.js';
import { childPids, isAlive, startProcess } from '../harness/processes.js';
import { NGINX, PROMETHEUS, requireProgram } from '../harness/programs.js';
import {
  BROKEN_PROM_CONFIG,
  lastReloadSuccessful,
  promConfig,
  scrapeInterval,
  startPrometheus,
  startPrometheusProcess,
} from '../harness/prometheus.js';
import {
  assertAlive,
  closeEndpoints,
  logsWith,
  metric,
  startEndpoint,
  status,
} from '../harness/reliability.js';
import { quietFor, waitFor } from '../harness/wait.js';

afterEach(async () => {
  await killProcesses();
  await closeEndpoints();
});
after(cleanupTempDirs);

/** A per-test deadline: a hang fails the test, not the run. */
const T = { timeout: 60_000 };
/** Long enough for a resync and a retry to have happened. */
const SETTLE_MS = 1300;
const RESYNC = ['--resync-interval', '1s'];
/** The kubelet writes an update at least a second after it created the volume (pod-start.ts). */
const AFTER_POD_START_MS = 1100;

const marker = (what: string) => `hotreload-promise-${what}-${randomUUID().slice(0, 8)}`;
const skipped = (r: { msg: string }) => r.msg.startsWith('not told: it started after');

async function endHealthy(hr: HotreloadProcess, base: string | undefined): Promise<void> {
  await assertAlive(hr, base);
  assert.deepEqual(await hr.stop(), { code: 0, signal: null });
}

/** The value of one series of <base>/metrics (exact labels), or undefined. */
async function series(base: string | undefined, selector: string): Promise<number | undefined> {
  const body = (await request(`${base}/metrics`)).body;
  const line = body.split('\n').find((l) => l.startsWith(`${selector} `));
  return line === undefined ? undefined : Number(line.slice(selector.length + 1));
}

describe('a rollback after a failed reload is delivered (thanos#5324, prometheus-operator#4708)', () => {
  it(
    'HTTP: v2 refused with 503 and retried, rolled back to v1: v1 is sent and taken',
    T,
    async () => {
      const { dir, writer } = await volume('rollback', { 'app.conf': 'v1' });
      const app = await startEndpoint(path.join(dir, 'app.conf'), {
        answer: () => ({ status: 503, body: 'cannot load' }),
      });
      const hr = hotreload(['--watch', dir, '--http-url', app.url, ...FAST, ...RESYNC]);
      const base = await hr.ready();
      await writer.write({ 'app.conf': 'v2' });
      await hr.waitForLog((r) => failed(r) && r.attempt === 2);
      app.answer(() => ({}));
      await writer.write({ 'app.conf': 'v1' });
      await hr.waitForLog(reloaded);
      await quietFor(SETTLE_MS);
      assert.deepEqual(app.taken(), ['v1'], 'the application was told to take v1 again');
      const s = await status(base);
      assert.equal(s.applied, s.current);
      assert.equal(await metric(base, 'hotreload_pending_reload'), 0);
      await endHealthy(hr, base);
    },
  );

  it(
    'Prometheus /-/reload: a configuration it refuses, then the rollback: it reports a successful reload again',
    { ...T, skip: requireProgram(PROMETHEUS) },
    async () => {
      const p = await startPrometheus();
      const hr = hotreload(['--watch', p.dir, '--http-url', `${p.url}/-/reload`, ...FAST]);
      const base = await hr.ready();
      await p.writer.write({ 'prometheus.yml': BROKEN_PROM_CONFIG });
      const refused = errOf(await hr.waitForLog(failed, 15_000));
      assert.equal(refused.code, 'E_HTTP_STATUS');
      assert.equal(await lastReloadSuccessful(p), 0);
      await p.writer.write({ 'prometheus.yml': promConfig('15s') });
      await hr.waitForLog(reloaded, 15_000);
      assert.equal(await lastReloadSuccessful(p), 1, 'Prometheus took the rollback');
      assert.equal(await scrapeInterval(p), '15s');
      await endHealthy(hr, base);
    },
  );
});

describe('a change that lands before hotreload looks is delivered', () => {
  it(
    'nginx by SIGHUP: updated after nginx started, before hotreload started: nginx serves the update',
    { ...T, skip: requireProgram(NGINX) },
    async () => {
      const n = await startNginx();
      const v1Workers = await workers(n.master.pid);
      await n.writer.write({ 'nginx.conf': n.conf('v2') });
      const hr = hotreload([
        '--watch',
        n.dir,
        '--signal',
        'HUP',
        '--process-match',
        masterOf(n),
        ...FAST,
      ]);
      const base = await hr.ready();
      await hr.waitForLog(sentTo(n.master.pid));
      await hr.waitForLog(reloaded);
      await waitForBody(n.url, (b) => b === 'v2\n', 10_000, 'nginx to serve v2');
      await workers(n.master.pid, v1Workers);
      await quietFor(SETTLE_MS);
      assert.equal(hr.logs.filter(sentTo(n.master.pid)).length, 1);
      await endHealthy(hr, base);
    },
  );

  it(
    'nginx by SIGHUP: hotreload killed, the volume updated, hotreload started again: nginx is told',
    { ...T, skip: requireProgram(NGINX) },
    async () => {
      const n = await startNginx();
      const args = ['--watch', n.dir, '--signal', 'HUP', '--process-match', masterOf(n), ...FAST];
      const first = hotreload(args);
      await first.ready();
      await first.stop('SIGKILL');
      await n.writer.write({ 'nginx.conf': n.conf('v2') });
      const hr = hotreload(args);
      const base = await hr.ready();
      await hr.waitForLog(reloaded);
      await waitForBody(n.url, (b) => b === 'v2\n', 10_000, 'nginx to serve v2');
      await endHealthy(hr, base);
    },
  );

  it(
    'HTTP: the volume updated before hotreload started: one reload at start, with the update',
    T,
    async () => {
      const { dir, writer } = await volume('before-look', { 'app.conf': 'v1' });
      const app = await startEndpoint(path.join(dir, 'app.conf'));
      await sleep(AFTER_POD_START_MS);
      await writer.write({ 'app.conf': 'v2' });
      const hr = hotreload(['--watch', dir, '--http-url', app.url, ...FAST, ...RESYNC]);
      const base = await hr.ready();
      await hr.waitForLog(reloaded);
      await quietFor(SETTLE_MS);
      assert.deepEqual(app.taken(), ['v2']);
      const start = hr.logs.find((r) => r.msg.startsWith('initial fingerprint taken'))!;
      assert.deepEqual(Object.values(start.targets as object), ['changed-during-pod']);
      await endHealthy(hr, base);
    },
  );

  it('HTTP: the volume as the pod started with it: no reload at start', T, async () => {
    const { dir } = await volume('as-created', { 'app.conf': 'v1' });
    const app = await startEndpoint(path.join(dir, 'app.conf'));
    await sleep(AFTER_POD_START_MS);
    const hr = hotreload(['--watch', dir, '--http-url', app.url, ...FAST, ...RESYNC]);
    const base = await hr.ready();
    await quietFor(SETTLE_MS);
    assert.equal(app.calls.length, 0);
    await endHealthy(hr, base);
  });

  it(
    'HTTP with --state-file: killed, updated, restarted: told once; restarted again, even with --reload-on-start: not told',
    T,
    async () => {
      const { dir, writer } = await volume('restart-state', { 'app.conf': 'v1' });
      const app = await startEndpoint(path.join(dir, 'app.conf'));
      const state = path.join(await makeTempDir('state'), 'state.json');
      await sleep(AFTER_POD_START_MS);
      const args = [
        '--watch',
        dir,
        '--http-url',
        app.url,
        '--state-file',
        state,
        ...FAST,
        ...RESYNC,
      ];
      const first = hotreload(args);
      await first.ready();
      await first.stop('SIGKILL');
      await writer.write({ 'app.conf': 'v2' });
      const second = hotreload(args);
      await second.ready();
      await second.waitForLog(reloaded);
      await second.stop();
      // The state file is the authority: it says the endpoint took v2.
      const third = hotreload([...args, '--reload-on-start']);
      const base = await third.ready();
      await quietFor(SETTLE_MS);
      assert.deepEqual(app.taken(), ['v2']);
      await endHealthy(third, base);
    },
  );
});

describe('a process that is starting is never signalled', () => {
  it(
    'Prometheus comes back while a change is pending: the new process read it at start and gets no HUP',
    { ...T, skip: requireProgram(PROMETHEUS) },
    async () => {
      const p = await startPrometheus();
      const hr = hotreload([
        '--watch',
        p.dir,
        '--signal',
        'HUP',
        '--process-name',
        'prometheus',
        '--process-match',
        escapeRegExp(p.data),
        ...FAST,
      ]);
      const base = await hr.ready();
      p.server.proc.kill('SIGTERM');
      await p.server.exited;
      await p.writer.write({ 'prometheus.yml': promConfig('7s') });
      const none = errOf(await hr.waitForLog(failed));
      assert.equal(none.code, 'E_NO_PROCESS');
      // A process started within START_MARGIN_MS of the write counts as not having read it (an
      // extra reload, never a lost one): this case is about one started clearly after it.
      await sleep(5 * START_MARGIN_MS);
      const again = startPrometheusProcess(p.dir, p.data, p.port);
      await hr.waitForLog(skipped, 15_000);
      await waitForBody(`${p.url}/-/ready`, () => true, 30_000, 'Prometheus to be ready');
      await quietFor(SETTLE_MS);
      assert.equal(hr.logs.filter(sentTo(again.pid)).length, 0, 'no HUP to the new process');
      assert.equal(again.proc.exitCode, null, 'it runs');
      assert.equal(await scrapeInterval(p), '7s');
      assert.equal(
        await series(
          base,
          `hotreload_reloads_total{rule="default",action="signal",target="SIGHUP to the selected process",result="skipped"}`,
        ),
        1,
      );
      await endHealthy(hr, base);
    },
  );

  it(
    'a process that dies to HUP until its handler is in place (300 ms): signalled only once it is --min-process-age old, and it reloads',
    T,
    async () => {
      const { dir, writer } = await volume('young', { 'app.conf': 'v1' });
      const tag = marker('young');
      const events = path.join(await makeTempDir('young-app'), 'events');
      const app = path.join(await makeTempDir('young-app'), 'slow-handler.mjs');
      await writeFile(
        app,
        `import { appendFileSync, readFileSync } from 'node:fs';
const [events, config] = process.argv.slice(2);
const note = (e) => appendFileSync(events, e + '\\n');
note('start ' + readFileSync(config, 'utf8'));
setInterval(() => {}, 1 << 30);
setTimeout(() => process.on('SIGHUP', () => note('reload ' + readFileSync(config, 'utf8'))), 300);
`,
      );
      const hr = hotreload([
        '--watch',
        dir,
        '--signal',
        'HUP',
        '--process-match',
        tag,
        '--min-process-age',
        '1s',
        ...FAST,
      ]);
      const base = await hr.ready();
      const proc = startProcess(process.execPath, [app, events, path.join(dir, 'app.conf'), tag]);
      // The change lands right after the process started, before it read anything: it may hold v1.
      await writer.write({ 'app.conf': 'v2' });
      const sent = await hr.waitForLog(sentTo(proc.pid), 10_000);
      const age = Date.parse(sent.time as string) - (await startedAt(proc.pid));
      assert.ok(age >= 950, `signalled ${age} ms after it started`);
      await hr.waitForLog(reloaded);
      assert.equal(proc.proc.exitCode, null, 'it survived the HUP');
      assert.ok(await isAlive(proc.pid));
      await endHealthy(hr, base);
    },
  );
});

/** When `pid` started, ms since the epoch (from /proc, as hotreload reads it). */
async function startedAt(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  const uptime = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
  return Date.now() - uptime * 1000 + ticks * 10;
}

describe('each --http-url is its own delivery (configmap-reload --webhook-url, repeated)', () => {
  it(
    'the first endpoint refuses three times: the second is called once, at once; the first is retried alone',
    T,
    async () => {
      const { dir, writer } = await volume('two-urls', { 'app.conf': 'v1' });
      const conf = path.join(dir, 'app.conf');
      const a = await startEndpoint(conf, { answer: (n) => (n <= 3 ? { status: 503 } : {}) });
      const b = await startEndpoint(conf);
      const hr = hotreload([
        '--watch',
        dir,
        '--http-url',
        a.url,
        '--http-url',
        b.url,
        ...FAST,
        ...RESYNC,
      ]);
      const base = await hr.ready();
      await writer.write({ 'app.conf': 'v2' });
      await waitFor(() => a.taken().length === 1, 10_000, 'the first endpoint to take v2');
      await quietFor(SETTLE_MS);
      assert.equal(a.calls.length, 4);
      assert.deepEqual(b.taken(), ['v2']);
      assert.equal(b.calls.length, 1, 'the second was not called again');
      assert.ok(b.calls[0]!.at < a.calls[1]!.at, 'the second did not wait for the first');
      const s = await status(base);
      assert.equal(s.applied, s.current);
      await endHealthy(hr, base);
    },
  );

  it('the second endpoint refuses: its retries never call the first again', T, async () => {
    const { dir, writer } = await volume('two-urls-b', { 'app.conf': 'v1' });
    const conf = path.join(dir, 'app.conf');
    const a = await startEndpoint(conf);
    const b = await startEndpoint(conf, { answer: (n) => (n <= 3 ? { status: 500 } : {}) });
    const hr = hotreload([
      '--watch',
      dir,
      '--http-url',
      a.url,
      '--http-url',
      b.url,
      ...FAST,
      ...RESYNC,
    ]);
    const base = await hr.ready();
    await writer.write({ 'app.conf': 'v2' });
    await waitFor(() => b.taken().length === 1, 10_000, 'the second endpoint to take v2');
    await quietFor(SETTLE_MS);
    assert.equal(a.calls.length, 1);
    assert.equal(b.calls.length, 4);
    await endHealthy(hr, base);
  });
});

describe('verification reads what the application says', () => {
  it(
    'Prometheus by SIGHUP with --verify-json on runtimeinfo: a configuration it rejects is a failed reload, the fix lands',
    { ...T, skip: requireProgram(PROMETHEUS) },
    async () => {
      const p = await startPrometheus();
      const hr = hotreload([
        '--watch',
        p.dir,
        '--signal',
        'HUP',
        '--process-name',
        'prometheus',
        '--process-match',
        escapeRegExp(p.data),
        '--verify-url',
        `${p.url}/api/v1/status/runtimeinfo`,
        '--verify-json',
        '.data.reloadConfigSuccess == true',
        '--verify-json',
        '.data.lastConfigTime changed',
        ...FAST,
        '--retry-initial',
        '2s',
        '--retry-max',
        '2s',
      ]);
      const base = await hr.ready();
      // Prometheus keeps the time of a reload to the second: over a second after its start.
      await sleep(1100);
      await p.writer.write({ 'prometheus.yml': promConfig('7s') });
      await hr.waitForLog(reloaded, 15_000);
      assert.equal(await scrapeInterval(p), '7s');

      await p.writer.write({ 'prometheus.yml': BROKEN_PROM_CONFIG });
      const rejected = errOf(await hr.waitForLog(failed, 15_000));
      assert.equal(rejected.code, 'E_VERIFY');
      assert.match(rejected.message, /answered that the reload failed/);
      assert.equal(await lastReloadSuccessful(p), 0);
      assert.equal(await metric(base, 'hotreload_last_reload_successful'), 0);

      await sleep(1100);
      const before = hr.logs.length;
      await p.writer.write({ 'prometheus.yml': promConfig('9s') });
      await hr.waitForLog((r) => hr.logs.indexOf(r) >= before && reloaded(r), 15_000);
      assert.equal(await scrapeInterval(p), '9s');
      assert.equal(await metric(base, 'hotreload_last_reload_successful'), 1);
      await endHealthy(hr, base);
    },
  );
});

describe('newer content ends the wait of an older attempt', () => {
  it(
    'nginx --verify-children --verify-timeout 10s: an invalid configuration, then the fix: the fix lands in well under a second',
    { ...T, skip: requireProgram(NGINX) },
    async () => {
      const n = await startNginx();
      const master = n.master.pid;
      const hr = hotreload([
        '--watch',
        n.dir,
        '--signal',
        'HUP',
        '--process-match',
        masterOf(n),
        '--verify-children',
        '--verify-timeout',
        '10s',
        ...FAST,
      ]);
      const base = await hr.ready();
      const v1Workers = await workers(master);
      await n.writer.write({ 'nginx.conf': n.conf('bad', 'no_such_directive on;') });
      await hr.waitForLog(sentTo(master));
      await sleep(500); // nginx has refused it by now; the verification is waiting
      const fixedAt = Date.now();
      await n.writer.write({ 'nginx.conf': n.conf('v2') });
      await waitForBody(n.url, (b) => b === 'v2\n', 10_000, 'nginx to serve v2');
      const ok = await hr.waitForLog(reloaded);
      const tookMs = Date.parse(ok.time as string) - fixedAt;
      assert.ok(tookMs < 1500, `the fix landed ${tookMs} ms after it was written`);
      assert.ok(
        hr.logs.some((r) => r.msg === 'newer content arrived; the attempt in flight stops waiting'),
      );
      await workers(master, v1Workers);
      assert.deepEqual((await childPids(master)).length, 2);
      await endHealthy(hr, base);
    },
  );
});

describe('plain directories', () => {
  it(
    'a symlink replaced by one with the same target path, the target rewritten: seen from the kernel events (--resync-interval 0)',
    T,
    async () => {
      const dir = await makeTempDir('plain-link');
      const outside = await makeTempDir('plain-link-target');
      const target = path.join(outside, 'app.conf');
      await writeFile(target, 'v1');
      await symlink(target, path.join(dir, 'app.conf'));
      const app = await startEndpoint(path.join(dir, 'app.conf'));
      const hr = hotreload([
        '--watch',
        dir,
        '--http-url',
        app.url,
        ...FAST,
        '--resync-interval',
        '0',
      ]);
      const base = await hr.ready();
      // Rewritten where no watch sees it, then the link replaced atomically by one with the same text.
      await writeFile(target, 'v2');
      const staging = await makeTempDir('plain-link-staging');
      await mkdir(staging, { recursive: true });
      await symlink(target, path.join(staging, 'app.conf'));
      await rename(path.join(staging, 'app.conf'), path.join(dir, 'app.conf'));
      await hr.waitForLog(reloaded, 5000);
      assert.deepEqual(app.taken(), ['v2']);
      await endHealthy(hr, base);
    },
  );
});

describe('smaller untruths', () => {
  it('--dry-run counts dry_run, never success, and logs no "reload succeeded"', T, async () => {
    const { dir, writer } = await volume('dry', { 'app.conf': 'v1' });
    const hr = hotreload(['--watch', dir, '--dry-run', ...FAST]);
    const base = await hr.ready();
    await writer.write({ 'app.conf': 'v2' });
    await hr.waitForLog((r) => r.msg === 'dry run: would reload');
    await quietFor(300);
    assert.equal(logsWith(hr, 'reload succeeded').length, 0);
    assert.equal(
      await series(
        base,
        'hotreload_reloads_total{rule="default",action="none",target="no action configured",result="dry_run"}',
      ),
      1,
    );
    assert.equal(
      await series(
        base,
        'hotreload_reloads_total{rule="default",action="none",target="no action configured",result="success"}',
      ),
      undefined,
    );
    await endHealthy(hr, base);
  });

  it(
    'a --validate refusal that will not be retried is not pending, and errors are logged as code, message, hint',
    T,
    async () => {
      const { dir, writer } = await volume('refused', { 'app.yaml': 'a: 1\n' });
      const app = await startEndpoint(path.join(dir, 'app.yaml'));
      const hr = hotreload(['--watch', dir, '--http-url', app.url, '--validate', ...FAST]);
      const base = await hr.ready();
      await writer.write({ 'app.yaml': 'a: [1\n' });
      const rejected = await hr.waitForLog((r) => r.msg.startsWith('configuration rejected'));
      assert.deepEqual(Object.keys(rejected.err as object).sort(), ['code', 'hint', 'message']);
      assert.equal(await metric(base, 'hotreload_pending_reload'), 0);
      assert.equal(app.calls.length, 0);
      await endHealthy(hr, base);
    },
  );
});
