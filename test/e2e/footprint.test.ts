// The mechanisms that keep hotreload's cost proportional to the change, not the volume, checked
// on the built CLI at the system-call level (strace): one inotify watch per kubelet volume, no
// listing of the volume directory when an event comes, one read of each new generation per swap
// (not one while the kubelet writes it and another after), and change log lines that stay short
// for a big change. Not timed: the counts are exact whatever the machine's speed.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import { TIMEOUT, hotreload, killProcesses, reloaded, volume } from '../harness/e2e.js';
import { requireProgram } from '../harness/programs.js';
import { startEndpoint, closeEndpoints } from '../harness/reliability.js';
import { waitFor } from '../harness/wait.js';

afterEach(async () => {
  await killProcesses();
  await closeEndpoints();
});
after(cleanupTempDirs);

const STRACE = '/usr/bin/strace';
const SWAPS = 20;

/** The process strace started (its only child). */
async function tracee(stracePid: number): Promise<number> {
  const children = await readFile(`/proc/${stracePid}/task/${stracePid}/children`, 'utf8');
  return Number(children.trim().split(' ')[0]);
}

/** The system calls of one kind strace logged, one line each: `PID syscall(args) = result`. */
function calls(trace: string, syscall: string): string[] {
  return trace.split('\n').filter((l) => new RegExp(`^\\d+\\s+${syscall}\\(`).test(l));
}

describe('the cost of a change', () => {
  const skip = requireProgram(STRACE, process.env, 'apt-get install strace');

  it(
    `a kubelet volume of 300 keys: one inotify watch, no listing of the volume directory per event, one read of each generation per swap (${SWAPS} swaps)`,
    { ...TIMEOUT, skip },
    async () => {
      const keys = (v: number) =>
        Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`key-${i}.conf`, `v${v}-${i}`]));
      const { dir, writer } = await volume('cost', keys(0));
      const app = await startEndpoint(path.join(dir, 'key-0.conf'));
      const trace = path.join(await makeTempDir('strace'), 'trace.txt');
      const hr = hotreload(
        ['--watch', dir, '--http-url', app.url, '--debounce', '0', '--listen', '127.0.0.1:0'],
        {},
        {
          wrap: [STRACE, '-f', '-qq', '-e', 'trace=inotify_add_watch,openat', '-o', trace],
        },
      );
      await hr.ready(20_000);
      const atStart = (await readFile(trace, 'utf8')).split('\n').length;
      for (let v = 1; v <= SWAPS; v++) {
        await writer.write(keys(v));
        await waitFor(() => app.taken().includes(`v${v}-0`), 10_000, `swap ${v} delivered`);
      }
      // The application has the content before hotreload has its answer and logs the reload.
      await waitFor(
        () => hr.logs.filter(reloaded).length === SWAPS,
        10_000,
        `${SWAPS} reloads logged`,
      );
      // SIGTERM goes to hotreload itself: strace would detach from it and leave it running.
      process.kill(await tracee(hr.proc.pid!), 'SIGTERM');
      assert.deepEqual(await hr.exited, { code: 0, signal: null });

      const all = await readFile(trace, 'utf8');
      const watches = calls(all, 'inotify_add_watch');
      assert.deepEqual(
        watches.map((l) => /"([^"]*)"/.exec(l)?.[1]),
        [dir],
        'one watch, on the volume directory',
      );
      const afterStart = all
        .split('\n')
        .slice(atStart - 1)
        .join('\n');
      const opens = calls(afterStart, 'openat');
      const volumeListings = opens.filter(
        (l) => l.includes(`"${dir}"`) && l.includes('O_DIRECTORY'),
      );
      assert.deepEqual(volumeListings, [], 'the volume directory was listed after start');
      const generationReads = opens.filter(
        (l) => /"[^"]*\/\.\.\d{4}_[^"/]*"/.test(l) && l.includes('O_DIRECTORY'),
      );
      assert.equal(
        generationReads.length,
        SWAPS,
        `each new generation listed once: ${generationReads.length} listings for ${SWAPS} swaps`,
      );
    },
  );

  it(
    'a plain directory of 500 files: a change of one file reads that file, not the directory (20 changes)',
    { ...TIMEOUT, skip },
    async () => {
      const dir = await makeTempDir('plain-cost');
      await mkdir(path.join(dir, 'sub'));
      for (let i = 0; i < 500; i++) {
        await writeFile(path.join(dir, i % 2 ? 'sub' : '', `file-${i}.conf`), `v0-${i}`);
      }
      const changing = path.join(dir, 'sub', 'file-1.conf');
      const app = await startEndpoint(changing);
      const trace = path.join(await makeTempDir('strace'), 'trace.txt');
      const hr = hotreload(
        ['--watch', dir, '--http-url', app.url, '--debounce', '0', '--listen', '127.0.0.1:0'],
        {},
        { wrap: [STRACE, '-f', '-qq', '-e', 'trace=openat', '-o', trace] },
      );
      await hr.ready(20_000);
      const atStart = (await readFile(trace, 'utf8')).split('\n').length;
      for (let v = 1; v <= SWAPS; v++) {
        await writeFile(changing, `v${v}`);
        await waitFor(() => app.taken().includes(`v${v}`), 10_000, `change ${v} delivered`);
      }
      await waitFor(() => hr.logs.filter(reloaded).length >= SWAPS, 10_000, 'reloads logged');
      process.kill(await tracee(hr.proc.pid!), 'SIGTERM');
      assert.deepEqual(await hr.exited, { code: 0, signal: null });

      const afterStart = (await readFile(trace, 'utf8'))
        .split('\n')
        .slice(atStart - 1)
        .join('\n');
      const opens = calls(afterStart, 'openat').filter((l) => l.includes(`"${dir}`));
      const others = opens.filter((l) => !l.includes(`"${changing}"`));
      // The endpoint (this process) reads the file too, but strace follows hotreload only.
      assert.deepEqual(others, [], 'nothing but the changed file was opened');
      assert.ok(
        opens.length >= SWAPS && opens.length <= 2 * SWAPS,
        `${opens.length} opens of the changed file for ${SWAPS} changes`,
      );
    },
  );

  it(
    'a change of 5,000 keys logs one short line: the first 20 paths of each list and the counts',
    TIMEOUT,
    async () => {
      const keys = (v: number) =>
        Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`key-${i}.conf`, `v${v}`]));
      const { dir, writer } = await volume('big-change', keys(0));
      const hr = hotreload(['--watch', dir, '--dry-run', '--debounce', '0', '--listen', '']);
      await hr.ready(20_000);
      await writer.write(keys(1));
      const change = await hr.waitForLog((r) => r.msg === 'change detected', 20_000);
      assert.deepEqual(change.counts, { added: 0, changed: 5000, removed: 0 });
      assert.equal((change.changed as string[]).length, 20);
      assert.ok(JSON.stringify(change).length < 4096, `${JSON.stringify(change).length} bytes`);
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );
});
