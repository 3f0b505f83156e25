// --dry-run: stands in for the configured actions, logging what each would do and doing nothing.
// With no action configured it still logs the delivery, so changes are visible. The pipeline
// counts these outcomes as dry_run, never as a reload.
import type { Logger } from 'pino';
import type { Action, ReloadContext } from './action.js';

export function dryRunActions(actions: readonly Action[], log: Logger): Action[] {
  const shown: readonly Pick<Action, 'kind' | 'target' | 'role'>[] =
    actions.length > 0 ? actions : [{ kind: 'none', target: 'no action configured' }];
  return shown.map(({ kind, target, role }) => ({
    kind,
    target,
    role,
    run: (ctx: ReloadContext) => {
      log.info({ action: kind, target, changed: ctx.changed }, 'dry run: would reload');
      return Promise.resolve();
    },
  }));
}
