// The error-code catalogue: every code the source raises is in it with its kind, the classes keep
// the kinds, codeOf reads any thrown value, and docs/ERRORS.md lists the catalogue.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  ERROR_CODES,
  FatalError,
  RecoverableError,
  ReloadError,
  codeOf,
  errorFields,
} from '../../../src/lib/errors.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Every 'E_...' literal in src/ outside the catalogue itself. */
function codesInSource(): Set<string> {
  const found = new Set<string>();
  for (const e of readdirSync(path.join(ROOT, 'src'), { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts')) continue;
    const file = path.join(e.parentPath, e.name);
    if (file.endsWith(path.join('lib', 'errors.ts'))) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/'(E_[A-Z_]+)'/g)) found.add(m[1]!);
  }
  return found;
}

describe('the error-code catalogue', () => {
  it('holds every code the source names, and no code it does not', () => {
    const used = codesInSource();
    used.delete('E_UNKNOWN'); // errorFields' code for a value that has none
    const listed = new Set(Object.keys(ERROR_CODES));
    assert.deepEqual([...used].filter((c) => !listed.has(c)).sort(), []);
    assert.deepEqual([...listed].filter((c) => !used.has(c) && c !== 'E_CONFIG').sort(), []);
  });

  it('is kept by the classes: fatal for FatalError and ConfigError, recoverable otherwise', () => {
    assert.equal(new FatalError('E_LISTEN', 'x').kind, 'fatal');
    assert.equal(new ConfigError('debounce', 'x', 'a duration').kind, 'fatal');
    assert.equal(new ConfigError('debounce', 'x', 'a duration').code, 'E_CONFIG');
    assert.equal(new RecoverableError('E_WATCH', 'x').kind, 'recoverable');
    assert.equal(new ReloadError('E_HTTP_STATUS', 'x').kind, 'recoverable');
    for (const [code, { kind }] of Object.entries(ERROR_CODES)) {
      assert.ok(kind === 'fatal' || kind === 'recoverable', code);
    }
  });

  it('codeOf reads a hotreload code, a system error code, or nothing', () => {
    assert.equal(codeOf(new ReloadError('E_NO_PROCESS', 'x')), 'E_NO_PROCESS');
    assert.equal(codeOf(Object.assign(new Error('x'), { code: 'ENOENT' })), 'ENOENT');
    assert.equal(codeOf(new Error('x')), undefined);
    assert.equal(codeOf({ code: 42 }), undefined);
    assert.equal(codeOf('ENOENT'), undefined);
    assert.equal(codeOf(null), undefined);
    assert.deepEqual(errorFields('boom'), { code: 'E_UNKNOWN', message: 'boom' });
  });

  it('is listed in docs/ERRORS.md, each code with its kind', () => {
    const doc = readFileSync(path.join(ROOT, 'docs', 'ERRORS.md'), 'utf8');
    for (const [code, { kind }] of Object.entries(ERROR_CODES)) {
      assert.match(doc, new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${kind}\\s*\\|`), code);
    }
  });
});
