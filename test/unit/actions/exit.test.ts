// --exit: the action asks for the exit by resolving `requested` (main reads it), after stopping
// the supervised child; a child that started after the content already runs it.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createExitAction } from '../../../src/actions/exit.js';
import { supervisedChild } from '../../../src/actions/process-targets.js';
import { parseSignal } from '../../../src/process/signals.js';
import type { Supervisor } from '../../../src/process/supervisor.js';
import { FakeClock } from '../../doubles/fake-clock.js';
import { STARTED_AFTER_CONTENT, fakeProc, type FakeProc } from '../../doubles/fake-proc.js';

let proc: FakeProc;
beforeEach(() => {
  proc = fakeProc();
  proc.add({ pid: 1, ppid: 0, comm: 'pause', argv: ['/pause'] });
});
afterEach(() => proc.cleanup());

const clock = new FakeClock();
const ctx = {
  fingerprint: 'f',
  writtenAt: clock.now(),
  changed: [],
  attempt: 1,
  signal: new AbortController().signal,
  superseded: new AbortController().signal,
};
const TERM = parseSignal('TERM')!;

/** A supervisor double: the child's pid, and the stops asked of it. */
function supervisor(pid: number) {
  const stops: string[] = [];
  const s = {
    pid,
    stop: (signal: { name: string }) => {
      stops.push(signal.name);
      return Promise.resolve();
    },
  } as unknown as Supervisor;
  return { s, stops };
}

/** Whether `p` has settled, without waiting for it. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((r) => setImmediate(r, false))]);
}

describe('--exit', () => {
  it('without a child: asks for the exit with its code, and only once it ran', async () => {
    const action = createExitAction({
      code: 3,
      child: undefined,
      stopSignal: TERM,
      stopTimeoutMs: 1000,
    });
    assert.equal(await action.holderSince?.(), 'idle');
    assert.equal(await settled(action.requested), false);
    await action.run(ctx);
    assert.equal(await action.requested, 3);
  });

  it('with a child older than the content: stops it, then asks for the exit', async () => {
    proc.add({ pid: 40, ppid: 999, comm: 'app', argv: ['app'] });
    const { s, stops } = supervisor(40);
    const deps = { procRoot: proc.root, selfPid: 999, clock };
    const child = { supervisor: s, targets: supervisedChild(s, deps) };
    const action = createExitAction({ code: 0, child, stopSignal: TERM, stopTimeoutMs: 1000 });
    await action.run(ctx);
    assert.deepEqual(stops, ['SIGTERM']);
    assert.equal(await action.requested, 0);
  });

  it('with a child that started after the content: nothing to do, no exit', async () => {
    proc.add({ pid: 40, ppid: 999, comm: 'app', argv: ['app'], startTime: STARTED_AFTER_CONTENT });
    const { s, stops } = supervisor(40);
    const deps = { procRoot: proc.root, selfPid: 999, clock };
    const child = { supervisor: s, targets: supervisedChild(s, deps) };
    const action = createExitAction({ code: 0, child, stopSignal: TERM, stopTimeoutMs: 1000 });
    assert.equal(await action.run(ctx), 'had-it');
    assert.deepEqual(stops, []);
    assert.equal(await settled(action.requested), false);
  });
});
