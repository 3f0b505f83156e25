// The reload loop's clock: every run goes through here, and every timer that leads to one (the
// quiet period, the periodic resync, a retry's backoff) is set here, so stopping this stops them
// all. It turns a stream of "maybe changed" triggers into single-flight runs: a run starts after a
// quiet period (`quietMs` without a trigger) or, under continuous change, at most `maxWaitMs` after
// the first trigger. A trigger during a run schedules exactly one more run after it, and once its
// quiet period is over tells `whileBusy` (so the run in flight can stop waiting for an outcome
// that newer content makes moot). Each run is told why it runs: the reasons of every request it
// answers (a change, a resync, a retry, the start). While held (until start-up is done), requests
// are kept and nothing runs. It does not decide whether anything changed; the run does.
import type { Clock, TimerHandle } from '../lib/clock.js';

/**
 * Why a run happens: 'change' (a watch event), 'resync' (the periodic resync or SIGHUP: read
 * everything again, and retry content given up on), 'retry' (a scheduled retry or a fingerprint
 * tried again), 'start' (targets to tell at start).
 */
export type RunReason = 'change' | 'resync' | 'retry' | 'start';

export interface SchedulerOptions {
  readonly quietMs: number;
  readonly maxWaitMs: number;
  readonly clock: Clock;
  /** Called when a run rejects; runs are expected to handle their own errors. */
  readonly onError: (err: unknown) => void;
  /** Called when a burst's quiet period ends while a run is in flight (once per burst). */
  readonly whileBusy?: () => void;
  /** Start held: requests are kept, and the first run waits for release(). */
  readonly held?: boolean;
  /** A 'resync' this often once released (0 or absent: never); `beforeResync` is called first. */
  readonly resyncIntervalMs?: number;
  readonly beforeResync?: () => void;
}

export class RunScheduler {
  private firstAt: number | undefined;
  private lastAt: number | undefined;
  private forceAt: number | undefined;
  private timer: TimerHandle | undefined;
  /** Armed while a run is in flight and a burst waits: tells whileBusy when it settles. */
  private busyTimer: TimerHandle | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  private held: boolean;
  /** The reasons of the requests the next run answers. */
  private reasons = new Set<RunReason>();
  /** Timers set with after() (retries) and the resync's, cancelled by stop(). */
  private readonly timers = new Set<TimerHandle>();

  constructor(
    private readonly run: (reasons: ReadonlySet<RunReason>) => Promise<void>,
    private readonly opts: SchedulerOptions,
  ) {
    this.held = opts.held ?? false;
  }

  /** Something may have changed: (re)start the quiet period. */
  trigger(reason: RunReason = 'change'): void {
    const now = this.opts.clock.now();
    this.firstAt ??= now;
    this.lastAt = now;
    this.reasons.add(reason);
    this.schedule();
  }

  /** Run as soon as no run is in flight, skipping the quiet period (retries, start-up). */
  runNow(reason: RunReason = 'retry'): void {
    const now = this.opts.clock.now();
    this.firstAt ??= now;
    this.lastAt ??= now;
    this.forceAt = now;
    this.reasons.add(reason);
    this.schedule();
  }

  /** Ends the hold: what was requested meanwhile runs now, as it would have; resyncs begin. */
  release(): void {
    this.held = false;
    this.armResync();
    this.schedule();
  }

  /**
   * A run for `reason` in `delayMs`, skipping the quiet period (a retry's backoff); `onDue` is
   * called first. Cancel the handle to drop it; stop() drops every one.
   */
  after(reason: RunReason, delayMs: number, onDue?: () => void): TimerHandle {
    return this.setTimer(delayMs, () => {
      onDue?.();
      this.runNow(reason);
    });
  }

  /** A timer stop() cancels. */
  private setTimer(delayMs: number, fire: () => void): TimerHandle {
    const timer = this.opts.clock.setTimeout(() => {
      this.timers.delete(handle);
      fire();
    }, delayMs);
    const handle: TimerHandle = {
      cancel: () => {
        this.timers.delete(handle);
        timer.cancel();
      },
    };
    this.timers.add(handle);
    return handle;
  }

  /** The periodic resync: a request like an event's (it waits for the quiet period). */
  private armResync(): void {
    const every = this.opts.resyncIntervalMs ?? 0;
    if (every <= 0 || this.stopped) return;
    this.setTimer(every, () => {
      this.opts.beforeResync?.();
      this.trigger('resync');
      this.armResync();
    });
  }

  /** True while a run is in flight or one is scheduled. */
  get busy(): boolean {
    return this.inFlight !== undefined || this.firstAt !== undefined;
  }

  /** Resolves when the run in flight (if any) has finished. */
  async settled(): Promise<void> {
    await this.inFlight;
  }

  /** Cancels what is scheduled; a run in flight goes on (await settled()). */
  stop(): void {
    this.stopped = true;
    for (const t of [...this.timers]) t.cancel();
    this.timer?.cancel();
    this.timer = undefined;
    this.busyTimer?.cancel();
    this.busyTimer = undefined;
    this.firstAt = this.lastAt = this.forceAt = undefined;
    this.reasons.clear();
  }

  private schedule(): void {
    if (this.stopped || this.held || this.firstAt === undefined) return;
    const due = Math.min(
      this.lastAt! + this.opts.quietMs,
      this.firstAt + this.opts.maxWaitMs,
      this.forceAt ?? Infinity,
    );
    if (this.inFlight) {
      const whileBusy = this.opts.whileBusy;
      if (!whileBusy || this.forceAt !== undefined) return;
      this.busyTimer?.cancel();
      this.busyTimer = this.opts.clock.setTimeout(() => {
        this.busyTimer = undefined;
        whileBusy();
      }, due - this.opts.clock.now());
      return;
    }
    this.timer?.cancel();
    this.timer = this.opts.clock.setTimeout(() => this.fire(), due - this.opts.clock.now());
  }

  private fire(): void {
    this.timer = undefined;
    this.busyTimer?.cancel();
    this.busyTimer = undefined;
    this.firstAt = this.lastAt = this.forceAt = undefined;
    const reasons = this.reasons;
    this.reasons = new Set();
    this.inFlight = this.run(reasons)
      .catch(this.opts.onError)
      .finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
  }
}
