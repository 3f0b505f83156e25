// What the reload loop tells the outside world, as events: the pipeline and the watch wiring emit
// them to one ReloadObserver, and the metrics and the log each implement it (observers() joins
// them). The pipeline knows neither Prometheus nor pino; /status reads the pipeline's own state.
// What it does not do: decide anything. Every event happened; observers only record it.
import type { Logger } from 'pino';
import type { Clock } from '../lib/clock.js';
import type { ErrorFields } from '../lib/errors.js';
import { addRule, setApplied, type Metrics, type ReloadResult } from '../metrics/hotreload.js';
import { MAX_HASHED_BYTES, TOO_LARGE, type Problem } from '../volume/fingerprint.js';

/** One delivery target, as metrics label it. */
export interface TargetRef {
  readonly action: string;
  readonly target: string;
}

/** How one attempt of one target went. */
export interface AttemptOutcome extends TargetRef {
  readonly at: number;
  readonly ok: boolean;
  readonly result: ReloadResult;
  readonly attempt: number;
  readonly durationMs: number;
  readonly fingerprint: string;
  readonly error?: ErrorFields;
}

/** What follows a failed attempt. */
export type AfterFailure =
  | { readonly kind: 'retry'; readonly retryInMs: number }
  | { readonly kind: 'gave-up'; readonly maxAttempts: number }
  | { readonly kind: 'cut-short' };

/** A change set as logs and /status show it (lists cut, with the full counts). */
export interface ShownChange {
  readonly fingerprint: string;
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  readonly counts?: { readonly added: number; readonly changed: number; readonly removed: number };
}

export interface ReloadObserver {
  /** The paths watched, and that nothing happened on them yet. */
  watching(watchPaths: readonly string[]): void;
  watchEvent(e: { watchPath: string; event: string; path: string }): void;
  watchError(watchPath: string, err: ErrorFields): void;
  /** The delivery targets, none known to hold the content yet. */
  targets(targets: readonly TargetRef[]): void;
  /** The initial fingerprint, and why each target is or is not told at start. */
  started(e: {
    readonly fingerprint: string;
    readonly files: number;
    readonly reasons: Readonly<Record<string, string>>;
    readonly stateFile: 'matches' | 'differs' | undefined;
    readonly toldAtStart: boolean;
  }): void;
  /** Watched paths are missing: no delivery until they are back (said once per set). */
  waitingFor(missing: readonly string[]): void;
  /** Entries whose content cannot be compared: those not reported before, and how many in all. */
  unreadable(newlyFound: readonly Problem[], count: number): void;
  fingerprintFailed(e: { err: ErrorFields; failures: number; retryInMs: number }): void;
  changed(change: ShownChange): void;
  /** A pending retry is dropped: the content is back to what the target holds. */
  retryDropped(target: TargetRef): void;
  /** A target is told content it may already hold ('state-unknown'), or given up on ('resync'). */
  tellingAgain(target: TargetRef, why: string): void;
  /** Newer content arrived while an attempt waited: it stops waiting. */
  superseding(e: { fingerprint: string; newer: string }): void;
  rejected(e: { fingerprint: string; problems: readonly unknown[]; err: ErrorFields }): void;
  attempted(outcome: AttemptOutcome, after: AfterFailure | undefined): void;
  /** A run that told some target ended, after this long. */
  runFinished(durationMs: number): void;
  /** Every target holds this content. */
  applied(fingerprint: string): void;
  /** Where each target stands after a decision. */
  standing(e: {
    readonly targets: readonly (TargetRef & { readonly inSync: boolean })[];
    readonly pending: boolean;
    readonly lastFailed: boolean;
  }): void;
}

/** Tells each observer in turn. */
export function observers(...list: readonly ReloadObserver[]): ReloadObserver {
  const each =
    <K extends keyof ReloadObserver>(k: K) =>
    (...args: Parameters<ReloadObserver[K]>) => {
      for (const o of list) (o[k] as (...a: Parameters<ReloadObserver[K]>) => void)(...args);
    };
  return {
    watching: each('watching'),
    watchEvent: each('watchEvent'),
    watchError: each('watchError'),
    targets: each('targets'),
    started: each('started'),
    waitingFor: each('waitingFor'),
    unreadable: each('unreadable'),
    fingerprintFailed: each('fingerprintFailed'),
    changed: each('changed'),
    retryDropped: each('retryDropped'),
    tellingAgain: each('tellingAgain'),
    superseding: each('superseding'),
    rejected: each('rejected'),
    attempted: each('attempted'),
    runFinished: each('runFinished'),
    applied: each('applied'),
    standing: each('standing'),
  };
}

/** Records one rule's events in hotreload's metrics (and configmap-reload's watcher errors). */
export function metricsObserver(metrics: Metrics, clock: Clock, rule: string): ReloadObserver {
  const none = () => {};
  const target = (t: TargetRef) => ({ rule, ...labelsOf(t) });
  let applied: string | undefined;
  addRule(metrics, rule);
  return {
    watching(paths) {
      for (const path of paths) {
        metrics.watchEvents.inc({ rule, path }, 0);
        metrics.watchErrors.inc({ rule, path }, 0);
      }
    },
    watchEvent: (e) => metrics.watchEvents.inc({ rule, path: e.watchPath }),
    watchError(path) {
      metrics.watchErrors.inc({ rule, path });
      metrics.configmapReload?.watcherError();
    },
    targets(targets) {
      for (const t of targets) metrics.targetInSync.set(target(t), 0);
    },
    started: none,
    waitingFor: none,
    unreadable: (_, count) => metrics.unreadableFiles.set({ rule }, count),
    fingerprintFailed: () => metrics.fingerprintFailures.inc({ rule }),
    changed: () => metrics.changes.inc({ rule }),
    retryDropped: none,
    tellingAgain: none,
    superseding: none,
    rejected: () => metrics.validationFailures.inc({ rule }),
    attempted(o) {
      metrics.reloads.inc({ ...target(o), result: o.result });
      if (o.result === 'success' || o.result === 'skipped') {
        metrics.lastReloadSuccessTimestamp.set({ rule }, clock.now() / 1000);
      }
    },
    runFinished: (ms) => metrics.reloadDuration.observe({ rule }, ms / 1000),
    applied(fingerprint) {
      setApplied(metrics, rule, fingerprint, applied);
      applied = fingerprint;
    },
    standing(e) {
      for (const t of e.targets) metrics.targetInSync.set(target(t), t.inSync ? 1 : 0);
      metrics.pendingReload.set({ rule }, e.pending ? 1 : 0);
      metrics.lastReloadSuccessful.set({ rule }, e.lastFailed ? 0 : 1);
    },
  };
}

/** Writes the events worth a line to the log: one per change, per outcome, per problem. */
export function logObserver(log: Logger): ReloadObserver {
  const none = () => {};
  return {
    watching: none,
    watchEvent: (e) => log.trace(e, 'watch event'),
    watchError: (watchPath, err) =>
      log.warn({ watchPath, err }, 'watcher error; the periodic resync still covers this path'),
    targets: none,
    started(e) {
      const fields = {
        fingerprint: short(e.fingerprint),
        files: e.files,
        targets: e.reasons,
        ...(e.stateFile && { stateFile: e.stateFile }),
      };
      if (e.toldAtStart) {
        log.info(
          fields,
          'initial fingerprint taken; the application may hold older content: reloading',
        );
      } else {
        log.info(fields, 'initial fingerprint taken');
      }
    },
    waitingFor: (missing) =>
      log.info({ missing }, 'watched path missing; waiting for it to come back'),
    unreadable(newlyFound) {
      for (const p of newlyFound) log.warn({ path: p.path, code: p.code }, problemMessage(p));
    },
    fingerprintFailed: (e) => log.warn(e, 'fingerprint failed; trying again'),
    changed: (c) => log.info({ ...c, fingerprint: short(c.fingerprint) }, 'change detected'),
    retryDropped: (t) =>
      log.info(t, 'content is back to what this target holds; pending reload dropped'),
    tellingAgain: (t, why) =>
      log.info(
        { ...t, why },
        why === 'state-unknown'
          ? 'the last attempt failed, so what this target holds is unknown: telling it again'
          : 'resync: trying content given up on again',
      ),
    superseding: (e) =>
      log.info(
        { fingerprint: short(e.fingerprint), newer: short(e.newer) },
        'newer content arrived; the attempt in flight stops waiting',
      ),
    rejected: (e) =>
      log.error(
        { fingerprint: short(e.fingerprint), problems: e.problems, err: e.err },
        'configuration rejected by validation; not reloading until it changes',
      ),
    attempted(o, after) {
      const fields = {
        action: o.action,
        target: o.target,
        fingerprint: short(o.fingerprint),
        attempt: o.attempt,
        durationMs: o.durationMs,
      };
      if (o.result === 'success') log.info(fields, 'reload succeeded');
      else if (o.result === 'skipped')
        log.info(fields, 'not told: it started after this content was written, so it runs it');
      if (o.ok || !after) return;
      if (after.kind === 'cut-short') {
        log.info(fields, 'attempt cut short by newer content; the newer content is delivered next');
      } else if (after.kind === 'gave-up') {
        log.error(
          { ...fields, err: o.error, maxAttempts: after.maxAttempts },
          'reload failed; giving up until the next change or resync',
        );
      } else {
        log.warn(
          { ...fields, err: o.error, retryInMs: after.retryInMs },
          'reload failed; retrying',
        );
      }
    },
    runFinished: none,
    applied: none,
    standing: none,
  };
}

function labelsOf(t: TargetRef): TargetRef {
  return { action: t.action, target: t.target };
}

function problemMessage(p: Problem): string {
  if (p.code === TOO_LARGE) {
    return `a watched file is larger than ${MAX_HASHED_BYTES / 1024 / 1024} MiB; its changes are seen from its size, times and inode, not its content`;
  }
  if (p.code === 'ELOOP') {
    return 'a watched directory leads back to itself through a symlink; it is read once';
  }
  return 'cannot read a watched file; its changes are seen from its size, times and inode until it can be read';
}

/** The first 12 hex digits: enough to tell fingerprints apart in logs. */
export function short(hash: string): string {
  return hash.slice(0, 12);
}
