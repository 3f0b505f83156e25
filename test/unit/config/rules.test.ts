import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from '../../../src/config/cli.js';
import { PROCESS_OPTIONS, type RawOptions } from '../../../src/config/options.js';
import { parseRules } from '../../../src/config/rules-file.js';
import { resolveSetup, RulesFileError } from '../../../src/config/rules.js';
import { ConfigError } from '../../../src/lib/errors.js';

const FILE = '/etc/hotreload/rules.yaml';

/** The rules of `text`, resolved over the flags `argv` (beside --config). */
function rules(text: string, argv: readonly string[] = []) {
  const parsed = parse(['--config', FILE, ...argv], {}, 'test');
  assert.equal(parsed.kind, 'run');
  if (parsed.kind !== 'run') throw new Error('unreachable');
  return resolveSetup(parsed.options, '/', parsed.command, { text, parse: parseRules });
}

/** The message of the RulesFileError `text` raises. */
function refusal(text: string): string {
  try {
    rules(text);
  } catch (err) {
    assert.ok(err instanceof RulesFileError, `not a RulesFileError: ${String(err)}`);
    assert.ok(err.message.startsWith(`${FILE}: `), err.message);
    return err.message.slice(FILE.length + 2);
  }
  assert.fail('the file was accepted');
}

const TWO = `
rules:
  - name: nginx
    watch: /etc/nginx
    include: ['*.conf']
    signal: HUP
    process-match: '^nginx: master'
  - name: app
    watch: [conf, /etc/app-secrets]
    debounce: 2s
    retries: 3
    http-url: http://127.0.0.1:8080/-/reload
    reload-on-start: true
`;

describe('rules from --config', () => {
  it('resolves each rule like its flags, relative paths from the file, over the process flags', () => {
    const setup = rules(TWO, ['--listen', '127.0.0.1:9999', '--stop-timeout', '3s']);
    assert.deepEqual(
      setup.rules.map((r) => r.name),
      ['nginx', 'app'],
    );
    const [nginx, app] = setup.rules.map((r) => r.config);
    assert.deepEqual(nginx!.watch, ['/etc/nginx']);
    assert.deepEqual(nginx!.selection.include, ['*.conf']);
    assert.equal(nginx!.process.signal?.name, 'SIGHUP');
    assert.equal(nginx!.process.stopTimeoutMs, 3000);
    assert.deepEqual(app!.watch, ['/etc/hotreload/conf', '/etc/app-secrets']);
    assert.equal(app!.debounceMs, 2000);
    assert.equal(app!.retry.maxAttempts, 3);
    assert.equal(app!.reloadOnStart, true);
    assert.equal(app!.http[0]!.url.href, 'http://127.0.0.1:8080/-/reload');
    assert.deepEqual(setup.server.listen, { host: '127.0.0.1', port: 9999 });
    assert.equal(setup.child.stopTimeoutMs, 3000);
    assert.equal(setup.rulesFile?.path, FILE);
  });

  it('gives each rule a source that changes only when the rule does', () => {
    const a = rules(TWO).rules;
    const b = rules(TWO.replace('debounce: 2s', 'debounce: 3s')).rules;
    assert.equal(a[0]!.source, b[0]!.source);
    assert.notEqual(a[1]!.source, b[1]!.source);
  });

  it('the flags form is one rule named default', () => {
    const parsed = parse(['--watch', '/etc/app', '--dry-run'], {}, 'test');
    if (parsed.kind !== 'run') throw new Error('unreachable');
    const setup = resolveSetup(parsed.options, '/', []);
    assert.deepEqual(
      setup.rules.map((r) => r.name),
      ['default'],
    );
    assert.equal(setup.rulesFile, undefined);
  });
});

describe('a rules file that cannot be used: the message names the rule, the key, its line and the fix', () => {
  const cases: [string, string, RegExp][] = [
    ['not YAML', 'rules: [\n', /^not valid YAML \(line \d+, column \d+\)/],
    ['empty', '', /^the file: expected a mapping with a rules list/],
    ['a list at the top', '- name: a\n', /^the file \(line 1\): expected a mapping/],
    [
      'an unknown top-level key',
      'rule:\n  - name: a\n',
      /^"rule" \(line 1\): unknown key.*did you mean rules/,
    ],
    [
      'rules not a list',
      'rules: {name: a}\n',
      /^rules \(line 1\): expected a list of one rule or more/,
    ],
    ['rules empty', 'rules: []\n', /^rules \(line 1\): expected a list/],
    ['a rule not a mapping', 'rules:\n  - nginx\n', /^rules\[0\] \(line 2\): expected a mapping/],
    [
      'a rule without a name',
      'rules:\n  - watch: /a\n    dry-run: true\n',
      /^rules\[0\]\.name \(line 2\): missing; every rule needs a name/,
    ],
    [
      'a bad name',
      'rules:\n  - name: Nginx Conf\n',
      /^rules\[0\]\.name \(line 2\): invalid value "Nginx Conf"/,
    ],
    [
      'a name that is not a string',
      'rules:\n  - name: [a]\n',
      /^rules\[0\]\.name \(line 2\): invalid value/,
    ],
    [
      'two rules with one name',
      'rules:\n  - {name: a, watch: /a, dry-run: true}\n  - {name: a, watch: /b, dry-run: true}\n',
      /^rules\[1\] \(a\)\.name \(line 3\): rules\[0\] has this name too/,
    ],
    [
      'an unknown key, with the one meant',
      'rules:\n  - name: a\n    watch: /a\n    debunce: 1s\n',
      /^rules\[0\] \(a\)\.debunce \(line 4\): unknown key \(did you mean debounce\?\)/,
    ],
    [
      'a flag alias as a key',
      'rules:\n  - name: a\n    volume-dir: /a\n',
      /^rules\[0\] \(a\)\.volume-dir \(line 3\): write it as watch/,
    ],
    [
      'a process-wide setting in a rule',
      'rules:\n  - name: a\n    watch: /a\n    listen: ":1"\n',
      /^rules\[0\] \(a\)\.listen \(line 4\): a setting of the whole process.*--listen on the command line/,
    ],
    [
      'config in a rule',
      'rules:\n  - name: a\n    config: /x.yaml\n',
      /^rules\[0\] \(a\)\.config \(line 3\): a setting of the whole process/,
    ],
    [
      'a list for a single value',
      'rules:\n  - name: a\n    watch: /a\n    debounce: [1s, 2s]\n',
      /^rules\[0\] \(a\)\.debounce \(line 4\): expected one value/,
    ],
    [
      'a mapping in a list',
      'rules:\n  - name: a\n    watch: [{path: /a}]\n',
      /^rules\[0\] \(a\)\.watch \(line 3\): expected a string in the list/,
    ],
    [
      'no value',
      'rules:\n  - name: a\n    watch: /a\n    signal:\n',
      /^rules\[0\] \(a\)\.signal \(line 4\): expected one value/,
    ],
    [
      'a switch that is not true or false',
      'rules:\n  - name: a\n    watch: /a\n    dry-run: maybe\n',
      /^rules\[0\] \(a\)\.dry-run \(line 4\): expected true or false/,
    ],
    [
      'nothing to do',
      'rules:\n  - name: a\n    watch: /a\n',
      /^rules\[0\] \(a\) \(line 2\): missing http-url: nothing to do on a change; give http-url URL, signal/,
    ],
    [
      'no watch',
      'rules:\n  - name: a\n    dry-run: true\n',
      /^rules\[0\] \(a\) \(line 2\): missing watch/,
    ],
    [
      'a bad value, with what is accepted (flags named as keys)',
      'rules:\n  - name: a\n    watch: /a\n    dry-run: true\n    max-wait: 1s\n    debounce: 2s\n',
      /^rules\[0\] \(a\)\.max-wait \(line 5\): invalid value "1s"; must be at least debounce/,
    ],
    [
      'two rules with one state file',
      'rules:\n  - {name: a, watch: /a, dry-run: true, state-file: /s/x.json}\n  - {name: b, watch: /b, dry-run: true, state-file: /s/x.json}\n',
      /^rules\[1\] \(b\)\.state-file \(line 3\): rules\[0\] \(a\) keeps its state in this file too/,
    ],
    [
      'a duplicate key',
      'rules:\n  - name: a\n    watch: /a\n    watch: /b\n',
      /^not valid YAML \(line 4, column \d+\): Map keys must be unique/,
    ],
  ];
  for (const [what, text, expected] of cases) {
    it(what, () => assert.match(refusal(text), expected));
  }

  it('a header value is never shown', () => {
    const message = refusal(
      'rules:\n  - name: a\n    watch: /a\n    http-url: http://127.0.0.1/\n    http-header: "Authorization: Bearer s3cret\\u0001"\n',
    );
    assert.match(message, /http-header/);
    assert.doesNotMatch(message, /s3cret/);
  });
});

describe('the flags beside --config', () => {
  it('a rule setting as a flag is a usage error naming it', () => {
    const parsed = parse(['--config', FILE, '--signal', 'HUP'], {}, 'test');
    if (parsed.kind !== 'run') throw new Error('unreachable');
    assert.throws(
      () => resolveSetup(parsed.options, '/', [], { text: 'rules: []', parse: parseRules }),
      (err: ConfigError) =>
        err.flag === 'signal' &&
        /set signal in a rule of \/etc\/hotreload\/rules.yaml/.test(err.message),
    );
  });

  it('the process-wide flags are accepted, and a rule may not set them', () => {
    for (const key of PROCESS_OPTIONS) {
      if (key === 'config') continue;
      const text = `rules:\n  - name: a\n    watch: /a\n    dry-run: true\n    ${key}: x\n`;
      assert.match(
        refusal(text),
        new RegExp(`^rules\\[0\\] \\(a\\)\\.${key} \\(line 5\\): a setting of the whole process`),
      );
    }
  });

  it('a rule may set what the flags default (stop-signal)', () => {
    const setup = rules(
      'rules:\n  - {name: a, watch: /a, restart: true, process-name: x, stop-signal: QUIT}\n  - {name: b, watch: /b, restart: true, process-name: y}\n',
      ['--stop-signal', 'INT'],
    );
    assert.deepEqual(
      setup.rules.map((r) => r.config.process.stopSignal.name),
      ['SIGQUIT', 'SIGINT'],
    );
    assert.equal(setup.child.stopSignal.name, 'SIGINT');
  });

  it('parseRules alone reads only the text it is given', () => {
    const base: RawOptions = {};
    const got = parseRules('rules:\n  - {name: a, watch: /a, dry-run: true}\n', FILE, base, []);
    assert.equal(got[0]!.config.dryRun, true);
  });
});
