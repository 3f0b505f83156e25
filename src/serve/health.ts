// What /healthz and /readyz answer. Live: every watcher is watching (or waiting for a path that
// does not exist yet); an event loop that no longer turns does not answer at all. Ready: the
// initial fingerprint is taken; the last reload outcome rides along. It only reads state.
import type { PipelineStatus } from '../reload/pipeline.js';
import type { Probe } from './server.js';
import type { PathWatcher } from '../watch/watcher.js';

/**
 * Live while no watcher has failed. A stuck event loop needs no check of its own: it cannot answer
 * the probe, and the probe's timeout is the failure. (A timer beating every second to measure the
 * loop's lag would wake an idle sidecar 60 times a minute in every pod, for nothing more.)
 */
export function liveness(watchers: readonly PathWatcher[]): Probe {
  const failed = watchers.filter((w) => w.state === 'failed').map((w) => w.watchPath);
  return { ok: failed.length === 0, detail: { failedWatchers: failed } };
}

export function readiness(ready: boolean, status: PipelineStatus): Probe {
  return {
    ok: ready,
    detail: {
      lastReload: status.lastReload ?? null,
      pending: status.pending ?? null,
      rejected: status.rejected ?? null,
    },
  };
}
