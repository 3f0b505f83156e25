// The one interface every way of telling the application implements (HTTP today; signal,
// restart, exec, exit and child supervision later). The pipeline runs actions in order and
// never branches on which kind it holds.

export interface ReloadContext {
  /** Fingerprint of the content being delivered. */
  readonly fingerprint: string;
  /** Paths added, changed or removed since the content the application last took. */
  readonly changed: readonly string[];
  /** 1 for the first attempt at this content, 2 for the first retry, ... */
  readonly attempt: number;
  /** Aborted when hotreload shuts down and the shutdown timeout expires. */
  readonly signal: AbortSignal;
}

export interface Action {
  /** Short kind name for logs and metrics ("http"). */
  readonly kind: string;
  /** Human-readable target, safe to log (credentials redacted). */
  readonly target: string;
  /** Delivers the reload. Resolves when the application took it; throws a ReloadError otherwise. */
  run(ctx: ReloadContext): Promise<void>;
}
