// What /healthz and /readyz say: a failed watcher makes hotreload not live (a stuck event loop
// does not answer at all); readiness carries the last reload outcome. Doubles for the watchers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { liveness, readiness } from '../../../src/serve/health.js';
import type { PathWatcher, WatchState } from '../../../src/watch/watcher.js';

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

describe('liveness', () => {
  it('is live while every watcher watches or waits', () => {
    const probe = liveness([watcher('/a', 'watching'), watcher('/b', 'waiting')]);
    assert.equal(probe.ok, true);
    assert.deepEqual(probe.detail, { failedWatchers: [] });
  });

  it('is not live while a watcher has failed, and names it', () => {
    const probe = liveness([watcher('/a', 'watching'), watcher('/b', 'failed')]);
    assert.equal(probe.ok, false);
    assert.deepEqual(probe.detail.failedWatchers, ['/b']);
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
