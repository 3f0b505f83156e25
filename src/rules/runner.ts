// One rule running: a watcher per path feeding its RunScheduler, the Pipeline it runs (its own
// delivery state and retries), and the periodic resync. A rule knows its name only to label what
// it tells: its metrics, its log lines (with --config) and its /status entry. The server and the
// set of rules are app.ts's and rules/live.ts's.
import type { Logger } from 'pino';
import type { Action } from '../actions/action.js';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Config } from '../config/config.js';
import { RunScheduler } from '../reload/scheduler.js';
import { Fingerprinter, type Snapshot, type SnapshotOptions } from '../volume/fingerprint.js';
import { fileFilter } from '../volume/select.js';
import type { AppliedStore } from '../reload/applied-store.js';
import type { Validator } from '../validate/validators.js';
import type { Metrics } from '../metrics/hotreload.js';
import { errorFields } from '../lib/errors.js';
import { logObserver, metricsObserver, observers } from '../reload/observer.js';
import { Pipeline, type PipelineStatus } from '../reload/pipeline.js';
import type { PathWatcher, WatchOptions } from '../watch/watcher.js';

/**
 * After the stop's timeout, how long an aborted reload gets to end, and the state file to be
 * written: together well within the second main's watchdog allows past --shutdown-timeout.
 */
const ABORT_GRACE_MS = 300;
const FLUSH_MS = 300;
/** How long start-up waits for the initial scans of the watchers (a huge plain tree is slow). */
const WATCH_SETTLE_TIMEOUT_MS = 30_000;

/** One rule, with what it acts with. */
export interface RuleDeps {
  readonly name: string;
  /** The rule as written in the rules file ('' for the flags): unchanged, it keeps running. */
  readonly source?: string;
  readonly config: Config;
  /** The rule's log (with --config, its lines carry the rule's name); the shared one if absent. */
  readonly log?: Logger;
  readonly actions: readonly Action[];
  readonly validators?: readonly Validator[];
  readonly store?: AppliedStore;
  /** At start: whether the content was written during the pod's life (see pod-start.ts). */
  readonly changedDuringPod?: (snapshot: Snapshot) => Promise<boolean>;
}

/** What every rule shares: the clock, the log, the metrics, the file system. */
export interface RuleEnv {
  readonly clock: Clock;
  readonly random: () => number;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly takeSnapshot: (
    paths: readonly string[],
    previous: Snapshot | undefined,
    opts: SnapshotOptions,
  ) => Promise<Snapshot>;
  readonly watchPath: (path: string, opts: WatchOptions) => PathWatcher;
  /** The watched paths that are subPath mounts (never updated by Kubernetes), for a warning. */
  readonly findSubPathMounts?: (
    watched: readonly string[],
  ) => Promise<{ watched: string; mountPoint: string }[]>;
}

export interface RuleStatus extends PipelineStatus {
  readonly watched: readonly {
    path: string;
    kind: string | null;
    state: string;
    mode: string;
    watches: number;
  }[];
}

export interface RunningRule {
  readonly name: string;
  readonly deps: RuleDeps;
  readonly watchers: readonly PathWatcher[];
  /** The initial fingerprint is taken. */
  readonly ready: boolean;
  status(): RuleStatus;
  /** Re-fingerprints now, as the periodic resync does. */
  resync(): void;
  /** Stops watching, lets an in-flight reload finish for up to `timeoutMs`, writes the state. */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * Starts watching, takes the initial fingerprint and, when a target must be told at start, runs.
 * When `stop` aborts meanwhile (SIGTERM during a slow start), what was started is closed and the
 * abort reason is thrown: start-up never holds up a stop.
 */
export async function startRule(
  deps: RuleDeps,
  env: RuleEnv,
  stop?: AbortSignal,
): Promise<RunningRule> {
  const { config } = deps;
  const { clock } = env;
  const log = deps.log ?? env.log;
  // What happens is told to one observer: the metrics and the log implement it.
  const observer = observers(metricsObserver(env.metrics, clock, deps.name), logObserver(log));
  const fingerprinter = new Fingerprinter(
    config.watch,
    env.takeSnapshot,
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
    random: env.random,
    observer,
    schedule: (reason, delayMs, onDue): TimerHandle => scheduler.after(reason, delayMs, onDue),
    dryRun: config.dryRun,
    changedDuringPod: deps.changedDuringPod,
  });

  observer.watching(config.watch);
  const watchers = config.watch.map((p) =>
    env.watchPath(p, {
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
  const close = async () => {
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
    for (const m of (await env.findSubPathMounts?.(config.watch)) ?? []) {
      log.warn(
        { watch: m.watched, mountPoint: m.mountPoint },
        'this is a subPath mount: Kubernetes never updates it; mount the whole volume instead (kubernetes#50345)',
      );
    }
    runAtOnce = await pipeline.init(config.reloadOnStart, stop);
    stop?.throwIfAborted();
  } catch (err) {
    await close();
    throw err;
  }
  scheduler.release();
  if (runAtOnce) scheduler.runNow('start');

  return {
    name: deps.name,
    deps,
    watchers,
    get ready() {
      return pipeline.ready;
    },
    status: () => ({
      watched: watchers.map((w) => ({
        path: w.watchPath,
        kind: w.kind ?? null,
        state: w.state,
        mode: w.mode,
        watches: w.watches,
      })),
      ...pipeline.status(),
    }),
    resync() {
      for (const w of watchers) void w.recheck();
      scheduler.runNow('resync');
    },
    async stop(timeoutMs) {
      await close();
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
    },
  };
}

/** True when `p` settled within `ms`; false when the time ran out or `stop` aborted first. */
export async function raceTimeout(
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
