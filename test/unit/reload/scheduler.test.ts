import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RunScheduler } from '../../../src/reload/scheduler.js';
import { FakeClock } from '../../doubles/fake-clock.js';

function setup(quietMs = 300, maxWaitMs = 1000, runMs = 0) {
  const clock = new FakeClock();
  const runs: number[] = [];
  const errors: unknown[] = [];
  const d = new RunScheduler(
    async () => {
      runs.push(clock.now());
      if (runMs > 0) await new Promise<void>((r) => clock.setTimeout(r, runMs));
    },
    { quietMs, maxWaitMs, clock, onError: (e) => errors.push(e) },
  );
  return { clock, runs, errors, d, t0: clock.now() };
}

describe('RunScheduler', () => {
  it('runs once the quiet period has passed without another trigger', async () => {
    const { clock, runs, d, t0 } = setup();
    d.trigger();
    await clock.tick(299);
    assert.equal(runs.length, 0);
    await clock.tick(1);
    assert.deepEqual(runs, [t0 + 300]);
  });

  it('restarts the quiet period on each trigger and coalesces a burst into one run', async () => {
    const { clock, runs, d, t0 } = setup();
    for (let i = 0; i < 3; i++) {
      d.trigger();
      await clock.tick(200);
    }
    assert.equal(runs.length, 0);
    await clock.tick(100);
    assert.deepEqual(runs, [t0 + 700]);
    await clock.tick(5000);
    assert.equal(runs.length, 1);
  });

  it('runs at max-wait under continuous change', async () => {
    const { clock, runs, d, t0 } = setup(300, 1000);
    for (let i = 0; i < 20; i++) {
      d.trigger();
      await clock.tick(100);
    }
    assert.deepEqual(runs, [t0 + 1000, t0 + 2000]);
  });

  it('with a zero quiet period runs on the next timer turn', async () => {
    const { clock, runs, d, t0 } = setup(0, 1000);
    d.trigger();
    d.trigger();
    await clock.tick(0);
    assert.deepEqual(runs, [t0]);
  });

  it('schedules exactly one more run for triggers that arrive during a run', async () => {
    const { clock, runs, d, t0 } = setup(100, 1000, 500);
    d.trigger();
    await clock.tick(100); // run starts at t0+100, lasts until t0+600
    assert.equal(runs.length, 1);
    d.trigger();
    await clock.tick(50);
    d.trigger();
    await clock.tick(50);
    d.trigger(); // last trigger at t0+200
    await clock.tick(400); // run ends at t0+600; quiet period already over
    assert.deepEqual(runs, [t0 + 100, t0 + 600]);
    await clock.tick(5000);
    assert.equal(runs.length, 2);
  });

  it('never runs two at once', async () => {
    const clock = new FakeClock();
    let active = 0;
    let maxActive = 0;
    const d = new RunScheduler(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise<void>((r) => clock.setTimeout(r, 250));
        active--;
      },
      { quietMs: 0, maxWaitMs: 100, clock, onError: () => {} },
    );
    for (let i = 0; i < 50; i++) {
      d.trigger();
      d.runNow();
      await clock.tick(37);
    }
    await clock.tick(2000);
    assert.equal(maxActive, 1);
  });

  it('runNow skips the quiet period', async () => {
    const { clock, runs, d, t0 } = setup(300, 1000);
    d.runNow();
    await clock.tick(0);
    assert.deepEqual(runs, [t0]);
  });

  it('reports a rejected run and keeps working', async () => {
    const clock = new FakeClock();
    const errors: unknown[] = [];
    let n = 0;
    const d = new RunScheduler(
      () => (++n === 1 ? Promise.reject(new Error('boom')) : Promise.resolve()),
      { quietMs: 10, maxWaitMs: 100, clock, onError: (e) => errors.push(e) },
    );
    d.trigger();
    await clock.tick(10);
    d.trigger();
    await clock.tick(10);
    assert.equal(n, 2);
    assert.equal(errors.length, 1);
  });

  it('stop cancels what is scheduled and leaves no timer behind', async () => {
    const { clock, runs, d } = setup();
    d.trigger();
    d.stop();
    assert.equal(clock.pending, 0);
    d.trigger();
    await clock.tick(5000);
    assert.equal(runs.length, 0);
  });
});

describe('RunScheduler: reasons and hold', () => {
  function withReasons(held = false) {
    const clock = new FakeClock();
    const runs: string[][] = [];
    const d = new RunScheduler(
      (reasons) => {
        runs.push([...reasons].sort());
        return Promise.resolve();
      },
      { quietMs: 300, maxWaitMs: 1000, clock, onError: (e) => assert.fail(String(e)), held },
    );
    return { clock, runs, d };
  }

  it('tells a run the reasons of every request it answers, and the next run only its own', async () => {
    const { clock, runs, d } = withReasons();
    d.trigger('change');
    d.trigger('resync');
    await clock.tick(300);
    d.runNow('retry');
    await clock.tick(0);
    assert.deepEqual(runs, [['change', 'resync'], ['retry']]);
  });

  it('while held keeps the requests and runs nothing; once released runs them as it would have', async () => {
    const { clock, runs, d } = withReasons(true);
    d.trigger('change');
    await clock.tick(5000);
    assert.deepEqual(runs, []);
    d.release();
    d.runNow('start');
    await clock.tick(0);
    assert.deepEqual(runs, [['change', 'start']]);
  });
});

describe('RunScheduler: the loop timers', () => {
  function loop(resyncIntervalMs = 0) {
    const clock = new FakeClock();
    const runs: string[][] = [];
    let rechecks = 0;
    const s = new RunScheduler(
      (reasons) => {
        runs.push([...reasons].sort());
        return Promise.resolve();
      },
      {
        quietMs: 100,
        maxWaitMs: 1000,
        clock,
        onError: (e) => assert.fail(String(e)),
        held: true,
        resyncIntervalMs,
        beforeResync: () => rechecks++,
      },
    );
    return { clock, runs, s, rechecks: () => rechecks };
  }

  it('after() runs for its reason when due, calling onDue first; a cancelled one never runs', async () => {
    const { clock, runs, s } = loop();
    s.release();
    const due: string[] = [];
    s.after('retry', 500, () => due.push('a'));
    s.after('retry', 700, () => due.push('b')).cancel();
    await clock.tick(499);
    assert.deepEqual(runs, []);
    await clock.tick(1);
    assert.deepEqual(due, ['a']);
    assert.deepEqual(runs, [['retry']]);
    await clock.tick(1000);
    assert.deepEqual(runs, [['retry']]);
  });

  it('resyncs every interval once released, after the quiet period, rechecking first', async () => {
    const { clock, runs, s, rechecks } = loop(1000);
    await clock.tick(3000);
    assert.deepEqual(runs, [], 'held: no resync before the initial fingerprint');
    s.release();
    await clock.tick(1000);
    assert.equal(rechecks(), 1);
    assert.deepEqual(runs, []);
    await clock.tick(100);
    assert.deepEqual(runs, [['resync']]);
    await clock.tick(1000);
    assert.equal(rechecks(), 2);
  });

  it('stop() cancels every timer it set: quiet period, retries and the resync', async () => {
    const { clock, runs, s, rechecks } = loop(1000);
    s.release();
    s.trigger('change');
    s.after('retry', 300);
    s.stop();
    await clock.tick(10_000);
    assert.deepEqual(runs, []);
    assert.equal(rechecks(), 0);
  });
});
