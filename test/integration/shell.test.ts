// runShell with a real /bin/sh: the command's output is logged within bounds (a line without an
// end never grows in memory, a flood of lines is counted, not logged), a process it leaves in the
// background does not hold the result back, a long change list does not fail the spawn (E2BIG),
// and an abort at shutdown kills a command that ignores SIGTERM before hotreload would exit.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { realClock } from '../../src/lib/clock.js';
import {
  MAX_CHANGED_BYTES,
  MAX_LINES,
  MAX_LINE_CHARS,
  runShell,
  type ShellOptions,
} from '../../src/process/shell.js';
import { cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import { logSink } from '../doubles/log-sink.js';
import { isAlive } from '../harness/processes.js';
import { waitFor } from '../harness/wait.js';

after(cleanupTempDirs);

const BOUND = { timeout: 20_000 };

function shell(command: string, overrides: Partial<ShellOptions> = {}) {
  const sink = logSink();
  const run = runShell({
    command,
    timeoutMs: 10_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    changed: ['/etc/app/app.conf'],
    fingerprint: 'f'.repeat(64),
    signal: new AbortController().signal,
    clock: realClock,
    log: sink.log,
    label: 'exec',
    ...overrides,
  });
  const output = () => sink.records.filter((r) => r.msg.startsWith('exec: ')).map((r) => r.msg);
  return { run, sink, output };
}

describe('runShell', () => {
  it('logs each output line, cutting a long one at MAX_LINE_CHARS', BOUND, async () => {
    const t = shell(`head -c ${MAX_LINE_CHARS + 500} /dev/zero | tr '\\0' a; echo; echo second`);
    assert.deepEqual(await t.run, { kind: 'exited', code: 0, signal: null });
    const [first, second] = t.output();
    assert.equal(
      first,
      `exec: ${'a'.repeat(MAX_LINE_CHARS)}… (line cut at ${MAX_LINE_CHARS} characters)`,
    );
    assert.equal(second, 'exec: second');
  });

  // Found by a review: readline held a line without an end whole, so 700 MB of output without a
  // newline ended the sidecar with "Invalid string length".
  it('survives 200 MB of output without a newline, logging only its start', BOUND, async () => {
    const t = shell(`head -c 200000000 /dev/zero | tr '\\0' a`);
    assert.deepEqual(await t.run, { kind: 'exited', code: 0, signal: null });
    assert.equal(t.output().length, 1);
    assert.ok(t.output()[0]!.length < MAX_LINE_CHARS + 100);
  });

  it('logs MAX_LINES lines, then says how many more there were', BOUND, async () => {
    const t = shell(`seq 1 ${MAX_LINES + 500}`);
    await t.run;
    const lines = t.output();
    assert.equal(lines.length, MAX_LINES + 1);
    assert.equal(lines.at(-2), `exec: ${MAX_LINES}`);
    assert.equal(lines.at(-1), 'exec: 500 more output lines not logged');
  });

  // Found by a review: the result waited for the pipes to close, which a process left in the
  // background keeps open: the reload hung for ever (or, with `&`, ended as a timeout).
  it(
    'reports the exit of the shell when a process it started in the background keeps the pipes open',
    BOUND,
    async () => {
      const dir = await makeTempDir('shell-background');
      const pidFile = path.join(dir, 'pid');
      const t = shell(`setsid sh -c 'echo $$ > ${pidFile}; exec sleep 30' & echo started`, {
        timeoutMs: 5000,
      });
      const started = Date.now();
      const result = await t.run;
      const pid = Number(await readFile(pidFile, 'utf8').catch(() => '0'));
      try {
        assert.deepEqual(result, { kind: 'exited', code: 0, signal: null });
        assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
        assert.deepEqual(t.output(), ['exec: started']);
      } finally {
        if (pid > 0) process.kill(pid, 'SIGKILL');
      }
    },
  );

  // Found by a review: one environment string over 128 KiB makes spawn throw E2BIG.
  it('cuts a long HOTRELOAD_CHANGED at a line end and says it did', BOUND, async () => {
    const changed = Array.from({ length: 1500 }, (_, i) => `/etc/app/${'x'.repeat(90)}-${i}.conf`);
    const t = shell(
      'echo "$HOTRELOAD_CHANGED_TRUNCATED $(printf %s "$HOTRELOAD_CHANGED" | wc -l)"',
      {
        changed,
      },
    );
    assert.deepEqual(await t.run, { kind: 'exited', code: 0, signal: null });
    const [line] = t.output();
    const [flag, newlines] = line!.slice('exec: '.length).split(' ');
    assert.equal(flag, 'true');
    const kept = Number(newlines) + 1;
    assert.ok(kept > 0 && kept < changed.length, `kept ${kept}`);
    assert.ok(kept * 100 <= MAX_CHANGED_BYTES + 100);
  });

  it('sets no HOTRELOAD_CHANGED_TRUNCATED when the list fits', BOUND, async () => {
    const t = shell(
      'echo "[$HOTRELOAD_CHANGED_TRUNCATED] $HOTRELOAD_CHANGED $HOTRELOAD_FINGERPRINT"',
    );
    await t.run;
    assert.deepEqual(t.output(), [`exec: [] /etc/app/app.conf ${'f'.repeat(64)}`]);
  });

  // Found by a review: at shutdown the SIGKILL came 2 s after the SIGTERM, but hotreload exits 1 s
  // after aborting, so a command that ignored SIGTERM outlived it.
  it('kills a command that ignores SIGTERM soon after an abort', BOUND, async () => {
    const dir = await makeTempDir('shell-abort');
    const pidFile = path.join(dir, 'pid');
    const abort = new AbortController();
    const t = shell(`trap '' TERM; echo $$ > ${pidFile}; sleep 300 & wait`, {
      signal: abort.signal,
    });
    await waitFor(
      async () => (await readFile(pidFile, 'utf8').catch(() => '')) !== '',
      5000,
      'the command to start',
    );
    const pid = Number(await readFile(pidFile, 'utf8'));
    const aborted = Date.now();
    abort.abort();
    assert.deepEqual(await t.run, { kind: 'aborted' });
    assert.ok(Date.now() - aborted < 1000, `stopped after ${Date.now() - aborted} ms`);
    assert.equal(await isAlive(pid), false);
  });
});
