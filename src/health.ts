// What /healthz and /readyz answer. Live: every watcher is watching (or waiting for a path that
// does not exist yet) and the event loop keeps turning. Ready: the initial fingerprint is taken;
// the last reload outcome rides along. It only reads state; it changes nothing.
import type { Clock, TimerHandle } from './clock.js';
import type { PipelineStatus } from './pipeline.js';
import type { Probe } from './server.js';
import type { PathWatcher } from './watch/watcher.js';

/** A heartbeat this late means the event loop is stuck (a sync call that never returns). */
export const STALL_MS = 10_000;
export const BEAT_MS = 1000;

export interface Heartbeat {
  /** How late the next beat is, in milliseconds: 0 while the event loop keeps up. */
  lag(): number;
  stop(): void;
}

export function startHeartbeat(clock: Clock): Heartbeat {
  let last = clock.now();
  let timer: TimerHandle | undefined;
  const beat = () => {
    last = clock.now();
    timer = clock.setTimeout(beat, BEAT_MS);
  };
  beat();
  return {
    lag: () => Math.max(0, clock.now() - last - BEAT_MS),
    stop: () => timer?.cancel(),
  };
}

export function liveness(watchers: readonly PathWatcher[], heartbeat: Heartbeat): Probe {
  const failed = watchers.filter((w) => w.state === 'failed').map((w) => w.watchPath);
  const lagMs = heartbeat.lag();
  const stalled = lagMs > STALL_MS;
  return {
    ok: failed.length === 0 && !stalled,
    detail: { failedWatchers: failed, eventLoopLagMs: lagMs, ...(stalled && { stalled }) },
  };
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
