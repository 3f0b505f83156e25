// The fault suite: the built CLI against real peers (an HTTP endpoint that re-reads its
// configuration like an application, processes found through /proc, kubelet-style volume writes)
// while one thing goes wrong at a time. Every fault asserts two promises: the sidecar keeps
// running (process alive, /healthz 200), and the final configuration is applied exactly when it
// should be (the application took the final content once after recovery; nothing it should not).
import assert from 'node:assert/strict';
import { chmod, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, afterEach, describe, it } from 'node:test';
import { takeSnapshot } from '../../src/volume/fingerprint.js';
import { readEvents } from '../harness/apps.js';
import { AtomicWriter, cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import {
  FAST,
  errOf,
  failed,
  hotreload,
  killProcesses,
  reloaded,
  sentTo,
  timeOf,
  volume,
} from '../harness/e2e.js';
import { type HotreloadProcess } from '../harness/hotreload-process.js';
import type { LogRecord } from '../doubles/log-sink.js';
import { startTarget, type Reply } from '../harness/http-target.js';
import { freePort } from '../harness/net.js';
import { RestartLoop, startProcess } from '../harness/processes.js';
import {
  assertAlive,
  closeEndpoints,
  logsWith,
  metric,
  reloadsOf,
  requireRoot,
  sha256,
  startEndpoint,
  status,
  story,
  waitForState,
  writeReloadingApp,
} from '../harness/reliability.js';
import { NOBODY, OTHER, cliRunnableBy } from '../harness/run-as.js';
import { quietFor, waitFor } from '../harness/wait.js';

afterEach(async () => {
  await killProcesses();
  await closeEndpoints();
});
after(cleanupTempDirs);

/** A per-test deadline: a hang fails the test, not the run. */
const T = { timeout: 30_000 };
/** A resync each second, so "nothing more happens" also covers the periodic re-fingerprint. */
const RESYNC = ['--resync-interval', '1s'];
/** Long enough for a resync and a retry to have happened. */
const SETTLE_MS = 1300;
/**
 * A quiet period, as in production (1s by default), for the removal of a whole directory: `rm -r`
 * then ends before the snapshot. With --debounce 0 a snapshot can land in the middle of it; the
 * half-removed volume has a test of its own.
 */
const QUIET = ['--debounce', '200ms'];
const REJECTED = 'configuration rejected by validation; not reloading until it changes';

/** A string only this test's processes carry in their command lines. */
const marker = (what: string) => `hotreload-rel-${what}-${randomUUID().slice(0, 8)}`;

const failuresOf = (hr: HotreloadProcess) => logsWith(hr, 'reload failed; retrying');
/** The record of a delivery that sent nothing: every process started after the content. */
const skippedStart = (r: { msg: string }) => r.msg.startsWith('not told: it started after');

/** What `pid` read at start ("ready <config>"). */
async function startsOf(events: string, pid: number): Promise<string[]> {
  return (await readEvents(events))
    .filter((e) => e.pid === pid && e.event.startsWith('ready '))
    .map((e) => e.event.slice('ready '.length));
}

/** hotreload calling `url` on changes under `dir`. */
const httpArgs = (dir: string, url: string, ...more: string[]) => [
  '--watch',
  dir,
  '--http-url',
  url,
  ...more,
  ...FAST,
  ...RESYNC,
];

/** hotreload sending HUP to the process `match` finds, on changes under `dir`. */
const hupArgs = (dir: string, match: string, ...more: string[]) => [
  '--watch',
  dir,
  '--signal',
  'HUP',
  '--process-match',
  match,
  ...more,
  ...FAST,
  ...RESYNC,
];

/** Ends a fault: still alive and healthy, then a clean stop. */
async function endHealthy(hr: HotreloadProcess, base: string | undefined): Promise<void> {
  await assertAlive(hr, base);
  assert.deepEqual(await hr.stop(), { code: 0, signal: null });
}

/**
 * Replaces a file in a plain directory atomically: written in a directory beside the watched one
 * (same filesystem), then renamed over it, so hotreload never sees a half-written file or the
 * temporary one.
 */
async function replaceFile(file: string, content: string | Buffer): Promise<void> {
  const tmp = path.join(await makeTempDir('staging'), path.basename(file));
  await writeFile(tmp, content);
  await rename(tmp, file);
}

describe('the reload endpoint fails, then recovers', () => {
  it('connection refused, then the endpoint comes up: the change lands once', T, async () => {
    const { dir, writer } = await volume('refused', { 'app.conf': 'v1' });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/-/reload`;
    const hr = hotreload(httpArgs(dir, url));
    const base = await hr.ready();
    await writer.write({ 'app.conf': 'v2' });
    await hr.waitForLog((r) => failed(r) && r.attempt === 2, 10_000, 'a second refused attempt');
    assert.equal(errOf(failuresOf(hr)[0]!).code, 'E_HTTP_CONNECT');
    await assertAlive(hr, base);

    const app = await startEndpoint(path.join(dir, 'app.conf'), { port });
    await hr.waitForLog(reloaded, 10_000);
    await quietFor(SETTLE_MS);
    assert.deepEqual(app.taken(), ['v2']);
    assert.equal(app.calls.length, 1);
    await endHealthy(hr, base);
  });

  /**
   * The endpoint misbehaves for its first answers, then answers 200: one change (v2) is written,
   * and it must be taken exactly once, on attempt `attempt`, after failures with these codes.
   */
  const ENDPOINT_FAULTS: {
    readonly name: string;
    readonly answer: (n: number) => Reply;
    readonly args?: readonly string[];
    readonly failures: readonly string[];
    readonly attempt: number;
    /** More about the failures and the success. */
    readonly check?: (failures: readonly LogRecord[], ok: LogRecord) => void;
  }[] = [
    {
      name: '5xx three times, then 2xx: retried until it lands, and taken once',
      answer: (n) => (n <= 3 ? { status: 503, body: 'warming up' } : {}),
      failures: ['E_HTTP_STATUS', 'E_HTTP_STATUS', 'E_HTTP_STATUS'],
      attempt: 4,
      check: (failures) => assert.match(errOf(failures[0]!).message, /answered 503.*warming up/),
    },
    {
      name: 'a hanging endpoint times out (--http-timeout), then answers: taken once',
      answer: (n) => (n === 1 ? { hang: true } : {}),
      args: ['--http-timeout', '500ms'],
      failures: ['E_HTTP_TIMEOUT'],
      attempt: 2,
      check: ([failure]) =>
        assert.ok(
          (failure!.durationMs as number) >= 450,
          `gave up after ${String(failure!.durationMs)}ms`,
        ),
    },
    {
      name: 'a slow endpoint (1s) within --http-timeout 3s: one request, no retry',
      answer: () => ({ delayMs: 1000 }),
      args: ['--http-timeout', '3s'],
      failures: [],
      attempt: 1,
      check: (_, ok) =>
        assert.ok((ok.durationMs as number) >= 950, `took ${String(ok.durationMs)}ms`),
    },
    {
      name: 'the connection is reset, then the endpoint answers: taken once',
      answer: (n) => (n === 1 ? { reset: true } : {}),
      failures: ['E_HTTP'],
      attempt: 2,
    },
  ];

  for (const c of ENDPOINT_FAULTS) {
    it(c.name, T, async () => {
      const { dir, writer } = await volume('endpoint', { 'app.conf': 'v1' });
      const app = await startEndpoint(path.join(dir, 'app.conf'), { answer: c.answer });
      const hr = hotreload(httpArgs(dir, app.url, ...(c.args ?? [])));
      const base = await hr.ready();
      await writer.write({ 'app.conf': 'v2' });
      const ok = await hr.waitForLog(reloaded, 10_000);
      await quietFor(SETTLE_MS);

      const failures = failuresOf(hr);
      assert.deepEqual(
        failures.map((r) => [r.attempt, errOf(r).code]),
        c.failures.map((code, i) => [i + 1, code]),
      );
      assert.equal(ok.attempt, c.attempt);
      c.check?.(failures, ok);
      assert.deepEqual(app.taken(), ['v2']);
      assert.equal(app.calls.length, c.attempt);
      await endHealthy(hr, base);
    });
  }

  it(
    'the endpoint fails while the volume changes 20 times: only the final content is taken, and attempts restart at 1 for each new content',
    T,
    async () => {
      const { dir, writer } = await volume('churn', { 'app.conf': 'v0' });
      let recovered = false;
      const app = await startEndpoint(path.join(dir, 'app.conf'), {
        answer: () => (recovered ? {} : { status: 500 }),
      });
      const hr = hotreload(httpArgs(dir, app.url));
      const base = await hr.ready();
      for (let i = 1; i <= 20; i++) {
        await writer.write({ 'app.conf': `v${i}` });
        await quietFor(40);
      }
      // hotreload has tried the final content at least once before the endpoint recovers.
      await waitFor(
        () => app.calls.some((c) => c.content.toString() === 'v20'),
        10_000,
        'an attempt with v20',
      );
      await assertAlive(hr, base);
      recovered = true;
      await hr.waitForLog(reloaded, 10_000);
      await quietFor(SETTLE_MS);

      assert.deepEqual(app.taken(), ['v20']);
      assert.equal(logsWith(hr, 'reload succeeded').length, 1);
      const failures = failuresOf(hr);
      assert.ok(failures.length >= 2, `only ${failures.length} failed attempts`);
      failures.forEach((r, i) => {
        const prev = failures[i - 1];
        const expected = prev && prev.fingerprint === r.fingerprint ? Number(prev.attempt) + 1 : 1;
        assert.equal(r.attempt, expected, `failure ${i} (${String(r.fingerprint)})`);
      });
      const s = await status(base);
      assert.equal(s.applied, s.current);
      assert.equal(s.pending ?? null, null);
      await endHealthy(hr, base);
    },
  );

  it('SIGTERM while a retry is waiting: exits 0 promptly, with no further request', T, async () => {
    const { dir, writer } = await volume('sigterm', { 'app.conf': 'v1' });
    const app = await startEndpoint(path.join(dir, 'app.conf'), {
      answer: () => ({ status: 503 }),
    });
    const hr = hotreload([
      '--watch',
      dir,
      '--http-url',
      app.url,
      ...FAST,
      '--retry-initial',
      '1s',
      '--retry-max',
      '2s',
    ]);
    const base = await hr.ready();
    await writer.write({ 'app.conf': 'v2' });
    // A retry at least 400 ms away, so the signal surely arrives while it waits.
    await hr.waitForLog(
      (r) => failed(r) && (r.retryInMs as number) >= 400,
      20_000,
      'a retry scheduled 400ms or more ahead',
    );
    await assertAlive(hr, base);
    const sent = Date.now();
    const requests = app.calls.length;
    const exit = await hr.stop('SIGTERM', 5000);
    const took = Date.now() - sent;
    await quietFor(500);

    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(took < 1500, `exited ${took}ms after SIGTERM`);
    assert.equal(app.calls.length, requests, 'a request was sent after SIGTERM');
    assert.deepEqual(app.taken(), []);
    assert.ok(hr.logs.some((r) => r.msg === 'stopped'));
  });

  it(
    '--verify-url fails, then the application comes back healthy: retried, then done',
    T,
    async () => {
      const { dir, writer } = await volume('verify', { 'app.conf': 'v1' });
      const app = await startEndpoint(path.join(dir, 'app.conf'));
      let healthy = false;
      const health = await startTarget(() => (healthy ? {} : { status: 503, body: 'not yet' }));
      const hr = hotreload(
        httpArgs(
          dir,
          app.url,
          '--verify-url',
          `${health.url}/healthy`,
          '--verify-timeout',
          '600ms',
        ),
      );
      try {
        const base = await hr.ready();
        await writer.write({ 'app.conf': 'v2' });
        const failure = await hr.waitForLog(failed, 10_000);
        assert.equal(errOf(failure).code, 'E_VERIFY');
        const pending = await status(base);
        assert.equal(pending.lastReload?.ok, false);
        assert.notEqual(pending.applied, pending.current, 'applied before it was verified');
        healthy = true;
        const ok = await hr.waitForLog(reloaded, 10_000);
        const calls = app.calls.length;
        const probes = health.requests.length;
        await quietFor(SETTLE_MS);

        assert.ok((ok.attempt as number) >= 2);
        assert.equal(app.calls.length, calls, 'reloaded again after it was verified');
        assert.equal(health.requests.length, probes, 'verified again after it was verified');
        assert.ok(app.taken().every((c) => c === 'v2'));
        const done = await status(base);
        assert.equal(done.applied, done.current);
        assert.equal(done.pending ?? null, null);
        await endHealthy(hr, base);
      } finally {
        await health.close();
      }
    },
  );
});

describe('the target process is missing, foreign or dies', () => {
  it(
    'no process matches, then it starts: it read the change at start, so it is not signalled',
    T,
    async () => {
      const { dir, writer } = await volume('no-process', { 'app.conf': 'v1' });
      const app = await writeReloadingApp(await makeTempDir('no-process-app'));
      const events = path.join(await makeTempDir('no-process-events'), 'events');
      const tag = marker('missing');
      const hr = hotreload(hupArgs(dir, app.match(tag)));
      const base = await hr.ready();
      await writer.write({ 'app.conf': 'v2' });
      await hr.waitForLog((r) => failed(r) && r.attempt === 2, 10_000, 'a second attempt');
      assert.equal(errOf(failuresOf(hr)[0]!).code, 'E_NO_PROCESS');
      await assertAlive(hr, base);

      const target = startProcess(process.execPath, [
        app.file,
        ...app.args(events, path.join(dir, 'app.conf'), path.join(dir, 'no-such-file'), tag),
      ]);
      await hr.waitForLog(skippedStart, 10_000);
      await quietFor(SETTLE_MS);
      assert.ok(!hr.logs.some(sentTo(target.pid)), 'a process that read v2 at start was signalled');
      assert.deepEqual(await startsOf(events, target.pid), ['v2']);
      assert.deepEqual(await reloadsOf(events, target.pid), []);
      assert.equal(target.proc.exitCode, null);
      assert.equal((await status(base)).applied, (await status(base)).current);
      await endHealthy(hr, base);
    },
  );

  it(
    'EPERM: the target runs as another UID, so nothing is signalled; a hotreload with its UID then delivers the change once (--state-file)',
    { ...T, skip: requireRoot() },
    async () => {
      const { dir, writer } = await volume('eperm', { 'app.conf': 'v1' });
      const app = await writeReloadingApp(await makeTempDir('eperm-app'));
      const shared = await makeTempDir('eperm-shared');
      await chmod(shared, 0o777);
      const events = path.join(shared, 'events');
      const state = path.join(shared, 'state.json');
      const tag = marker('eperm');
      const asNobody = await cliRunnableBy(NOBODY, NOBODY);
      const target = startProcess(
        asNobody.node ?? process.execPath,
        [app.file, ...app.args(events, path.join(dir, 'app.conf'), path.join(shared, 'none'), tag)],
        { uid: NOBODY, gid: NOBODY },
      );
      await waitFor(async () => (await readEvents(events)).length > 0, 5000, 'the app to start');
      const args = hupArgs(dir, app.match(tag), '--state-file', state);

      const other = hotreload(args, {}, await cliRunnableBy(OTHER, OTHER));
      const otherBase = await other.ready();
      await writer.write({ 'app.conf': 'v2' });
      await other.waitForLog((r) => failed(r) && r.attempt === 2, 10_000, 'a second attempt');
      const failure = errOf(failuresOf(other)[0]!);
      assert.equal(failure.code, 'E_PERMISSION');
      assert.match(failure.message, /runs as UID 65534 and hotreload as UID 65533/);
      await assertAlive(other, otherBase);
      assert.deepEqual(await reloadsOf(events, target.pid), []);
      assert.deepEqual(await other.stop(), { code: 0, signal: null });

      const same = hotreload(args, {}, asNobody);
      const base = await same.ready();
      // The state file says the last attempt failed: what the target holds is unknown.
      const start = await same.waitForLog((r) => r.msg.startsWith('initial fingerprint taken'));
      assert.match(start.msg, /may hold older content: reloading/);
      assert.deepEqual(Object.values(start.targets as object), ['state-file-unknown']);
      await same.waitForLog(reloaded, 10_000);
      await quietFor(SETTLE_MS);
      assert.deepEqual(await reloadsOf(events, target.pid), ['v2']);
      assert.equal(target.proc.exitCode, null);
      await endHealthy(same, base);
    },
  );

  it(
    'the target exits when signalled and is restarted (the process is gone under hotreload): the new process read the change at start and is not signalled',
    T,
    async () => {
      const { dir, writer } = await volume('gone', { 'app.conf': 'v1' });
      const appDir = await makeTempDir('gone-app');
      const app = await writeReloadingApp(appDir);
      const events = path.join(appDir, 'events');
      const dieOnce = path.join(appDir, 'die-once');
      await writeFile(dieOnce, '');
      const tag = marker('gone');
      const kubelet = new RestartLoop(
        process.execPath,
        [app.file, ...app.args(events, path.join(dir, 'app.conf'), dieOnce, tag)],
        { maxRestarts: 3, delayMs: 200 },
      );
      await waitFor(async () => (await readEvents(events)).length === 1, 5000, 'the app to start');
      const first = kubelet.current.pid;
      const hr = hotreload(hupArgs(dir, app.match(tag)));
      const base = await hr.ready();
      await writer.write({ 'app.conf': 'v2' });
      const ok = await hr.waitForLog(skippedStart, 15_000);
      await quietFor(SETTLE_MS);

      const [died] = failuresOf(hr);
      assert.ok(died, 'the first attempt did not fail');
      assert.ok(
        ['E_VERIFY_DIED', 'E_PROCESS_GONE'].includes(errOf(died).code),
        `first failure: ${errOf(died).code}`,
      );
      assert.ok((ok.attempt as number) >= 2);
      assert.equal(kubelet.runs.length, 2, 'the app was restarted more than once');
      const second = kubelet.current.pid;
      assert.notEqual(second, first);
      assert.deepEqual(
        (await readEvents(events)).filter((e) => e.pid === first).map((e) => e.event),
        ['ready v1', 'died'],
      );
      const sent = hr.logs.filter((r) => r.msg.startsWith('sent ')).map((r) => r.pid);
      assert.deepEqual(sent, [first], 'only the process that ran v1 was signalled');
      assert.deepEqual(await startsOf(events, second), ['v2']);
      assert.deepEqual(await reloadsOf(events, second), []);
      await endHealthy(hr, base);
    },
  );

  // The race between finding the target and signalling it: in a crash loop the process found can
  // exit before the signal (ESRCH, or gone at the re-read just before kill), die right after it,
  // or not be there at all. No interleaving may crash hotreload, signal anything but an instance
  // of the target, or drop the change. Which interleavings a run meets is up to the scheduler
  // (the counts are printed as a diagnostic); the unit tests with a fake /proc pin each one
  // exactly (test/unit/process/signals.test.ts, test/unit/actions/restart.test.ts).
  it(
    'a crash-looping target (each instance lives 250 ms, so the one found may be gone at the signal, ESRCH, or just after it) while the content changes 5 times: no instance is signalled before it is --min-process-age old, and the final content is taken',
    { timeout: 60_000 },
    async (t) => {
      const { dir, writer } = await volume('esrch', { 'app.conf': 'v1' });
      const appDir = await makeTempDir('esrch-app');
      const app = await writeReloadingApp(appDir);
      const events = path.join(appDir, 'events');
      const tag = marker('esrch');
      const loop = new RestartLoop(
        process.execPath,
        [app.file, ...app.args(events, path.join(dir, 'app.conf'), path.join(appDir, 'no'), tag)],
        { maxRestarts: 400, delayMs: 0, env: { ...process.env, LIFETIME_MS: '250' } },
      );
      await waitFor(async () => (await readEvents(events)).length >= 1, 5000, 'the app to start');
      const hr = hotreload(hupArgs(dir, app.match(tag)));
      const base = await hr.ready();
      for (let v = 2; v <= 6; v++) {
        await writer.write({ 'app.conf': `v${v}` });
        await quietFor(120);
      }
      // What hotreload's fingerprint of the final content is (its /status may still show an
      // earlier one while a reload of that is being retried).
      const final = (await takeSnapshot([dir])).hash;
      await waitFor(
        async () => (await status(base)).applied === final,
        30_000,
        'the final content to be applied',
      );
      const sentBefore = hr.logs.filter((r) => r.msg.startsWith('sent ')).length;
      await quietFor(SETTLE_MS);
      loop.stop();
      await assertAlive(hr, base);

      const instances = new Set(loop.runs.map((r) => r.pid));
      const sent = hr.logs.filter((r) => r.msg.startsWith('sent ')).map((r) => r.pid as number);
      assert.deepEqual(
        sent.filter((pid) => !instances.has(pid)),
        [],
        'signalled a process that is not an instance of the target',
      );
      assert.equal(sent.length, sentBefore, 'signalled again after the final content was applied');
      const codes = failuresOf(hr).map((r) => errOf(r).code);
      const expected = ['E_PROCESS_GONE', 'E_VERIFY_DIED', 'E_NO_PROCESS'];
      assert.deepEqual(
        codes.filter((c) => !expected.includes(c)),
        [],
        `unexpected failures; logged: ${story(hr)}`,
      );
      // Every signal went to an instance at least --min-process-age (1s) old, and the instances
      // that started after the final write read it at start.
      for (const r of hr.logs.filter((x) => x.msg.startsWith('sent '))) {
        const run = loop.runs.find((x) => x.pid === r.pid)!;
        assert.ok(timeOf(r) - run.startedAt >= 950, `signalled ${r.pid as number} too young`);
      }
      assert.ok((await readEvents(events)).some((e) => e.event === 'ready v6'));
      const count = (code: string) => codes.filter((c) => c === code).length;
      t.diagnostic(
        `${loop.runs.length} instances, ${sent.length} signals, failures: ` +
          expected.map((c) => `${c} ${count(c)}`).join(', '),
      );
      await endHealthy(hr, base);
    },
  );
});

/**
 * A kubelet volume holding app.conf v1 as its own directory (so it can be removed whole), an
 * endpoint that reads it, and a ready hotreload with the production-like quiet period.
 */
async function volumeToRemove(name: string) {
  const dir = path.join(await makeTempDir(name), 'config');
  await mkdir(dir);
  await new AtomicWriter(dir).write({ 'app.conf': 'v1' });
  const app = await startEndpoint(path.join(dir, 'app.conf'));
  // QUIET after FAST: the later --debounce wins.
  const hr = hotreload([...httpArgs(dir, app.url), ...QUIET]);
  return { dir, app, hr, base: await hr.ready() };
}

/** Removes the volume directory and waits until hotreload waits for it. */
async function removeVolume(dir: string, base: string | undefined): Promise<void> {
  await rm(dir, { recursive: true });
  await waitFor(
    async () => (await status(base)).watched[0]?.state === 'waiting',
    5000,
    'the watcher to wait for the path',
  );
}

describe('the watched volume misbehaves', () => {
  // Found by this suite: a removed volume directory was a change like any other, so the
  // application was told to reload while its configuration was gone (and read nothing), then again
  // when the directory came back, even with the content it already had.
  it(
    'the whole volume directory is removed, then recreated with new content: no reload while it is gone, then exactly one with the new content',
    T,
    async () => {
      const { dir, app, hr, base } = await volumeToRemove('removed');

      await removeVolume(dir, base);
      await quietFor(SETTLE_MS);
      await assertAlive(hr, base);
      const whileGone = app.calls.map((c) => c.content.toString());

      await mkdir(dir);
      await new AtomicWriter(dir).write({ 'app.conf': 'v2' });
      await waitFor(() => app.taken().includes('v2'), 10_000, 'the application to take v2');
      await quietFor(SETTLE_MS);
      assert.deepEqual(app.taken().slice(-1), ['v2']);
      const s = await status(base);
      assert.equal(s.watched[0]?.kind, 'kubelet');
      assert.equal(s.watched[0]?.state, 'watching');
      assert.equal(s.applied, s.current);
      await assertAlive(hr, base);
      // What the application read at each reload while its configuration was gone.
      assert.deepEqual(
        whileGone,
        [],
        `reloaded the application while its configuration was gone; logged: ${story(hr)}`,
      );
      assert.deepEqual(app.taken(), ['v2']);
      await endHealthy(hr, base);
    },
  );

  it(
    'the volume directory is removed and recreated with the same content: no reload',
    T,
    async () => {
      const { dir, app, hr, base } = await volumeToRemove('recreated');
      const before = await status(base);

      await removeVolume(dir, base);
      await mkdir(dir);
      await new AtomicWriter(dir).write({ 'app.conf': 'v1' });
      await waitFor(
        async () => (await status(base)).watched[0]?.state === 'watching',
        5000,
        'the watcher to watch the path again',
      );
      await quietFor(SETTLE_MS);

      await assertAlive(hr, base);
      const s = await status(base);
      assert.equal(s.current, before.current);
      assert.equal(s.applied, s.current);
      assert.deepEqual(
        app.calls.map((c) => c.content.toString()),
        [],
        `reloaded the application for a directory that came back unchanged; logged: ${story(hr)}`,
      );
      await endHealthy(hr, base);
    },
  );

  // Found by this suite (fixed): a snapshot taken while a volume is being removed saw the directory
  // still there without ..data, read it as a plain directory with nothing in it, and reloaded.
  it(
    'a kubelet volume half torn down (..data and its links gone, the directory still there): no reload, and none when it comes back unchanged',
    T,
    async () => {
      const { dir, writer } = await volume('torn', { 'app.conf': 'v1' });
      const app = await startEndpoint(path.join(dir, 'app.conf'));
      const hr = hotreload(httpArgs(dir, app.url));
      const base = await hr.ready();
      const before = await status(base);

      const generation = await writer.currentGeneration();
      await rm(path.join(dir, 'app.conf'));
      await rm(path.join(dir, '..data'));
      await rm(path.join(dir, generation!), { recursive: true });
      await quietFor(SETTLE_MS);
      await assertAlive(hr, base);
      const whileTorn = app.calls.map((c) => c.content.toString());

      await writer.write({ 'app.conf': 'v1' });
      await quietFor(SETTLE_MS);
      await assertAlive(hr, base);
      const s = await status(base);
      assert.equal(s.current, before.current);
      assert.deepEqual(
        whileTorn,
        [],
        `reloaded the application while its volume was half gone; logged: ${story(hr)}`,
      );
      assert.deepEqual(app.calls.length, 0, `reloaded for unchanged content; logged: ${story(hr)}`);
      await endHealthy(hr, base);
    },
  );

  // Found by this suite: a file hotreload cannot read counts as a fixed marker in the fingerprint
  // and is never logged, so the operator is not told that its changes are invisible.
  it(
    'a file hotreload cannot read (chmod 000, hotreload not root): it keeps running, says so, and other changes still reload once',
    { ...T, skip: requireRoot() },
    async () => {
      const dir = await makeTempDir('unreadable');
      const conf = path.join(dir, 'app.conf');
      const secret = path.join(dir, 'secret.conf');
      await writeFile(conf, 'v1', { mode: 0o644 });
      await writeFile(secret, 's1', { mode: 0o644 });
      const app = await startEndpoint(conf);
      const hr = hotreload(httpArgs(dir, app.url), {}, await cliRunnableBy(NOBODY, NOBODY));
      const base = await hr.ready();
      const initial = (await status(base)).current;

      // A chmod changes no mtime, so only the resync (1s) sees it.
      await chmod(secret, 0o000);
      await waitFor(
        async () => (await status(base)).current !== initial,
        10_000,
        'the fingerprint to change',
      );
      await quietFor(SETTLE_MS);
      await assertAlive(hr, base);

      const before = app.calls.length;
      await replaceFile(conf, 'v2');
      await waitFor(() => app.taken().includes('v2'), 10_000, 'the application to take v2');
      await quietFor(SETTLE_MS);
      assert.equal(app.calls.length, before + 1);

      // A new readable file replaces the unreadable one in one step.
      await replaceFile(secret, 's2');
      await waitFor(() => app.calls.length === before + 2, 10_000, 'a reload for s2');
      await quietFor(SETTLE_MS);
      assert.equal(app.calls.length, before + 2);
      await assertAlive(hr, base);
      // hotreload could not see secret.conf's content for a while: the operator must be told.
      const warned = hr.logs.find(
        (r) => ['warn', 'error'].includes(r.level) && JSON.stringify(r).includes(secret),
      );
      assert.ok(warned, `nothing logged about ${secret} being unreadable`);
      assert.match(JSON.stringify(warned), /EACCES/);
      await endHealthy(hr, base);
    },
  );

  // Found by this suite (fixed): every generation of an unreadable key had the same marker, so a
  // Secret rotated under a sidecar without read access (defaultMode 0400, no fsGroup) was never
  // delivered. The marker is now the file's metadata, and a kubelet update makes a new inode.
  it(
    'a kubelet update of a key hotreload cannot read (mode 0400, another owner) is still delivered once',
    { ...T, skip: requireRoot() },
    async () => {
      const { dir, writer } = await volume('unreadable-key', {
        'app.conf': 'v1',
        token: { content: 't1', mode: 0o400 },
      });
      const app = await startEndpoint(path.join(dir, 'token'));
      const hr = hotreload(httpArgs(dir, app.url), {}, await cliRunnableBy(NOBODY, NOBODY));
      const base = await hr.ready();
      await writer.write({ 'app.conf': 'v1', token: { content: 't2', mode: 0o400 } });
      await waitFor(() => app.taken().includes('t2'), 3000, 'the application to take t2').catch(
        () => undefined,
      );
      await quietFor(SETTLE_MS);
      await assertAlive(hr, base);
      assert.deepEqual(
        app.taken(),
        ['t2'],
        `the update of the unreadable key was lost; logged: ${story(hr) || 'nothing'}`,
      );
      await endHealthy(hr, base);
    },
  );

  /**
   * New content the application must get byte for byte, in one reload: `key` holds `before`,
   * then `after` is written kubelet-style; `check` adds what else must hold.
   */
  const CONTENT_CASES: {
    readonly name: string;
    readonly key: string;
    readonly before: Buffer;
    readonly after: Buffer;
    readonly check?: (hr: HotreloadProcess, base: string | undefined, dir: string) => Promise<void>;
  }[] = [
    (() => {
      const size = 1024 * 1024 + 1;
      const before = Buffer.alloc(size, 'a');
      const after = Buffer.from(before);
      after[size - 1] = 'b'.charCodeAt(0);
      return {
        name: 'a 1 MiB + 1 byte file: a change in its last byte reloads once',
        key: 'big.conf',
        before,
        after,
        check: async (hr: HotreloadProcess, base: string | undefined, dir: string) => {
          const s = await status(base);
          assert.deepEqual(s.lastChange?.changed, [path.join(dir, 'big.conf')]);
          assert.equal(failuresOf(hr).length, 0);
        },
      };
    })(),
    (() => {
      const secret = 'BINARY-CONTENT-7f3a';
      return {
        name: 'a binary file: reloads once, and no byte of it reaches the logs',
        key: 'blob.bin',
        before: Buffer.from('text'),
        after: Buffer.concat([
          Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
          Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82]), // not UTF-8
          Buffer.from(`\x1b[31m\n{"level":50,"msg":"forged"}\n\r${secret}\0`),
        ]),
        check: (hr: HotreloadProcess) => {
          assert.deepEqual(
            hr.logs.filter((r) => r.level === 'raw'),
            [],
            'a stdout line that is not JSON',
          );
          assert.ok(!JSON.stringify(hr.logs).includes(secret), 'file content in the logs');
          assert.ok(!hr.logs.some((r) => r.msg === 'forged'), 'a forged log line');
          assert.equal(hr.stderr(), '');
          return Promise.resolve();
        },
      };
    })(),
  ];

  for (const c of CONTENT_CASES) {
    it(c.name, T, async () => {
      const { dir, writer } = await volume('content', { [c.key]: { content: c.before } });
      const app = await startEndpoint(path.join(dir, c.key));
      const hr = hotreload(httpArgs(dir, app.url));
      const base = await hr.ready();
      await writer.write({ [c.key]: { content: c.after } });
      await hr.waitForLog(reloaded, 10_000);
      await quietFor(SETTLE_MS);

      assert.deepEqual(
        app.takenBytes().map((b) => [b.length, sha256(b)]),
        [[c.after.length, sha256(c.after)]],
      );
      await c.check?.(hr, base, dir);
      await endHealthy(hr, base);
    });
  }

  it(
    'symlink loops inside a watched plain directory: no hang, and a change still reloads once',
    T,
    async () => {
      const dir = await makeTempDir('loop');
      const conf = path.join(dir, 'app.conf');
      await writeFile(conf, 'v1');
      await symlink('.', path.join(dir, 'self'));
      await symlink('b', path.join(dir, 'a'));
      await symlink('a', path.join(dir, 'b'));
      const app = await startEndpoint(conf);
      const hr = hotreload(httpArgs(dir, app.url));
      const base = await hr.ready();
      // A loop made while watched, one level down.
      await mkdir(path.join(dir, 'sub'));
      await symlink('..', path.join(dir, 'sub', 'up'));
      await quietFor(SETTLE_MS);
      await assertAlive(hr, base);
      const before = app.calls.length;

      await replaceFile(conf, 'v2');
      await waitFor(() => app.taken().includes('v2'), 10_000, 'the application to take v2');
      await quietFor(SETTLE_MS);
      assert.equal(app.calls.length, before + 1);
      assert.deepEqual(app.taken().slice(-1), ['v2']);
      await endHealthy(hr, base);
    },
  );
});

describe('hotreload itself is killed, restarted or given a broken configuration', () => {
  it(
    'SIGKILL, the content changes while it is down, restart with --state-file: exactly one reload at start',
    T,
    async () => {
      const { dir, writer } = await volume('state-changed', { 'app.conf': 'v1' });
      const state = path.join(await makeTempDir('state-changed-file'), 'state.json');
      const app = await startEndpoint(path.join(dir, 'app.conf'));
      const args = ['--watch', dir, '--http-url', app.url, '--state-file', state];
      const first = hotreload([...args, ...FAST, ...RESYNC]);
      const firstBase = await first.ready();
      await writer.write({ 'app.conf': 'v2' });
      await first.waitForLog(reloaded, 10_000);
      await waitForState(state, (await status(firstBase)).applied!);
      assert.deepEqual(await first.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });

      await writer.write({ 'app.conf': 'v3' });
      const second = hotreload([...args, ...FAST, ...RESYNC]);
      const base = await second.ready();
      const start = await second.waitForLog((r) => r.msg.startsWith('initial fingerprint taken'));
      assert.equal(
        start.msg,
        'initial fingerprint taken; the application may hold older content: reloading',
      );
      assert.deepEqual(Object.values(start.targets as object), ['state-file-differs']);
      await second.waitForLog(reloaded, 10_000);
      await quietFor(SETTLE_MS);
      assert.deepEqual(app.taken(), ['v2', 'v3']);
      assert.equal(logsWith(second, 'reload succeeded').length, 1);
      await endHealthy(second, base);
    },
  );

  it(
    'SIGKILL, nothing changes while it is down, restart with --state-file: no reload',
    T,
    async () => {
      const { dir } = await volume('state-same', { 'app.conf': 'v1' });
      const state = path.join(await makeTempDir('state-same-file'), 'state.json');
      const app = await startEndpoint(path.join(dir, 'app.conf'));
      const args = httpArgs(dir, app.url, '--state-file', state);
      const first = hotreload(args);
      const firstBase = await first.ready();
      await waitForState(state, (await status(firstBase)).applied!);
      assert.deepEqual(await first.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });

      const second = hotreload(args);
      const base = await second.ready();
      const initial = await second.waitForLog((r) => r.msg === 'initial fingerprint taken');
      assert.equal(initial.stateFile, 'matches');
      await quietFor(SETTLE_MS);
      assert.equal(app.calls.length, 0);
      assert.equal(logsWith(second, 'reload succeeded').length, 0);
      await endHealthy(second, base);
    },
  );

  // Found by this suite: each resync validates the rejected content again, and counts and logs it
  // as one more refused change (hotreload_validation_failures_total grows once per resync).
  it(
    '--validate and a broken YAML: nothing is reloaded, /status says why, the failure is counted once; the fix reloads once',
    T,
    async () => {
      const { dir, writer } = await volume('validate', { 'app.yaml': 'replicas: 1\n' });
      const file = path.join(dir, 'app.yaml');
      const app = await startEndpoint(file);
      const hr = hotreload(httpArgs(dir, app.url, '--validate'));
      const base = await hr.ready();
      await writer.write({ 'app.yaml': 'replicas: [1, 2\n' });
      await hr.waitForLog((r) => r.msg === REJECTED);
      await quietFor(SETTLE_MS);

      assert.equal(app.calls.length, 0);
      const s = await status(base);
      assert.ok(s.rejected, '/status has no rejected configuration');
      assert.equal(s.rejected.fingerprint, s.current);
      assert.equal(s.rejected.problems[0]?.path, file);
      assert.notEqual(s.applied, s.current);
      assert.ok((await metric(base, 'hotreload_validation_failures_total')) >= 1);
      await assertAlive(hr, base);
      const counted = await metric(base, 'hotreload_validation_failures_total');
      const logged = logsWith(hr, REJECTED).length;

      await writer.write({ 'app.yaml': 'replicas: 2\n' });
      await hr.waitForLog(reloaded, 10_000);
      await quietFor(SETTLE_MS);
      assert.deepEqual(app.taken(), ['replicas: 2\n']);
      const fixed = await status(base);
      assert.equal(fixed.rejected ?? null, null);
      assert.equal(fixed.applied, fixed.current);
      await assertAlive(hr, base);
      // One broken change, refused once: a resync re-checking the same content is not a new one.
      assert.equal(logged, 1, `rejected ${logged} times for one change; logged: ${story(hr)}`);
      assert.equal(counted, 1, 'hotreload_validation_failures_total for one broken change');
      await endHealthy(hr, base);
    },
  );
});
