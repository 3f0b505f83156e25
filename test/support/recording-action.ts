// An Action double that records every call and answers from a script of outcomes.
import type { Action, ReloadContext } from '../../src/actions/action.js';
import { ReloadError } from '../../src/errors.js';

export interface RecordingAction extends Action {
  readonly calls: ReloadContext[];
  /** Outcomes for the next calls, in order: 'ok', 'fail', or a promise to wait on first. */
  readonly script: ('ok' | 'fail' | Promise<'ok' | 'fail'>)[];
}

export function recordingAction(kind = 'test'): RecordingAction {
  const calls: ReloadContext[] = [];
  const script: RecordingAction['script'] = [];
  return {
    kind,
    target: `${kind}-target`,
    calls,
    script,
    async run(ctx) {
      calls.push(ctx);
      const outcome = await (script.shift() ?? 'ok');
      if (outcome === 'fail') throw new ReloadError('E_TEST', `${kind} failed`);
    },
  };
}
