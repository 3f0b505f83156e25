// Wires one running hotreload from a Config and its dependencies: a watcher per path feeding
// the RunScheduler, the Pipeline it runs, the periodic resync, and the server. It owns start-up and
// shutdown order; it does not parse options or choose exit codes (main.ts does).
import type { Logger } from 'pino';
import type { Action } from './actions/action.js';
import { rehearse } from './reload/rehearsal.js';
import type { Clock, TimerHandle } from './lib/clock.js';
import type { Config } from './config/config.js';
import { RunScheduler } from './reload/scheduler.js';
import { Fingerprinter, type Snapshot, type SnapshotOptions } from './volume/fingerprint.js';
import { fileFilter } from './volume/select.js';
import { liveness, readiness } from './serve/health.js';
import type { AppliedStore } from './reload/applied-store.js';
import type { Validator } from './validate/validators.js';
import type { Metrics } from './metrics/hotreload.js';
import { errorFields } from './lib/errors.js';
import { logObserver, metricsObserver, observers, short } from './reload/observer.js';
import { Pipeline } from './reload/pipeline.js';
import { startServer, type RunningServer } from './serve/server.js';
import type { PathWatcher, WatchOptions } from './watch/watcher.js';

/**
 * After --shutdown-timeout, how long an aborted reload gets to end, and the state file to be
 * written: together well within the second main's watchdog allows past --shutdown-timeout.
 */
const ABORT_GRACE_MS = 300;
const FLUSH_MS = 300;
/** How long start-up waits for the initial scans of the watchers (a huge plain tree is slow). */
const WATCH_SETTLE_TIMEOUT_MS = 30_000;

export interface AppDeps {
  readonly config: Config;
  readonly actions: readonly Action[];
  readonly clock: Clock;
  readonly random: () => number;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly version: string;
  readonly takeSnapshot: (
    paths: readonly string[],
    previous: Snapshot | undefined,
    opts: SnapshotOptions,
  ) => Promise<Snapshot>;
  readonly watchPath: (path: string, opts: WatchOptions) => PathWatcher;
  readonly validators?: readonly Validator[];
  readonly store?: AppliedStore;
  /** At start: whether the content was written during the pod's life (see pod-start.ts). */
  readonly changedDuringPod?: (snapshot: Snapshot) => Promise<boolean>;
  /** The watched paths that are subPath mounts (never updated by Kubernetes), for a warning. */
  readonly findSubPathMounts?: (
    watched: readonly string[],
  ) => Promise<{ watched: string; mountPoint: string }[]>;
}

export interface App {
  /** The server, when --listen is not ''. */
  readonly server: RunningServer | undefined;
  /** Re-fingerprints now, as the periodic resync does. */
  resync(reason: string): void;
  /** Stops watching, lets an in-flight reload finish for up to `timeoutMs`, closes the server. */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * Starts watching, takes the initial fingerprint and starts the server. When `stop` aborts
 * meanwhile (SIGTERM during a slow start), what was started is closed and the abort reason is
 * thrown: start-up never holds up a stop.
 */
export async function startApp(deps: AppDeps, stop?: AbortSignal): Promise<App> {
  const { config, clock, log, metrics } = deps;
  // What happens is told to one observer: the metrics and the log implement it.
  const observer = observers(metricsObserver(metrics, clock), logObserver(log));
  const fingerprinter = new Fingerprinter(
    config.watch,
    deps.takeSnapshot,
    fileFilter(config.selection),
  );
  // Every run goes through the scheduler, with its reasons, and every timer that leads to one
  // (quiet period, resync, retries) is set there. It is held until the initial fingerprint is
  // taken: an event on a path already watched while another is still being set up must not run
  // before (it would compare against nothing); it runs once the hold ends.
  const scheduler: RunScheduler = new RunScheduler((reasons) => pipeline.run(reasons), {
    quietMs: config.debounceMs,
    maxWaitMs: config.maxWaitMs,
    clock,
    onError: (err) => log.error({ err: errorFields(err) }, 'reload run failed unexpectedly'),
    whileBusy: () => void pipeline.checkSuperseded(),
    held: true,
    resyncIntervalMs: config.resyncIntervalMs,
    // A directory replaced or mounted over without an event the watch could see is watched anew.
    beforeResync: () => {
      for (const w of watchers) void w.recheck();
    },
  });
  const pipeline: Pipeline = new Pipeline({
    takeSnapshot: (fresh) => fingerprinter.snapshot(fresh),
    validators: deps.validators ?? [],
    actions: deps.actions,
    store: deps.store,
    retry: config.retry,
    clock,
    random: deps.random,
    observer,
    schedule: (reason, delayMs, onDue): TimerHandle => scheduler.after(reason, delayMs, onDue),
    dryRun: config.dryRun,
    changedDuringPod: deps.changedDuringPod,
  });

  observer.watching(config.watch);
  const watchers = config.watch.map((p) =>
    deps.watchPath(p, {
      clock,
      log,
      onEvent: (e) => {
        fingerprinter.note(e.watchPath, e.below);
        observer.watchEvent({ watchPath: e.watchPath, event: e.event, path: e.path });
        scheduler.trigger('change');
      },
      onError: (err) => observer.watchError(p, errorFields(err)),
    }),
  );
  const abandon = async () => {
    scheduler.stop();
    pipeline.stop();
    await Promise.all(watchers.map((w) => w.close()));
  };
  let runAtOnce: boolean;
  try {
    // The initial fingerprint is taken once every watch is in place, so nothing falls in between.
    const settled = Promise.all(watchers.map((w) => w.settled));
    await raceTimeout(clock, settled, WATCH_SETTLE_TIMEOUT_MS, stop);
    stop?.throwIfAborted();
    await warnAboutSubPaths(deps);
    runAtOnce = await pipeline.init(config.reloadOnStart, stop);
    stop?.throwIfAborted();
  } catch (err) {
    await abandon();
    throw err;
  }
  scheduler.release();
  if (runAtOnce) scheduler.runNow('start');

  const status = () => ({
    version: deps.version,
    watched: watchers.map((w) => ({
      path: w.watchPath,
      kind: w.kind ?? null,
      state: w.state,
      mode: w.mode,
      watches: w.watches,
    })),
    ...pipeline.status(),
  });
  let server: RunningServer | undefined;
  try {
    server =
      config.listen &&
      (await startServer(config.listen, {
        registry: metrics.registry,
        metricsPath: config.metricsPath,
        health: () => liveness(watchers),
        ready: () => readiness(pipeline.ready, pipeline.status()),
        status,
      }));
  } catch (err) {
    await Promise.all(watchers.map((w) => w.close()));
    scheduler.stop();
    throw err;
  }
  const initial = pipeline.status();
  log.info(
    {
      watch: config.watch,
      fingerprint: initial.current && short(initial.current),
      listen: server && `${server.address.address}:${server.address.port}`,
    },
    'hotreload started',
  );
  // Ready: what the first reload would compile is compiled now, in the background.
  for (const action of deps.actions) void action.warmUp?.();
  void rehearse(clock, deps.version);

  return {
    server,
    resync(reason) {
      log.info({ reason }, 'resync requested');
      for (const w of watchers) void w.recheck();
      scheduler.runNow('resync');
    },
    async stop(timeoutMs) {
      scheduler.stop();
      pipeline.stop();
      await Promise.all(watchers.map((w) => w.close()));
      if (scheduler.busy) {
        log.info({ timeoutMs }, 'waiting for the in-flight reload before exiting');
        const finished = await raceTimeout(clock, scheduler.settled(), timeoutMs);
        if (!finished) {
          log.warn({ timeoutMs }, 'in-flight reload did not finish in time; aborting it');
          pipeline.abortInFlight();
          await raceTimeout(clock, scheduler.settled(), ABORT_GRACE_MS);
        }
      }
      // The state file is on an emptyDir; one that does not answer does not hold the stop.
      await raceTimeout(clock, pipeline.flush(), FLUSH_MS);
      await server?.close();
    },
  };
}

async function warnAboutSubPaths(deps: AppDeps): Promise<void> {
  for (const m of (await deps.findSubPathMounts?.(deps.config.watch)) ?? []) {
    deps.log.warn(
      { watch: m.watched, mountPoint: m.mountPoint },
      'this is a subPath mount: Kubernetes never updates it; mount the whole volume instead (kubernetes#50345)',
    );
  }
}

/** True when `p` settled within `ms`; false when the time ran out or `stop` aborted first. */
async function raceTimeout(
  clock: Clock,
  p: Promise<unknown>,
  ms: number,
  stop?: AbortSignal,
): Promise<boolean> {
  if (stop?.aborted) return false;
  let timer: TimerHandle | undefined;
  let onStop: (() => void) | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = clock.setTimeout(() => resolve(false), ms);
    onStop = () => resolve(false);
    stop?.addEventListener('abort', onStop, { once: true });
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    timer?.cancel();
    if (onStop) stop?.removeEventListener('abort', onStop);
  }
}
