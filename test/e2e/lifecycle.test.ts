// End to end: how long the built CLI stays up and how often it tries, in the cases the process
// actions make likely: no server to keep it alive (--listen ''), a reload still in flight at
// SIGTERM, and a change it has given up on.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { startStubbornServer } from '../harness/apps.js';
import { AtomicWriter, cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import { FAST, TIMEOUT, hotreload, killProcesses, volume } from '../harness/e2e.js';
import type { Exit, HotreloadProcess } from '../harness/hotreload-process.js';
import { quietFor } from '../harness/wait.js';

afterEach(killProcesses);
after(cleanupTempDirs);

/** Fast timing without the server: nothing but hotreload's own work keeps it running. */
const NO_SERVER = [...FAST, '--listen', '']; // a flag given twice takes its last value

/** The exit, if hotreload exited within `ms`. */
async function exitWithin(hr: HotreloadProcess, ms: number): Promise<Exit | undefined> {
  return Promise.race([hr.exited, quietFor(ms).then(() => undefined)]);
}

const msgs = (hr: HotreloadProcess) => hr.logs.map((r) => r.msg);

describe('hotreload without its server (--listen "")', () => {
  // Found by this suite: the real clock unrefs its timers, so once nothing else holds the event
  // loop (no server, no watch handle yet) Node ends the process with code 0 mid-way.
  it('keeps waiting for a watched path that does not exist yet', TIMEOUT, async () => {
    const parent = await makeTempDir('late-no-server');
    const dir = path.join(parent, 'config');
    const hr = hotreload(['--watch', dir, '--dry-run', ...NO_SERVER]);
    await hr.ready();
    const early = await exitWithin(hr, 1000);
    assert.equal(
      early,
      undefined,
      `exited ${JSON.stringify(early)}; logs: ${msgs(hr).join(' | ')}`,
    );
    await mkdir(dir);
    await new AtomicWriter(dir).write({ 'app.conf': 'v1' });
    await hr.waitForLog((r) => r.msg === 'dry run: would reload');
    assert.deepEqual(await hr.stop(), { code: 0, signal: null });
  });

  it(
    'on SIGTERM, lets an in-flight --restart run up to --shutdown-timeout, then logs stopped',
    TIMEOUT,
    async () => {
      const { dir, writer } = await volume('shutdown-no-server', { 'app.conf': 'v1' });
      const tag = `hotreload-e2e-stubborn-${process.pid}-${Date.now()}`;
      await startStubbornServer(path.join(dir, 'app.conf'), tag);
      const hr = hotreload([
        '--watch',
        dir,
        '--restart',
        '--process-match',
        tag,
        '--stop-timeout',
        '5s',
        '--shutdown-timeout',
        '1s',
        ...NO_SERVER,
      ]);
      await hr.ready();
      await writer.write({ 'app.conf': 'v2' });
      await hr.waitForLog((r) => r.msg.startsWith('stopping '));

      const start = Date.now();
      const exit = await hr.stop('SIGTERM');
      const took = Date.now() - start;
      assert.ok(
        took >= 900,
        `exited ${took}ms after SIGTERM; logs: ${msgs(hr).slice(-4).join(' | ')}`,
      );
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(msgs(hr).includes('in-flight reload did not finish in time; aborting it'));
      assert.ok(msgs(hr).includes('stopped'));
    },
  );
});

describe('--retries', () => {
  // Found by this suite: after giving up, a run for the same content (here caused by an event
  // that changes nothing, in the field by the volume's own trailing events with a short
  // --debounce) starts the attempts over at 1.
  it(
    'makes one attempt per change in all, even when an event that changes nothing comes during it',
    TIMEOUT,
    async () => {
      const { dir, writer } = await volume('retries', { 'app.conf': 'v1' });
      const stray = path.join(dir, 'stray');
      // The first attempt creates a file beside ..data: not part of the volume's content, but an
      // event for its watch.
      const hr = hotreload([
        '--watch',
        dir,
        '--exec',
        `[ -e ${stray} ] || touch ${stray}; sleep 0.3; exit 1`,
        '--retries',
        '1',
        ...NO_SERVER,
      ]);
      await hr.ready();
      await writer.write({ 'app.conf': 'v2' });
      await hr.waitForLog((r) => r.msg.startsWith('reload failed; giving up'));
      await quietFor(1000);
      const attempts = hr.logs.filter((r) => r.msg.startsWith('reload failed'));
      assert.equal(
        attempts.length,
        1,
        `attempts: ${JSON.stringify(attempts.map((r) => r.attempt))}`,
      );
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );
});
