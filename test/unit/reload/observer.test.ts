// The reload loop's events reach the metrics and the log through one ReloadObserver: each
// implementation records what it should, and observers() tells every one of them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics, removeRule } from '../../../src/metrics/hotreload.js';
import {
  logObserver,
  metricsObserver,
  observers,
  type AttemptOutcome,
  type ReloadObserver,
} from '../../../src/reload/observer.js';
import { FakeClock } from '../../doubles/fake-clock.js';
import { logSink } from '../../doubles/log-sink.js';

const FAILED: AttemptOutcome = {
  at: 0,
  ok: false,
  result: 'failure',
  action: 'http',
  target: 'POST http://app/-/reload',
  attempt: 2,
  durationMs: 12,
  fingerprint: 'f'.repeat(64),
  error: { code: 'E_HTTP_STATUS', message: 'answered 503' },
};

async function sample(metrics: ReturnType<typeof createMetrics>, name: string) {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return m?.values;
}

describe('ReloadObserver', () => {
  it('the metrics count outcomes by target and result, and follow where targets stand', async () => {
    const metrics = createMetrics('test', { processMetrics: false });
    const clock = new FakeClock();
    const o = metricsObserver(metrics, clock, 'default');
    o.attempted(FAILED, { kind: 'retry', retryInMs: 500 });
    o.attempted({ ...FAILED, ok: true, result: 'success', attempt: 3 }, undefined);
    o.standing({
      targets: [{ action: 'http', target: FAILED.target, inSync: true }],
      pending: false,
      lastFailed: false,
    });
    const reloads = await sample(metrics, 'hotreload_reloads_total');
    assert.deepEqual(reloads?.map((v) => [v.labels.result, v.value]).sort(), [
      ['failure', 1],
      ['success', 1],
    ]);
    assert.equal((await sample(metrics, 'hotreload_target_in_sync'))?.[0]?.value, 1);
    assert.equal((await sample(metrics, 'hotreload_pending_reload'))?.[0]?.value, 0);
    const success = await sample(metrics, 'hotreload_last_reload_success_timestamp_seconds');
    assert.equal(success?.[0]?.value, clock.now() / 1000);
  });

  it("each rule's series carry its name; a removed rule's gauges go, its counters stay", async () => {
    const metrics = createMetrics('test', { processMetrics: false });
    const clock = new FakeClock();
    const nginx = metricsObserver(metrics, clock, 'nginx');
    const app = metricsObserver(metrics, clock, 'app');
    nginx.attempted(FAILED, { kind: 'retry', retryInMs: 500 });
    nginx.standing({ targets: [], pending: true, lastFailed: true });
    app.applied('a'.repeat(64));
    app.applied('b'.repeat(64));
    type Sample = { value: number; labels: Record<string, string | number> };
    const byRule = async (name: string): Promise<Record<string, Sample | undefined>> =>
      Object.fromEntries(
        ((await sample(metrics, name)) ?? []).map((v): [string, Sample] => [
          String(v.labels.rule),
          v as Sample,
        ]),
      );
    const successful = await byRule('hotreload_last_reload_successful');
    assert.equal(successful.nginx?.value, 0);
    assert.equal(successful.app?.value, 1);
    assert.equal((await byRule('hotreload_pending_reload')).app?.value, 0);
    assert.equal((await byRule('hotreload_reloads_total')).nginx?.labels.result, 'failure');
    // One applied series per rule: the last content it took.
    const applied = (await sample(metrics, 'hotreload_applied_config_info')) ?? [];
    assert.deepEqual(
      applied.map((v) => [v.labels.rule, v.labels.fingerprint]),
      [['app', 'b'.repeat(64)]],
    );
    await removeRule(metrics, 'nginx');
    assert.deepEqual(Object.keys(await byRule('hotreload_last_reload_successful')), ['app']);
    assert.equal((await byRule('hotreload_reloads_total')).nginx?.value, 1);
  });

  it('the log says what follows a failure: a retry, giving up, or newer content', () => {
    const sink = logSink();
    const o = logObserver(sink.log);
    o.attempted(FAILED, { kind: 'retry', retryInMs: 500 });
    o.attempted(FAILED, { kind: 'gave-up', maxAttempts: 2 });
    o.attempted({ ...FAILED, result: 'superseded' }, { kind: 'cut-short' });
    assert.deepEqual(
      sink.records.map((r) => [r.level, r.msg]),
      [
        ['warn', 'reload failed; retrying'],
        ['error', 'reload failed; giving up until the next change or resync'],
        ['info', 'attempt cut short by newer content; the newer content is delivered next'],
      ],
    );
    assert.equal(sink.records[0]!.retryInMs, 500);
    assert.equal(sink.records[0]!.fingerprint, 'f'.repeat(12));
  });

  it('observers() tells each observer every event, in order', () => {
    const seen: string[] = [];
    const recorder = (name: string) =>
      new Proxy({} as ReloadObserver, {
        get: (_, event) => () => seen.push(`${name}:${String(event)}`),
      });
    const both = observers(recorder('a'), recorder('b'));
    both.changed({ fingerprint: 'x', added: [], changed: ['/c'], removed: [] });
    both.applied('x');
    assert.deepEqual(seen, ['a:changed', 'b:changed', 'a:applied', 'b:applied']);
  });
});
