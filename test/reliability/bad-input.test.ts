// The bad-input suite: every flag of the built CLI given a bad value, on the command line or
// through HOTRELOAD_<FLAG>, plus missing values, unknown flags, typos and flags that need another
// one. Each case must end at option checking: exit code 2, nothing on stdout (hotreload never
// started), and a message on stderr naming the flag and the bad value. The cases are checked
// against OPTIONS, so a new flag without a case fails the suite.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OPTIONS } from '../../src/config/options.js';
import {
  BASE,
  BOOLEAN_CASES,
  COMBINATION_CASES,
  ENV_CASES,
  MISSING_CASES,
  STRAY_CASES,
  VALUE_CASES,
  type Case,
  type Flag,
} from '../harness/bad-input-cases.js';
import { runUsage } from '../harness/reliability.js';

/** Exit 2, nothing on stdout, one message on stderr that shows every one of `shows`. */
async function expectUsageError(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  shows: readonly string[],
  hides?: string,
): Promise<void> {
  const run = await runUsage(args, { ...env });
  const got = `stderr: ${run.stderr || '(empty)'}`;
  assert.equal(run.started, false, `hotreload started instead of refusing the options; ${got}`);
  assert.equal(run.code, 2, `exit code ${run.code}; ${got}`);
  assert.equal(run.stdout, '', 'something on stdout');
  assert.match(run.stderr, /^hotreload: /, got);
  for (const text of shows) assert.ok(run.stderr.includes(text), `${got}; missing ${text}`);
  if (hides !== undefined) assert.ok(!run.stderr.includes(hides), `${got}; shows ${hides}`);
}

function caseTest(c: Case): void {
  it(`--${c.flag}: ${c.what}`, async () => {
    const shows = [`--${c.flag}`, c.shows];
    if (c.env) shows.push(...Object.keys(c.env));
    await expectUsageError(c.args, c.env ?? {}, shows, c.hides);
  });
}

const ALL: Case[] = [...BOOLEAN_CASES, ...VALUE_CASES, ...MISSING_CASES, ...COMBINATION_CASES];
/** The CLI runs 4 at a time: fast, without starving a small CI machine. */
const PARALLEL = { concurrency: 4 };

describe('every flag has a bad-input case', () => {
  it('covers each option of OPTIONS (src/config/options.ts) with at least one case', () => {
    const covered = new Set(ALL.map((c) => c.flag));
    const missingFlags = Object.keys(OPTIONS).filter((f) => !covered.has(f as Flag));
    assert.deepEqual(missingFlags, [], 'flags without a case: add them to bad-input.test.ts');
  });
});

// Iterates OPTIONS, not the cases, so a flag added to the CLI shows up here as a failing test of
// its own until it has a case.
describe(
  'a bad value: exit 2, nothing on stdout, a message naming the flag and the value',
  PARALLEL,
  () => {
    for (const flag of Object.keys(OPTIONS) as Flag[]) {
      if (!ALL.some((c) => c.flag === flag)) {
        it(`--${flag}: has a bad-input case`, () => {
          assert.fail(`--${flag} has no case; add one to test/reliability/bad-input.test.ts`);
        });
      }
      for (const c of [...BOOLEAN_CASES, ...VALUE_CASES]) if (c.flag === flag) caseTest(c);
    }
  },
);

describe('a missing value', PARALLEL, () => {
  for (const c of MISSING_CASES) caseTest(c);
});

describe('a flag that needs another one', PARALLEL, () => {
  for (const c of COMBINATION_CASES) caseTest(c);
});

describe('a flag or argument hotreload does not have', PARALLEL, () => {
  for (const c of STRAY_CASES) {
    it(c.what, () => expectUsageError(c.args, {}, c.shows));
  }
});

describe('a variable hotreload does not have', PARALLEL, () => {
  for (const c of ENV_CASES) {
    it(c.what, () => expectUsageError(BASE, c.env, c.shows));
  }
});
