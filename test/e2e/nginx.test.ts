// End to end: a real nginx master with two workers, run by the test (as the application
// container would run it), its nginx.conf in a kubelet-style volume; hotreload finds the master
// through /proc and sends it SIGHUP. See DESIGN.md, "Shared process namespace".
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, afterEach, describe, it } from 'node:test';
import { cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import {
  FAST,
  TIMEOUT,
  healthz,
  hotreload,
  killProcesses,
  reloaded,
  sentTo,
} from '../harness/e2e.js';
import { request, waitForBody } from '../harness/net.js';
import { masterOf, serving, setupNginx, startNginx, workers } from '../harness/nginx.js';
import { childPids, isAlive } from '../harness/processes.js';
import { NGINX, requireProgram } from '../harness/programs.js';
import { waitFor } from '../harness/wait.js';

afterEach(killProcesses);
after(cleanupTempDirs);

describe('nginx reloaded with SIGHUP through the process table', () => {
  const skip = requireProgram(NGINX);

  it(
    'serves a valid update with new workers, keeps serving through an invalid one, then serves the next valid one',
    { ...TIMEOUT, skip },
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
        ...FAST,
      ]);
      const base = await hr.ready();
      const v1Workers = await workers(master);

      // 1. A valid update: nginx starts new workers with it and retires the old ones.
      await n.writer.write({ 'nginx.conf': n.conf('v2') });
      const sent = await hr.waitForLog(sentTo(master));
      assert.match(sent.msg, new RegExp(`^sent SIGHUP to nginx \\(pid ${master}\\)$`));
      await hr.waitForLog(reloaded);
      await waitForBody(n.url, (b) => b === 'v2\n', 10_000, 'nginx to serve v2');
      const v2Workers = await workers(master, v1Workers);

      // 2. An invalid update: the HUP is delivered (so hotreload reports success), nginx logs the
      //    error and keeps the running configuration, master and workers.
      const before = hr.logs.length;
      await n.writer.write({ 'nginx.conf': n.conf('bad', 'no_such_directive on;') });
      await hr.waitForLog((r) => hr.logs.indexOf(r) >= before && reloaded(r));
      assert.equal(hr.logs.filter(sentTo(master)).length, 2);
      await waitFor(
        async () => (await readFile(`${n.prefix}/error.log`, 'utf8')).includes('no_such_directive'),
        5000,
        'nginx to log the invalid configuration',
      );
      assert.equal((await request(n.url)).body, 'v2\n');
      assert.deepEqual(await childPids(master), v2Workers);
      assert.equal(n.master.proc.exitCode, null);
      assert.equal((await readFile(`${n.prefix}/nginx.pid`, 'utf8')).trim(), String(master));
      assert.equal(await healthz(base), 200);

      // 3. The next valid update is taken.
      await n.writer.write({ 'nginx.conf': n.conf('v3') });
      await waitForBody(n.url, (b) => b === 'v3\n', 10_000, 'nginx to serve v3');
      await workers(master, v2Workers);
      assert.equal(hr.logs.filter(sentTo(master)).length, 3);
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );

  it(
    'with --verify-children, an invalid configuration is a failed reload (no new workers), and the fix lands',
    { ...TIMEOUT, skip },
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
        '1s',
        ...FAST,
        '--retry-initial',
        '2s',
        '--retry-max',
        '2s',
      ]);
      await hr.ready();
      const v1Workers = await workers(master);
      await n.writer.write({ 'nginx.conf': n.conf('bad', 'no_such_directive on;') });
      const failure = await hr.waitForLog((r) => r.msg === 'reload failed; retrying', 10_000);
      assert.equal((failure.err as { code: string }).code, 'E_VERIFY_CHILDREN');
      assert.equal((await request(n.url)).body, 'v1\n');
      assert.deepEqual(await childPids(master), v1Workers);

      await n.writer.write({ 'nginx.conf': n.conf('v2') });
      await hr.waitForLog(reloaded, 10_000);
      await waitForBody(n.url, (b) => b === 'v2\n', 10_000, 'nginx to serve v2');
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );

  it(
    '--process-name nginx signals the master only; with --all-matches its workers too',
    { ...TIMEOUT, skip },
    async () => {
      const n = await startNginx();
      const master = n.master.pid;
      const [w1, w2] = await workers(master);
      const cases = [
        { all: [], want: [master] },
        { all: ['--all-matches'], want: [master, w1!, w2!] },
      ];
      // The second hotreload knows from the state file that nginx has what the first delivered;
      // without it, nginx (older than that content) would be told once more at start.
      const state = `${await makeTempDir('nginx-state')}/state.json`;
      for (const [i, { all, want }] of cases.entries()) {
        const hr = hotreload([
          '--watch',
          n.dir,
          '--signal',
          'USR1',
          '--process-name',
          'nginx',
          '--state-file',
          state,
          ...all,
          ...FAST,
        ]);
        await hr.ready();
        // Nothing to tell at start: nginx has what the state file says it was told (or, for the
        // first, what it started with).
        assert.ok(
          hr.logs.some((r) => r.msg === 'initial fingerprint taken'),
          'not told at start',
        );
        await n.writer.write({ 'nginx.conf': n.conf(`v${i + 2}`) });
        await hr.waitForLog(reloaded);
        // Another nginx on the machine may be signalled too; only this one's processes count.
        const ours = hr.logs
          .filter((r) => r.msg.startsWith('sent ') && [master, w1, w2].includes(r.pid as number))
          .map((r) => [r.signal, r.pid]);
        assert.deepEqual(
          ours,
          want.map((pid) => ['SIGUSR1', pid]),
          all.join(' ') || 'topmost only',
        );
        assert.deepEqual(await hr.stop(), { code: 0, signal: null });
      }
      // USR1 only reopens the log files: the same master and workers run on.
      assert.deepEqual(await childPids(master), [w1, w2]);
    },
  );

  it('--pid-file finds the master by its nginx.pid', { ...TIMEOUT, skip }, async () => {
    const n = await startNginx();
    const hr = hotreload([
      '--watch',
      n.dir,
      '--signal',
      'HUP',
      '--pid-file',
      `${n.prefix}/nginx.pid`,
      ...FAST,
    ]);
    await hr.ready();
    await n.writer.write({ 'nginx.conf': n.conf('v2') });
    await hr.waitForLog(sentTo(n.master.pid));
    await hr.waitForLog(reloaded);
    await waitForBody(n.url, (b) => b === 'v2\n', 10_000, 'nginx to serve v2');
    assert.deepEqual(await hr.stop(), { code: 0, signal: null });
  });
});

describe("nginx as hotreload's supervised child", () => {
  const skip = requireProgram(NGINX);

  it(
    'gets SIGHUP on change without a selector, and stops with hotreload',
    { ...TIMEOUT, skip },
    async () => {
      const n = await setupNginx();
      const hr = hotreload(['--watch', n.dir, '--signal', 'HUP', ...FAST, '--', ...n.command]);
      const master = (await hr.waitForLog((r) => r.msg === 'child started')).pid as number;
      await serving(n, master);
      const v1Workers = await workers(master);
      await hr.ready();

      await n.writer.write({ 'nginx.conf': n.conf('v2') });
      await hr.waitForLog(sentTo(master));
      await hr.waitForLog(reloaded);
      await waitForBody(n.url, (b) => b === 'v2\n', 10_000, 'nginx to serve v2');
      const v2Workers = await workers(master, v1Workers);

      // nginx exits 0 on the SIGTERM hotreload passes on, and takes its workers with it.
      assert.deepEqual(await hr.stop('SIGTERM'), { code: 0, signal: null });
      for (const pid of [master, ...v2Workers]) assert.equal(await isAlive(pid), false);
    },
  );
});
