// What /healthz and /readyz say: a failed watcher or a stalled event loop makes hotreload not
// live; readiness carries the last reload outcome. Doubles for the watchers, a clock whose timers
// can be held back to play a stuck event loop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock } from '../../src/clock.js';
import { BEAT_MS, STALL_MS, liveness, readiness, startHeartbeat } from '../../src/health.js';
import type { PathWatcher, WatchState } from '../../src/watch/watcher.js';
import { FakeClock } from '../support/fake-clock.js';

function watcher(watchPath: string, state: WatchState): PathWatcher {
  return {
    watchPath,
    state,
    kind: 'kubelet',
    mode: 'inotify',
    watches: 1,
    settled: Promise.resolve(),
    recheck: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

/** A clock whose timers never fire: the event loop is stuck while time goes on. */
function stuckClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  return {
    now: () => now,
    setTimeout: () => ({ cancel: () => undefined }),
    advance: (ms) => (now += ms),
  };
}

describe('liveness', () => {
  it('is live while every watcher watches or waits and the heartbeat keeps beating', async () => {
    const clock = new FakeClock();
    const beat = startHeartbeat(clock);
    await clock.tick(STALL_MS * 3);
    const probe = liveness([watcher('/a', 'watching'), watcher('/b', 'waiting')], beat);
    assert.equal(probe.ok, true);
    assert.deepEqual(probe.detail, { failedWatchers: [], eventLoopLagMs: 0 });
    beat.stop();
  });

  it('is not live while a watcher has failed, and names it', () => {
    const probe = liveness(
      [watcher('/a', 'watching'), watcher('/b', 'failed')],
      startHeartbeat(new FakeClock()),
    );
    assert.equal(probe.ok, false);
    assert.deepEqual(probe.detail.failedWatchers, ['/b']);
  });

  it('is not live once the heartbeat is more than STALL_MS late', () => {
    const clock = stuckClock();
    const beat = startHeartbeat(clock);
    clock.advance(BEAT_MS);
    assert.equal(liveness([], beat).detail.eventLoopLagMs, 0, 'the next beat is due, not late');
    clock.advance(STALL_MS);
    assert.equal(liveness([], beat).ok, true, 'exactly STALL_MS late is still live');
    clock.advance(1);
    const probe = liveness([], beat);
    assert.equal(probe.ok, false);
    assert.deepEqual(probe.detail, {
      failedWatchers: [],
      eventLoopLagMs: STALL_MS + 1,
      stalled: true,
    });
  });
});

describe('readiness', () => {
  it('is ready once the initial fingerprint is taken, and carries the last outcome', () => {
    const lastReload = {
      at: 1,
      ok: false,
      result: 'failure' as const,
      action: 'http',
      target: 'POST http://127.0.0.1/',
      attempt: 2,
      durationMs: 3,
      fingerprint: 'f',
    };
    const status = {
      applied: 'a',
      current: 'f',
      lastChange: undefined,
      lastReload,
      pending: undefined,
      gaveUp: undefined,
      rejected: undefined,
      targets: [],
      fingerprintFailing: undefined,
      problems: [],
    };
    assert.equal(readiness(false, status).ok, false);
    const probe = readiness(true, status);
    assert.equal(probe.ok, true);
    assert.deepEqual(probe.detail, { lastReload, pending: null, rejected: null });
  });
});
