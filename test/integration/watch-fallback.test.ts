// When the kernel refuses an inotify watch (ENOSPC: fs.inotify.max_user_watches reached), the
// watcher falls back to polling the content and says which sysctl to raise.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { watch } from 'node:fs';
import { realClock } from '../../src/lib/clock.js';
import type { HotreloadError } from '../../src/lib/errors.js';
import { watchPath, type WatchEvent, type WatchFactory } from '../../src/watch/watcher.js';
import { AtomicWriter, cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import { logSink } from '../doubles/log-sink.js';
import { waitFor } from '../harness/wait.js';

after(cleanupTempDirs);

const realWatch: WatchFactory = (dir, listener) =>
  watch(dir, { encoding: 'buffer' }, (event, name) => listener(event, name));

/** fs.watch, failing as inotify_add_watch(2) does when the user is out of watches, `times` times. */
function refusingWatch(code: string, times = Infinity): WatchFactory {
  let left = times;
  return (dir, listener) => {
    if (left-- > 0) {
      throw Object.assign(new Error(`${code}: System limit for number of file watchers reached`), {
        code,
      });
    }
    return realWatch(dir, listener);
  };
}

describe('watcher without inotify watches', () => {
  for (const code of ['ENOSPC', 'EMFILE']) {
    it(`falls back to polling on ${code}, warns with the sysctl to raise, and still sees updates`, async () => {
      const dir = await makeTempDir('fallback');
      const writer = new AtomicWriter(dir);
      await writer.write({ 'app.conf': 'v1' });
      const events: WatchEvent[] = [];
      const errors: HotreloadError[] = [];
      const sink = logSink();
      const w = watchPath(dir, {
        clock: realClock,
        log: sink.log,
        onEvent: (e) => events.push(e),
        onError: (e) => errors.push(e as HotreloadError),
        pollFallbackMs: 100,
        watchFactory: refusingWatch(code),
      });
      try {
        await w.settled;
        await waitFor(() => w.mode === 'polling', 5000, 'polling mode');
        assert.equal(w.state, 'watching');
        assert.equal(errors[0]?.code, 'E_WATCH_LIMIT');
        const warning = sink.records.find((r) => r.level === 'warn');
        assert.match(String(warning?.msg), /fs\.inotify\.max_user_watches/);
        await waitFor(() => events.some((e) => e.event === 'poll'), 2000, 'a poll');
      } finally {
        await w.close();
      }
      const polls = events.length;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(events.length, polls, 'no poll after close');
    });
  }
});

describe('watcher after a passing EMFILE', () => {
  it('polls while the kernel refuses, then watches with inotify again, and says so', async () => {
    const dir = await makeTempDir('emfile');
    const writer = new AtomicWriter(dir);
    await writer.write({ 'app.conf': 'v1' });
    const events: WatchEvent[] = [];
    const sink = logSink();
    const w = watchPath(dir, {
      clock: realClock,
      log: sink.log,
      onEvent: (e) => events.push(e),
      onError: () => undefined,
      pollFallbackMs: 50,
      retryInotifyMs: 200,
      watchFactory: refusingWatch('EMFILE', 2),
    });
    try {
      await w.settled;
      assert.equal(w.mode, 'polling');
      await waitFor(() => w.mode === 'inotify' && w.state === 'watching', 5000, 'inotify again');
      assert.ok(
        sink.records.some((r) => r.msg === 'inotify watches available again; polling stopped'),
      );
      assert.equal(
        sink.records.filter((r) => r.level === 'warn').length,
        1,
        'the limit is warned about once, not at every retry',
      );
      const polls = events.filter((e) => e.event === 'poll').length;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(events.filter((e) => e.event === 'poll').length, polls, 'polling stopped');
      const seen = events.length;
      await writer.write({ 'app.conf': 'v2' });
      await waitFor(() => events.length > seen, 5000, 'an inotify event for the update');
    } finally {
      await w.close();
    }
  });
});

describe('watcher that breaks', () => {
  it('reports the failure, tries again, and reports the path as appeared once watching works', async () => {
    const dir = await makeTempDir('broken');
    const writer = new AtomicWriter(dir);
    await writer.write({ 'app.conf': 'v1' });
    const events: WatchEvent[] = [];
    const errors: HotreloadError[] = [];
    const sink = logSink();
    let refusals = 2;
    const w = watchPath(dir, {
      clock: realClock,
      log: sink.log,
      onEvent: (e) => events.push(e),
      onError: (e) => errors.push(e as HotreloadError),
      retryFailedMs: 100,
      // An error that is neither a missing path nor an inotify limit, twice.
      watchFactory: (dir, listener) => {
        if (refusals-- > 0) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
        return realWatch(dir, listener);
      },
    });
    try {
      await w.settled;
      assert.equal(w.state, 'failed');
      assert.equal(errors[0]?.code, 'E_WATCH');
      assert.match(errors[0]?.message ?? '', /EIO/);
      await waitFor(() => w.state === 'watching', 5000, 'watching after the retries');
      assert.equal(errors.length, 2, 'one error per failed try');
      assert.ok(events.some((e) => e.event === 'appeared'));
      assert.ok(sink.records.some((r) => r.msg === 'watching again after a failure'));

      const seen = events.length;
      await writer.write({ 'app.conf': 'v2' });
      await waitFor(() => events.length > seen, 5000, 'an event for the update');
    } finally {
      await w.close();
    }
  });
});
