// Each delivery target on its own (several --http-url, as configmap-reload delivers to each
// webhook), the fixed order of kinds, verification after the deliveries, newer content cutting
// a wait short, --dry-run, and the start-up decision per target: a pipeline with a fake clock
// and recording actions.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Action } from '../../../src/actions/action.js';
import { pause } from '../../../src/lib/clock.js';
import { RunScheduler } from '../../../src/reload/scheduler.js';
import { ReloadError } from '../../../src/lib/errors.js';
import type { Snapshot } from '../../../src/volume/fingerprint.js';
import { createMetrics } from '../../../src/metrics/hotreload.js';
import { reloadObserver } from '../../doubles/observer.js';
import { Pipeline } from '../../../src/reload/pipeline.js';
import { FakeClock } from '../../doubles/fake-clock.js';
import { logSink } from '../../doubles/log-sink.js';
import { recordingAction, type RecordingAction } from '../../doubles/recording-action.js';

const WRITTEN_AT = 1_700_000_000_000;

function snap(content: string): Snapshot {
  const hash = createHash('sha256').update(content).digest('hex');
  return {
    hash,
    files: new Map([['/cfg/app.yaml', hash]]),
    problems: [],
    volumes: new Set(),
    written: new Map([['/cfg', WRITTEN_AT]]),
  };
}

function setup(actions: Action[], opts: { dryRun?: boolean; changedDuringPod?: boolean } = {}) {
  const clock = new FakeClock();
  const sink = logSink();
  const metrics = createMetrics('test', { processMetrics: false });
  let content = 'v1';
  const debouncer: RunScheduler = new RunScheduler((reasons) => pipeline.run(reasons), {
    quietMs: 100,
    maxWaitMs: 1000,
    clock,
    onError: (e) => assert.fail(String(e)),
    whileBusy: () => void pipeline.checkSuperseded(),
  });
  const pipeline = new Pipeline({
    takeSnapshot: () => Promise.resolve(snap(content)),
    actions,
    retry: { initialMs: 1000, maxMs: 1000, maxAttempts: 0 },
    clock,
    random: () => 1,
    observer: reloadObserver(metrics, sink.log, clock),
    schedule: (reason, delayMs, onDue) => debouncer.after(reason, delayMs, onDue),
    dryRun: opts.dryRun,
    changedDuringPod: () => Promise.resolve(opts.changedDuringPod ?? false),
  });
  return {
    clock,
    sink,
    metrics,
    pipeline,
    change(c: string) {
      content = c;
      debouncer.trigger();
    },
    async metric(pattern: RegExp): Promise<string | undefined> {
      return (await metrics.registry.metrics()).split('\n').find((l) => pattern.test(l));
    },
  };
}

const contents = (a: RecordingAction) => a.calls.map((c) => c.fingerprint);

describe('several targets of one kind (--http-url, repeated)', () => {
  it('a failing endpoint does not hold back the others, and one that took the content is not called again', async () => {
    const a = recordingAction('http', { target: 'POST http://a/' });
    const b = recordingAction('http', { target: 'POST http://b/' });
    const t = setup([a, b]);
    await t.pipeline.init(false);
    a.script.push('fail', 'fail', 'ok');
    t.change('v2');
    await t.clock.tick(100);
    assert.deepEqual([a.calls.length, b.calls.length], [1, 1], 'both called at once');
    await t.clock.tick(1000);
    await t.clock.tick(1000);
    assert.deepEqual([a.calls.length, b.calls.length], [3, 1], 'only the failing one is retried');
    assert.deepEqual(
      a.calls.map((c) => c.attempt),
      [1, 2, 3],
    );
    assert.equal(t.pipeline.status().applied, snap('v2').hash);
    const targets = t.pipeline.status().targets;
    assert.deepEqual(
      targets.map((x) => [x.target, x.inSync, x.lastAttempt?.attempt]),
      [
        ['POST http://a/', true, 3],
        ['POST http://b/', true, 1],
      ],
    );
    assert.match(
      (await t.metric(
        /hotreload_reloads_total\{rule="default",action="http",target="POST http:\/\/a\/",result="failure"\}/,
      ))!,
      / 2$/,
    );
    assert.match(
      (await t.metric(
        /hotreload_reloads_total\{rule="default",action="http",target="POST http:\/\/b\/",result="success"\}/,
      ))!,
      / 1$/,
    );
  });

  it('while one endpoint keeps failing, the others get every newer change', async () => {
    const a = recordingAction('http', { target: 'POST http://a/' });
    const b = recordingAction('http', { target: 'POST http://b/' });
    const t = setup([a, b]);
    await t.pipeline.init(false);
    a.script.push('fail', 'fail', 'fail');
    t.change('v2');
    await t.clock.tick(100);
    t.change('v3');
    await t.clock.tick(100);
    assert.deepEqual(contents(b), [snap('v2').hash, snap('v3').hash]);
    assert.equal(
      (await t.metric(
        /^hotreload_target_in_sync\{rule="default",action="http",target="POST http:\/\/a\/"\}/,
      ))!,
      'hotreload_target_in_sync{rule="default",action="http",target="POST http://a/"} 0',
    );
    assert.match((await t.metric(/^hotreload_pending_reload\{rule="default"\} /))!, / 1$/);
    t.pipeline.stop();
  });
});

describe('kinds in their fixed order', () => {
  it('a later kind waits until every target of the earlier kind holds the content', async () => {
    const a = recordingAction('http', { target: 'POST http://a/' });
    const b = recordingAction('http', { target: 'POST http://b/' });
    const sig = recordingAction('signal');
    const t = setup([a, b, sig]);
    await t.pipeline.init(false);
    b.script.push('fail');
    t.change('v2');
    await t.clock.tick(100);
    assert.equal(sig.calls.length, 0);
    await t.clock.tick(1000);
    assert.deepEqual([a.calls.length, b.calls.length, sig.calls.length], [1, 2, 1]);
  });
});

describe('verification after the deliveries', () => {
  it('reads the answer before telling, and a failed check fails what was told (retried)', async () => {
    const order: string[] = [];
    const told = recordingAction('signal');
    const verify: Action & { prepared: number } = {
      kind: 'verify',
      target: 'http://127.0.0.1/metrics',
      role: 'verify',
      prepared: 0,
      prepare() {
        order.push('prepare');
        verify.prepared++;
        return Promise.resolve();
      },
      run() {
        order.push('verify');
        return order.filter((o) => o === 'verify').length === 1
          ? Promise.reject(new ReloadError('E_VERIFY', 'answered that the reload failed'))
          : Promise.resolve();
      },
    };
    const originalRun = told.run.bind(told);
    const wrapped: Action = { ...told, run: (ctx) => (order.push('signal'), originalRun(ctx)) };
    const t = setup([wrapped, verify]);
    await t.pipeline.init(false);
    t.change('v2');
    await t.clock.tick(100);
    assert.deepEqual(order, ['prepare', 'signal', 'verify']);
    assert.equal(t.pipeline.status().targets[0]!.lastAttempt?.error?.code, 'E_VERIFY');
    assert.equal(t.pipeline.status().applied, snap('v1').hash);
    await t.clock.tick(1000);
    assert.deepEqual(order, ['prepare', 'signal', 'verify', 'prepare', 'signal', 'verify']);
    assert.equal(t.pipeline.status().applied, snap('v2').hash);
  });

  it('does not verify when nothing was told (every process already ran the content)', async () => {
    const sig = recordingAction('signal');
    const verify = recordingAction('verify', { role: 'verify' });
    const t = setup([sig, verify]);
    await t.pipeline.init(false);
    sig.script.push('had-it');
    t.change('v2');
    await t.clock.tick(100);
    assert.equal(verify.calls.length, 0);
    assert.equal(t.pipeline.status().applied, snap('v2').hash);
    assert.match(
      (await t.metric(
        /hotreload_reloads_total\{rule="default",action="signal",target="signal-target",result="skipped"\}/,
      ))!,
      / 1$/,
    );
  });

  it('newer content ends the wait of a verification in flight: the newer content lands at once', async () => {
    const sig = recordingAction('signal');
    const waits: string[] = [];
    const verify: Action = {
      kind: 'verify',
      target: 'http://127.0.0.1/',
      role: 'verify',
      async run(ctx) {
        // Verification of v2 never succeeds (the application refused it); of v3 it does at once.
        if (ctx.fingerprint === snap('v3').hash) return;
        const by = await pause(t.clock, 10_000, [ctx.superseded]);
        waits.push(by ? 'cut short' : 'timed out');
        throw by
          ? new ReloadError('E_SUPERSEDED', 'newer content')
          : new ReloadError('E_VERIFY', 'no');
      },
    };
    const t = setup([sig, verify]);
    await t.pipeline.init(false);
    t.change('v2');
    await t.clock.tick(100);
    const started = t.clock.now();
    t.change('v3');
    await t.clock.tick(200);
    assert.deepEqual(waits, ['cut short']);
    assert.deepEqual(contents(sig), [snap('v2').hash, snap('v3').hash]);
    assert.ok(t.clock.now() - started < 1000, "not after the old attempt's timeout");
    assert.equal(t.pipeline.status().applied, snap('v3').hash);
    assert.match(
      (await t.metric(
        /hotreload_reloads_total\{rule="default",action="signal",target="signal-target",result="superseded"\}/,
      ))!,
      / 1$/,
    );
    await t.clock.tick(20_000);
    assert.equal(sig.calls.length, 2, 'no retry of the superseded content');
  });
});

describe('--dry-run', () => {
  it('counts dry_run, never success, and logs no reload', async () => {
    const a = recordingAction('http');
    const t = setup([a], { dryRun: true });
    await t.pipeline.init(false);
    t.change('v2');
    await t.clock.tick(100);
    assert.match((await t.metric(/result="dry_run"/))!, / 1$/);
    assert.equal(await t.metric(/result="success"/), undefined);
    assert.ok(!t.sink.records.some((r) => r.msg === 'reload succeeded'));
  });
});

describe('start-up, per target', () => {
  it('tells a process that started before the content, not one that started after it', async () => {
    const before = recordingAction('signal', { holderSince: WRITTEN_AT - 5000 });
    const after = recordingAction('restart', { holderSince: WRITTEN_AT + 5000 });
    const idle = recordingAction('exit', { holderSince: 'idle' });
    const t = setup([before, after, idle]);
    assert.equal(await t.pipeline.init(false), true);
    await t.pipeline.run();
    assert.deepEqual([before.calls.length, after.calls.length, idle.calls.length], [1, 0, 0]);
    const reasons = t.sink.records.find((r) => r.msg.startsWith('initial fingerprint taken'))
      ?.targets as Record<string, string>;
    assert.deepEqual(reasons, {
      'signal signal-target': 'started-before-content',
      'restart restart-target': 'started-after-content',
      'exit exit-target': 'not-running',
    });
  });

  it('tells an endpoint it cannot see when the content changed during the pod', async () => {
    const a = recordingAction('http');
    const t = setup([a], { changedDuringPod: true });
    assert.equal(await t.pipeline.init(false), true);
    await t.pipeline.run();
    assert.equal(a.calls.length, 1);
  });

  it('tells nothing when the content is what the pod started with', async () => {
    const a = recordingAction('http');
    const t = setup([a], { changedDuringPod: false });
    assert.equal(await t.pipeline.init(false), false);
    await t.pipeline.run();
    assert.equal(a.calls.length, 0);
  });
});
