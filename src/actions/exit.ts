// --exit [CODE]: on change, stops the supervised child (if any) and asks hotreload to exit with
// CODE, so the kubelet restarts the container with the new configuration. Exiting itself is
// main's job; this only asks.
import type { Supervisor } from '../child.js';
import type { SignalSpec } from '../proc/signals.js';
import type { Action } from './action.js';

export interface ExitActionOptions {
  readonly code: number;
  readonly supervisor: Supervisor | undefined;
  readonly stopSignal: SignalSpec;
  readonly stopTimeoutMs: number;
  readonly requestExit: (code: number) => void;
}

export function createExitAction(opts: ExitActionOptions): Action {
  return {
    kind: 'exit',
    target: `exit ${opts.code}`,
    async run() {
      await opts.supervisor?.stop(opts.stopSignal, opts.stopTimeoutMs);
      opts.requestExit(opts.code);
    },
  };
}
