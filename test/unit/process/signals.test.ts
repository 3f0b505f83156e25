// Signal parsing and sending on a fake /proc with a recording kill: the PID-reuse guard and the
// mapping of kill(2) errors.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  SIGNAL_NAMES,
  isGone,
  parseSignal,
  sendSignal,
  type KillFn,
  type SignalSpec,
} from '../../../src/process/signals.js';
import { readProcess, type ProcInfo } from '../../../src/process/table.js';
import { errnoError, fakeProc, recordingKill, type FakeProc } from '../../doubles/fake-proc.js';

const HUP: SignalSpec = { name: 'SIGHUP', number: 1 };
const SELF_UID = 1000;

let proc: FakeProc;
beforeEach(() => {
  proc = fakeProc();
  proc.add({ pid: 1, ppid: 0, comm: 'pause', argv: ['/pause'], uid: 65535 });
  proc.add({ pid: 10, ppid: 1, comm: 'nginx', argv: 'nginx: master process', uid: 101 });
});
afterEach(() => proc.cleanup());

async function selected(pid: number): Promise<ProcInfo> {
  const p = await readProcess(proc.root, pid);
  assert.ok(p, `fake process ${pid} missing`);
  return p;
}

const deps = (kill: KillFn) => ({ procRoot: proc.root, kill, selfUid: SELF_UID });

describe('parseSignal', () => {
  const valid: [string, string, number][] = [
    ['HUP', 'SIGHUP', 1],
    ['SIGHUP', 'SIGHUP', 1],
    ['hup', 'SIGHUP', 1],
    ['sighup', 'SIGHUP', 1],
    [' 1 ', 'SIGHUP', 1],
    ['1', 'SIGHUP', 1],
    ['USR1', 'SIGUSR1', 10],
    ['SIGUSR2', 'SIGUSR2', 12],
    ['15', 'SIGTERM', 15],
    ['6', 'SIGABRT', 6],
    ['IOT', 'SIGIOT', 6],
    ['winch', 'SIGWINCH', 28],
    ['9', 'SIGKILL', 9],
  ];
  for (const [text, name, number] of valid) {
    it(`reads ${JSON.stringify(text)} as ${name}`, () => {
      assert.deepEqual(parseSignal(text), { name, number });
    });
  }

  for (const text of ['', '0', '-1', '65', '1.5', 'SIG', 'HANGUP', 'SIGFOO', 'SIG HUP', 'RTMIN']) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parseSignal(text), undefined);
    });
  }

  it('lists the names it accepts', () => {
    assert.ok(SIGNAL_NAMES.includes('SIGHUP'));
    assert.ok(SIGNAL_NAMES.includes('SIGUSR1'));
    assert.ok(SIGNAL_NAMES.every((n) => n.startsWith('SIG') && parseSignal(n)?.name === n));
  });
});

describe('sendSignal', () => {
  it('sends the signal to the selected process', async () => {
    const kill = recordingKill();
    await sendSignal(await selected(10), HUP, deps(kill));
    assert.deepEqual(kill.calls, [{ pid: 10, signal: 'SIGHUP' }]);
  });

  it('does not signal a reused pid: the start time changed between select and send', async () => {
    const target = await selected(10);
    proc.remove(10);
    proc.add({ pid: 10, ppid: 1, comm: 'nginx', argv: ['other'], startTime: '555555' });
    const kill = recordingKill();
    await assert.rejects(sendSignal(target, HUP, deps(kill)), {
      name: 'ReloadError',
      code: 'E_PROCESS_GONE',
      message: 'process 10 (nginx) exited before it could be signalled; will look again',
    });
    assert.deepEqual(kill.calls, []);
  });

  it('does not signal a process that exited or became a zombie', async () => {
    const target = await selected(10);
    const kill = recordingKill();
    proc.setState(10, 'Z');
    await assert.rejects(sendSignal(target, HUP, deps(kill)), { code: 'E_PROCESS_GONE' });
    proc.remove(10);
    await assert.rejects(sendSignal(target, HUP, deps(kill)), { code: 'E_PROCESS_GONE' });
    assert.deepEqual(kill.calls, []);
  });

  it('names the signal, the process and both UIDs when kill fails with EPERM', async () => {
    const kill = recordingKill(() => {
      throw errnoError('EPERM');
    });
    await assert.rejects(sendSignal(await selected(10), HUP, deps(kill)), (err: unknown) => {
      assert.ok(err instanceof Error && 'code' in err && 'hint' in err);
      assert.equal(err.code, 'E_PERMISSION');
      assert.equal(
        err.message,
        'not permitted to send SIGHUP to process 10 (nginx): it runs as UID 101 and hotreload as UID 1000',
      );
      assert.equal(
        err.hint,
        'run hotreload as UID 101 (securityContext.runAsUser: 101 on the hotreload container); adding CAP_KILL does not help a container that does not run as root',
      );
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'EPERM');
      return true;
    });
    assert.equal(kill.calls.length, 1);
  });

  it('reports ESRCH from kill as a process that is gone', async () => {
    const kill = recordingKill(() => {
      throw errnoError('ESRCH');
    });
    await assert.rejects(sendSignal(await selected(10), HUP, deps(kill)), {
      code: 'E_PROCESS_GONE',
    });
    assert.equal(kill.calls.length, 1);
  });

  it('reports any other kill error as E_SIGNAL', async () => {
    const kill = recordingKill(() => {
      throw errnoError('EINVAL');
    });
    await assert.rejects(sendSignal(await selected(10), HUP, deps(kill)), {
      code: 'E_SIGNAL',
      message: /cannot send SIGHUP to process 10 \(nginx\): kill EINVAL/,
    });
  });

  it('refuses PID 1, pids below it and hotreload itself without calling kill', async () => {
    proc.add({ pid: process.pid, ppid: 1, comm: 'node', argv: ['node'] });
    const kill = recordingKill();
    const pause = await selected(1);
    const targets = [
      pause,
      { ...pause, pid: 0 },
      { ...pause, pid: -1 },
      await selected(process.pid),
    ];
    for (const target of targets) {
      await assert.rejects(sendSignal(target, HUP, deps(kill)), {
        code: 'E_REFUSED',
        message: new RegExp(`^refusing to send SIGHUP to process ${target.pid} `),
      });
    }
    assert.deepEqual(kill.calls, []);
  });
});

describe('isGone', () => {
  it('is false for the same process and true once it exited, turned zombie or was replaced', async () => {
    const target = await selected(10);
    assert.equal(await isGone(proc.root, target), false);
    proc.add({ pid: 10, ppid: 1, comm: 'nginx', argv: ['nginx'], startTime: '999999' });
    assert.equal(await isGone(proc.root, target), true);
    proc.add({ pid: 10, ppid: 1, comm: 'nginx', argv: ['nginx'], startTime: target.startTime });
    assert.equal(await isGone(proc.root, target), false);
    proc.setState(10, 'Z');
    assert.equal(await isGone(proc.root, target), true);
    proc.remove(10);
    assert.equal(await isGone(proc.root, target), true);
  });
});
