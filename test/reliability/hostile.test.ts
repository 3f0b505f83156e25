// The hostile-input suite: the built CLI against what a hostile or broken pod puts in its way:
// entries that fail to read, files too large or endless to hash, FIFOs and huge files where a
// flag names a small file, a plain tree of 20,000 files, a log pipe nobody reads, a volume that
// never holds still while hotreload starts, a SIGUSR1 at start, a malformed request, a mount over
// the watched directory. Each case checks that the sidecar is neither wedged, crashed nor
// silenced: it answers, it ends on SIGTERM within its bound, and other changes are still delivered.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, rename, symlink, truncate, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, describe, it } from 'node:test';
import { cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import { memoryCgroup } from '../harness/cgroup.js';
import { FAST, errOf, failed, hotreload, killProcesses, reloaded, volume } from '../harness/e2e.js';
import { MAIN, spawnHotreload, type HotreloadProcess } from '../harness/hotreload-process.js';
import { freePort, request, waitForBody } from '../harness/net.js';
import {
  assertAlive,
  closeEndpoints,
  logsWith,
  metric,
  requireRoot,
  startEndpoint,
  status,
} from '../harness/reliability.js';
import { quietFor, waitFor } from '../harness/wait.js';

afterEach(async () => {
  await killProcesses();
  await closeEndpoints();
});
after(cleanupTempDirs);

const T = { timeout: 60_000 };
const SETTLE_MS = 1300;
const RESYNC = ['--resync-interval', '1s'];

async function endHealthy(hr: HotreloadProcess, base: string | undefined): Promise<void> {
  await assertAlive(hr, base);
  const started = Date.now();
  assert.deepEqual(await hr.stop(), { code: 0, signal: null });
  // --shutdown-timeout (5s by default) plus a second.
  assert.ok(Date.now() - started < 6000, `stopped ${Date.now() - started} ms after SIGTERM`);
}

/** The V8 flags the bundle's first line gives Node (`#!/usr/bin/env -S [NAME=VALUE] node FLAGS`). */
const BUNDLE_FLAGS = readFileSync(MAIN, 'utf8')
  .split('\n', 1)[0]!
  .split(' ')
  .filter((w) => w.startsWith('--'));

/** True when `pid` catches signal number `signo` (SigCgt in /proc/PID/status). */
async function handlesSignal(pid: number, signo: number): Promise<boolean> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const mask = BigInt(`0x${/^SigCgt:\s+([0-9a-f]+)/m.exec(text)![1]}`);
  return (mask & (1n << BigInt(signo - 1))) !== 0n;
}

/** The kB of resident memory of `pid` (VmRSS). */
async function rssKb(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(text)![1]);
}

describe('entries of a watched directory that cannot be hashed', () => {
  it(
    'a broken entry (ENAMETOOLONG), a 64 GiB sparse file and a link to an endless /proc file: hotreload starts, names each, and other changes are delivered',
    T,
    async () => {
      const dir = await makeTempDir('hostile-dir');
      await writeFile(path.join(dir, 'app.conf'), 'v1');
      await symlink(`/${'x'.repeat(300)}`, path.join(dir, 'broken'));
      await writeFile(path.join(dir, 'sparse.bin'), '');
      await truncate(path.join(dir, 'sparse.bin'), 64 * 1024 ** 3);
      await symlink('/proc/self/pagemap', path.join(dir, 'endless'));
      const app = await startEndpoint(path.join(dir, 'app.conf'));
      const hr = hotreload(['--watch', dir, '--http-url', app.url, ...FAST, ...RESYNC]);
      const base = await hr.ready(15_000);
      const warned = logsWith(
        hr,
        'cannot read a watched file; its changes are seen from its size, times and inode until it can be read',
      );
      assert.deepEqual(
        warned.map((r) => [path.basename(r.path as string), r.code]),
        [['broken', 'ENAMETOOLONG']],
      );
      assert.deepEqual(
        hr.logs
          .filter((r) => String(r.msg).startsWith('a watched file is larger than'))
          .map((r) => path.basename(r.path as string))
          .sort(),
        ['endless', 'sparse.bin'],
      );
      assert.equal(await metric(base, 'hotreload_unreadable_files'), 3);
      assert.deepEqual((await status(base)).problems?.map((p) => path.basename(p.path)).sort(), [
        'broken',
        'endless',
        'sparse.bin',
      ]);
      // Replaced in one step (written beside the watched directory, then renamed into it): a write
      // in place can be seen half done (empty) by a busy machine, and that is a change of its own.
      const staged = path.join(await makeTempDir('hostile-staging'), 'app.conf');
      await writeFile(staged, 'v2');
      await rename(staged, path.join(dir, 'app.conf'));
      await hr.waitForLog(reloaded);
      await quietFor(SETTLE_MS);
      assert.deepEqual(app.taken(), ['v2']);
      await endHealthy(hr, base);
    },
  );
});

describe('files named by flags, read within a bound', () => {
  it(
    '--pid-file is a FIFO: the attempt fails at once (E_PID_FILE), and SIGTERM ends hotreload',
    T,
    async () => {
      const { dir, writer } = await volume('pid-fifo', { 'app.conf': 'v1' });
      const pidFile = path.join(await makeTempDir('pid-fifo-file'), 'app.pid');
      execFileSync('mkfifo', [pidFile]);
      const hr = hotreload(['--watch', dir, '--signal', 'HUP', '--pid-file', pidFile, ...FAST]);
      const base = await hr.ready();
      await writer.write({ 'app.conf': 'v2' });
      const failure = errOf(await hr.waitForLog(failed, 5000));
      assert.equal(failure.code, 'E_PID_FILE');
      assert.match(failure.message, /not a regular file/);
      await endHealthy(hr, base);
    },
  );

  it('--pid-file of 300 MB: refused unread (E2BIG), memory stays small', T, async () => {
    const { dir, writer } = await volume('pid-huge', { 'app.conf': 'v1' });
    const pidFile = path.join(await makeTempDir('pid-huge-file'), 'app.pid');
    await writeFile(pidFile, '');
    await truncate(pidFile, 300 * 1024 * 1024);
    const hr = hotreload(['--watch', dir, '--signal', 'HUP', '--pid-file', pidFile, ...FAST]);
    const base = await hr.ready();
    await writer.write({ 'app.conf': 'v2' });
    const failure = errOf(await hr.waitForLog(failed, 5000));
    assert.match(failure.message, /larger than 64 bytes/);
    assert.ok((await rssKb(hr.proc.pid!)) < 150 * 1024, 'the file was not read into memory');
    await endHealthy(hr, base);
  });

  it(
    '--http-header-file is a FIFO: the attempt fails (E_HEADER_FILE), no request is sent, SIGTERM ends hotreload',
    T,
    async () => {
      const { dir, writer } = await volume('header-fifo', { 'app.conf': 'v1' });
      const app = await startEndpoint(path.join(dir, 'app.conf'));
      const tokenFile = path.join(await makeTempDir('header-fifo-file'), 'token');
      execFileSync('mkfifo', [tokenFile]);
      const hr = hotreload([
        '--watch',
        dir,
        '--http-url',
        app.url,
        '--http-header-file',
        `Authorization=${tokenFile}`,
        ...FAST,
      ]);
      const base = await hr.ready();
      await writer.write({ 'app.conf': 'v2' });
      const failure = errOf(await hr.waitForLog(failed, 5000));
      assert.equal(failure.code, 'E_HEADER_FILE');
      assert.equal(app.calls.length, 0);
      await endHealthy(hr, base);
    },
  );

  it(
    '--http-header-file holding a value HTTP cannot carry: a clear E_HEADER_FILE, never a crash',
    T,
    async () => {
      const { dir, writer } = await volume('header-latin1', { 'app.conf': 'v1' });
      const app = await startEndpoint(path.join(dir, 'app.conf'));
      const tokenFile = path.join(await makeTempDir('header-latin1-file'), 'token');
      await writeFile(tokenFile, 'Bearer t€ken\n');
      const hr = hotreload([
        '--watch',
        dir,
        '--http-url',
        app.url,
        '--http-header-file',
        `Authorization=${tokenFile}`,
        ...FAST,
      ]);
      const base = await hr.ready();
      await writer.write({ 'app.conf': 'v2' });
      const failure = errOf(await hr.waitForLog(failed, 5000));
      assert.equal(failure.code, 'E_HEADER_FILE');
      assert.match(failure.message, /outside Latin-1/);
      assert.doesNotMatch(JSON.stringify(hr.logs), /t€ken/);
      await endHealthy(hr, base);
    },
  );

  it(
    '--state-file is a FIFO: read as unreadable at start (no hang), and hotreload runs',
    T,
    async () => {
      const { dir, writer } = await volume('state-fifo', { 'app.conf': 'v1' });
      const app = await startEndpoint(path.join(dir, 'app.conf'));
      const state = path.join(await makeTempDir('state-fifo-file'), 'state.json');
      execFileSync('mkfifo', [state]);
      const hr = hotreload(['--watch', dir, '--http-url', app.url, '--state-file', state, ...FAST]);
      const base = await hr.ready(5000);
      assert.ok(logsWith(hr, 'state file unreadable; starting as without one').length === 1);
      await writer.write({ 'app.conf': 'v2' });
      await hr.waitForLog(reloaded);
      await endHealthy(hr, base);
    },
  );
});

describe('a plain directory of 20,000 files', () => {
  it(
    'one inotify watch per directory (not per file), starts and delivers a change in a 96 MiB memory cgroup (the README asks 128Mi for thousands of files)',
    { ...T, skip: requireRoot() },
    async () => {
      const dir = await makeTempDir('many');
      for (let d = 0; d < 4; d++) {
        const sub = path.join(dir, `d${d}`);
        execFileSync('mkdir', [sub]);
        await Promise.all(
          Array.from({ length: 5000 }, (_, i) =>
            writeFile(path.join(sub, `f${i}.conf`), `${d}:${i}`),
          ),
        );
      }
      const app = await startEndpoint(path.join(dir, 'd0', 'f0.conf'));
      // As the image runs it (the bundle's V8 flags), inside the limit the README recommends.
      const cgroup = await memoryCgroup(96 * 1024 * 1024);
      try {
        const hr = hotreload(
          ['--watch', dir, '--http-url', app.url, ...FAST, '--debounce', '100ms'],
          {},
          { wrap: cgroup.wrap, nodeFlags: BUNDLE_FLAGS },
        );
        const base = await hr.ready(30_000);
        const watched = (await status(base)).watched[0] as { watches?: number };
        assert.equal(watched.watches, 5, 'the root and its four directories');
        await writeFile(path.join(dir, 'd0', 'f0.conf'), 'changed');
        await hr.waitForLog(reloaded, 15_000);
        assert.deepEqual(app.taken(), ['changed']);
        await endHealthy(hr, base);
        assert.equal(await cgroup.oomKills(), 0);
        const usedMiB = (await cgroup.maxUsage()) / 1024 / 1024;
        assert.ok(usedMiB < 96, `used ${usedMiB.toFixed(1)} MiB`);
      } finally {
        await cgroup.remove();
      }
    },
  );
});

describe('stalls', () => {
  it(
    'a log pipe nobody reads: probes answer, reloads are delivered, dropped lines are counted',
    T,
    async () => {
      // Changes logged at trace level (every watch event too) until more than the pipe and the
      // 1 MiB queue hold.
      const { dir, writer } = await volume('log-pipe', { 'app.conf': 'v0' });
      const app = await startEndpoint(path.join(dir, 'app.conf'));
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const proc = spawn(
        process.execPath,
        [
          MAIN,
          '--watch',
          dir,
          '--http-url',
          app.url,
          '--debounce',
          '0',
          '--log-level',
          'trace',
          '--listen',
          `127.0.0.1:${port}`,
        ],
        { stdio: ['ignore', 'pipe', 'ignore'] },
      );
      proc.stdout.pause(); // nobody reads: the pipe fills
      try {
        await waitForBody(`${base}/readyz`, () => true, 10_000, 'ready');
        // Changes in rounds of 200 until lines are dropped (the pipe and the queue are full), at
        // most 20 rounds: how many lines a change logs depends on how swaps coalesce.
        let v = 0;
        for (let round = 1; round <= 20; round++) {
          for (const end = v + 200; v < end;) await writer.write({ 'app.conf': `v${++v}` });
          await waitFor(() => app.taken().includes(`v${v}`), 15_000, `v${v} delivered`);
          if ((await metric(base, 'hotreload_log_lines_dropped_total')) > 0) break;
        }
        assert.equal((await request(`${base}/healthz`)).status, 200);
        assert.ok((await metric(base, 'hotreload_log_lines_dropped_total')) > 0, 'nothing dropped');
        proc.kill('SIGTERM');
        const code = await new Promise((resolve) => proc.once('exit', (c) => resolve(c)));
        assert.equal(code, 0);
      } finally {
        proc.kill('SIGKILL');
      }
    },
  );

  it(
    'SIGTERM while start-up waits for a volume that never holds still: exits at once',
    T,
    async () => {
      // Something other than the kubelet moves the generation to a new name and ..data after
      // it, without pause: no read of a generation ends before ..data names another one.
      const keys = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, `${i}`]));
      const { dir } = await volume('unstable', keys);
      const flipper = spawn(process.execPath, [
        '-e',
        `const fs = require('fs'); const d = ${JSON.stringify(dir)};
         let cur = fs.readlinkSync(d + '/..data');
         for (let n = 0; ; n++) {
           const next = '..2026_01_01_00_00_00.' + n;
           fs.renameSync(d + '/' + cur, d + '/' + next);
           fs.symlinkSync(next, d + '/..data_tmp');
           fs.renameSync(d + '/..data_tmp', d + '/..data');
           cur = next;
         }`,
      ]);
      try {
        const hr = hotreload(['--watch', dir, '--dry-run', ...FAST]);
        const failing = await hr.waitForLog(
          (r) => r.msg === 'fingerprint failed; trying again',
          15_000,
        );
        assert.equal(errOf(failing).code, 'E_FINGERPRINT_UNSTABLE');
        const started = Date.now();
        assert.deepEqual(await hr.stop('SIGTERM', 8000), { code: 0, signal: null });
        assert.ok(Date.now() - started < 6000, `stopped ${Date.now() - started} ms after SIGTERM`);
        assert.ok(
          hr.logs.some((r) => r.msg === 'stopping' && r.during === 'start-up'),
          JSON.stringify(hr.logs.slice(-5)),
        );
      } finally {
        flipper.kill('SIGKILL');
      }
    },
  );
});

describe('security', () => {
  // The bundle's first line starts Node with --disable-sigusr1, and its first statement handles
  // SIGUSR1: from then on, during start-up and after, a SIGUSR1 from another container of the
  // pod is ignored. (Before Node has started, the kernel's default action for SIGUSR1 applies.)
  // Started as `node dist/main.js`, without the flag, Node's own SIGUSR1 handler is in place
  // until the bundle's first statement runs (the README says to run the file or the image).
  it(
    'SIGUSR1 during start-up and after never opens the inspector (the bundle run as the image runs it)',
    T,
    async () => {
      const { dir } = await volume('usr1', { 'app.conf': 'v1' });
      const args = ['--watch', dir, '--dry-run', ...FAST];
      const hr = spawnHotreload(MAIN, args, { env: { PATH: process.env.PATH ?? '' } });
      await waitFor(
        async () => handlesSignal(hr.proc.pid!, 10).catch(() => false),
        5000,
        'a SIGUSR1 handler',
      );
      let sent = 0;
      const blast = setInterval(() => (hr.proc.kill('SIGUSR1'), sent++), 2);
      try {
        const base = await hr.ready();
        await sleep(200);
        clearInterval(blast);
        assert.ok(sent > 10, `sent ${sent}`);
        const listening = await new Promise<boolean>((resolve) => {
          const s = net.connect(9229, '127.0.0.1');
          s.once('connect', () => (s.destroy(), resolve(true)));
          s.once('error', () => resolve(false));
        });
        assert.equal(listening, false, 'something listens on 127.0.0.1:9229');
        await endHealthy(hr, base);
      } finally {
        clearInterval(blast);
      }
    },
  );

  it('a malformed request target is answered 400, and the server keeps serving', T, async () => {
    const { dir } = await volume('bad-request', { 'app.conf': 'v1' });
    const hr = hotreload(['--watch', dir, '--dry-run', ...FAST]);
    const base = await hr.ready();
    const port = Number(new URL(base!).port);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.end('GET //[ HTTP/1.1\r\nHost: x\r\n\r\n'));
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString()));
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    await endHealthy(hr, base);
  });
});

describe('the watched directory changes under the watch', () => {
  it(
    'a filesystem mounted over it is watched from the next resync, and changes in it are delivered',
    { ...T, skip: requireRoot() },
    async () => {
      const dir = await makeTempDir('mounted');
      await writeFile(path.join(dir, 'app.conf'), 'v1');
      const app = await startEndpoint(path.join(dir, 'app.conf'));
      const hr = hotreload(['--watch', dir, '--http-url', app.url, ...FAST, ...RESYNC]);
      const base = await hr.ready();
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', dir]);
      try {
        await writeFile(path.join(dir, 'app.conf'), 'v2');
        await hr.waitForLog(
          (r) => String(r.msg).startsWith('watched directory was replaced or mounted over'),
          5000,
        );
        await hr.waitForLog(reloaded, 5000);
        const before = app.calls.length;
        // Only an inotify watch on the new filesystem sees this before the next resync.
        await rename(path.join(dir, 'app.conf'), path.join(dir, 'app.conf.old'));
        await writeFile(path.join(dir, 'app.conf'), 'v3');
        await waitFor(() => app.taken().includes('v3'), 5000, 'v3');
        assert.ok(app.calls.length > before);
        await endHealthy(hr, base);
      } finally {
        execFileSync('umount', ['-l', dir]);
      }
    },
  );
});
