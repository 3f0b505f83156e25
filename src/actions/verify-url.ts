// --verify-url: after the deliveries of a run, polls each URL until it answers --verify-status
// and meets every --verify-metric / --verify-json condition, within --verify-timeout in all. An
// application that did not take the reload fails the deliveries, which are retried. Before the
// deliveries it reads each URL once, so that `changed` conditions compare with what the
// application said before it was told, and so that a condition that held before and fails after
// ends the wait at once: the application has answered, and it refused (thanos' reloader rule).
import type { Clock } from '../lib/clock.js';
import { pause } from '../lib/clock.js';
import { ReloadError, messageOf } from '../lib/errors.js';
import type { HeaderFileConfig, TlsConfig } from '../config/config.js';
import type { StatusSpec } from '../config/http-spec.js';
import { redactUrl } from '../lib/redact.js';
import { holds, showValue, type Condition } from '../config/verify-conditions.js';
import type { Action, ReloadContext } from './action.js';
import { createHttpProbe, type HttpProbe } from './http.js';

export interface VerifyUrlOptions {
  readonly urls: readonly URL[];
  readonly expectStatus: StatusSpec;
  readonly conditions: readonly Condition[];
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** TLS for https:// URLs, and --http-bearer-token-file: as for the reload requests. */
  readonly tls?: TlsConfig;
  readonly bearer?: HeaderFileConfig;
}

const POLL_MS = 250;
/** One probe never takes longer than this, so a hung endpoint is polled again. */
const PROBE_TIMEOUT_MS = 2000;
/** A status or metrics answer is small; Prometheus' /metrics is a few MiB at most. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** What one answer said: its status and each condition's value. */
interface Reading {
  readonly status: number;
  readonly values: readonly unknown[];
}

/** Why a reading does not pass, for the message; undefined when it passes. */
type Verdict = { readonly final: boolean; readonly why: string } | undefined;

export function createVerifyUrlAction(opts: VerifyUrlOptions): Action {
  const probes = opts.urls.map((url) =>
    createHttpProbe({
      url,
      headers: [],
      headerFiles: opts.bearer ? [opts.bearer] : [],
      tls: opts.tls,
      timeoutMs: Math.min(PROBE_TIMEOUT_MS, opts.timeoutMs),
      maxBytes: MAX_BODY_BYTES,
      clock: opts.clock,
    }),
  );
  /** What each URL said before the deliveries of the run in progress. */
  let before: (Reading | undefined)[] = [];
  return {
    kind: 'verify',
    role: 'verify',
    target: opts.urls.map((u) => redactUrl(u)).join(', '),
    async prepare(ctx) {
      before = await Promise.all(
        probes.map((probe) => read(probe, ctx, opts.conditions).catch(() => undefined)),
      );
    },
    async run(ctx) {
      const deadline = opts.clock.now() + opts.timeoutMs;
      for (const [i, probe] of probes.entries()) {
        await untilAccepted(probe, ctx, deadline, before[i], opts, opts.urls[i]!);
      }
      before = [];
    },
    warmUp: () => probes[0]!.warmUp(),
  };
}

async function untilAccepted(
  probe: HttpProbe,
  ctx: ReloadContext,
  deadline: number,
  before: Reading | undefined,
  opts: VerifyUrlOptions,
  url: URL,
): Promise<void> {
  for (;;) {
    let verdict: Verdict;
    try {
      verdict = judge(await read(probe, ctx, opts.conditions), before, opts);
    } catch (err) {
      verdict = { final: false, why: messageOf(err) };
    }
    if (!verdict) return;
    const over = opts.clock.now() + POLL_MS > deadline;
    if (verdict.final || over || ctx.signal.aborted) {
      throw new ReloadError(
        'E_VERIFY',
        `${redactUrl(url)} ${verdict.final ? 'answered that the reload failed' : `did not confirm the reload within ${opts.timeoutMs}ms`}: ${verdict.why}`,
        {
          hint: verdict.final
            ? 'the application refused the new configuration; check its logs'
            : 'the application may have refused the new configuration; check its logs, or raise --verify-timeout',
        },
      );
    }
    const by = await pause(opts.clock, POLL_MS, [ctx.signal, ctx.superseded]);
    if (by === ctx.superseded) throw supersededError();
  }
}

function supersededError(): ReloadError {
  return new ReloadError('E_SUPERSEDED', 'verification ended: newer content arrived');
}

async function read(
  probe: HttpProbe,
  ctx: ReloadContext,
  conditions: readonly Condition[],
): Promise<Reading> {
  const { status, body } = await probe.get(ctx);
  return { status, values: conditions.map((c) => c.read(body)) };
}

/**
 * 1. the status must be one of --verify-status;
 * 2. every condition must hold; one that held before the deliveries and fails now is final.
 */
function judge(now: Reading, before: Reading | undefined, opts: VerifyUrlOptions): Verdict {
  if (!opts.expectStatus.matches(now.status)) {
    return { final: false, why: `answered ${now.status}, expected ${opts.expectStatus.text}` };
  }
  for (const [i, c] of opts.conditions.entries()) {
    const was = before?.values[i];
    if (holds(c, now.values[i], was)) continue;
    // A value that is missing now (an answer of the application while it starts) is not a refusal.
    const heldBefore =
      c.test !== 'changed' && now.values[i] !== undefined && holds(c, was, undefined);
    const why =
      c.test === 'changed'
        ? `${c.text}: still ${showValue(now.values[i])}`
        : `${c.text}: got ${showValue(now.values[i])}`;
    return { final: heldBefore, why };
  }
  return undefined;
}
