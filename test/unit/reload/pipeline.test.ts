import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { RunScheduler } from '../../../src/reload/scheduler.js';
import type { Snapshot } from '../../../src/volume/fingerprint.js';
import { createMetrics } from '../../../src/metrics/hotreload.js';
import { reloadObserver } from '../../doubles/observer.js';
import { Pipeline, type RetryPolicy } from '../../../src/reload/pipeline.js';
import { ValidationError } from '../../../src/validate/validators.js';
import { FakeClock } from '../../doubles/fake-clock.js';
import { logSink } from '../../doubles/log-sink.js';
import { recordingAction } from '../../doubles/recording-action.js';

function snap(files: Record<string, string>): Snapshot {
  const map = new Map(Object.entries(files));
  const hash = createHash('sha256')
    .update(JSON.stringify([...map].sort()))
    .digest('hex');
  return {
    hash,
    files: map,
    problems: [],
    volumes: new Set(),
    written: new Map(),
  };
}

/** What takeSnapshot reports while the watched path /cfg does not exist. */
function gone(): Snapshot {
  return {
    hash: 'gone',
    files: new Map(),
    problems: [{ path: '/cfg', code: 'ENOENT' }],
    volumes: new Set(),
    written: new Map(),
  };
}

/** A pipeline behind a debouncer (as app.ts wires them), over a mutable "volume". */
function setup(opts: { retry?: Partial<RetryPolicy>; actions?: number; quietMs?: number } = {}) {
  const clock = new FakeClock();
  const sink = logSink();
  const metrics = createMetrics('test', { processMetrics: false });
  const actions = Array.from({ length: opts.actions ?? 1 }, (_, i) => recordingAction(`a${i}`));
  /** null: the watched path /cfg is gone. */
  let content: Record<string, string> | null = { '/cfg/app.yaml': 'v1' };
  let snapshots = 0;
  const debouncer: RunScheduler = new RunScheduler((reasons) => pipeline.run(reasons), {
    quietMs: opts.quietMs ?? 100,
    maxWaitMs: 1000,
    clock,
    onError: (e) => assert.fail(String(e)),
  });
  const pipeline = new Pipeline({
    takeSnapshot: () => {
      snapshots++;
      return Promise.resolve(content ? snap(content) : gone());
    },
    actions,
    retry: { initialMs: 500, maxMs: 30_000, maxAttempts: 0, ...opts.retry },
    clock,
    random: () => 1, // the longest delay full jitter allows, so times are exact
    observer: reloadObserver(metrics, sink.log, clock),
    schedule: (reason, delayMs, onDue) => debouncer.after(reason, delayMs, onDue),
  });
  const d = debouncer;
  return {
    clock,
    sink,
    metrics,
    action: actions[0]!,
    actions,
    pipeline,
    debouncer: d,
    snapshots: () => snapshots,
    /** The kubelet swapped in new content (null: removed the volume) and the watcher saw it. */
    change(files: Record<string, string> | null) {
      content = files;
      d.trigger();
    },
    async gauge(name: string): Promise<number | undefined> {
      const m = (await metrics.registry.getSingleMetric(name)?.get())?.values[0];
      return m?.value;
    },
  };
}

describe('Pipeline', () => {
  it('waits while the watched path is gone, says so once, and reloads only for new content', async () => {
    const t = setup();
    await t.pipeline.init(false);
    const waiting = () =>
      t.sink.records.filter((r) => r.msg === 'watched path missing; waiting for it to come back');

    t.change(null);
    await t.clock.tick(100);
    t.debouncer.trigger(); // a resync while it is still gone
    await t.clock.tick(100);
    assert.equal(t.action.calls.length, 0);
    assert.equal(waiting().length, 1);
    assert.deepEqual(waiting()[0]!.missing, ['/cfg']);

    t.change({ '/cfg/app.yaml': 'v1' }); // back as it was
    await t.clock.tick(100);
    assert.equal(t.action.calls.length, 0);

    t.change(null);
    await t.clock.tick(100);
    assert.equal(waiting().length, 2, 'gone again: said again');
    t.change({ '/cfg/app.yaml': 'v2' }); // back with new content
    await t.clock.tick(100);
    assert.equal(t.action.calls.length, 1);
    assert.equal(t.pipeline.status().applied, snap({ '/cfg/app.yaml': 'v2' }).hash);
  });

  it('reloads once per real change, after the quiet period', async () => {
    const t = setup();
    await t.pipeline.init(false);
    t.change({ '/cfg/app.yaml': 'v2' });
    await t.clock.tick(99);
    assert.equal(t.action.calls.length, 0);
    await t.clock.tick(1);
    assert.equal(t.action.calls.length, 1);
    assert.deepEqual(t.action.calls[0]!.changed, ['/cfg/app.yaml']);
    assert.equal(t.action.calls[0]!.attempt, 1);
    assert.equal(t.pipeline.status().applied, snap({ '/cfg/app.yaml': 'v2' }).hash);
  });

  it('does nothing when the content did not change (a no-op update or a spurious event)', async () => {
    const t = setup();
    await t.pipeline.init(false);
    t.change({ '/cfg/app.yaml': 'v1' });
    await t.clock.tick(1000);
    assert.equal(t.snapshots(), 2);
    assert.equal(t.action.calls.length, 0);
  });

  it('logs the keys added, changed and removed, never the content', async () => {
    const t = setup();
    await t.pipeline.init(false);
    t.change({ '/cfg/app.yaml': 'secret-value-1', '/cfg/new.yaml': 'secret-value-2' });
    await t.clock.tick(100);
    const rec = t.sink.records.find((r) => r.msg === 'change detected');
    assert.deepEqual(rec?.added, ['/cfg/new.yaml']);
    assert.deepEqual(rec?.changed, ['/cfg/app.yaml']);
    assert.deepEqual(rec?.removed, []);
    assert.doesNotMatch(t.sink.text(), /secret-value/);
  });

  it('keeps the change log line short for a big change: the first 20 paths of a list, and the counts', async () => {
    const t = setup();
    await t.pipeline.init(false);
    const many = Object.fromEntries(
      Array.from({ length: 300 }, (_, i) => [`/cfg/k${String(i).padStart(3, '0')}.yaml`, 'x']),
    );
    t.change({ '/cfg/app.yaml': 'v2', ...many });
    await t.clock.tick(100);
    const rec = t.sink.records.find((r) => r.msg === 'change detected')!;
    assert.equal((rec.added as string[]).length, 20);
    assert.deepEqual(rec.changed, ['/cfg/app.yaml']);
    assert.deepEqual(rec.counts, { added: 300, changed: 1, removed: 0 });
    assert.ok(JSON.stringify(rec).length < 2000, `${JSON.stringify(rec).length} bytes`);
    assert.deepEqual(t.pipeline.status().lastChange?.counts, {
      added: 300,
      changed: 1,
      removed: 0,
    });
    assert.equal(t.action.calls[0]!.changed.length, 301, 'the action still gets every path');
  });

  it('runs the kinds in order; a failure holds back the later kinds, and its retry does not call the earlier ones again', async () => {
    const t = setup({ actions: 3 });
    await t.pipeline.init(false);
    t.actions[1]!.script.push('fail');
    t.change({ '/cfg/app.yaml': 'v2' });
    await t.clock.tick(100);
    assert.deepEqual(
      t.actions.map((a) => a.calls.length),
      [1, 1, 0],
    );
    await t.clock.tick(500); // the retry of the failed one; the first already took v2
    assert.deepEqual(
      t.actions.map((a) => a.calls.length),
      [1, 2, 1],
    );
    assert.equal(t.actions[1]!.calls[1]!.attempt, 2);
    assert.equal(t.actions[2]!.calls[0]!.attempt, 1);
  });

  it('retries a failed reload with capped exponential backoff until it lands', async () => {
    const t = setup({ retry: { initialMs: 500, maxMs: 2000 } });
    await t.pipeline.init(false);
    t.action.script.push('fail', 'fail', 'fail', 'fail', 'ok');
    t.change({ '/cfg/app.yaml': 'v2' });
    await t.clock.tick(100);
    const at = () => t.action.calls.length;
    assert.equal(at(), 1);
    assert.equal(await t.gauge('hotreload_pending_reload'), 1);
    assert.equal(await t.gauge('hotreload_last_reload_successful'), 0);
    await t.clock.tick(499);
    assert.equal(at(), 1);
    await t.clock.tick(1); // +500
    assert.equal(at(), 2);
    await t.clock.tick(1000); // +1000
    assert.equal(at(), 3);
    await t.clock.tick(2000); // +2000 (cap)
    assert.equal(at(), 4);
    await t.clock.tick(2000); // +2000 (cap)
    assert.equal(at(), 5);
    assert.deepEqual(
      t.action.calls.map((c) => c.attempt),
      [1, 2, 3, 4, 5],
    );
    assert.equal(await t.gauge('hotreload_pending_reload'), 0);
    assert.equal(await t.gauge('hotreload_last_reload_successful'), 1);
    await t.clock.tick(60_000);
    assert.equal(at(), 5);
  });

  it('uses full jitter: the delay is random() times the capped backoff', async () => {
    const t = setup();
    const p = new Pipeline({
      ...(t.pipeline as unknown as { deps: ConstructorParameters<typeof Pipeline>[0] }).deps,
      random: () => 0.5,
    });
    await p.init(false);
    t.action.script.push('fail');
    t.change({ '/cfg/app.yaml': 'v2' });
    await p.run();
    assert.equal(p.status().pending?.retryAt, t.clock.now() + 250);
    p.stop();
  });

  it('gives up after --retries attempts, and the next change or resync tries again', async () => {
    const t = setup({ retry: { maxAttempts: 2 } });
    await t.pipeline.init(false);
    t.action.script.push('fail', 'fail', 'ok');
    t.change({ '/cfg/app.yaml': 'v2' });
    await t.clock.tick(100);
    await t.clock.tick(500);
    assert.equal(t.action.calls.length, 2);
    await t.clock.tick(60_000);
    assert.equal(t.action.calls.length, 2);
    assert.equal(t.pipeline.status().gaveUp, snap({ '/cfg/app.yaml': 'v2' }).hash);
    assert.equal(await t.gauge('hotreload_pending_reload'), 1, 'the change is still undelivered');
    t.debouncer.trigger(); // an event that changed nothing: no new attempt
    await t.clock.tick(100);
    assert.equal(t.action.calls.length, 2);
    t.debouncer.trigger('resync'); // a resync: same content, still not applied
    await t.clock.tick(100);
    assert.equal(t.action.calls.length, 3);
    assert.equal(t.action.calls[2]!.attempt, 1);
    assert.equal(t.pipeline.status().applied, snap({ '/cfg/app.yaml': 'v2' }).hash);
  });

  // Found by a code review: content given up on, then reverted to the applied version, then
  // back again, was still "given up" and never delivered.
  it('tries content it gave up on again when it comes back after a revert', async () => {
    const t = setup({ retry: { maxAttempts: 2 } });
    await t.pipeline.init(false);
    t.action.script.push('fail', 'fail', 'ok', 'ok');
    t.change({ '/cfg/app.yaml': 'v2' });
    await t.clock.tick(100);
    await t.clock.tick(500);
    assert.equal(t.pipeline.status().gaveUp, snap({ '/cfg/app.yaml': 'v2' }).hash);
    t.change({ '/cfg/app.yaml': 'v1' }); // reverted: the target may hold v2, so v1 is delivered
    await t.clock.tick(100);
    assert.equal(t.pipeline.status().gaveUp, undefined);
    assert.equal(t.action.calls.length, 3);
    assert.equal(await t.gauge('hotreload_pending_reload'), 0);
    t.change({ '/cfg/app.yaml': 'v2' }); // back again, the endpoint fixed
    await t.clock.tick(100);
    assert.equal(t.action.calls.length, 4);
    assert.equal(t.action.calls[3]!.attempt, 1);
    assert.equal(t.pipeline.status().applied, snap({ '/cfg/app.yaml': 'v2' }).hash);
  });

  it('replaces a pending retry with a newer change, which starts at attempt 1', async () => {
    const t = setup({ retry: { initialMs: 10_000, maxMs: 10_000 } });
    await t.pipeline.init(false);
    t.action.script.push('fail');
    t.change({ '/cfg/app.yaml': 'v2' });
    await t.clock.tick(100);
    t.change({ '/cfg/app.yaml': 'v3' });
    await t.clock.tick(100);
    assert.equal(t.action.calls.length, 2);
    assert.equal(t.action.calls[1]!.attempt, 1);
    assert.equal(t.pipeline.status().applied, snap({ '/cfg/app.yaml': 'v3' }).hash);
    await t.clock.tick(20_000);
    assert.equal(t.action.calls.length, 2, 'the old retry was cancelled');
  });

  it('does not retry early when a spurious event arrives during the backoff', async () => {
    const t = setup({ retry: { initialMs: 5000, maxMs: 5000 } });
    await t.pipeline.init(false);
    t.action.script.push('fail');
    t.change({ '/cfg/app.yaml': 'v2' });
    await t.clock.tick(100);
    t.debouncer.trigger();
    await t.clock.tick(1000);
    assert.equal(t.action.calls.length, 1);
    await t.clock.tick(4000);
    assert.equal(t.action.calls.length, 2);
  });

  // thanos#5324, prometheus-operator#4708: after a failed reload the application may hold the new
  // content or half of it; the rollback to the last success must be delivered.
  it('delivers a rollback to the applied content after a failed attempt, and drops the retry', async () => {
    const t = setup({ retry: { initialMs: 5000, maxMs: 5000 } });
    await t.pipeline.init(false);
    t.action.script.push('fail', 'ok');
    t.change({ '/cfg/app.yaml': 'v2' });
    await t.clock.tick(100);
    t.change({ '/cfg/app.yaml': 'v1' });
    await t.clock.tick(10_000);
    assert.equal(t.action.calls.length, 2);
    assert.equal(t.action.calls[1]!.fingerprint, snap({ '/cfg/app.yaml': 'v1' }).hash);
    assert.deepEqual(t.action.calls[1]!.changed, ['/cfg/app.yaml'], 'what the failed attempt sent');
    assert.equal(t.pipeline.status().pending, undefined);
    assert.equal(t.pipeline.status().applied, snap({ '/cfg/app.yaml': 'v1' }).hash);
    assert.equal(await t.gauge('hotreload_pending_reload'), 0);
    assert.ok(
      t.sink.records.some((r) => r.why === 'state-unknown'),
      'says why the applied content is sent again',
    );
  });

  it('does not send the applied content again when a change is refused by validation and reverted', async () => {
    const t = setup();
    await t.pipeline.init(false);
    // A refusal tells no target: the application still holds v1, so the revert needs nothing.
    (t.pipeline as unknown as { deps: { validators: unknown[] } }).deps.validators = [
      {
        kind: 'test',
        check: (ctx: { fingerprint: string }) =>
          ctx.fingerprint === snap({ '/cfg/app.yaml': 'broken' }).hash
            ? Promise.reject(new ValidationError('bad', []))
            : Promise.resolve(),
      },
    ];
    t.change({ '/cfg/app.yaml': 'broken' });
    await t.clock.tick(100);
    t.change({ '/cfg/app.yaml': 'v1' });
    await t.clock.tick(100);
    assert.equal(t.action.calls.length, 0);
  });

  it('delivers the newest content when a change arrives during a reload (single flight)', async () => {
    const t = setup();
    await t.pipeline.init(false);
    let release!: (v: 'ok') => void;
    t.action.script.push(new Promise((r) => (release = r)));
    t.change({ '/cfg/app.yaml': 'v2' });
    await t.clock.tick(100);
    assert.equal(t.action.calls.length, 1);
    for (const v of ['v3', 'v4', 'v5']) {
      t.change({ '/cfg/app.yaml': v });
      await t.clock.tick(10);
    }
    assert.equal(t.action.calls.length, 1, 'no second reload while one is in flight');
    release('ok');
    await t.clock.tick(200);
    assert.equal(t.action.calls.length, 2);
    assert.equal(t.action.calls[1]!.fingerprint, snap({ '/cfg/app.yaml': 'v5' }).hash);
    assert.equal(t.pipeline.status().applied, snap({ '/cfg/app.yaml': 'v5' }).hash);
  });

  it('reports the changed keys since the content the application last took', async () => {
    const t = setup({ retry: { initialMs: 10_000, maxMs: 10_000 } });
    await t.pipeline.init(false);
    t.action.script.push('fail');
    t.change({ '/cfg/app.yaml': 'v2' });
    await t.clock.tick(100);
    t.change({ '/cfg/app.yaml': 'v2', '/cfg/b.yaml': 'x' });
    await t.clock.tick(100);
    assert.deepEqual(t.action.calls[1]!.changed, ['/cfg/app.yaml', '/cfg/b.yaml']);
  });

  it('with reload-on-start, the first run reloads the initial content', async () => {
    const t = setup();
    await t.pipeline.init(true);
    assert.equal(t.pipeline.status().applied, undefined);
    t.debouncer.runNow();
    await t.clock.tick(0);
    assert.equal(t.action.calls.length, 1);
    assert.deepEqual(t.action.calls[0]!.changed, ['/cfg/app.yaml']);
  });

  it('keeps running when taking the fingerprint fails', async () => {
    const clock = new FakeClock();
    const metrics = createMetrics('test', { processMetrics: false });
    const sink = logSink();
    let fail = true;
    const action = recordingAction();
    const p = new Pipeline({
      takeSnapshot: () =>
        fail ? Promise.reject(new Error('EIO')) : Promise.resolve(snap({ a: '2' })),
      actions: [action],
      retry: { initialMs: 1, maxMs: 1, maxAttempts: 0 },
      clock,
      random: () => 1,
      observer: reloadObserver(metrics, sink.log, clock),
      // A timer of the test's own that counts the runs asked for.
      schedule: (_reason, delayMs, onDue) =>
        clock.setTimeout(() => {
          onDue?.();
          requested++;
        }, delayMs),
    });
    let requested = 0;
    // The initial fingerprint is tried again until it is taken, not fatal.
    const init = p.init(false);
    await clock.tick(1);
    await clock.tick(1);
    assert.equal(p.ready, false);
    fail = false;
    await clock.tick(1);
    assert.equal(await init, false);
    fail = true;
    await p.run();
    assert.ok(sink.records.some((r) => r.msg.startsWith('fingerprint failed')));
    assert.equal(action.calls.length, 0);
    // Visible while it fails: the status, the counter, and the pending gauge.
    assert.equal(p.status().fingerprintFailing?.failures, 1);
    const text = await metrics.registry.metrics();
    assert.match(text, /hotreload_fingerprint_failures_total\{rule="default"\} 4/);
    assert.match(text, /hotreload_pending_reload\{rule="default"\} 1/);
    // It asks for another run itself, not leaving it to the next event or resync.
    assert.equal(requested, 0);
    await clock.tick(1);
    assert.equal(requested, 1);
    fail = false;
    await p.run();
    assert.equal(p.status().current, snap({ a: '2' }).hash);
    assert.equal(p.status().fingerprintFailing, undefined);
    assert.match(await metrics.registry.metrics(), /hotreload_pending_reload\{rule="default"\} 0/);
  });

  it('stops trying the initial fingerprint when asked to stop', async () => {
    const clock = new FakeClock();
    const p = new Pipeline({
      takeSnapshot: () => Promise.reject(new Error('EIO')),
      actions: [recordingAction()],
      retry: { initialMs: 1000, maxMs: 1000, maxAttempts: 0 },
      clock,
      random: () => 1,
      observer: reloadObserver(createMetrics('test', { processMetrics: false }), logSink().log),
      schedule: () => ({ cancel: () => undefined }),
    });
    const stop = new AbortController();
    const init = p.init(false, stop.signal);
    await clock.tick(5000);
    stop.abort(new Error('SIGTERM'));
    await assert.rejects(init, /SIGTERM/);
    assert.equal(clock.pending, 0, 'no retry left behind');
  });

  it('updates the metrics for a success', async () => {
    const t = setup();
    await t.pipeline.init(false);
    t.change({ '/cfg/app.yaml': 'v2' });
    await t.clock.tick(100);
    const text = await t.metrics.registry.metrics();
    assert.match(
      text,
      /hotreload_reloads_total\{rule="default",action="a0",target="a0-target",result="success"\} 1/,
    );
    assert.match(
      text,
      /hotreload_target_in_sync\{rule="default",action="a0",target="a0-target"\} 1/,
    );
    assert.match(text, /hotreload_changes_total\{rule="default"\} 1/);
    assert.match(text, /hotreload_reload_duration_seconds_count\{rule="default"\} 1/);
    assert.match(
      text,
      new RegExp(
        `hotreload_applied_config_info\\{rule="default",fingerprint="${snap({ '/cfg/app.yaml': 'v2' }).hash}"\\} 1`,
      ),
    );
    assert.equal(
      await t.gauge('hotreload_last_reload_success_timestamp_seconds'),
      t.clock.now() / 1000,
    );
  });
});
