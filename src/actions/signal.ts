// --signal: sends a signal to the target processes (chosen by the selectors, or the supervised
// child). A process that is gone between finding and signalling fails the attempt, to be retried.
import type { Logger } from 'pino';
import { sendSignal, type KillFn, type SignalSpec } from '../proc/signals.js';
import type { Action } from './action.js';
import { describeProcess, resolveTargets, type TargetDeps } from './targets.js';

export interface SignalActionOptions extends TargetDeps {
  readonly signal: SignalSpec;
  readonly kill: KillFn;
  readonly selfUid: number;
  readonly log: Logger;
}

export function createSignalAction(opts: SignalActionOptions): Action {
  return {
    kind: 'signal',
    target: `${opts.signal.name} to ${opts.selector ? 'the selected process' : 'the child'}`,
    async run() {
      const targets = await resolveTargets(opts);
      for (const target of targets) {
        await sendSignal(target, opts.signal, opts);
        opts.log.info(
          { signal: opts.signal.name, pid: target.pid, comm: target.comm },
          `sent ${opts.signal.name} to ${describeProcess(target)}`,
        );
      }
    },
  };
}
