// End to end: the built CLI's --restart and --signal against real processes that the test runs
// itself (as the kubelet would, in a pod with shareProcessNamespace: true), found through /proc.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { startStubbornServer, writeApp } from '../harness/apps.js';
import { cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import {
  FAST,
  TIMEOUT,
  errOf,
  failed,
  healthz,
  hotreload,
  killProcesses,
  reloaded,
  timeOf,
  volume,
} from '../harness/e2e.js';
import { freePort, request, waitForBody } from '../harness/net.js';
import { RestartLoop, cmdlineOf, isAlive, startProcess } from '../harness/processes.js';
import { quietFor, waitFor } from '../harness/wait.js';
import { NOBODY, OTHER, cliRunnableBy, isRoot } from '../harness/run-as.js';

afterEach(killProcesses);
after(cleanupTempDirs);

/** A string that only this test's application has in its command line. */
const marker = (what: string) => `hotreload-e2e-${what}-${randomUUID()}`;

/**
 * A config server serving v1 under a kubelet-style restart loop (the next run `delayMs` after an
 * exit), and a ready hotreload that restarts it on changes with --restart-wait `restartWait`.
 */
async function restartScene(name: string, delayMs: number, restartWait: string) {
  const { dir, writer } = await volume(`restart-${name}`, { 'app.conf': 'v1\n' });
  const app = await writeApp(await makeTempDir(`restart-${name}-app`), 'config-server.mjs');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const tag = marker(name);
  const kubelet = new RestartLoop(
    process.execPath,
    [app, path.join(dir, 'app.conf'), String(port), tag],
    { maxRestarts: 3, delayMs },
  );
  await kubelet.current.waitForOutput('listening');
  assert.equal((await request(url)).body, 'v1\n');
  const hr = hotreload([
    '--watch',
    dir,
    '--restart',
    '--process-match',
    tag,
    '--restart-wait',
    restartWait,
    ...FAST,
  ]);
  await hr.ready();
  return { writer, url, kubelet, hr };
}

describe('--restart of a process found by --process-match', () => {
  it(
    'stops the application, the restarted one serves the new config, and hotreload sees it start',
    TIMEOUT,
    async () => {
      const { writer, url, kubelet, hr } = await restartScene('app', 100, '10s');
      const first = kubelet.current.pid;
      await writer.write({ 'app.conf': 'v2\n' });

      const stopping = await hr.waitForLog((r) => r.msg.startsWith('stopping '));
      assert.equal(stopping.pid, first);
      assert.equal(stopping.signal, 'SIGTERM');
      const started = await hr.waitForLog((r) => r.msg === 'new process started', 15_000);
      await hr.waitForLog(reloaded);
      assert.deepEqual(await kubelet.runs[0]!.exited, { code: 0, signal: null });
      assert.equal(kubelet.runs.length, 2);
      assert.deepEqual(started.pids, [kubelet.current.pid]);
      assert.notEqual(kubelet.current.pid, first);
      await waitForBody(url, (b) => b === 'v2\n', 5000, 'the restarted application to serve v2');
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );

  it(
    'kills a process that ignores SIGTERM after --stop-timeout, and the reload succeeds',
    TIMEOUT,
    async () => {
      const { dir, writer } = await volume('restart-stuck', { 'app.conf': 'v1\n' });
      const tag = marker('stuck');
      const stuck = await startStubbornServer(path.join(dir, 'app.conf'), tag);
      const hr = hotreload([
        '--watch',
        dir,
        '--restart',
        '--process-match',
        tag,
        '--stop-timeout',
        '500ms',
        ...FAST,
      ]);
      await hr.ready();
      await writer.write({ 'app.conf': 'v2\n' });

      const stopping = await hr.waitForLog((r) => r.msg.startsWith('stopping '));
      const kill = await hr.waitForLog(
        (r) => r.msg === 'process did not stop in time; sending SIGKILL',
      );
      assert.equal(kill.pid, stuck.pid);
      const waited = timeOf(kill) - timeOf(stopping);
      assert.ok(waited >= 450 && waited < 3000, `SIGKILL came ${waited}ms after SIGTERM`);
      assert.deepEqual(await stuck.exited, { code: null, signal: 'SIGKILL' });
      assert.equal(await isAlive(stuck.pid), false);
      const ok = await hr.waitForLog(reloaded);
      assert.equal(ok.attempt, 1);
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );

  // Found by this suite: a failed --restart-wait is retried like any failed reload, and the retry
  // stops the process that has just come up with the new config. In a pod whose container
  // restarts slower than --restart-wait (CrashLoopBackOff), each new container is killed again.
  it(
    'counts a restart that comes up later than --restart-wait, without stopping it again',
    TIMEOUT,
    async () => {
      const { writer, url, kubelet, hr } = await restartScene('slow', 1500, '300ms');
      await writer.write({ 'app.conf': 'v2\n' });

      const failure = errOf(await hr.waitForLog(failed));
      assert.equal(failure.code, 'E_RESTART_WAIT');
      await waitFor(() => kubelet.runs.length >= 2, 10_000, 'the kubelet to restart the app');
      await quietFor(1500);
      const stopped = hr.logs.filter((r) => r.msg.startsWith('stopping ')).map((r) => r.pid);
      assert.deepEqual(stopped, [kubelet.runs[0]!.pid], 'hotreload stopped the new process too');
      assert.equal((await request(url)).body, 'v2\n');
      // The retry finds the new process, which started after v2 was written: nothing to stop.
      await hr.waitForLog((r) => r.msg.startsWith('not told: it started after'), 5000);
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );
});

describe('--signal failures are reported and retried', () => {
  it(
    'reports E_PERMISSION naming both UIDs when the target runs as another user, keeps retrying and serving, and leaves the target alone',
    {
      ...TIMEOUT,
      skip: isRoot() ? false : 'needs root, to run the target and hotreload as two other users',
    },
    async () => {
      const tag = marker('other-user');
      // `sleep` with the marker as argv[0]: its command line is "<marker> 60", its comm 'sleep'.
      const target = startProcess('sleep', ['60'], { uid: NOBODY, gid: NOBODY, argv0: tag });
      await waitFor(async () => (await cmdlineOf(target.pid)) === `${tag} 60`, 5000, 'sleep');
      const as = await cliRunnableBy(OTHER, OTHER);
      const { dir, writer } = await volume('permission', { 'app.conf': 'v1' });
      const hr = hotreload(
        ['--watch', dir, '--signal', 'HUP', '--process-match', tag, ...FAST],
        {},
        as,
      );
      const base = await hr.ready();
      await writer.write({ 'app.conf': 'v2' });

      const failure = errOf(await hr.waitForLog(failed));
      assert.equal(failure.code, 'E_PERMISSION');
      assert.match(failure.message, new RegExp(`process ${target.pid} \\(sleep\\)`));
      assert.match(failure.message, /runs as UID 65534 and hotreload as UID 65533/);
      assert.match(failure.hint ?? '', /UID 65534/);
      await hr.waitForLog((r) => failed(r) && (r.attempt as number) >= 2, 10_000, 'a retry');
      assert.equal(await healthz(base), 200);
      assert.equal(await isAlive(target.pid), true);
      assert.equal(target.proc.exitCode, null);
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );

  it(
    'reports E_NO_PROCESS with a hint about shareProcessNamespace, and keeps retrying',
    TIMEOUT,
    async () => {
      const { dir, writer } = await volume('no-process', { 'app.conf': 'v1' });
      const hr = hotreload([
        '--watch',
        dir,
        '--signal',
        'HUP',
        '--process-name',
        'does-not-exist',
        ...FAST,
      ]);
      const base = await hr.ready();
      await writer.write({ 'app.conf': 'v2' });

      const failure = errOf(await hr.waitForLog(failed));
      assert.equal(failure.code, 'E_NO_PROCESS');
      assert.match(failure.message, /no process matches --process-name does-not-exist/);
      assert.match(failure.hint ?? '', /shareProcessNamespace: true/);
      await hr.waitForLog((r) => failed(r) && (r.attempt as number) >= 3, 10_000, 'two retries');
      assert.equal(await healthz(base), 200);
      const status = JSON.parse((await request(`${base}/status`)).body) as {
        lastReload: { ok: boolean; error: { code: string } };
        applied: string;
        current: string;
      };
      assert.equal(status.lastReload.ok, false);
      assert.equal(status.lastReload.error.code, 'E_NO_PROCESS');
      // Still undelivered (a retry is either waiting or running right now).
      assert.notEqual(status.applied, status.current, 'the change is still pending');
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );
});
