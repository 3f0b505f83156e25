// The two decisions of the reload loop, as pure functions of what is known, so the rules sit in
// one place and are table-tested: whether one delivery target must be told about the content now
// (decide), and, at start, whether the target may hold older content than what is mounted
// (decideAtStart). They read no clock, file or process; the pipeline gathers the facts.
import { hasContent } from '../process/table.js';

/** What one delivery target (an --http-url, the signalled process, ...) is known to hold. */
export interface DeliveryState {
  /** The content this target last took with success; undefined when not known to hold any. */
  readonly delivered: string | undefined;
  /**
   * True when an attempt after `delivered` failed, was cut short or could not be confirmed: the
   * target may hold `delivered`, the attempted content, or a half-applied mix of the two.
   */
  readonly uncertain: boolean;
  /** A retry scheduled for `content`; `due` once its backoff has run out. */
  readonly pending:
    { readonly content: string; readonly attempt: number; readonly due: boolean } | undefined;
  /** Content whose attempts ran out (--retries): tried again on a new change or a resync. */
  readonly gaveUp: string | undefined;
}

/** What the watched paths hold now. */
export interface Situation {
  readonly content: string;
  /** Content refused by --validate/--validate-cmd: never delivered until it changes. */
  readonly rejected: string | undefined;
  /** This run comes from the periodic resync (or SIGHUP): it retries content given up on. */
  readonly resync: boolean;
}

export type Decision =
  | { readonly act: false; readonly why: 'in-sync' | 'rejected' | 'gave-up' | 'retry-scheduled' }
  | {
      readonly act: true;
      readonly attempt: number;
      readonly why: 'new-content' | 'state-unknown' | 'retry' | 'resync';
    };

/**
 * Whether a target must be told about `s.content` now. In order:
 * 1. rejected content is never delivered (the target keeps what it has);
 * 2. a target known to hold the content needs nothing;
 * 3. content given up on waits for a resync;
 * 4. a retry whose backoff has not run out waits for its timer;
 * 5. otherwise deliver. This includes content equal to the last success when an attempt since
 *    failed: the target's state is unknown, so a rollback is delivered too (thanos#5324).
 */
export function decide(s: Situation, d: DeliveryState): Decision {
  const { content } = s;
  if (content === s.rejected) return { act: false, why: 'rejected' }; // 1.
  if (content === d.delivered && !d.uncertain) return { act: false, why: 'in-sync' }; // 2.
  if (content === d.gaveUp && !s.resync) return { act: false, why: 'gave-up' }; // 3.
  const retrying = d.pending?.content === content;
  if (retrying && !d.pending.due) return { act: false, why: 'retry-scheduled' }; // 4.
  // 5.
  const attempt = retrying ? d.pending.attempt + 1 : 1;
  const why = retrying
    ? 'retry'
    : content === d.gaveUp
      ? 'resync'
      : content === d.delivered
        ? 'state-unknown'
        : 'new-content';
  return { act: true, attempt, why };
}

/** What is known at start about one target and the content it would be told about. */
export interface StartFacts {
  /** The content now. */
  readonly content: string;
  /** When the content now was written (the kubelet's commit of `..data`), ms since the epoch. */
  readonly writtenAt: number;
  /**
   * What --state-file says this target took: a fingerprint, null when its last attempt failed
   * (state unknown), undefined when the file has no entry for it (or there is no file).
   */
  readonly stored: string | null | undefined;
  readonly reloadOnStart: boolean;
  /**
   * When what this target tells started, ms since the epoch: the oldest selected process, the
   * supervised child, hotreload itself for --exit; 'idle' when no such process runs (whatever
   * starts will read the content); undefined when it cannot be seen (an HTTP endpoint, a command).
   */
  readonly holderSince: number | 'idle' | undefined;
  /**
   * For a target that cannot be seen: whether the content was written during the pod's life
   * (after the kubelet created the volume; for a plain directory, after hotreload started).
   */
  readonly changedDuringPod: boolean;
}

export type StartDecision =
  | {
      readonly deliver: false;
      readonly why: 'state-file' | 'started-after-content' | 'not-running' | 'older-than-pod';
    }
  | {
      readonly deliver: true;
      readonly why:
        | 'state-file-differs'
        | 'state-file-unknown'
        | 'reload-on-start'
        | 'started-before-content'
        | 'changed-during-pod';
    };

/**
 * Whether a target may hold older content than what is mounted at start, in order:
 * 1. --state-file is the authority: a matching entry means delivered (even with
 *    --reload-on-start), a different or unknown one means deliver;
 * 2. --reload-on-start delivers;
 * 3. a visible holder (processes, the child, hotreload itself) has the content when it started
 *    after the content was written; none running means whatever starts will read it;
 * 4. a target that cannot be seen gets the content when it was written during the pod's life.
 */
export function decideAtStart(f: StartFacts): StartDecision {
  if (f.stored !== undefined) {
    if (f.stored === f.content) return { deliver: false, why: 'state-file' }; // 1.
    return { deliver: true, why: f.stored === null ? 'state-file-unknown' : 'state-file-differs' };
  }
  if (f.reloadOnStart) return { deliver: true, why: 'reload-on-start' }; // 2.
  if (f.holderSince === 'idle') return { deliver: false, why: 'not-running' }; // 3.
  if (f.holderSince !== undefined) {
    return hasContent(f.holderSince, f.writtenAt)
      ? { deliver: false, why: 'started-after-content' }
      : { deliver: true, why: 'started-before-content' };
  }
  return f.changedDuringPod // 4.
    ? { deliver: true, why: 'changed-during-pod' }
    : { deliver: false, why: 'older-than-pod' };
}
