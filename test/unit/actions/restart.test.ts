// --restart against a fake /proc, a recording kill and a fake clock: the stop signal, the
// escalation to SIGKILL after --stop-timeout, and --restart-wait.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { selectedProcesses } from '../../../src/actions/process-targets.js';
import { createRestartAction, type RestartActionOptions } from '../../../src/actions/restart.js';
import { ReloadError } from '../../../src/lib/errors.js';
import { parseSignal } from '../../../src/process/signals.js';
import { FakeClock } from '../../doubles/fake-clock.js';
import {
  STARTED_AFTER_CONTENT,
  errnoError,
  fakeProc,
  recordingKill,
  type FakeProc,
} from '../../doubles/fake-proc.js';
import { logSink } from '../../doubles/log-sink.js';

const APP = { ppid: 1, comm: 'filebeat', argv: ['/usr/share/filebeat/bin/filebeat', '-e'] };

let proc: FakeProc;
beforeEach(() => {
  proc = fakeProc();
  proc.add({ pid: 1, ppid: 0, comm: 'pause', argv: ['/pause'] });
  proc.add({ pid: 40, ...APP });
});
afterEach(() => proc.cleanup());

function options(
  kill: RestartActionOptions['kill'],
  clock: FakeClock,
  extra: Partial<RestartActionOptions> = {},
): RestartActionOptions {
  return {
    targets: selectedProcesses(
      { name: 'filebeat', all: false },
      { supervisor: undefined, procRoot: proc.root, selfPid: 999, clock },
    ),
    procRoot: proc.root,
    stopSignal: parseSignal('TERM')!,
    stopTimeoutMs: 10_000,
    restartWaitMs: 0,
    kill,
    selfUid: 0,
    clock,
    log: logSink().log,
    ...extra,
  };
}

/** Content written when the fake clock starts: every process of the fake /proc is older. */
const ctx = {
  fingerprint: 'f',
  writtenAt: new FakeClock().now(),
  changed: [],
  attempt: 1,
  signal: new AbortController().signal,
  superseded: new AbortController().signal,
};

/** Drives the fake clock in steps until `p` settles; real I/O (the fake /proc) runs in between. */
async function settle<T>(
  clock: FakeClock,
  p: Promise<T>,
  stepMs = 50,
  maxMs = 60_000,
): Promise<{ value?: T; error?: unknown; at: number }> {
  const start = clock.now();
  let done: { value?: T; error?: unknown } | undefined;
  p.then(
    (value) => (done = { value }),
    (error: unknown) => (done = { error }),
  );
  while (!done && clock.now() - start < maxMs) {
    await new Promise((r) => setTimeout(r, 0));
    await clock.tick(stepMs);
  }
  assert.ok(done, 'did not settle');
  return { ...done, at: clock.now() - start };
}

describe('--restart', () => {
  it('sends the stop signal and succeeds once the process is gone', async () => {
    const clock = new FakeClock();
    const kill = recordingKill((pid) => proc.remove(pid));
    const r = await settle(clock, createRestartAction(options(kill, clock)).run(ctx));
    assert.equal(r.error, undefined);
    assert.deepEqual(kill.calls, [{ pid: 40, signal: 'SIGTERM' }]);
  });

  it('counts a zombie as stopped', async () => {
    const clock = new FakeClock();
    const kill = recordingKill((pid) => proc.setState(pid, 'Z'));
    const r = await settle(clock, createRestartAction(options(kill, clock)).run(ctx));
    assert.equal(r.error, undefined);
    assert.equal(kill.calls.length, 1);
  });

  it('sends SIGKILL after --stop-timeout to a process that ignores the stop signal', async () => {
    const clock = new FakeClock();
    const kill = recordingKill((pid, signal) => signal === 'SIGKILL' && proc.remove(pid));
    const r = await settle(
      clock,
      createRestartAction(options(kill, clock, { stopTimeoutMs: 2000 })).run(ctx),
    );
    assert.equal(r.error, undefined);
    assert.deepEqual(kill.calls, [
      { pid: 40, signal: 'SIGTERM' },
      { pid: 40, signal: 'SIGKILL' },
    ]);
    assert.ok(r.at >= 2000 && r.at < 2500, `SIGKILL after ${r.at}ms`);
  });

  it('uses --stop-signal', async () => {
    const clock = new FakeClock();
    const kill = recordingKill((pid) => proc.remove(pid));
    await settle(
      clock,
      createRestartAction(options(kill, clock, { stopSignal: parseSignal('QUIT')! })).run(ctx),
    );
    assert.deepEqual(kill.calls, [{ pid: 40, signal: 'SIGQUIT' }]);
  });

  it('fails when the process survives SIGKILL', async () => {
    const clock = new FakeClock();
    const kill = recordingKill();
    const r = await settle(
      clock,
      createRestartAction(options(kill, clock, { stopTimeoutMs: 1000 })).run(ctx),
    );
    assert.ok(r.error instanceof ReloadError);
    assert.equal(r.error.code, 'E_RESTART_STUCK');
  });

  it('counts a process that exited between finding and signalling (ESRCH) as stopped', async () => {
    const clock = new FakeClock();
    const kill = recordingKill((pid) => {
      proc.remove(pid);
      throw errnoError('ESRCH');
    });
    const r = await settle(clock, createRestartAction(options(kill, clock)).run(ctx));
    assert.equal(r.error, undefined);
    assert.deepEqual(kill.calls, [{ pid: 40, signal: 'SIGTERM' }]);
  });

  it('reports EPERM with both UIDs and does not escalate', async () => {
    const clock = new FakeClock();
    proc.add({ pid: 40, ...APP, uid: 1000 });
    const kill = recordingKill(() => {
      throw errnoError('EPERM');
    });
    const r = await settle(
      clock,
      createRestartAction(options(kill, clock, { selfUid: 65532 })).run(ctx),
    );
    assert.ok(r.error instanceof ReloadError);
    assert.equal(r.error.code, 'E_PERMISSION');
    assert.match(r.error.message, /1000/);
    assert.match(r.error.message, /65532/);
    assert.equal(kill.calls.length, 1);
  });

  it('with --restart-wait, succeeds when a new matching process appears', async () => {
    const clock = new FakeClock();
    const kill = recordingKill((pid) => {
      proc.remove(pid);
      proc.add({ pid: 41, ...APP, startTime: STARTED_AFTER_CONTENT });
    });
    const sink = logSink();
    const r = await settle(
      clock,
      createRestartAction(options(kill, clock, { restartWaitMs: 5000, log: sink.log })).run(ctx),
    );
    assert.equal(r.error, undefined);
    assert.deepEqual(sink.records.find((x) => x.msg === 'new process started')?.pids, [41]);
  });

  it('with --restart-wait, fails when no new process appears in time', async () => {
    const clock = new FakeClock();
    const kill = recordingKill((pid) => proc.remove(pid));
    const r = await settle(
      clock,
      createRestartAction(options(kill, clock, { restartWaitMs: 3000 })).run(ctx),
    );
    assert.ok(r.error instanceof ReloadError);
    assert.equal(r.error.code, 'E_RESTART_WAIT');
    assert.ok(r.at >= 3000 && r.at < 3500, `gave up after ${r.at}ms`);
  });

  // Found by a code review: when a later target failed to stop, the retry stopped the earlier
  // target's new process again, though it already ran the new configuration.
  it('on a retry, stops only the processes of the first attempt still running, never a new one', async () => {
    const clock = new FakeClock();
    proc.add({ pid: 50, ...APP });
    let refused = false;
    const kill = recordingKill((pid) => {
      if (pid === 50 && !refused) {
        refused = true;
        throw errnoError('EPERM');
      }
      proc.remove(pid);
      // its container came back at once, with the new configuration
      if (pid === 40) proc.add({ pid: 41, ...APP, startTime: STARTED_AFTER_CONTENT });
    });
    const action = createRestartAction(options(kill, clock));
    const first = await settle(clock, action.run(ctx));
    assert.ok(first.error instanceof ReloadError);
    assert.equal(first.error.code, 'E_PERMISSION');
    const retry = await settle(clock, action.run({ ...ctx, attempt: 2 }));
    assert.equal(retry.error, undefined);
    assert.deepEqual(kill.calls, [
      { pid: 40, signal: 'SIGTERM' },
      { pid: 50, signal: 'SIGTERM' },
      { pid: 50, signal: 'SIGTERM' },
    ]);
  });

  it('fails with E_NO_PROCESS when nothing matches', async () => {
    const clock = new FakeClock();
    proc.remove(40);
    const r = await settle(clock, createRestartAction(options(recordingKill(), clock)).run(ctx));
    assert.ok(r.error instanceof ReloadError);
    assert.equal(r.error.code, 'E_NO_PROCESS');
  });
});
