import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_VALIDATED_BYTES,
  ValidationError,
  createSyntaxValidator,
} from '../../../src/validate/validators.js';
import { checkerFor } from '../../../src/validate/syntax.js';

function check(file: string, text: string) {
  const c = checkerFor(file);
  assert.ok(c, `no checker for ${file}`);
  return c.check(text);
}

describe('syntax checks', () => {
  it('chooses by extension and checks nothing else', () => {
    assert.equal(checkerFor('/etc/app/app.YAML')?.format, 'YAML');
    assert.equal(checkerFor('/etc/app/app.yml')?.format, 'YAML');
    assert.equal(checkerFor('/etc/app/app.json')?.format, 'JSON');
    assert.equal(checkerFor('/etc/app/app.toml')?.format, 'TOML');
    assert.equal(checkerFor('/etc/nginx/nginx.conf'), undefined);
    assert.equal(checkerFor('/etc/app/yaml'), undefined);
  });

  it('accepts valid YAML, multi-document YAML and valid JSON', () => {
    assert.equal(check('a.yaml', 'a: 1\nb: [1, 2]\n'), undefined);
    assert.equal(check('a.yaml', 'a: 1\n---\nb: 2\n'), undefined);
    assert.equal(check('a.yaml', ''), undefined);
    assert.equal(check('a.json', '{"a": [1, 2, {"b": null}]}'), undefined);
  });

  const yamlCases: [string, string, number, number][] = [
    ['a nested compact mapping', 'ok: 1\na: b: c\n', 2, 4],
    ['a duplicate key', 'a: 1\na: 2\n', 2, 1],
    // Unclosed constructs are reported where the parser finds out: the end of the input.
    ['an unclosed flow sequence', 'key: [1, 2\n', 2, 1],
    ['an unclosed quote', 'x: 1\npassword: "hunter2\n', 3, 1],
    ['a bad indent', 'x:\n  - a\n - b\n', 3, 1],
  ];
  for (const [name, text, line, column] of yamlCases) {
    it(`finds ${name} in YAML with its line and column`, () => {
      const p = check('c.yaml', text);
      assert.ok(p, 'expected a problem');
      assert.equal(p.line, line);
      assert.equal(p.column, column);
      assert.match(p.message, /\([A-Z_]+\)$/);
    });
  }

  const jsonCases: [string, string, number][] = [
    ['a missing value', '{\n  "a": }', 2],
    ['a missing comma', '{\n  "a": 1\n  "b": 2\n}', 3],
    ['an unclosed object', '{\n  "a": 1', 2],
    ['a trailing comma', '{"a": 1,}', 1],
  ];
  for (const [name, text, line] of jsonCases) {
    it(`finds ${name} in JSON with its line`, () => {
      const p = check('c.json', text);
      assert.ok(p, 'expected a problem');
      assert.equal(p.line, line, p.message);
    });
  }

  it('finds TOML errors with their line and column', () => {
    assert.equal(check('a.toml', 'a = 1\n[b]\nc = "x"\n'), undefined);
    const p = check('a.toml', '[x]\na = 1\n[x]\n');
    assert.equal(p?.line, 3);
    assert.ok(p?.column);
  });

  it('rejects JSON with comments, as JSON parsers do', () => {
    assert.equal(check('a.json', '{"a": 1 // note\n}')?.line, 1);
  });

  it('never quotes the file in its message (Secrets)', () => {
    const secret = 'sup3r-s3cret-value';
    for (const [file, text] of [
      ['s.json', `{"token": "${secret}" "x": 1}`],
      ['s.json', `{"token": ${secret}}`],
      ['s.json', `{"${secret}": }`],
      ['s.yaml', `token: "${secret}\n`],
      ['s.yaml', `${secret}: a: b\n`],
      ['s.yaml', `a: *${secret}\n`],
      ['s.toml', `token = "${secret}\n`],
      ['s.toml', `${secret} = \n`],
    ] as const) {
      const p = check(file, text);
      assert.ok(p, `expected a problem in ${text}`);
      assert.doesNotMatch(p.message, /s3cret/, p.message);
    }
  });
});

describe('the --validate check on files', () => {
  const ctx = (files: string[]) => ({
    files,
    fingerprint: 'f',
    signal: new AbortController().signal,
  });

  // Found by a code review: the recursive JSON parser overflowed the stack, which was retried as a
  // failed check for ever instead of refusing the file.
  it('refuses JSON nested too deeply to check, like a syntax error', async () => {
    const deep = Buffer.from('['.repeat(200_000));
    const v = createSyntaxValidator({
      read: () => Promise.resolve(deep),
      size: () => Promise.resolve(deep.length),
    });
    const err = await v.check(ctx(['/etc/app/deep.json'])).catch((e: unknown) => e);
    assert.ok(err instanceof ValidationError, `got ${String(err)}`);
    assert.equal(err.problems[0]?.message, 'nested too deeply to check in JSON');
  });

  // Found by a code review: the size limit was applied after reading the whole file.
  it('skips a file over MAX_VALIDATED_BYTES without reading it', async () => {
    const v = createSyntaxValidator({
      read: () => Promise.reject(new Error('read a file it should have skipped')),
      size: () => Promise.resolve(MAX_VALIDATED_BYTES + 1),
    });
    await v.check(ctx(['/etc/app/huge.yaml']));
  });

  it('refuses a file it cannot read, naming the error', async () => {
    const eacces = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    const v = createSyntaxValidator({
      read: () => Promise.reject(eacces),
      size: () => Promise.resolve(10),
    });
    const err = await v.check(ctx(['/etc/app/secret.yaml'])).catch((e: unknown) => e);
    assert.ok(err instanceof ValidationError);
    assert.equal(err.problems[0]?.message, 'cannot read: EACCES');
  });
});
