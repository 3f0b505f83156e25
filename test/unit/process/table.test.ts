// readProcess and listProcesses on a fake /proc tree in the kernel's formats, and once on the real
// /proc of the test process.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { listProcesses, readProcess } from '../../../src/process/table.js';
import { fakeProc, type FakeProc } from '../../doubles/fake-proc.js';

let proc: FakeProc;
beforeEach(() => (proc = fakeProc()));
afterEach(() => proc.cleanup());

describe('readProcess', () => {
  it('reads pid, ppid, comm, state, start time, UIDs and arguments', async () => {
    proc.add({
      pid: 42,
      ppid: 7,
      comm: 'prometheus',
      argv: ['/bin/prometheus', '--config.file=/etc/prometheus/prometheus.yml'],
      startTime: '98765',
      uid: { real: 65534, effective: 65533, saved: 65532 },
    });
    assert.deepEqual(await readProcess(proc.root, 42), {
      pid: 42,
      ppid: 7,
      comm: 'prometheus',
      argv: ['/bin/prometheus', '--config.file=/etc/prometheus/prometheus.yml'],
      cmdline: '/bin/prometheus --config.file=/etc/prometheus/prometheus.yml',
      state: 'S',
      startTime: '98765',
      uids: { real: 65534, effective: 65533, saved: 65532 },
    });
  });

  it('takes the comm up to the last parenthesis, whatever spaces and parentheses it holds', async () => {
    proc.add({ pid: 5, ppid: 1, comm: 'sh) R 9 (x y', argv: ['sh'], state: 'T' });
    proc.add({ pid: 6, ppid: 1, comm: '(sd-pam)', argv: ['(sd-pam)'] });
    const tricky = await readProcess(proc.root, 5);
    assert.equal(tricky?.comm, 'sh) R 9 (x y');
    assert.equal(tricky?.state, 'T');
    assert.equal(tricky?.ppid, 1);
    assert.equal((await readProcess(proc.root, 6))?.comm, '(sd-pam)');
  });

  it('gives a kernel thread no arguments and an empty command line', async () => {
    proc.add({ pid: 2, ppid: 0, comm: 'kthreadd', argv: [], state: 'S' });
    const kthread = await readProcess(proc.root, 2);
    assert.deepEqual(kthread?.argv, []);
    assert.equal(kthread?.cmdline, '');
  });

  it("keeps nginx's rewritten title as one argument and drops its NUL padding", async () => {
    const title = 'nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf';
    proc.add({ pid: 8, ppid: 1, comm: 'nginx', argv: title + '\0'.repeat(12) });
    const master = await readProcess(proc.root, 8);
    assert.deepEqual(master?.argv, [title]);
    assert.equal(master?.cmdline, title);
  });

  it('keeps an empty argument between others', async () => {
    proc.add({ pid: 9, ppid: 1, comm: 'sh', argv: ['sh', '-c', '', 'x'] });
    assert.deepEqual((await readProcess(proc.root, 9))?.argv, ['sh', '-c', '', 'x']);
  });

  it('resolves undefined for a process that is gone', async () => {
    proc.add({ pid: 10, ppid: 1, comm: 'app', argv: ['app'] });
    proc.remove(10);
    assert.equal(await readProcess(proc.root, 10), undefined);
  });

  it('resolves undefined when stat or status does not parse', async () => {
    proc.add({ pid: 11, ppid: 1, comm: 'app', argv: ['app'] });
    proc.add({ pid: 12, ppid: 1, comm: 'app', argv: ['app'] });
    writeFileSync(path.join(proc.root, '11', 'stat'), '11 (app S 1\n');
    writeFileSync(path.join(proc.root, '12', 'status'), 'Name:\tapp\nPid:\t12\n');
    assert.equal(await readProcess(proc.root, 11), undefined);
    assert.equal(await readProcess(proc.root, 12), undefined);
  });
});

describe('listProcesses', () => {
  it('lists every numeric entry sorted by pid, skipping others and processes that vanished', async () => {
    proc.add({ pid: 30, ppid: 1, comm: 'b', argv: ['b'] });
    proc.add({ pid: 1, ppid: 0, comm: 'pause', argv: ['/pause'] });
    proc.add({ pid: 4, ppid: 1, comm: 'a', argv: ['a'] });
    mkdirSync(path.join(proc.root, '17')); // exited between readdir and the reads
    mkdirSync(path.join(proc.root, 'sys'));
    writeFileSync(path.join(proc.root, 'uptime'), '1.0 1.0\n');
    const procs = await listProcesses(proc.root);
    assert.deepEqual(
      procs.map((p) => [p.pid, p.comm]),
      [
        [1, 'pause'],
        [4, 'a'],
        [30, 'b'],
      ],
    );
  });

  it('throws when the proc root cannot be read', async () => {
    await assert.rejects(listProcesses(path.join(proc.root, 'missing')), { code: 'ENOENT' });
  });

  it('finds the test process itself in the real /proc', async () => {
    const procs = await listProcesses('/proc');
    const self = procs.find((p) => p.pid === process.pid);
    assert.ok(self, `pid ${process.pid} not in /proc`);
    assert.equal(self.ppid, process.ppid);
    // comm is 'node' on Node 20; Node 24 names its main thread 'MainThread'.
    assert.match(self.comm, /^(node|MainThread)$/);
    assert.equal(self.argv[0], process.argv0);
    assert.equal(self.uids.real, process.getuid?.());
    assert.match(self.startTime, /^\d+$/);
    assert.ok(self.argv.length > 0);
  });
});
