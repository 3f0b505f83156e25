// ProcessTargets, chosen once per configuration: the processes the selectors pick, or the
// supervised child. Against a fake /proc and a fake clock.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { selectedProcesses, supervisedChild } from '../../../src/actions/process-targets.js';
import { ReloadError } from '../../../src/lib/errors.js';
import type { Supervisor } from '../../../src/process/supervisor.js';
import { FakeClock } from '../../doubles/fake-clock.js';
import { fakeProc, type FakeProc } from '../../doubles/fake-proc.js';

let proc: FakeProc;
beforeEach(() => {
  proc = fakeProc();
  proc.add({ pid: 1, ppid: 0, comm: 'pause', argv: ['/pause'] });
  proc.add({ pid: 999, ppid: 0, comm: 'node', argv: ['node', 'hotreload'] });
  proc.add({ pid: 40, ppid: 999, comm: 'nginx', argv: ['nginx', '-g', 'daemon off;'] });
  proc.add({ pid: 50, ppid: 1, comm: 'nginx', argv: ['nginx', '-g', 'daemon off;'] });
});
afterEach(() => proc.cleanup());

/** Only what ProcessTargets reads of a Supervisor: the child's pid. */
function supervisorOf(pid: number | undefined): Supervisor {
  return { pid } as Supervisor;
}

describe('ProcessTargets', () => {
  it('selected processes: found by the selector, the supervised child among them known as such', async () => {
    const supervisor = supervisorOf(40);
    const targets = selectedProcesses(
      { name: 'nginx', all: true },
      { supervisor, procRoot: proc.root, selfPid: 999, clock: new FakeClock() },
    );
    assert.equal(targets.short, 'the selected process');
    assert.equal(targets.wanted, '--process-name nginx');
    const found = await targets.find();
    assert.deepEqual(
      found.map((p) => p.pid),
      [40, 50],
    );
    assert.equal(targets.supervisorOf(found[0]!), supervisor);
    assert.equal(targets.supervisorOf(found[1]!), undefined);
    assert.equal(typeof (await targets.oldestStart()), 'number');
  });

  it('selected processes: none matching is E_NO_PROCESS, and idle for holderSince', async () => {
    const targets = selectedProcesses(
      { name: 'prometheus', all: false },
      { supervisor: undefined, procRoot: proc.root, selfPid: 999, clock: new FakeClock() },
    );
    await assert.rejects(
      targets.find(),
      (err: unknown) => err instanceof ReloadError && err.code === 'E_NO_PROCESS',
    );
    assert.equal(await targets.oldestStart(), 'idle');
  });

  it('the supervised child: its one process, with its start time', async () => {
    const supervisor = supervisorOf(40);
    const targets = supervisedChild(supervisor, {
      procRoot: proc.root,
      selfPid: 999,
      clock: new FakeClock(),
    });
    assert.equal(targets.short, 'the child');
    assert.equal(targets.wanted, 'the child');
    const aged = await targets.aged();
    assert.deepEqual(
      aged.map((a) => a.proc.pid),
      [40],
    );
    assert.ok(Number.isFinite(aged[0]!.startedAt));
    assert.equal(targets.supervisorOf(aged[0]!.proc), supervisor);
  });

  it('the supervised child while it restarts: E_NO_PROCESS, retried; idle for holderSince', async () => {
    const targets = supervisedChild(supervisorOf(undefined), {
      procRoot: proc.root,
      selfPid: 999,
      clock: new FakeClock(),
    });
    await assert.rejects(targets.find(), (err: unknown) => {
      assert.ok(err instanceof ReloadError);
      assert.equal(err.code, 'E_NO_PROCESS');
      assert.match(err.hint ?? '', /retried/);
      return true;
    });
    assert.equal(await targets.oldestStart(), 'idle');
  });
});
