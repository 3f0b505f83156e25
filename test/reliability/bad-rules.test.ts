// The bad-input suite for the rules file (--config): every bad-input case of a rule setting
// (bad-input-cases.ts), written as a key of a rule instead of a flag, and given to the built CLI.
// Each must end at option checking like its flag does: exit 2, nothing on stdout, and a message
// on stderr naming the file, the rule, the key and the bad value (never a secret). Then what only
// a file can get wrong: its YAML, its shape, names, unknown keys, a file that cannot be read.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parse } from '../../src/config/cli.js';
import { OPTIONS, PROCESS_OPTIONS } from '../../src/config/options.js';
import { cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import { BOOLEAN_CASES, VALUE_CASES, type Case, type Flag } from '../harness/bad-input-cases.js';
import { runUsage } from '../harness/reliability.js';

after(cleanupTempDirs);
const PARALLEL = { concurrency: 4 };
const isRuleKey = (flag: Flag) => !PROCESS_OPTIONS.has(flag);

/** Exit 2, nothing on stdout, a message on stderr showing each of `shows` (never `hides`). */
async function expectRefused(
  text: string,
  shows: readonly string[],
  opts: { hides?: string; command?: readonly string[] } = {},
): Promise<void> {
  const file = path.join(await makeTempDir('bad-rules'), 'rules.yaml');
  await writeFile(file, text);
  const run = await runUsage([
    '--listen',
    '',
    '--config',
    file,
    ...(opts.command?.length ? ['--', ...opts.command] : []),
  ]);
  const got = `stderr: ${run.stderr || '(empty)'}\nfile:\n${text}`;
  assert.equal(run.started, false, `hotreload started instead of refusing the file; ${got}`);
  assert.equal(run.code, 2, `exit code ${run.code}; ${got}`);
  assert.equal(run.stdout, '', 'something on stdout');
  assert.ok(run.stderr.startsWith(`hotreload: ${file}: `), got);
  for (const s of shows) assert.ok(run.stderr.includes(s), `${got}\nmissing: ${s}`);
  if (opts.hides !== undefined)
    assert.ok(!run.stderr.includes(opts.hides), `${got}; shows a secret`);
}

/** The rule a flag case's command line describes (process-wide flags left out). */
function ruleOf(c: Case): { rule: Record<string, unknown>; command: readonly string[] } {
  const parsed = parse(c.args, {}, 'test');
  assert.equal(parsed.kind, 'run', `the case's command line does not parse: ${c.args.join(' ')}`);
  if (parsed.kind !== 'run') throw new Error('unreachable');
  const rule: Record<string, unknown> = { name: 'r' };
  for (const [key, value] of Object.entries(parsed.options)) {
    if (!PROCESS_OPTIONS.has(key as Flag)) rule[key] = value;
  }
  return { rule, command: parsed.command };
}

describe(
  'a rule setting with a bad value: exit 2, the message names the rule, the key and the value',
  PARALLEL,
  () => {
    for (const c of VALUE_CASES) {
      if (c.env || !isRuleKey(c.flag)) continue;
      it(`${c.flag}: ${c.what}`, async () => {
        const { rule, command } = ruleOf(c);
        await expectRefused(stringify({ rules: [rule] }), [`rules[0] (r)`, c.flag, c.shows], {
          hides: c.hides,
          command,
        });
      });
    }
    for (const c of BOOLEAN_CASES) {
      if (c.env || !isRuleKey(c.flag)) continue;
      it(`${c.flag}: maybe is neither true nor false`, () =>
        expectRefused(
          stringify({ rules: [{ name: 'r', watch: '/a', 'dry-run': true, [c.flag]: 'maybe' }] }),
          [`rules[0] (r).${c.flag} (line `, 'expected true or false'],
        ));
    }
    // A key with no value (YAML null), for every rule setting.
    for (const key of Object.keys(OPTIONS) as Flag[]) {
      if (!isRuleKey(key)) continue;
      const lines = [
        'rules:',
        '  - name: r',
        ...(key === 'watch' ? [] : ['    watch: /a']),
        ...(key === 'dry-run' ? [] : ['    dry-run: true']),
        `    ${key}:`,
      ];
      it(`${key}: no value`, () =>
        expectRefused(lines.join('\n') + '\n', [
          `rules[0] (r).${key} (line ${lines.length}): expected `,
        ]));
    }
    it('every rule setting has a bad-value case', () => {
      const covered = new Set(
        [...VALUE_CASES, ...BOOLEAN_CASES].filter((c) => !c.env).map((c) => c.flag),
      );
      const missing = (Object.keys(OPTIONS) as Flag[]).filter(
        (f) => isRuleKey(f) && !covered.has(f),
      );
      assert.deepEqual(missing, [], 'rule settings without a flag case in bad-input-cases.ts');
    });
  },
);

describe('a rules file that cannot be used as a whole', PARALLEL, () => {
  const cases: [string, string, string[]][] = [
    ['not YAML', 'rules: [\n', ['not valid YAML (line 2']],
    ['no rules', 'rules: []\n', ['rules (line 1): expected a list of one rule or more']],
    [
      'an unknown key',
      'rules:\n  - {name: a, watch: /a, signl: HUP}\n',
      ['.signl', 'did you mean signal?'],
    ],
    [
      'a process-wide setting',
      'rules:\n  - {name: a, watch: /a, log-level: debug}\n',
      ['--log-level on the command line'],
    ],
    [
      'a rule without a name',
      'rules:\n  - {watch: /a, dry-run: true}\n',
      ['rules[0].name (line 2): missing'],
    ],
    [
      'two rules with one name',
      'rules:\n  - {name: a, watch: /a, dry-run: true}\n  - {name: a, watch: /b, dry-run: true}\n',
      ['rules[1] (a).name (line 3)', 'names must differ'],
    ],
  ];
  for (const [what, text, shows] of cases) it(what, () => expectRefused(text, shows));

  it('a file that is not a regular file (a FIFO nobody writes) fails at once', async () => {
    const fifo = path.join(await makeTempDir('bad-rules'), 'rules.yaml');
    execFileSync('mkfifo', [fifo]);
    const run = await runUsage(['--listen', '', '--config', fifo]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /invalid value for --config: .*cannot read it \(EINVAL\)/);
  });

  it('a file larger than 1 MiB is refused unread', async () => {
    const big = path.join(await makeTempDir('bad-rules'), 'rules.yaml');
    await writeFile(big, `# ${'x'.repeat(1 << 20)}\nrules: []\n`);
    const run = await runUsage(['--listen', '', '--config', big]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /cannot read it \(E2BIG\)/);
  });
});
