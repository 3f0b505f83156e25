// Target selection on a fake /proc of a pod with a shared process namespace: the pause process as
// PID 1, the application, and hotreload with its own children.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ReloadError } from '../../../src/lib/errors.js';
import {
  describeSelector,
  findTargets,
  selectTargets,
  type ProcessSelector,
  type SelectionContext,
} from '../../../src/process/select.js';
import { listProcesses } from '../../../src/process/table.js';
import { fakeProc, type FakeProc } from '../../doubles/fake-proc.js';

const SELF = 20;
const ctx: SelectionContext = { selfPid: SELF, supervised: new Set() };
const MASTER = 'nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf';

let proc: FakeProc;
beforeEach(() => {
  proc = fakeProc();
  proc.add({ pid: 1, ppid: 0, comm: 'pause', argv: ['/pause'] });
  proc.add({ pid: SELF, ppid: 1, comm: 'node', argv: ['node', '/app/dist/main.js'] });
});
afterEach(() => proc.cleanup());

function addNginx() {
  proc.add({ pid: 10, ppid: 1, comm: 'nginx', argv: MASTER + '\0\0\0' });
  proc.add({ pid: 11, ppid: 10, comm: 'nginx', argv: 'nginx: worker process\0\0' });
  proc.add({ pid: 12, ppid: 10, comm: 'nginx', argv: 'nginx: worker process\0\0' });
}

const sel = (s: Partial<ProcessSelector>): ProcessSelector => ({ all: false, ...s });
const pids = async (s: ProcessSelector, c = ctx) =>
  (await findTargets(proc.root, s, c)).map((p) => p.pid);

async function rejection(s: ProcessSelector, c = ctx): Promise<ReloadError> {
  try {
    await findTargets(proc.root, s, c);
  } catch (err) {
    assert.ok(err instanceof ReloadError);
    return err;
  }
  return assert.fail('findTargets resolved');
}

describe('findTargets', () => {
  it('picks the nginx master, not its workers, and all three with all', async () => {
    addNginx();
    assert.deepEqual(await pids(sel({ name: 'nginx' })), [10]);
    assert.deepEqual(await pids(sel({ name: 'nginx', all: true })), [10, 11, 12]);
  });

  it("matches --process-match '^nginx: master' against the whole command line", async () => {
    addNginx();
    assert.deepEqual(await pids(sel({ match: /^nginx: master/ })), [10]);
    assert.deepEqual(await pids(sel({ match: /-c \/etc\/nginx\/nginx\.conf$/ })), [10]);
  });

  it('matches a name against the basename of argv[0] as well as the comm', async () => {
    proc.add({ pid: 30, ppid: 1, comm: 'prometheus', argv: ['/usr/bin/prometheus'] });
    proc.add({ pid: 31, ppid: 1, comm: 'renamed-thread', argv: ['/usr/bin/prometheus'] });
    assert.deepEqual(await pids(sel({ name: 'prometheus' })), [30, 31]);
  });

  it('accepts a name longer than 15 bytes whose first 15 are the truncated comm', async () => {
    proc.add({ pid: 40, ppid: 1, comm: 'configmap-watch', argv: ['python3', 'watch.py'] });
    assert.deepEqual(await pids(sel({ name: 'configmap-watcher-daemon' })), [40]);
    assert.equal((await rejection(sel({ name: 'configmap-watc' }))).code, 'E_NO_PROCESS');
  });

  it('requires every criterion given to match', async () => {
    addNginx();
    assert.deepEqual(await pids(sel({ name: 'nginx', match: /worker/ })), [11, 12]);
    const err = await rejection(sel({ name: 'httpd', match: /^nginx: master/ }));
    assert.equal(err.code, 'E_NO_PROCESS');
  });

  it('never selects PID 1, even when it matches', async () => {
    const err = await rejection(sel({ name: 'pause' }));
    assert.equal(err.code, 'E_NO_PROCESS');
    assert.match(err.message, /1 \(pause\) is PID 1/);
  });

  it('does not promote the workers of an application running as PID 1', async () => {
    proc.add({ pid: 1, ppid: 0, comm: 'nginx', argv: MASTER });
    proc.add({ pid: 11, ppid: 1, comm: 'nginx', argv: 'nginx: worker process' });
    assert.equal((await rejection(sel({ name: 'nginx' }))).code, 'E_NO_PROCESS');
  });

  it('excludes hotreload and its children, but allows its supervised child and descendants', async () => {
    proc.add({ pid: 21, ppid: SELF, comm: 'node', argv: ['node', 'hook.js'] });
    proc.add({ pid: 22, ppid: SELF, comm: 'node', argv: ['node', 'server.js'] });
    proc.add({ pid: 23, ppid: 22, comm: 'node', argv: ['node', 'worker.js'] });
    proc.add({ pid: 30, ppid: 1, comm: 'node', argv: ['node', 'other.js'] });
    const supervising = { selfPid: SELF, supervised: new Set([22]) };
    assert.deepEqual(await pids(sel({ name: 'node' }), supervising), [22, 30]);
    assert.deepEqual(await pids(sel({ name: 'node', all: true }), supervising), [22, 23, 30]);
    assert.deepEqual(await pids(sel({ name: 'node', all: true })), [30]);
  });

  it('excludes zombies and dead processes', async () => {
    proc.add({ pid: 50, ppid: 1, comm: 'app', argv: [], state: 'Z' });
    proc.add({ pid: 51, ppid: 1, comm: 'app', argv: [], state: 'X' });
    proc.add({ pid: 52, ppid: 1, comm: 'app', argv: ['app'] });
    assert.deepEqual(await pids(sel({ name: 'app' })), [52]);
    proc.setState(52, 'Z');
    const err = await rejection(sel({ name: 'app' }));
    assert.match(err.message, /50 \(app\) is a zombie, 51 \(app\) is dead, 52 \(app\) is a zombie/);
  });

  it('selects the process named by the pid file', async () => {
    addNginx();
    const pidFile = path.join(proc.root, 'nginx.pid');
    writeFileSync(pidFile, '10\n');
    assert.deepEqual(await pids(sel({ pidFile })), [10]);
    assert.deepEqual(await pids(sel({ pidFile, name: 'nginx' })), [10]);
    const err = await rejection(sel({ pidFile, match: /worker/ }));
    assert.equal(err.code, 'E_NO_PROCESS');
  });

  it('reads the pid file through the injected reader', async () => {
    addNginx();
    const read: string[] = [];
    const readFile = (p: string) => (read.push(p), Promise.resolve(' 12 '));
    const targets = await findTargets(proc.root, sel({ pidFile: '/run/x.pid' }), ctx, readFile);
    assert.deepEqual(
      targets.map((p) => p.pid),
      [12],
    );
    assert.deepEqual(read, ['/run/x.pid']);
  });

  it('names the path of a missing pid file', async () => {
    const err = await rejection(sel({ pidFile: path.join(proc.root, 'none.pid') }));
    assert.equal(err.code, 'E_PID_FILE');
    assert.match(err.message, /cannot read pid file .*none\.pid: ENOENT/);
    assert.match(err.hint ?? '', /shared with the application container/);
  });

  it('names the path and content of a garbled pid file', async () => {
    for (const content of ['nginx\n', '', '12abc', '0', '-5']) {
      const pidFile = path.join(proc.root, 'bad.pid');
      writeFileSync(pidFile, content);
      const err = await rejection(sel({ pidFile }));
      assert.equal(err.code, 'E_PID_FILE', content);
      assert.ok(err.message.includes(`pid file ${pidFile} does not hold a process id`));
      assert.ok(err.message.includes(JSON.stringify(content.trim())));
    }
  });

  it('finds nothing when the pid file names a zombie', async () => {
    proc.add({ pid: 60, ppid: 1, comm: 'nginx', argv: [], state: 'Z' });
    const pidFile = path.join(proc.root, 'nginx.pid');
    writeFileSync(pidFile, '60');
    const err = await rejection(sel({ pidFile }));
    assert.equal(err.code, 'E_NO_PROCESS');
    assert.match(err.message, new RegExp(`^no process matches --pid-file ${pidFile} `));
    assert.match(err.message, /60 \(nginx\) is a zombie/);
  });

  it('names the selector that found nothing and how many processes were visible', async () => {
    addNginx();
    const err = await rejection(sel({ name: 'haproxy', match: /^haproxy -W/ }));
    assert.equal(err.code, 'E_NO_PROCESS');
    assert.equal(
      err.message,
      "no process matches --process-name haproxy and --process-match '^haproxy -W' (5 processes visible)",
    );
    assert.equal(
      err.hint,
      'check that the pod sets shareProcessNamespace: true and that the selector matches (see /status or ps in the sidecar)',
    );
  });

  it('says the process namespace is not shared when only PID 1 and hotreload are visible', async () => {
    proc.add({ pid: 21, ppid: SELF, comm: 'sh', argv: ['sh', '-c', 'hook'] });
    const err = await rejection(sel({ name: 'nginx' }));
    assert.match(err.message, /\(3 processes visible\)/);
    assert.match(err.hint ?? '', /process namespace is not shared/);
    assert.match(err.hint ?? '', /shareProcessNamespace: true/);
  });

  it('says the process namespace is not shared when hotreload is PID 1', async () => {
    proc.remove(SELF);
    proc.add({ pid: 1, ppid: 0, comm: 'node', argv: ['node', 'main.js'] });
    const err = await rejection(sel({ name: 'nginx' }), { selfPid: 1, supervised: new Set() });
    assert.match(err.message, /\(1 process visible\)/);
    assert.match(err.hint ?? '', /process namespace is not shared/);
  });

  it('fails with E_PROC_READ when the proc root cannot be read', async () => {
    const s = sel({ name: 'nginx' });
    await assert.rejects(findTargets(path.join(proc.root, 'nope'), s, ctx), {
      code: 'E_PROC_READ',
      hint: 'check --proc-root (default /proc)',
    });
  });
});

describe('selectTargets', () => {
  it('sorts by pid and matches nothing with an empty selector', async () => {
    addNginx();
    const procs = (await listProcesses(proc.root)).reverse();
    assert.deepEqual(
      selectTargets(procs, sel({ name: 'nginx', all: true }), ctx).map((p) => p.pid),
      [10, 11, 12],
    );
    assert.deepEqual(selectTargets(procs, sel({ all: true }), ctx), []);
  });

  it('gives the same answer twice for a global regular expression', async () => {
    addNginx();
    const procs = await listProcesses(proc.root);
    const s = sel({ match: /master/g });
    assert.equal(selectTargets(procs, s, ctx).length, 1);
    assert.equal(selectTargets(procs, s, ctx).length, 1);
  });
});

describe('describeSelector', () => {
  it('joins the flags that were given with "and"', () => {
    assert.equal(describeSelector(sel({ name: 'nginx' })), '--process-name nginx');
    assert.equal(
      describeSelector(sel({ match: /^nginx: master/ })),
      "--process-match '^nginx: master'",
    );
    assert.equal(
      describeSelector(sel({ name: 'nginx', match: /master/, pidFile: '/run/nginx.pid' })),
      "--process-name nginx and --process-match 'master' and --pid-file /run/nginx.pid",
    );
  });
});
