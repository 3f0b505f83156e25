// The real clock, in real time (unit tests use the fake one): zero and negative delays, a delay
// past Node's 2^31-1 ms limit, and a zero delay that must wake an idle event loop.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { realClock } from '../../src/lib/clock.js';

describe('realClock', () => {
  it('runs a zero delay on the next turn of the event loop, and cancels one', async () => {
    const fired: string[] = [];
    realClock.setTimeout(() => fired.push('zero'), 0);
    realClock.setTimeout(() => fired.push('cancelled'), 0).cancel();
    realClock.setTimeout(() => fired.push('negative'), -5);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(fired, ['zero', 'negative']);
  });

  // Found by a code review: Node fires a delay over 2^31-1 ms after 1 ms, so --resync-interval
  // 600h re-fingerprinted continuously (2895 TimeoutOverflowWarnings in 4 s).
  it('waits out a delay longer than 24.8 days instead of firing it at once', async () => {
    let fired = false;
    const timer = realClock.setTimeout(() => (fired = true), 2 ** 31 + 5);
    await new Promise((resolve) => setTimeout(resolve, 50));
    timer.cancel();
    assert.equal(fired, false);
  });

  // Found by a review: the zero delay was an unref'd immediate, which does not wake an event
  // loop waiting for I/O; set from a timer callback (a retry), it ran only at the next unrelated
  // wake-up. Run in a child process of its own, where nothing else wakes the loop but a 3 s timer.
  it('runs a zero delay set from a timer callback at once, not at the next wake-up', async () => {
    const source = [
      `import { realClock } from ${JSON.stringify(new URL('../../src/lib/clock.ts', import.meta.url).pathname)};`,
      'const keep = setTimeout(() => {}, 3000);',
      'realClock.setTimeout(() => {',
      '  const t = performance.now();',
      '  realClock.setTimeout(() => {',
      '    console.log(Math.round(performance.now() - t));',
      '    clearTimeout(keep);',
      '  }, 0);',
      '}, 10);',
    ].join('\n');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', source],
      { timeout: 10_000 },
    );
    assert.ok(Number(stdout) < 500, `the zero delay ran ${stdout.trim()} ms late`);
  });
});
