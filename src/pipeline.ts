// The reload pipeline: on each run it fingerprints the watched content, and when that differs
// from what the application last took (the APPLIED fingerprint) it runs the actions in order.
// A failure keeps the change pending and schedules a retry (capped exponential backoff, full
// jitter); a newer change replaces a pending retry. It does not watch files or debounce: the
// Debouncer decides when a run happens, and this file decides what a run does.
import type { Logger } from 'pino';
import type { Action, ReloadContext } from './actions/action.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import type { Clock, TimerHandle } from './clock.js';
import { errorFields } from './errors.js';
import { changedPaths, diffSnapshots, type Snapshot } from './fingerprint.js';
import { noStore, type AppliedStore } from './applied-store.js';
import { setApplied, type Metrics } from './metrics.js';
import { ValidationError, type FileProblem, type Validator } from './validate/index.js';

export interface RetryPolicy extends BackoffPolicy {
  /** Attempts per change in all; 0 means until it lands. */
  readonly maxAttempts: number;
}

export interface PipelineDeps {
  /** Fingerprints the watched paths; `previous` tells which of them were kubelet volumes. */
  readonly takeSnapshot: (previous: Snapshot | undefined) => Promise<Snapshot>;
  /** Checks that must pass before the actions run (--validate, --validate-cmd). */
  readonly validators?: readonly Validator[];
  readonly actions: readonly Action[];
  /** Where the applied fingerprint outlives hotreload (--state-file). */
  readonly store?: AppliedStore;
  readonly retry: RetryPolicy;
  readonly clock: Clock;
  readonly random: () => number;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Asks for a run outside the quiet period (the Debouncer's runNow). */
  readonly requestRun: () => void;
}

export interface ReloadOutcome {
  readonly at: number;
  readonly ok: boolean;
  readonly attempt: number;
  readonly durationMs: number;
  readonly fingerprint: string;
  readonly error?: { readonly code: string; readonly message: string; readonly hint?: string };
}

export interface PendingReload {
  readonly fingerprint: string;
  readonly attempt: number;
  readonly retryAt: number;
}

export interface PipelineStatus {
  readonly applied: string | undefined;
  readonly current: string | undefined;
  readonly lastChange:
    | {
        readonly at: number;
        readonly fingerprint: string;
        readonly added: readonly string[];
        readonly changed: readonly string[];
        readonly removed: readonly string[];
      }
    | undefined;
  readonly lastReload: ReloadOutcome | undefined;
  readonly pending: PendingReload | undefined;
  readonly gaveUp: string | undefined;
  readonly rejected: Rejection | undefined;
}

/** Content that failed validation: never delivered, until it changes. */
export interface Rejection {
  readonly at: number;
  readonly fingerprint: string;
  readonly error: { readonly code: string; readonly message: string; readonly hint?: string };
  readonly problems: readonly FileProblem[];
}

interface Pending {
  readonly snapshot: Snapshot;
  readonly attempt: number;
  readonly retryAt: number;
  readonly timer: TimerHandle;
  due: boolean;
}

export class Pipeline {
  private applied: Snapshot | undefined;
  private current: Snapshot | undefined;
  private pending: Pending | undefined;
  private gaveUp: string | undefined;
  private rejected: Rejection | undefined;
  private lastChange: PipelineStatus['lastChange'];
  private lastReload: ReloadOutcome | undefined;
  private readonly abort = new AbortController();
  private resyncRequested = false;
  /** Fingerprints that failed in a row, and the run that tries again. */
  private fingerprintFailures = 0;
  private fingerprintRetry: TimerHandle | undefined;
  /** The missing paths last logged, NUL-joined, while they stay missing. */
  private waitingFor: string | undefined;

  constructor(private readonly deps: PipelineDeps) {}

  /**
   * Takes the initial fingerprint and decides what the application runs now:
   * - with `reloadOnStart`, nothing it took from us: the first run reloads;
   * - with a stored fingerprint (--state-file) equal to the content, this content: no reload;
   *   a different one means the content changed while hotreload was down: one reload;
   * - otherwise this content (it read it at start).
   * Resolves true when a run should follow at once.
   */
  async init(reloadOnStart: boolean): Promise<boolean> {
    const snapshot = await this.deps.takeSnapshot(undefined);
    this.current = snapshot;
    const stored = await this.store.load();
    const fields = { fingerprint: short(snapshot.hash), files: snapshot.files.size };
    if (reloadOnStart) {
      this.deps.log.info(fields, 'initial fingerprint taken; reloading on start');
      return true;
    }
    if (stored !== undefined && stored !== snapshot.hash) {
      // What the application took is known only by its fingerprint; a path missing now is taken
      // as missing then too, so it does not hold back the reload of the paths that changed.
      const problems = missingOf(snapshot);
      this.applied = { hash: stored, files: new Map(), problems, volumes: new Set() };
      this.syncPendingGauge();
      this.deps.log.info(
        { ...fields, stored: short(stored) },
        'content changed while hotreload was down; reloading',
      );
      return true;
    }
    this.deps.log.info(
      { ...fields, ...(stored && { stateFile: 'matches' }) },
      'initial fingerprint taken',
    );
    this.markApplied(snapshot);
    return false;
  }

  /** Resolves once the applied fingerprint is stored (--state-file). */
  flush(): Promise<void> {
    return this.store.flush();
  }

  private get store(): AppliedStore {
    return this.deps.store ?? noStore;
  }

  /** One run: fingerprint, compare, and reload when the content differs from the applied one. */
  async run(): Promise<void> {
    let snapshot: Snapshot;
    try {
      snapshot = await this.deps.takeSnapshot(this.current);
    } catch (err) {
      // Not left to the next event or resync: a retry that was due would wait for them (and
      // with --resync-interval 0, for ever).
      this.fingerprintFailures++;
      const retryInMs = backoffDelay(this.deps.retry, this.fingerprintFailures, this.deps.random);
      this.deps.log.warn({ err: errorFields(err), retryInMs }, 'fingerprint failed; trying again');
      this.fingerprintRetry?.cancel();
      this.fingerprintRetry = this.deps.clock.setTimeout(() => this.deps.requestRun(), retryInMs);
      return;
    }
    this.fingerprintFailures = 0;
    // A watched path that went away (a volume being torn down, a directory being replaced, a
    // volume that lost its ..data link) is not new content: wait until it is back rather than
    // tell the application to reload. Said once per set of missing paths, not at every resync.
    const missing = missingOf(snapshot).map((p) => p.path);
    if (missing.length > 0 && this.applied && !this.appliedMissing(missing)) {
      const key = missing.join('\0');
      if (key !== this.waitingFor) {
        this.deps.log.info({ missing }, 'watched path missing; waiting for it to come back');
      }
      this.waitingFor = key;
      return;
    }
    this.waitingFor = undefined;
    this.noteProblems(snapshot);
    this.noteChange(snapshot);
    this.syncPendingGauge();
    const resync = this.resyncRequested;
    this.resyncRequested = false;
    if (snapshot.hash === this.applied?.hash) {
      if (this.pending)
        this.deps.log.info({}, 'content is back to the applied version; pending reload dropped');
      this.clearPending();
      // Content given up on or rejected that comes back later is a new change.
      this.gaveUp = undefined;
      this.rejected = undefined;
      return;
    }
    // After giving up, only a new change or a resync tries again (not an event that changed
    // nothing).
    if (snapshot.hash === this.gaveUp && !resync) return;
    // Rejected content stays rejected until it changes: a resync does not count it again.
    if (snapshot.hash === this.rejected?.fingerprint) return;
    const pending = this.pending;
    if (pending && pending.snapshot.hash === snapshot.hash && !pending.due) return; // its retry timer will run it
    const attempt = pending && pending.snapshot.hash === snapshot.hash ? pending.attempt + 1 : 1;
    this.clearPending();
    await this.reload(snapshot, attempt);
  }

  /** True when the applied content already lacked every one of `paths` (missing at start). */
  private appliedMissing(paths: readonly string[]): boolean {
    const before = new Set(this.applied && missingOf(this.applied).map((p) => p.path));
    return paths.every((p) => before.has(p));
  }

  /** The next run comes from a resync: it retries content given up on. */
  markResync(): void {
    this.resyncRequested = true;
  }

  /** Fails the in-flight reload's actions (used when the shutdown timeout expires). */
  abortInFlight(): void {
    this.abort.abort();
  }

  /** Cancels a scheduled retry. */
  stop(): void {
    this.clearPending();
    this.fingerprintRetry?.cancel();
  }

  get ready(): boolean {
    return this.current !== undefined;
  }

  status(): PipelineStatus {
    const p = this.pending;
    return {
      applied: this.applied?.hash,
      current: this.current?.hash,
      lastChange: this.lastChange,
      lastReload: this.lastReload,
      pending: p && { fingerprint: p.snapshot.hash, attempt: p.attempt, retryAt: p.retryAt },
      gaveUp: this.gaveUp,
      rejected: this.rejected,
    };
  }

  /** Warns once about each file that cannot be read (its changes cannot be seen). */
  private noteProblems(snapshot: Snapshot): void {
    const known = new Set(this.current?.problems.map((p) => `${p.path}\0${p.code}`));
    for (const p of snapshot.problems) {
      if (p.code === 'ENOENT' || known.has(`${p.path}\0${p.code}`)) continue;
      this.deps.log.warn(
        { path: p.path, code: p.code },
        'cannot read a watched file; its content is not compared until it can be read',
      );
    }
  }

  private noteChange(snapshot: Snapshot): void {
    const previous = this.current;
    this.current = snapshot;
    if (!previous || previous.hash === snapshot.hash) return;
    const diff = diffSnapshots(previous, snapshot);
    this.lastChange = { at: this.deps.clock.now(), fingerprint: snapshot.hash, ...diff };
    this.deps.metrics.changes.inc();
    this.deps.log.info({ fingerprint: short(snapshot.hash), ...diff }, 'change detected');
  }

  private async reload(snapshot: Snapshot, attempt: number): Promise<void> {
    const { clock, metrics, log } = this.deps;
    const ctx: ReloadContext = {
      fingerprint: snapshot.hash,
      changed: changedPaths(diffSnapshots(this.applied, snapshot)),
      attempt,
      signal: this.abort.signal,
    };
    metrics.pendingReload.set(1);
    const started = clock.now();
    const invalid = await this.runValidators(snapshot, ctx);
    if (invalid instanceof ValidationError) return this.reject(snapshot, invalid);
    const error = invalid ?? (await this.runActions(ctx));
    const durationMs = clock.now() - started;
    metrics.reloadDuration.observe(durationMs / 1000);
    metrics.reloads.inc({ result: error ? 'failure' : 'success' });
    metrics.lastReloadSuccessful.set(error ? 0 : 1);
    this.lastReload = {
      at: clock.now(),
      ok: !error,
      attempt,
      durationMs,
      fingerprint: snapshot.hash,
      ...(error ? { error: errorFields(error) } : {}),
    };
    if (!error) {
      log.info({ fingerprint: short(snapshot.hash), attempt, durationMs }, 'reload succeeded');
      metrics.lastReloadSuccessTimestamp.set(clock.now() / 1000);
      this.markApplied(snapshot);
      return;
    }
    this.scheduleRetry(snapshot, attempt, durationMs, error);
  }

  /** Runs the checks in order on the files present now; returns the first failure. */
  private async runValidators(snapshot: Snapshot, ctx: ReloadContext): Promise<unknown> {
    const files = ctx.changed.filter((p) => snapshot.files.has(p));
    for (const validator of this.deps.validators ?? []) {
      try {
        await validator.check({ files, fingerprint: ctx.fingerprint, signal: ctx.signal });
      } catch (err) {
        return err;
      }
    }
    return undefined;
  }

  /** Content that failed validation is not delivered; the application keeps what it has. */
  private reject(snapshot: Snapshot, err: ValidationError): void {
    const { metrics, log, clock } = this.deps;
    this.rejected = {
      at: clock.now(),
      fingerprint: snapshot.hash,
      error: errorFields(err),
      problems: err.problems,
    };
    metrics.validationFailures.inc();
    this.syncPendingGauge();
    log.error(
      { fingerprint: short(snapshot.hash), problems: err.problems, err: errorFields(err) },
      'configuration rejected by validation; not reloading until it changes',
    );
  }

  /** Runs each action in order; the first failure stops the chain and is returned. */
  private async runActions(ctx: ReloadContext): Promise<unknown> {
    for (const action of this.deps.actions) {
      try {
        await action.run(ctx);
        this.deps.log.debug({ action: action.kind, target: action.target }, 'action succeeded');
      } catch (err) {
        return err;
      }
    }
    return undefined;
  }

  private scheduleRetry(
    snapshot: Snapshot,
    attempt: number,
    durationMs: number,
    error: unknown,
  ): void {
    const { retry, log, clock } = this.deps;
    const fields = {
      fingerprint: short(snapshot.hash),
      attempt,
      durationMs,
      err: errorFields(error),
    };
    if (retry.maxAttempts > 0 && attempt >= retry.maxAttempts) {
      this.gaveUp = snapshot.hash;
      log.error(
        { ...fields, maxAttempts: retry.maxAttempts },
        'reload failed; giving up until the next change or resync',
      );
      return;
    }
    const delayMs = backoffDelay(retry, attempt, this.deps.random);
    const pending: Pending = {
      snapshot,
      attempt,
      retryAt: clock.now() + delayMs,
      due: false,
      timer: clock.setTimeout(() => {
        pending.due = true;
        this.deps.requestRun();
      }, delayMs),
    };
    this.pending = pending;
    log.warn({ ...fields, retryInMs: delayMs }, 'reload failed; retrying');
  }

  private markApplied(snapshot: Snapshot): void {
    this.applied = snapshot;
    this.gaveUp = undefined;
    this.rejected = undefined;
    this.store.save(snapshot.hash);
    this.syncPendingGauge();
    setApplied(this.deps.metrics, snapshot.hash);
  }

  private clearPending(): void {
    this.pending?.timer.cancel();
    this.pending = undefined;
    this.syncPendingGauge();
  }

  /** 1 while the current content has not been delivered (running, waiting to retry, or given up). */
  private syncPendingGauge(): void {
    this.deps.metrics.pendingReload.set(this.applied?.hash === this.current?.hash ? 0 : 1);
  }
}

/** The watch paths a snapshot found missing (a kubelet volume without ..data counts). */
function missingOf(snapshot: Snapshot): Snapshot['problems'] {
  return snapshot.problems.filter((p) => p.code === 'ENOENT');
}

/** The first 12 hex digits: enough to tell fingerprints apart in logs. */
export function short(hash: string): string {
  return hash.slice(0, 12);
}
