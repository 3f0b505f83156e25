// End to end: the built CLI's --exec (a shell command per change) and --exit (without a child),
// and the fixed order of the actions: exec, http, signal, restart, exit.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { cleanupTempDirs } from '../harness/atomic-writer.js';
import {
  FAST,
  TIMEOUT,
  errOf,
  failed,
  hotreload,
  killProcesses,
  reloaded,
  volume,
} from '../harness/e2e.js';
import { startTarget, type Target } from '../harness/http-target.js';
import { request } from '../harness/net.js';
import { isAlive } from '../harness/processes.js';
import { waitFor } from '../harness/wait.js';

const targets: Target[] = [];

afterEach(async () => {
  await killProcesses();
  await Promise.all(targets.splice(0).map((t) => t.close()));
});
after(cleanupTempDirs);

const execLines = (logs: readonly { msg: string }[]) =>
  logs.filter((r) => r.msg.startsWith('exec: ')).map((r) => r.msg.slice('exec: '.length));

describe('--exec', () => {
  it(
    'runs the command with HOTRELOAD_CHANGED and HOTRELOAD_FINGERPRINT, and logs its output',
    TIMEOUT,
    async () => {
      const { dir, writer } = await volume('exec', {
        'a.conf': 'a1',
        'b.conf': 'b1',
        'c.conf': 'c',
      });
      const hr = hotreload([
        '--watch',
        dir,
        '--exec',
        'echo changed: "$HOTRELOAD_CHANGED"; echo fingerprint: "$HOTRELOAD_FINGERPRINT"; test -n "$HOTRELOAD_FINGERPRINT"',
        ...FAST,
      ]);
      const base = await hr.ready();
      await writer.write({ 'a.conf': 'a2', 'b.conf': 'b2', 'c.conf': 'c' });
      await hr.waitForLog(reloaded);

      const status = JSON.parse((await request(`${base}/status`)).body) as { applied: string };
      // HOTRELOAD_CHANGED holds one path per line, so the shell printed two lines for it.
      assert.deepEqual(execLines(hr.logs), [
        `changed: ${path.join(dir, 'a.conf')}`,
        path.join(dir, 'b.conf'),
        `fingerprint: ${status.applied}`,
      ]);
      const line = hr.logs.find((r) => r.msg.startsWith('exec: changed:'));
      assert.equal(line?.stream, 'stdout');
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );

  it('fails with E_EXEC_FAILED on a non-zero exit, and retries', TIMEOUT, async () => {
    const { dir, writer } = await volume('exec-fail', { 'app.conf': 'v1' });
    const hr = hotreload(['--watch', dir, '--exec', 'echo oops >&2; exit 3', ...FAST]);
    await hr.ready();
    await writer.write({ 'app.conf': 'v2' });

    const failure = await hr.waitForLog(failed);
    assert.equal(errOf(failure).code, 'E_EXEC_FAILED');
    assert.match(errOf(failure).message, /code 3/);
    const retry = await hr.waitForLog((r) => failed(r) && r.attempt === 2, 5000, 'a retry');
    assert.equal(errOf(retry).code, 'E_EXEC_FAILED');
    const stderr = hr.logs.find((r) => r.msg === 'exec: oops');
    assert.equal(stderr?.stream, 'stderr');
    assert.deepEqual(await hr.stop(), { code: 0, signal: null });
  });

  it(
    'stops a command that outlives --exec-timeout, everything it started included (E_EXEC_TIMEOUT)',
    TIMEOUT,
    async () => {
      const { dir, writer } = await volume('exec-timeout', { 'app.conf': 'v1' });
      const hr = hotreload([
        '--watch',
        dir,
        '--exec',
        'sleep 30 & echo "background $!"; wait',
        '--exec-timeout',
        '300ms',
        ...FAST,
      ]);
      await hr.ready();
      await writer.write({ 'app.conf': 'v2' });

      const failure = await hr.waitForLog(failed);
      assert.equal(errOf(failure).code, 'E_EXEC_TIMEOUT');
      assert.match(errOf(failure).hint ?? '', /--exec-timeout/);
      const took = failure.durationMs as number;
      assert.ok(took >= 250 && took < 3000, `the attempt took ${took}ms`);
      // The command's own child (the background sleep) went down with its process group.
      const background = hr.logs.find((r) => r.msg.startsWith('exec: background '));
      const sleepPid = Number(background?.msg.split(' ').pop());
      assert.ok(sleepPid > 1, `no pid in ${background?.msg}`);
      await waitFor(
        async () => !(await isAlive(sleepPid)),
        3000,
        `sleep ${sleepPid} to be stopped`,
      );
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );

  it('kills a command that ignores SIGTERM after the grace period', TIMEOUT, async () => {
    const { dir, writer } = await volume('exec-stubborn', { 'app.conf': 'v1' });
    const hr = hotreload([
      '--watch',
      dir,
      '--exec',
      // An ignored signal stays ignored in the commands the shell starts.
      `trap '' TERM; sleep 30 & echo "background $!"; wait`,
      '--exec-timeout',
      '300ms',
      // One attempt (the quiet period takes the volume's events as one), so no retry is left
      // running a stubborn command when the test ends.
      '--retries',
      '1',
      ...FAST,
      '--debounce',
      '200ms',
    ]);
    await hr.ready();
    await writer.write({ 'app.conf': 'v2' });

    const failure = await hr.waitForLog((r) => r.msg.startsWith('reload failed'), 10_000);
    assert.equal(errOf(failure).code, 'E_EXEC_TIMEOUT');
    const took = failure.durationMs as number;
    assert.ok(took >= 1500 && took < 6000, `the attempt took ${took}ms`);
    const background = hr.logs.find((r) => r.msg.startsWith('exec: background '));
    const sleepPid = Number(background?.msg.split(' ').pop());
    await waitFor(async () => !(await isAlive(sleepPid)), 3000, `sleep ${sleepPid} to be killed`);
    assert.deepEqual(await hr.stop(), { code: 0, signal: null });
  });
});

describe('--exit without a child', () => {
  it('--exit 5 exits 5 on change', TIMEOUT, async () => {
    const { dir, writer } = await volume('exit', { 'app.conf': 'v1' });
    const hr = hotreload(['--watch', dir, '--exit', '5', ...FAST]);
    await hr.ready();
    await writer.write({ 'app.conf': 'v2' });
    assert.deepEqual(await hr.exited, { code: 5, signal: null });
    assert.ok(hr.logs.some((r) => r.msg === 'change detected'));
    assert.ok(hr.logs.some((r) => r.msg === 'stopped' && r.code === 5));
  });

  it('--exit without a value exits 0 on change', TIMEOUT, async () => {
    const { dir, writer } = await volume('exit0', { 'app.conf': 'v1' });
    // --exit right before another flag: that flag is not taken as its value.
    const hr = hotreload(['--exit', '--watch', dir, ...FAST]);
    await hr.ready();
    await writer.write({ 'app.conf': 'v2' });
    assert.deepEqual(await hr.exited, { code: 0, signal: null });
    assert.ok(hr.logs.some((r) => r.msg === 'change detected'));
    assert.ok(hr.logs.some((r) => r.msg === 'stopped' && r.code === 0));
  });

  it(
    'runs exec, then the HTTP call, then exits, whatever the order of the flags',
    TIMEOUT,
    async () => {
      const { dir, writer } = await volume('order', { 'app.conf': 'v1' });
      const t = await startTarget();
      targets.push(t);
      const hr = hotreload([
        '--watch',
        dir,
        '--exit',
        '4',
        '--http-url',
        t.url,
        '--exec',
        'echo from exec',
        ...FAST,
      ]);
      // What hotreload had done when the HTTP request came: the exec output, and not exited yet.
      const atRequest: { exec: string[]; running: boolean }[] = [];
      t.setHandler(() => {
        atRequest.push({ exec: execLines(hr.logs), running: hr.proc.exitCode === null });
        return {};
      });
      await hr.ready();
      await writer.write({ 'app.conf': 'v2' });
      assert.deepEqual(await hr.exited, { code: 4, signal: null });
      assert.deepEqual(atRequest, [{ exec: ['from exec'], running: true }]);
    },
  );
});
