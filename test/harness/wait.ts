// Bounded waiting for integration tests on the real clock: every wait has a deadline and fails
// with what it was waiting for. Unit tests do not use this; they drive a fake clock.
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `pred` until it returns a truthy value (which is returned) or `timeoutMs` passes
 * (which rejects, naming `what`).
 */
export async function waitFor<T>(
  pred: () => T | Promise<T>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await pred();
    if (value) return value;
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await delay(10);
  }
}

/** Waits a fixed, short time, for asserting that something does NOT happen. */
export function quietFor(ms: number): Promise<void> {
  return delay(ms);
}
