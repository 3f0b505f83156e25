// --verify-url: after the other actions, polls each URL until it answers --verify-status, within
// --verify-timeout in all. An application that did not come back healthy is a failed reload,
// retried by the retry policy. It reuses the HTTP action for each probe (GET, same hygiene).
import { sleep, type Clock } from '../clock.js';
import { ReloadError, messageOf } from '../errors.js';
import type { StatusSpec } from '../http-status.js';
import { redactUrl } from '../redact.js';
import type { Action } from './action.js';
import { createHttpAction } from './http.js';

export interface VerifyUrlOptions {
  readonly urls: readonly URL[];
  readonly expectStatus: StatusSpec;
  readonly timeoutMs: number;
  readonly clock: Clock;
}

const POLL_MS = 250;
/** One probe never takes longer than this, so a hung endpoint is polled again. */
const PROBE_TIMEOUT_MS = 2000;

export function createVerifyUrlAction(opts: VerifyUrlOptions): Action {
  const probes = opts.urls.map((url) =>
    createHttpAction({
      url,
      method: 'GET',
      headers: [],
      headerFiles: [],
      expectStatus: opts.expectStatus,
      timeoutMs: Math.min(PROBE_TIMEOUT_MS, opts.timeoutMs),
    }),
  );
  return {
    kind: 'verify',
    target: opts.urls.map((u) => redactUrl(u)).join(', '),
    async run(ctx) {
      const deadline = opts.clock.now() + opts.timeoutMs;
      for (const [i, probe] of probes.entries()) {
        for (let last: unknown; ;) {
          try {
            await probe.run(ctx);
            break;
          } catch (err) {
            last = err;
          }
          if (ctx.signal.aborted || opts.clock.now() + POLL_MS > deadline) {
            throw new ReloadError(
              'E_VERIFY',
              `${redactUrl(opts.urls[i]!)} did not answer ${opts.expectStatus.text} within ${opts.timeoutMs}ms after the reload: ${messageOf(last)}`,
              {
                cause: last,
                hint: 'the application may have rejected the new configuration; check its logs, or raise --verify-timeout',
              },
            );
          }
          await sleep(opts.clock, POLL_MS);
        }
      }
    },
  };
}
