// Time as a dependency: the real clock for production, a fake one (test/doubles) for unit tests.
// Nothing in src/ calls Date.now or setTimeout directly except through a Clock.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Runs `fn` once after `ms` (at ms <= 0: as soon as pending I/O callbacks have run); the
   * returned handle cancels it. A delay keeps the process alive only while it is 0.
   */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

/** The longest delay Node's setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    // Node's setTimeout waits at least 1 ms; with --debounce 0 that is most of a reload's
    // latency, so no delay at all means the next turn of the event loop. The immediate stays
    // ref'd: an unref'd one does not wake a loop that is waiting for I/O, so one set from a timer
    // callback (a retry) waited for the next unrelated wake-up, up to a second later. It runs at
    // once, so it keeps nothing alive.
    if (ms <= 0) {
      const i = setImmediate(fn);
      return { cancel: () => clearImmediate(i) };
    }
    // Node fires a delay over 2^31-1 ms (24.8 days) after 1 ms: a longer one is waited out in
    // steps of at most that.
    let t: NodeJS.Timeout;
    const arm = (left: number) => {
      t = setTimeout(
        () => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()),
        Math.min(left, MAX_TIMER_MS),
      );
      t.unref();
    };
    arm(ms);
    return { cancel: () => clearTimeout(t) };
  },
};

/** A promise that resolves after `ms` on the given clock. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/**
 * Calls `check` until it returns true, then every `everyMs`, for at most `ms` on the clock, or
 * until one of `signals` aborts. Resolves true when it did, false when the time ran out (after one
 * last check) or a signal aborted.
 */
export async function pollUntil(
  clock: Clock,
  ms: number,
  everyMs: number,
  check: () => Promise<boolean>,
  signals: readonly AbortSignal[] = [],
): Promise<boolean> {
  const deadline = clock.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (clock.now() >= deadline) return false;
    const by = await pause(clock, Math.min(everyMs, deadline - clock.now()), signals);
    if (by) return false;
  }
}

/**
 * Waits `ms` on the clock unless one of `signals` aborts first (or already has). Resolves the
 * first aborted signal, or undefined when the time ran out. Leaves no timer or listener behind.
 */
export function pause(
  clock: Clock,
  ms: number,
  signals: readonly AbortSignal[],
): Promise<AbortSignal | undefined> {
  const early = signals.find((s) => s.aborted);
  if (early) return Promise.resolve(early);
  return new Promise((resolve) => {
    const listeners = signals.map((s) => {
      const onAbort = () => done(s);
      s.addEventListener('abort', onAbort, { once: true });
      return () => s.removeEventListener('abort', onAbort);
    });
    const timer = clock.setTimeout(() => done(undefined), ms);
    function done(by: AbortSignal | undefined) {
      timer.cancel();
      for (const remove of listeners) remove();
      resolve(by);
    }
  });
}
