// Turns a stream of "maybe changed" triggers into single-flight runs: a run starts after a quiet
// period (`quietMs` without a trigger) or, under continuous change, at most `maxWaitMs` after the
// first trigger. A trigger during a run schedules exactly one more run after it, and once its
// quiet period is over tells `whileBusy` (so the run in flight can stop waiting for an outcome
// that newer content makes moot). It does not decide whether anything changed; the run does.
import type { Clock, TimerHandle } from '../lib/clock.js';

export interface DebounceOptions {
  readonly quietMs: number;
  readonly maxWaitMs: number;
  readonly clock: Clock;
  /** Called when a run rejects; runs are expected to handle their own errors. */
  readonly onError: (err: unknown) => void;
  /** Called when a burst's quiet period ends while a run is in flight (once per burst). */
  readonly whileBusy?: () => void;
}

export class Debouncer {
  private firstAt: number | undefined;
  private lastAt: number | undefined;
  private forceAt: number | undefined;
  private timer: TimerHandle | undefined;
  /** Armed while a run is in flight and a burst waits: tells whileBusy when it settles. */
  private busyTimer: TimerHandle | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly opts: DebounceOptions,
  ) {}

  /** A change may have happened: (re)start the quiet period. */
  trigger(): void {
    const now = this.opts.clock.now();
    this.firstAt ??= now;
    this.lastAt = now;
    this.schedule();
  }

  /** Run as soon as no run is in flight, skipping the quiet period (retries, start-up). */
  runNow(): void {
    const now = this.opts.clock.now();
    this.firstAt ??= now;
    this.lastAt ??= now;
    this.forceAt = now;
    this.schedule();
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
    this.timer?.cancel();
    this.timer = undefined;
    this.busyTimer?.cancel();
    this.busyTimer = undefined;
    this.firstAt = this.lastAt = this.forceAt = undefined;
  }

  private schedule(): void {
    if (this.stopped || this.firstAt === undefined) return;
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
    this.inFlight = this.run()
      .catch(this.opts.onError)
      .finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
  }
}
