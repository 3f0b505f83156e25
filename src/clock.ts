// Time as a dependency: the real clock for production, a fake one (test/support) for unit tests.
// Nothing in src/ calls Date.now or setTimeout directly except through a Clock.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Runs `fn` once after `ms` (at ms <= 0: as soon as pending I/O callbacks have run); the
   * returned handle cancels it. Never keeps the process alive.
   */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    // Node's setTimeout waits at least 1 ms; with --debounce 0 that is most of a reload's
    // latency, so no delay at all means the next turn of the event loop.
    if (ms <= 0) {
      const i = setImmediate(fn);
      i.unref();
      return { cancel: () => clearImmediate(i) };
    }
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** A promise that resolves after `ms` on the given clock. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
