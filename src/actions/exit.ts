// --exit [CODE]: on change, stops the supervised child (if any) and resolves `requested` with
// CODE, so the kubelet restarts the container with the new configuration. Exiting itself is
// main's job: it reads `requested`; this calls nothing back. A supervised child that started after the content was written
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
}

/** The --exit action, and the exit it asks for: main ends hotreload with that code. */
export interface ExitAction extends Action {
  readonly requested: Promise<number>;
}

export function createExitAction(opts: ExitActionOptions): ExitAction {
  const { child } = opts;
  let ask!: (code: number) => void;
  const requested = new Promise<number>((resolve) => (ask = resolve));
  return {
    requested,
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
      ask(opts.code);
    },
  };
}
