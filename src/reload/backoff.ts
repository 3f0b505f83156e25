// Capped exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
// Jitter"): attempt n waits a uniform random time in [0, min(max, initial * 2^(n-1))].

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** Delay before retry number `attempt` (1 = the first retry); `random` returns [0, 1). */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number): number {
  const cap = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(random() * cap);
}
