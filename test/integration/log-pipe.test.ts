// Log lines on a real pipe (a container's stdout): written at once while the pipe takes them,
// queued while it is full, and every line arrives once and in order when the reader catches up;
// a reader that is gone makes lines dropped and counted, never thrown. A child process writes
// through stdoutOutput(); this process is its reader. Every wait is bounded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

const LOG_MODULE = fileURLToPath(new URL('../../src/lib/log.ts', import.meta.url));
const BOUND = { timeout: 20_000 };
/** Well over a pipe's 64 KiB, well under the queue's bound (1 MiB). */
const LINES = 4000;

/** A child that writes `lines` numbered lines to its stdout, then reports on stderr. */
function writer(lines: number) {
  const code = `
    const { stdoutOutput } = await import(${JSON.stringify(LOG_MODULE)});
    const out = stdoutOutput(1);
    const pad = 'x'.repeat(80);
    for (let i = 0; i < ${lines}; i++) out.write(JSON.stringify({ seq: i, pad }) + '\\n');
    await out.drain(10000);
    process.stderr.write(JSON.stringify({ dropped: out.dropped }));
  `;
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (text += d));
    stream.on('end', () => resolve(text));
  });
}

describe('log lines on a pipe', () => {
  it('arrive whole, once and in order after the pipe was full for a while', BOUND, async () => {
    const child = writer(LINES);
    child.stdout.pause(); // nobody reads for a while: the pipe fills, lines queue
    const report = collect(child.stderr);
    await delay(1000);
    const text = collect(child.stdout);
    child.stdout.resume();
    const lines = (await text).split('\n').filter(Boolean);
    assert.deepEqual(JSON.parse(await report), { dropped: 0 });
    assert.equal(lines.length, LINES);
    lines.forEach((l, i) => assert.equal((JSON.parse(l) as { seq: number }).seq, i));
  });

  it('are dropped and counted, not thrown, when the reader is gone', BOUND, async () => {
    const child = writer(100);
    child.stdout.destroy(); // the read end closed: writes fail with EPIPE
    const report = await collect(child.stderr);
    const exit = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(exit, 0, report);
    const { dropped } = JSON.parse(report) as { dropped: number };
    assert.ok(dropped > 0 && dropped <= 100, `dropped ${dropped}`);
  });
});
