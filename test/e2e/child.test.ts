// End to end: `hotreload [options] -- COMMAND ARGS`, the application supervised as hotreload's
// child. The child (support/apps.ts events-child) appends every signal it gets to a file, so the
// test reads what reached it; hotreload's exit code follows the child's.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { readEvents, writeApp, type ChildEvent } from '../harness/apps.js';
import { cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import {
  FAST,
  TIMEOUT,
  escapeRegExp,
  hotreload,
  killProcesses,
  reloaded,
  sentTo,
  volume,
  type Volume,
} from '../harness/e2e.js';
import type { HotreloadProcess } from '../harness/hotreload-process.js';
import { isAlive, trackPid } from '../harness/processes.js';
import { waitFor } from '../harness/wait.js';

afterEach(killProcesses);
after(cleanupTempDirs);

interface Setup extends Volume {
  readonly events: string;
  /** `-- node events-child.mjs EVENTS CONFIG <onTerm>` */
  readonly command: (onTerm: 'exit0' | 'default' | 'ignore') => string[];
}

async function setup(): Promise<Setup> {
  const vol = await volume('child', { 'app.conf': 'v1\n' });
  const tmp = await makeTempDir('child-app');
  const app = await writeApp(tmp, 'events-child.mjs');
  const events = path.join(tmp, 'events');
  const conf = path.join(vol.dir, 'app.conf');
  return {
    ...vol,
    events,
    command: (onTerm) => ['--', process.execPath, app, events, conf, onTerm],
  };
}

/** The pid of the child hotreload started (the nth one, from 1), once it is ready. */
async function childPid(hr: HotreloadProcess, events: string, nth = 1): Promise<number> {
  let seen = 0;
  const rec = await hr.waitForLog((r) => r.msg === 'child started' && ++seen === nth);
  const pid = rec.pid as number;
  await trackPid(pid);
  await waitForEvent(events, { pid, event: 'ready' });
  return pid;
}

/** Waits until child `want.pid` noted an event that starts with `want.event`. */
async function waitForEvent(file: string, want: ChildEvent): Promise<void> {
  await waitFor(
    async () =>
      (await readEvents(file)).some((e) => e.pid === want.pid && e.event.startsWith(want.event)),
    5000,
    `child ${want.pid} to note ${want.event}`,
  );
}

describe('a supervised child (hotreload -- COMMAND)', () => {
  it(
    "gets --signal on change and every signal hotreload passes on, and its exit 0 on SIGTERM is hotreload's",
    TIMEOUT,
    async () => {
      const { dir, writer, events, command } = await setup();
      const hr = hotreload(['--watch', dir, '--signal', 'HUP', ...FAST, ...command('exit0')]);
      const pid = await childPid(hr, events);
      await hr.ready();

      await writer.write({ 'app.conf': 'v2\n' });
      const sent = await hr.waitForLog(sentTo(pid));
      assert.equal(sent.signal, 'SIGHUP');
      await hr.waitForLog(reloaded);
      await waitForEvent(events, { pid, event: 'SIGHUP' });

      const passedOn = ['SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
      for (const signal of passedOn) {
        hr.proc.kill(signal);
        await waitFor(
          async () =>
            (await readEvents(events)).filter((e) => e.event === signal).length ===
            (signal === 'SIGHUP' ? 2 : 1),
          5000,
          `the child to note the ${signal} sent to hotreload`,
        );
      }
      const passed = hr.logs.filter((r) => r.msg === 'passing signal to the child');
      assert.deepEqual(
        passed.map((r) => [r.signal, r.pid]),
        passedOn.map((s) => [s, pid]),
      );
      // SIGHUP went to the child, not to a resync of hotreload's own.
      assert.ok(!hr.logs.some((r) => r.msg === 'resync requested'));

      assert.deepEqual(await hr.stop('SIGTERM'), { code: 0, signal: null });
      assert.deepEqual(
        (await readEvents(events)).map((e) => e.event),
        ['ready v1', 'SIGHUP', ...passedOn, 'SIGTERM'],
      );
      assert.equal(await isAlive(pid), false);
      assert.ok(hr.logs.some((r) => r.msg === 'stopped' && r.code === 0));
    },
  );

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(
      `exits ${code} (128 + the signal) when the child dies of the ${signal} hotreload passed on`,
      TIMEOUT,
      async () => {
        const { dir, events, command } = await setup();
        const hr = hotreload(['--watch', dir, '--signal', 'HUP', ...FAST, ...command('default')]);
        const pid = await childPid(hr, events);
        await hr.ready();
        assert.deepEqual(await hr.stop(signal), { code, signal: null });
        assert.equal(await isAlive(pid), false);
      },
    );
  }

  it(
    'kills a child that ignores SIGTERM after --stop-timeout, and exits 137',
    TIMEOUT,
    async () => {
      const { dir, events, command } = await setup();
      const hr = hotreload([
        '--watch',
        dir,
        '--signal',
        'HUP',
        '--stop-timeout',
        '500ms',
        ...FAST,
        ...command('ignore'),
      ]);
      const pid = await childPid(hr, events);
      await hr.ready();
      const start = Date.now();
      assert.deepEqual(await hr.stop('SIGTERM'), { code: 137, signal: null });
      const took = Date.now() - start;
      assert.ok(took >= 450 && took < 5000, `hotreload took ${took}ms to stop`);
      await waitForEvent(events, { pid, event: 'SIGTERM' });
      const kill = hr.logs.find((r) => r.msg === 'child did not stop in time; sending SIGKILL');
      assert.equal(kill?.pid, pid);
      assert.equal(await isAlive(pid), false);
    },
  );

  it('exits with the code of a child that exits on its own (3)', TIMEOUT, async () => {
    const { dir, events, command } = await setup();
    const hr = hotreload(['--watch', dir, '--signal', 'HUP', ...FAST, ...command('exit0')]);
    const pid = await childPid(hr, events);
    await hr.ready();
    // Sent to the child directly, not through hotreload: it exits 3 on SIGALRM.
    process.kill(pid, 'SIGALRM');
    assert.deepEqual(await hr.exited, { code: 3, signal: null });
    const own = hr.logs.find((r) => r.msg === 'child exited on its own');
    assert.deepEqual([own?.pid, own?.code], [pid, 3]);
  });

  it('exits 127 when the command after -- does not exist', TIMEOUT, async () => {
    const { dir } = await setup();
    const hr = hotreload(['--watch', dir, '--signal', 'HUP', ...FAST, '--', '/nonexistent/app']);
    assert.deepEqual(await hr.exited, { code: 127, signal: null });
    const error = hr.logs.find(
      (r) => r.msg === 'cannot start the child; check the command after --',
    );
    assert.deepEqual(error?.command, ['/nonexistent/app']);
  });

  it(
    '--restart restarts the child in place, and the new child reads the new config',
    TIMEOUT,
    async () => {
      const { dir, writer, events, command } = await setup();
      const hr = hotreload(['--watch', dir, '--restart', ...FAST, ...command('exit0')]);
      const first = await childPid(hr, events);
      await hr.ready();

      await writer.write({ 'app.conf': 'v2\n' });
      const second = await childPid(hr, events, 2);
      await hr.waitForLog(reloaded);
      assert.notEqual(second, first);
      assert.equal(await isAlive(first), false);
      assert.deepEqual(await readEvents(events), [
        { pid: first, event: 'ready v1' },
        { pid: first, event: 'SIGTERM' },
        { pid: second, event: 'ready v2' },
      ]);
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
      assert.equal(await isAlive(second), false);
    },
  );

  // Found by this suite: with a selector, the restart action stops the child as if it were
  // another container's process, hotreload takes that for the child exiting on its own, and
  // exits with its code instead of restarting it (README: "--restart restarts it in place").
  it(
    '--restart with a --process-match that picks the child restarts it in place too',
    TIMEOUT,
    async () => {
      const { dir, writer, events, command } = await setup();
      const hr = hotreload([
        '--watch',
        dir,
        '--restart',
        '--process-match',
        escapeRegExp(events),
        ...FAST,
        ...command('exit0'),
      ]);
      const first = await childPid(hr, events);
      await hr.ready();

      await writer.write({ 'app.conf': 'v2\n' });
      await hr.waitForLog((r) => reloaded(r) || r.msg === 'child exited on its own');
      assert.ok(
        !hr.logs.some((r) => r.msg === 'child exited on its own'),
        'hotreload took its own restart for the child exiting on its own',
      );
      const second = await childPid(hr, events, 2);
      assert.notEqual(second, first);
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );

  // Found by a code review: a restart still stopping the old child when hotreload was told to
  // stop went on to start a new child, which outlived hotreload.
  it(
    'SIGTERM while --restart is still stopping the child: no new child is started, none is left',
    TIMEOUT,
    async () => {
      const { dir, writer, events, command } = await setup();
      const hr = hotreload([
        '--watch',
        dir,
        '--restart',
        '--stop-timeout',
        '1500ms',
        '--shutdown-timeout',
        '200ms',
        ...FAST,
        ...command('ignore'),
      ]);
      const first = await childPid(hr, events);
      await hr.ready();

      await writer.write({ 'app.conf': 'v2\n' });
      await waitForEvent(events, { pid: first, event: 'SIGTERM' });
      const exit = await hr.stop();
      assert.equal(exit.signal, null);
      assert.equal(await isAlive(first), false);
      assert.ok(
        !hr.logs.some((r) => r.msg === 'child started' && r.pid !== first),
        `a new child was started: ${JSON.stringify(hr.logs.filter((r) => r.msg === 'child started'))}`,
      );
    },
  );

  // Found by a code review: a second SIGTERM took Node's default action, and hotreload died at
  // once, leaving a child that ignores SIGTERM running.
  it('a second SIGTERM does not end hotreload before its child', TIMEOUT, async () => {
    const { dir, events, command } = await setup();
    const hr = hotreload([
      '--watch',
      dir,
      '--restart',
      '--stop-timeout',
      '1s',
      ...FAST,
      ...command('ignore'),
    ]);
    const pid = await childPid(hr, events);
    await hr.ready();
    hr.proc.kill('SIGTERM');
    await waitForEvent(events, { pid, event: 'SIGTERM' });
    hr.proc.kill('SIGTERM');
    const exit = await hr.exited;
    assert.equal(exit.signal, null, 'hotreload was killed by the second SIGTERM');
    assert.equal(await isAlive(pid), false);
    assert.ok(hr.logs.some((r) => r.msg === 'already stopping'));
  });

  // Found by a code review: a fatal error after the child started (the port taken) ended
  // hotreload with the child still running.
  it(
    'stops the child when hotreload cannot start (its port is taken) and exits 1',
    TIMEOUT,
    async () => {
      const { dir, command } = await setup();
      const blocker = net.createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      try {
        const { port } = blocker.address() as net.AddressInfo;
        const hr = hotreload([
          '--watch',
          dir,
          '--signal',
          'HUP',
          ...FAST,
          '--listen',
          `127.0.0.1:${port}`,
          ...command('exit0'),
        ]);
        const started = await hr.waitForLog((r) => r.msg === 'child started');
        const pid = started.pid as number;
        await trackPid(pid);
        assert.equal((await hr.exited).code, 1);
        assert.equal(await isAlive(pid), false);
      } finally {
        blocker.close();
      }
    },
  );

  it('--exit 7 stops the child on change and exits 7', TIMEOUT, async () => {
    const { dir, writer, events, command } = await setup();
    const hr = hotreload(['--watch', dir, '--exit', '7', ...FAST, ...command('exit0')]);
    const pid = await childPid(hr, events);
    await hr.ready();

    await writer.write({ 'app.conf': 'v2\n' });
    assert.deepEqual(await hr.exited, { code: 7, signal: null });
    assert.deepEqual(
      (await readEvents(events)).map((e) => e.event),
      ['ready v1', 'SIGTERM'],
    );
    assert.equal(await isAlive(pid), false);
    assert.ok(!hr.logs.some((r) => r.msg === 'child exited on its own'));
  });
});
