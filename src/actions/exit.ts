// --exit [CODE]: on change, stops the supervised child (if any) and asks hotreload to exit with
// CODE, so the kubelet restarts the container with the new configuration. Exiting itself is
// main's job; this only asks. A supervised child that started after the content was written
// already runs it: nothing to do.
import type { SignalSpec } from '../process/signals.js';
import type { Supervisor } from '../process/supervisor.js';
import type { Action } from './action.js';
import { olderThan, type ProcessTargets } from './process-targets.js';

export interface ExitActionOptions {
  readonly code: number;
  /** The supervised child and its supervisor, if any. */
  readonly child: { readonly targets: ProcessTargets; readonly supervisor: Supervisor } | undefined;
  readonly stopSignal: SignalSpec;
  readonly stopTimeoutMs: number;
  readonly requestExit: (code: number) => void;
}

export function createExitAction(opts: ExitActionOptions): Action {
  const { child } = opts;
  return {
    kind: 'exit',
    target: `exit ${opts.code}`,
    // What a restart of this container delivers to: the child. Without one, exiting at start
    // would restart only hotreload, which has just read the content.
    holderSince: () => child?.targets.oldestStart() ?? Promise.resolve('idle' as const),
    async run(ctx) {
      if (child?.supervisor.pid !== undefined) {
        const running = await child.targets.aged();
        if (olderThan(running, ctx.writtenAt).length === 0) return 'had-it';
      }
      await child?.supervisor.stop(opts.stopSignal, opts.stopTimeoutMs);
      opts.requestExit(opts.code);
    },
  };
}
