// An Action double that records every call and answers from a script of outcomes.
import type { Action, Delivered, ReloadContext } from '../../src/actions/action.js';
import { ReloadError } from '../../src/lib/errors.js';

type Outcome = 'ok' | 'fail' | 'had-it';

export interface RecordingAction extends Action {
  readonly calls: ReloadContext[];
  /** Outcomes for the next calls, in order: 'ok', 'fail', 'had-it', or a promise to wait on first. */
  readonly script: (Outcome | Promise<Outcome>)[];
}

export interface RecordingOptions {
  readonly target?: string;
  readonly role?: Action['role'];
  /** What holderSince() answers; absent: the action has no holderSince (an HTTP endpoint). */
  readonly holderSince?: number | 'idle';
}

export function recordingAction(kind = 'test', opts: RecordingOptions = {}): RecordingAction {
  const calls: ReloadContext[] = [];
  const script: RecordingAction['script'] = [];
  const holderSince = opts.holderSince;
  return {
    kind,
    target: opts.target ?? `${kind}-target`,
    role: opts.role,
    calls,
    script,
    ...(holderSince !== undefined && { holderSince: () => Promise.resolve(holderSince) }),
    async run(ctx): Promise<Delivered> {
      calls.push(ctx);
      const outcome = await (script.shift() ?? 'ok');
      if (outcome === 'fail') throw new ReloadError('E_HTTP', `${kind} failed`);
      return outcome === 'had-it' ? 'had-it' : 'told';
    },
  };
}
