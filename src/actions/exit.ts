// --exit [CODE]: on change, stops the supervised child (if any) and asks hotreload to exit with
// CODE, so the kubelet restarts the container with the new configuration. Exiting itself is
// main's job; this only asks. A supervised child that started after the content was written
// already runs it: nothing to do.
import type { Supervisor } from '../process/supervisor.js';
import type { Clock } from '../lib/clock.js';
import type { SignalSpec } from '../process/signals.js';
import type { Action } from './action.js';
import { agedTargets, oldestStart, olderThan } from './process-targets.js';

export interface ExitActionOptions {
  readonly code: number;
  readonly supervisor: Supervisor | undefined;
  readonly stopSignal: SignalSpec;
  readonly stopTimeoutMs: number;
  readonly requestExit: (code: number) => void;
  readonly procRoot: string;
  readonly selfPid: number;
  readonly clock: Clock;
}

export function createExitAction(opts: ExitActionOptions): Action {
  const child = {
    selector: undefined,
    supervisor: opts.supervisor,
    procRoot: opts.procRoot,
    selfPid: opts.selfPid,
  };
  return {
    kind: 'exit',
    target: `exit ${opts.code}`,
    // What a restart of this container delivers to: the child. Without one, exiting at start
    // would restart only hotreload, which has just read the content.
    holderSince: () =>
      opts.supervisor ? oldestStart(child, opts.clock) : Promise.resolve('idle' as const),
    async run(ctx) {
      if (opts.supervisor?.pid !== undefined) {
        const running = await agedTargets(child, opts.clock);
        if (olderThan(running, ctx.writtenAt).length === 0) return 'had-it';
      }
      await opts.supervisor?.stop(opts.stopSignal, opts.stopTimeoutMs);
      opts.requestExit(opts.code);
    },
  };
}
