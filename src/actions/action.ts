// The one interface every way of telling the application implements: HTTP, signal, restart,
// exec, exit, and the verification that follows them. The pipeline keeps each delivery's state
// and runs them in order; it never branches on which kind it holds.

export interface ReloadContext {
  /** Fingerprint of the content being delivered. */
  readonly fingerprint: string;
  /** When that content was written (the kubelet's commit of `..data`), ms since the epoch. */
  readonly writtenAt: number;
  /** Paths added, changed or removed since the content this target last took. */
  readonly changed: readonly string[];
  /** 1 for the first attempt at this content, 2 for the first retry, ... */
  readonly attempt: number;
  /** Aborted when hotreload shuts down and the shutdown timeout expires. */
  readonly signal: AbortSignal;
  /**
   * Aborted when newer content arrived during the attempt: a wait (verification, a process too
   * young to signal, --restart-wait) ends early, since the newer content is delivered next.
   */
  readonly superseded: AbortSignal;
}

/**
 * How a delivery went: 'told' (the application was told and, where checked, took it) or
 * 'had-it' (nothing was sent: every process it would tell started after the content was written).
 */
export type Delivered = 'told' | 'had-it';

export interface Action {
  /** Short kind name for logs and metrics ("http"). Consecutive actions of one kind run together. */
  readonly kind: string;
  /** Human-readable target, safe to log (credentials redacted). */
  readonly target: string;
  /**
   * 'deliver' (the default): tells the application; its state is kept per action. 'verify':
   * checks after the deliveries of a run that the application took them; its failure fails them.
   */
  readonly role?: 'deliver' | 'verify';
  /** Delivers (or verifies). Throws a ReloadError when the application did not take it. */
  run(ctx: ReloadContext): Promise<Delivered | void>;
  /**
   * For 'verify': called before the deliveries of a run, to read what the application says
   * before it is told (so an answer left from the previous reload is not taken for this one).
   */
  prepare?(ctx: ReloadContext): Promise<void>;
  /**
   * When what this action tells started (ms since the epoch), 'idle' when nothing runs; absent
   * when it cannot be seen. Used at start to tell whether it may hold older content.
   */
  holderSince?(): Promise<number | 'idle' | undefined>;
  /**
   * Called once hotreload is ready: compiles now what the first run would compile (so the first
   * reload is as fast as the next ones). Never throws; nothing waits for it.
   */
  warmUp?(): Promise<void>;
}
