// --dry-run: stands in for the configured actions, logging what each would do and doing nothing.
// With no action configured it still logs the delivery, so changes are visible.
import type { Logger } from 'pino';
import type { Action, ReloadContext } from './action.js';

export function dryRunActions(actions: readonly Action[], log: Logger): Action[] {
  const shown = actions.length > 0 ? actions : [{ kind: 'none', target: 'no action configured' }];
  return shown.map(({ kind, target }) => ({
    kind,
    target,
    run: (ctx: ReloadContext) => {
      log.info({ action: kind, target, changed: ctx.changed }, 'dry run: would reload');
      return Promise.resolve();
    },
  }));
}
