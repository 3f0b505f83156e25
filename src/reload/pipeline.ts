// The reload pipeline: on each run it fingerprints the watched content and, for each delivery
// target (each --http-url, the signalled process, the command, ...), decides whether that target
// must be told (decide.ts) and tells it. Each target keeps its own state: what it last took,
// whether its state is unknown after a failure, its attempts, its backoff (capped exponential,
// full jitter) and its outcome; one failing target does not hold back the others of its kind.
// Kinds run in a fixed order (exec, http, signal, restart, then verification, then exit): a later
// kind waits until every target of the earlier ones holds the content. It does not watch files or
// debounce: the RunScheduler decides when a run happens, and this file decides what a run does.
import type { Action, Delivered, ReloadContext } from '../actions/action.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import type { RunReason } from './scheduler.js';
import { pause, type Clock, type TimerHandle } from '../lib/clock.js';
import { decide, decideAtStart, type Decision, type DeliveryState } from './decide.js';
import { ReloadError, codeOf, errorFields, type ErrorFields } from '../lib/errors.js';
import {
  changedPaths,
  diffSnapshots,
  latestWrite,
  type ChangeSet,
  type Snapshot,
} from '../volume/fingerprint.js';
import { noStore, type AppliedStore, type StoredDeliveries } from './applied-store.js';
import type { ReloadResult } from '../metrics/hotreload.js';
import type { AfterFailure, ReloadObserver } from './observer.js';
import { ValidationError, type FileProblem, type Validator } from '../validate/validators.js';

export interface RetryPolicy extends BackoffPolicy {
  /** Attempts per change in all; 0 means until it lands. */
  readonly maxAttempts: number;
}

export interface PipelineDeps {
  /**
   * Fingerprints the watched paths (a Fingerprinter: what cannot have changed since its last
   * snapshot is reused, unless `fresh`).
   */
  readonly takeSnapshot: (fresh?: boolean) => Promise<Snapshot>;
  /** Checks that must pass before the actions run (--validate, --validate-cmd). */
  readonly validators?: readonly Validator[];
  readonly actions: readonly Action[];
  /** Where what each target took outlives hotreload (--state-file). */
  readonly store?: AppliedStore;
  readonly retry: RetryPolicy;
  readonly clock: Clock;
  readonly random: () => number;
  /** Told what happens: the metrics and the log (observer.ts). */
  readonly observer: ReloadObserver;
  /**
   * A retry in `delayMs` (the RunScheduler's after()): `onDue` is called when it is due, then a
   * run follows. The pipeline sets no timer of its own.
   */
  readonly schedule: (reason: 'retry', delayMs: number, onDue?: () => void) => TimerHandle;
  /** --dry-run: the actions only log; outcomes are counted as dry_run, never as success. */
  readonly dryRun?: boolean;
  /**
   * At start: whether the content was written during the pod's life (after the volume was
   * created, or after hotreload started for a plain directory). Targets that cannot be seen (an
   * HTTP endpoint, a command) are told at start when it was. Absent: never.
   */
  readonly changedDuringPod?: (snapshot: Snapshot) => Promise<boolean>;
}

export interface ReloadOutcome {
  readonly at: number;
  readonly ok: boolean;
  readonly result: ReloadResult;
  readonly action: string;
  readonly target: string;
  readonly attempt: number;
  readonly durationMs: number;
  readonly fingerprint: string;
  readonly error?: ErrorFields;
}

export interface PendingReload {
  readonly fingerprint: string;
  readonly attempt: number;
  readonly retryAt: number;
}

/** One delivery target in /status. */
export interface TargetStatus {
  readonly action: string;
  readonly target: string;
  /** The content it last took; null when none is known. */
  readonly delivered: string | null;
  /** True when it is known to hold the current content. */
  readonly inSync: boolean;
  /** True after a failed or cut-short attempt: it may hold anything. */
  readonly uncertain: boolean;
  readonly pending: PendingReload | null;
  readonly gaveUp: string | null;
  readonly lastAttempt: ReloadOutcome | null;
}

export interface PipelineStatus {
  /** The content every target last took. */
  readonly applied: string | undefined;
  readonly current: string | undefined;
  readonly lastChange:
    | {
        readonly at: number;
        readonly fingerprint: string;
        readonly added: readonly string[];
        readonly changed: readonly string[];
        readonly removed: readonly string[];
        /** Present when a list was cut to its first 20 paths: how many there were. */
        readonly counts?: {
          readonly added: number;
          readonly changed: number;
          readonly removed: number;
        };
      }
    | undefined;
  /** The last attempt of any target. */
  readonly lastReload: ReloadOutcome | undefined;
  /** The earliest retry scheduled, of any target. */
  readonly pending: PendingReload | undefined;
  readonly gaveUp: string | undefined;
  readonly rejected: Rejection | undefined;
  readonly targets: readonly TargetStatus[];
  /** Set while fingerprinting fails (a volume that never holds still, an unexpected error). */
  readonly fingerprintFailing: FingerprintFailure | undefined;
  /** Entries whose content cannot be compared now (the first 20), with the reason. */
  readonly problems: readonly { readonly path: string; readonly code: string }[];
}

/** Content that failed validation: never delivered, until it changes. */
export interface Rejection {
  readonly at: number;
  readonly fingerprint: string;
  readonly error: ErrorFields;
  readonly problems: readonly FileProblem[];
}

interface Pending {
  readonly snapshot: Snapshot;
  readonly attempt: number;
  readonly retryAt: number;
  readonly timer: TimerHandle;
  due: boolean;
}

/** One target's delivery state (see DeliveryState) and what /status shows of it. */
class Delivery {
  delivered: Snapshot | undefined;
  uncertain = false;
  /** The content of the attempt that made the state unknown. */
  attempted: Snapshot | undefined;
  pending: Pending | undefined;
  gaveUp: string | undefined;
  last: ReloadOutcome | undefined;

  constructor(readonly action: Action) {}

  /** The key of this target in --state-file. */
  get id(): string {
    return `${this.action.kind} ${this.action.target}`;
  }

  get state(): DeliveryState {
    const p = this.pending;
    return {
      delivered: this.delivered?.hash,
      uncertain: this.uncertain,
      pending: p && { content: p.snapshot.hash, attempt: p.attempt, due: p.due },
      gaveUp: this.gaveUp,
    };
  }

  holds(hash: string): boolean {
    return this.delivered?.hash === hash && !this.uncertain;
  }

  cancelRetry(): void {
    this.pending?.timer.cancel();
    this.pending = undefined;
  }
}

/** The deliveries of one kind (run together), or a verification of what came before. */
type Step =
  | { readonly role: 'deliver'; readonly members: readonly Delivery[] }
  | { readonly role: 'verify'; readonly action: Action };

/** How one attempt of one target went. */
type Attempt =
  | {
      readonly delivery: Delivery;
      readonly ok: true;
      readonly how: Delivered;
      readonly attempt: number;
      readonly durationMs: number;
    }
  | {
      readonly delivery: Delivery;
      readonly ok: false;
      readonly error: unknown;
      readonly attempt: number;
      readonly durationMs: number;
    };

/** The attempt in flight, which newer content may cut short. */
interface InFlight {
  readonly hash: string;
  readonly superseded: AbortController;
}

const SUPERSEDED = 'E_SUPERSEDED';
const CHANGE: ReadonlySet<RunReason> = new Set(['change']);

/** Fingerprinting that keeps failing, for /status and the next retry. */
export interface FingerprintFailure {
  readonly since: number;
  readonly failures: number;
  readonly retryInMs: number;
  readonly error: ErrorFields;
}

export class Pipeline {
  private readonly deliveries: readonly Delivery[];
  private readonly steps: readonly Step[];
  /** The content every target took last. */
  private applied: Snapshot | undefined;
  /**
   * What a missing path is compared with: the applied content, or at start, when some target
   * may hold older content, the paths missing then (they do not hold back the others).
   */
  private baseline: Snapshot | undefined;
  private current: Snapshot | undefined;
  private rejected: Rejection | undefined;
  private lastChange: PipelineStatus['lastChange'];
  private lastReload: ReloadOutcome | undefined;
  private readonly abort = new AbortController();
  /** A resync whose run ended early (fingerprint failed, a path missing): the next run is one. */
  private resyncOwed = false;
  private inFlight: InFlight | undefined;
  /** While fingerprinting fails: since when, how often in a row, the last error. */
  private fingerprinting: FingerprintFailure | undefined;
  private fingerprintRetry: TimerHandle | undefined;
  /** The missing paths last logged, NUL-joined, while they stay missing. */
  private waitingFor: string | undefined;

  constructor(private readonly deps: PipelineDeps) {
    this.deliveries = deps.actions.filter((a) => a.role !== 'verify').map((a) => new Delivery(a));
    this.steps = stepsOf(deps.actions, this.deliveries);
    deps.observer.targets(this.deliveries.map(labels));
  }

  /**
   * Takes the initial fingerprint and decides, for each target, whether it may hold older
   * content than what is mounted (decideAtStart): --state-file when given, --reload-on-start,
   * the start time of what it tells, or whether the content changed during the pod's life.
   * Resolves true when a run should follow at once.
   */
  async init(reloadOnStart: boolean, stop?: AbortSignal): Promise<boolean> {
    const snapshot = await this.firstSnapshot(stop);
    this.noteProblems(snapshot);
    this.current = snapshot;
    const stored = withHashesOfNow(await this.store.load(), snapshot);
    const writtenAt = latestWrite(snapshot);
    const duringPod = this.needsPodFact(stored, reloadOnStart)
      ? await (this.deps.changedDuringPod?.(snapshot) ?? Promise.resolve(false))
      : false;
    const reasons: Record<string, string> = {};
    for (const d of this.deliveries) {
      const storedHere = storedFor(stored, d.id);
      const holderSince =
        storedHere === undefined && !reloadOnStart
          ? await d.action.holderSince?.().catch(() => undefined)
          : undefined;
      const decision = decideAtStart({
        content: snapshot.hash,
        writtenAt,
        stored: storedHere,
        reloadOnStart,
        holderSince,
        changedDuringPod: duringPod,
      });
      reasons[d.id] = decision.why;
      if (!decision.deliver) d.delivered = snapshot;
      // What the target took is known only by its fingerprint; a path missing now is taken as
      // missing then too, so it does not hold back the reload of the paths that changed.
      else if (typeof storedHere === 'string') d.delivered = pseudoSnapshot(storedHere, snapshot);
      else if (storedHere === null) d.uncertain = true;
    }
    const toldAtStart = this.deliveries.filter((d) => !d.holds(snapshot.hash));
    this.baseline = pseudoSnapshot(snapshot.hash, snapshot);
    const told = toldAtStart.length > 0;
    this.deps.observer.started({
      fingerprint: snapshot.hash,
      files: snapshot.files.size,
      reasons,
      stateFile: stored && (told ? 'differs' : 'matches'),
      toldAtStart: told,
    });
    if (!told) {
      this.committed();
      return false;
    }
    this.syncGauges();
    return true;
  }

  /**
   * The initial fingerprint, tried until it is taken (capped backoff): a volume that does not hold
   * still at start is no reason to exit. Rejects only when `stop` aborts.
   */
  private async firstSnapshot(stop: AbortSignal | undefined): Promise<Snapshot> {
    for (;;) {
      try {
        const snapshot = await this.deps.takeSnapshot();
        this.fingerprinting = undefined;
        return snapshot;
      } catch (err) {
        this.fingerprintFailed(err);
        this.syncGauges();
        const by = await pause(this.deps.clock, this.fingerprinting!.retryInMs, stop ? [stop] : []);
        if (by) throw by.reason;
      }
    }
  }

  /** The pod fact costs a look at the volume and /proc: only when some target may need it. */
  private needsPodFact(stored: StoredDeliveries | undefined, reloadOnStart: boolean): boolean {
    return !reloadOnStart && this.deliveries.some((d) => storedFor(stored, d.id) === undefined);
  }

  /** Resolves once the delivered state is stored (--state-file). */
  flush(): Promise<void> {
    return this.store.flush();
  }

  private get store(): AppliedStore {
    return this.deps.store ?? noStore;
  }

  /** One run, for `reasons`: fingerprint, then tell each target that needs the content. */
  async run(reasons: ReadonlySet<RunReason> = CHANGE): Promise<void> {
    // A resync reads every generation again: it is also the check that nothing but the kubelet
    // changed a volume.
    const resync = reasons.has('resync') || this.resyncOwed;
    this.resyncOwed = resync;
    let snapshot: Snapshot;
    try {
      snapshot = await this.deps.takeSnapshot(resync);
    } catch (err) {
      // Not left to the next event or resync: a retry that was due would wait for them (and
      // with --resync-interval 0, for ever).
      this.fingerprintFailed(err);
      this.fingerprintRetry = this.deps.schedule('retry', this.fingerprinting!.retryInMs);
      this.syncGauges();
      return;
    }
    this.fingerprinting = undefined;
    // A watched path that went away (a volume being torn down, a directory being replaced, a
    // volume that lost its ..data link) is not new content: wait until it is back rather than
    // tell the application to reload. Said once per set of missing paths, not at every resync.
    const missing = missingOf(snapshot).map((p) => p.path);
    if (missing.length > 0 && this.baseline && !this.baselineMissing(missing)) {
      const key = missing.join('\0');
      if (key !== this.waitingFor) this.deps.observer.waitingFor(missing);
      this.waitingFor = key;
      return;
    }
    this.waitingFor = undefined;
    this.noteProblems(snapshot);
    this.noteChange(snapshot);
    this.resyncOwed = false;
    const content = snapshot.hash;
    if (this.rejected && this.rejected.fingerprint !== content) this.rejected = undefined;
    this.dropReplaced(content);
    const decisions = new Map(
      this.deliveries.map((d) => [
        d,
        decide({ content, rejected: this.rejected?.fingerprint, resync }, d.state),
      ]),
    );
    if (this.deliveries.every((d) => d.holds(content))) this.committed();
    if ([...decisions.values()].some((x) => x.act)) await this.deliver(snapshot, decisions);
    this.syncGauges();
  }

  /**
   * Newer content replaces a retry scheduled for older content; content a target holds needs no
   * retry, and content given up on that comes back later is a new change.
   */
  private dropReplaced(content: string): void {
    for (const d of this.deliveries) {
      const replaced = d.pending && d.pending.snapshot.hash !== content;
      const inSync = d.holds(content);
      if (inSync && d.pending) this.deps.observer.retryDropped(labels(d));
      if (replaced || inSync) d.cancelRetry();
      if (inSync || (d.gaveUp !== undefined && d.gaveUp !== content)) d.gaveUp = undefined;
    }
  }

  /**
   * Tells the targets that need `snapshot`, kind after kind:
   * 1. validation, once, before the first target is told (a refusal tells none);
   * 2. the verifications read what the application says before it is told;
   * 3. each kind's targets that need the content, together; a kind whose targets do not all hold
   *    the content afterwards holds back the kinds after it (they wait for its retries);
   * 4. a verification after the kinds before it: when it fails, what they told counts as failed;
   * 5. outcomes are committed: successes become what the target holds, failures are retried.
   */
  private async deliver(snapshot: Snapshot, decisions: Map<Delivery, Decision>): Promise<void> {
    const started = this.deps.clock.now();
    const flight: InFlight = { hash: snapshot.hash, superseded: new AbortController() };
    this.inFlight = flight;
    const base = {
      fingerprint: snapshot.hash,
      writtenAt: latestWrite(snapshot),
      signal: this.abort.signal,
      superseded: flight.superseded.signal,
    };
    const attempts: Attempt[] = [];
    let prepared = false;
    try {
      for (const step of this.steps) {
        if (step.role === 'verify') {
          const told = attempts.filter((a) => a.ok && a.how === 'told');
          if (told.length === 0) continue;
          // (4)
          const error = await runStep(step.action, { ...base, changed: [], attempt: 1 });
          if (error === undefined) continue;
          for (const [i, a] of attempts.entries()) {
            if (a.ok && a.how === 'told') attempts[i] = { ...a, ok: false, error };
          }
          break;
        }
        const acting = step.members.filter((d) => decisions.get(d)?.act);
        if (acting.length > 0) {
          const contexts = new Map(
            acting.map((d) => [d, this.contextFor(d, snapshot, decisions.get(d)!, base)]),
          );
          if (!prepared) {
            // (1)
            const check = await this.validate(snapshot, [...contexts.values()], base);
            if (check === 'refused') return;
            if (check !== undefined) {
              for (const [d, ctx] of contexts) {
                attempts.push({
                  delivery: d,
                  ok: false,
                  error: check.error,
                  attempt: ctx.attempt,
                  durationMs: 0,
                });
              }
              break;
            }
            // (2)
            await this.prepareVerifications(base);
            prepared = true;
          }
          // (3)
          attempts.push(
            ...(await Promise.all(acting.map((d) => this.attempt(d, contexts.get(d)!)))),
          );
        }
        const done = new Set(attempts.filter((a) => a.ok).map((a) => a.delivery));
        if (!step.members.every((d) => done.has(d) || d.holds(snapshot.hash))) break;
      }
    } finally {
      this.inFlight = undefined;
    }
    // (5)
    for (const a of attempts) this.settle(a, snapshot);
    if (attempts.length > 0) this.deps.observer.runFinished(this.deps.clock.now() - started);
    if (this.deliveries.every((d) => d.holds(snapshot.hash))) this.committed();
  }

  private contextFor(
    d: Delivery,
    snapshot: Snapshot,
    decision: Decision,
    base: Omit<ReloadContext, 'changed' | 'attempt'>,
  ): ReloadContext {
    // After a failed attempt the target may hold either the content it took or the attempted one.
    const since = d.uncertain && d.attempted ? [d.delivered, d.attempted] : [d.delivered];
    const changed = new Set(since.flatMap((s) => changedPaths(diffSnapshots(s, snapshot))));
    if (decision.act && decision.why !== 'new-content' && decision.why !== 'retry') {
      this.deps.observer.tellingAgain(labels(d), decision.why);
    }
    return { ...base, changed: [...changed].sort(), attempt: decision.act ? decision.attempt : 1 };
  }

  /** Tells one target; never throws. */
  private async attempt(d: Delivery, ctx: ReloadContext): Promise<Attempt> {
    const started = this.deps.clock.now();
    try {
      const how = (await d.action.run(ctx)) ?? 'told';
      return {
        delivery: d,
        ok: true,
        how,
        attempt: ctx.attempt,
        durationMs: this.deps.clock.now() - started,
      };
    } catch (error) {
      return {
        delivery: d,
        ok: false,
        error,
        attempt: ctx.attempt,
        durationMs: this.deps.clock.now() - started,
      };
    }
  }

  /** Lets each verification read the application's answer before it is told. */
  private async prepareVerifications(base: Omit<ReloadContext, 'changed' | 'attempt'>) {
    for (const step of this.steps) {
      if (step.role !== 'verify') continue;
      // A reading that fails leaves no baseline; the verification then judges what it sees.
      await step.action.prepare?.({ ...base, changed: [], attempt: 1 }).catch(() => undefined);
    }
  }

  /**
   * Runs the checks in order on the files present now. A ValidationError rejects the content:
   * no target is told ('refused'). Any other failure of a check says nothing about the content:
   * it fails this attempt of the targets that would have been told, to be retried.
   */
  private async validate(
    snapshot: Snapshot,
    contexts: readonly ReloadContext[],
    base: Omit<ReloadContext, 'changed' | 'attempt'>,
  ): Promise<'refused' | { error: unknown } | undefined> {
    const validators = this.deps.validators ?? [];
    // snapshot.files merges every watch path's files: not built when nothing reads it.
    if (validators.length === 0) return undefined;
    const files = [...new Set(contexts.flatMap((c) => c.changed))]
      .filter((p) => snapshot.files.has(p))
      .sort();
    for (const validator of validators) {
      try {
        await validator.check({ files, fingerprint: base.fingerprint, signal: base.signal });
      } catch (error) {
        if (!(error instanceof ValidationError)) return { error };
        this.reject(snapshot, error);
        return 'refused';
      }
    }
    return undefined;
  }

  /** True when the baseline already lacked every one of `paths` (missing at start). */
  private baselineMissing(paths: readonly string[]): boolean {
    const before = new Set(this.baseline && missingOf(this.baseline).map((p) => p.path));
    return paths.every((p) => before.has(p));
  }

  /**
   * Newer content may have arrived while an attempt is in flight (the RunScheduler calls this once
   * the quiet period after an event is over). When it has, the attempt's waits end now: the
   * newer content is delivered next rather than after a verification of the older one.
   */
  async checkSuperseded(): Promise<void> {
    const flight = this.inFlight;
    if (!flight || flight.superseded.signal.aborted) return;
    let snapshot: Snapshot;
    try {
      snapshot = await this.deps.takeSnapshot();
    } catch {
      return; // the next run reports it
    }
    if (this.inFlight !== flight || snapshot.hash === flight.hash) return;
    if (missingOf(snapshot).length > 0) return;
    this.deps.observer.superseding({ fingerprint: flight.hash, newer: snapshot.hash });
    flight.superseded.abort(new ReloadError(SUPERSEDED, 'newer content arrived'));
  }

  /** Counts a failed fingerprint, says so, and plans the next try (capped backoff). */
  private fingerprintFailed(err: unknown): void {
    const failures = (this.fingerprinting?.failures ?? 0) + 1;
    const retryInMs = backoffDelay(this.deps.retry, failures, this.deps.random);
    this.fingerprinting = {
      since: this.fingerprinting?.since ?? this.deps.clock.now(),
      failures,
      retryInMs,
      error: errorFields(err),
    };
    this.deps.observer.fingerprintFailed({ err: errorFields(err), failures, retryInMs });
    this.fingerprintRetry?.cancel();
  }

  /** Fails the in-flight reload's actions (used when the shutdown timeout expires). */
  abortInFlight(): void {
    this.abort.abort();
  }

  /** Cancels the scheduled retries. */
  stop(): void {
    for (const d of this.deliveries) d.cancelRetry();
    this.fingerprintRetry?.cancel();
  }

  get ready(): boolean {
    return this.current !== undefined;
  }

  status(): PipelineStatus {
    const pendings = this.deliveries
      .map((d) => d.pending)
      .filter((p): p is Pending => p !== undefined)
      .sort((a, b) => a.retryAt - b.retryAt);
    const first = pendings[0];
    return {
      applied: this.applied?.hash,
      current: this.current?.hash,
      lastChange: this.lastChange,
      lastReload: this.lastReload,
      pending: first && {
        fingerprint: first.snapshot.hash,
        attempt: first.attempt,
        retryAt: first.retryAt,
      },
      gaveUp: this.deliveries.find((d) => d.gaveUp !== undefined)?.gaveUp,
      rejected: this.rejected,
      fingerprintFailing: this.fingerprinting,
      problems: (this.current?.problems ?? []).filter((p) => p.code !== 'ENOENT').slice(0, 20),
      targets: this.deliveries.map((d) => ({
        action: d.action.kind,
        target: d.action.target,
        delivered: d.delivered?.hash ?? null,
        inSync: this.current !== undefined && d.holds(this.current.hash),
        uncertain: d.uncertain,
        pending: d.pending
          ? {
              fingerprint: d.pending.snapshot.hash,
              attempt: d.pending.attempt,
              retryAt: d.pending.retryAt,
            }
          : null,
        gaveUp: d.gaveUp ?? null,
        lastAttempt: d.last ?? null,
      })),
    };
  }

  /**
   * Warns once about each entry whose content cannot be compared (named, with the reason); its
   * metadata stands for it meanwhile, so a change of it is still seen. The gauge counts them.
   */
  private noteProblems(snapshot: Snapshot): void {
    const known = new Set(this.current?.problems.map((p) => `${p.path}\0${p.code}`));
    const unreadable = snapshot.problems.filter((p) => p.code !== 'ENOENT');
    const newlyFound = unreadable.filter((p) => !known.has(`${p.path}\0${p.code}`));
    this.deps.observer.unreadable(newlyFound, unreadable.length);
  }

  private noteChange(snapshot: Snapshot): void {
    const previous = this.current;
    this.current = snapshot;
    if (!previous || previous.hash === snapshot.hash) return;
    const diff = bounded(diffSnapshots(previous, snapshot));
    this.lastChange = { at: this.deps.clock.now(), fingerprint: snapshot.hash, ...diff };
    this.deps.observer.changed({ fingerprint: snapshot.hash, ...diff });
  }

  /** Content that failed validation is not delivered; the application keeps what it has. */
  private reject(snapshot: Snapshot, err: ValidationError): void {
    const { observer, clock } = this.deps;
    this.rejected = {
      at: clock.now(),
      fingerprint: snapshot.hash,
      error: errorFields(err),
      problems: err.problems,
    };
    for (const d of this.deliveries) d.cancelRetry();
    observer.rejected({
      fingerprint: snapshot.hash,
      problems: err.problems,
      err: errorFields(err),
    });
  }

  /** Records one attempt's outcome on its target: what it holds now, or its retry. */
  private settle(a: Attempt, snapshot: Snapshot): void {
    const { clock, observer } = this.deps;
    const d = a.delivery;
    const superseded = !a.ok && codeOf(a.error) === SUPERSEDED;
    const result: ReloadResult = a.ok
      ? this.deps.dryRun
        ? 'dry_run'
        : a.how === 'had-it'
          ? 'skipped'
          : 'success'
      : superseded
        ? 'superseded'
        : 'failure';
    const outcome: ReloadOutcome = {
      at: clock.now(),
      ok: a.ok,
      result,
      action: d.action.kind,
      target: d.action.target,
      attempt: a.attempt,
      durationMs: a.durationMs,
      fingerprint: snapshot.hash,
      ...(a.ok ? {} : { error: errorFields(a.error) }),
    };
    d.last = outcome;
    this.lastReload = outcome;
    if (a.ok) {
      d.cancelRetry();
      d.delivered = snapshot;
      d.uncertain = false;
      d.attempted = undefined;
      d.gaveUp = undefined;
      observer.attempted(outcome, undefined);
      this.store.save(this.storedState());
      return;
    }
    d.uncertain = true;
    d.attempted = snapshot;
    this.store.save(this.storedState());
    observer.attempted(
      outcome,
      superseded ? { kind: 'cut-short' } : this.scheduleRetry(d, snapshot, a.attempt),
    );
  }

  /** Schedules the next attempt of `d`, or gives up on `snapshot` after --retries attempts. */
  private scheduleRetry(d: Delivery, snapshot: Snapshot, attempt: number): AfterFailure {
    const { retry, clock } = this.deps;
    d.cancelRetry();
    if (retry.maxAttempts > 0 && attempt >= retry.maxAttempts) {
      d.gaveUp = snapshot.hash;
      return { kind: 'gave-up', maxAttempts: retry.maxAttempts };
    }
    const delayMs = backoffDelay(retry, attempt, this.deps.random);
    const pending: Pending = {
      snapshot,
      attempt,
      retryAt: clock.now() + delayMs,
      due: false,
      timer: this.deps.schedule('retry', delayMs, () => (pending.due = true)),
    };
    d.pending = pending;
    return { kind: 'retry', retryInMs: delayMs };
  }

  /** Every target holds the current content: it is the applied content. */
  private committed(): void {
    const snapshot = this.current;
    if (!snapshot) return;
    const changed = this.applied?.hash !== snapshot.hash;
    this.applied = snapshot;
    this.baseline = snapshot;
    this.rejected = undefined;
    if (!changed) return;
    this.deps.observer.applied(snapshot.hash);
    this.store.save(this.storedState());
  }

  /** What --state-file keeps: what each target took, null where its state is unknown. */
  private storedState(): StoredDeliveries {
    const targets: Record<string, string | null> = {};
    for (const d of this.deliveries) {
      targets[d.id] = d.uncertain || !d.delivered?.hash ? null : d.delivered.hash;
    }
    return { fingerprint: this.applied?.hash, targets };
  }

  /**
   * The gauges follow every decision: pending is 1 while some target still needs the current
   * content and hotreload will try again by itself (an attempt running, a retry scheduled, content
   * given up on until the next resync); content refused by validation is not pending.
   */
  private syncGauges(): void {
    const current = this.current?.hash;
    let pending = false;
    const targets = this.deliveries.map((d) => {
      const inSync = current !== undefined && d.holds(current);
      if (!inSync && current !== this.rejected?.fingerprint) pending = true;
      return { ...labels(d), inSync };
    });
    this.deps.observer.standing({
      targets,
      // While fingerprinting fails, a change may be waiting unseen.
      pending: pending || this.fingerprinting !== undefined,
      lastFailed: this.deliveries.some(
        (d) => d.last && !d.last.ok && d.last.result !== 'superseded',
      ),
    });
  }
}

/** Groups consecutive deliveries of one kind; a verification is a step of its own. */
function stepsOf(actions: readonly Action[], deliveries: readonly Delivery[]): Step[] {
  const steps: Step[] = [];
  let next = 0;
  for (const action of actions) {
    if (action.role === 'verify') {
      steps.push({ role: 'verify', action });
      continue;
    }
    const d = deliveries[next++]!;
    const last = steps[steps.length - 1];
    if (last?.role === 'deliver' && last.members[0]!.action.kind === action.kind) {
      (last.members as Delivery[]).push(d);
    } else {
      steps.push({ role: 'deliver', members: [d] });
    }
  }
  return steps;
}

/** Runs a verification; resolves its error, or undefined when it passed. */
async function runStep(action: Action, ctx: ReloadContext): Promise<unknown> {
  try {
    await action.run(ctx);
    return undefined;
  } catch (err) {
    return err;
  }
}

function labels(d: Delivery): { action: string; target: string } {
  return { action: d.action.kind, target: d.action.target };
}

/** What --state-file says `id` took (see StartFacts.stored). */
function storedFor(stored: StoredDeliveries | undefined, id: string): string | null | undefined {
  if (!stored) return undefined;
  if (stored.targets && id in stored.targets) return stored.targets[id];
  // A state file of hotreload 0.1 holds one fingerprint for every target.
  return stored.targets ? undefined : stored.fingerprint;
}

/**
 * A stored state with fingerprints of the former kind (--state-file of format 3) in those of now:
 * the content now, when a fingerprint names it, is named by its hash of now. A fingerprint of
 * other content stays as it is: it differs from the content now, as it did then.
 */
function withHashesOfNow(
  stored: StoredDeliveries | undefined,
  now: Snapshot,
): StoredDeliveries | undefined {
  if (!stored?.formerHashes) return stored;
  const former = now.formerHash?.();
  const renamed = (h: string) => (h === former ? now.hash : h);
  return {
    fingerprint: stored.fingerprint && renamed(stored.fingerprint),
    targets:
      stored.targets &&
      Object.fromEntries(
        Object.entries(stored.targets).map(([id, h]) => [id, h === null ? null : renamed(h)]),
      ),
  };
}

/**
 * Content known only by its fingerprint (from --state-file), or not known at all: no files, and
 * the paths missing now taken as missing then.
 */
function pseudoSnapshot(hash: string, now: Snapshot): Snapshot {
  return {
    hash,
    files: new Map(),
    problems: missingOf(now),
    volumes: new Set(),
    written: new Map(),
  };
}

/** Paths a log line or /status names per list, at most; the counts give the rest. */
const LISTED_PATHS = 20;

/**
 * A change set as logs and /status show it: each list cut to its first LISTED_PATHS paths, with
 * the full counts, so a change of 5,000 keys is one short line, not 200 KB.
 */
function bounded(c: ChangeSet): ChangeSet & {
  readonly counts?: { added: number; changed: number; removed: number };
} {
  const { added, changed, removed } = c;
  if (added.length + changed.length + removed.length <= LISTED_PATHS) return c;
  return {
    added: added.slice(0, LISTED_PATHS),
    changed: changed.slice(0, LISTED_PATHS),
    removed: removed.slice(0, LISTED_PATHS),
    counts: { added: added.length, changed: changed.length, removed: removed.length },
  };
}

/** The watch paths a snapshot found missing (a kubelet volume without ..data counts). */
function missingOf(snapshot: Snapshot): Snapshot['problems'] {
  return snapshot.problems.filter((p) => p.code === 'ENOENT');
}
