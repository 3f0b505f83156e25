import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseHeader, parseHeaderFile, parseStatusSpec } from '../../../src/config/http-spec.js';

describe('parseStatusSpec', () => {
  const valid: [text: string, canonical: string, accepted: number[], rejected: number[]][] = [
    ['200', '200', [200], [199, 201, 204]],
    ['200,204', '200,204', [200, 204], [201, 203, 205]],
    ['200-299', '200-299', [200, 250, 299], [199, 300]],
    ['2xx', '2xx', [200, 204, 299], [199, 300, 500]],
    ['2XX', '2xx', [200, 299], [300]],
    ['200-204,3xx', '200-204,3xx', [200, 204, 300, 399], [205, 299, 400]],
    [' 200 , 204 ', '200,204', [200, 204], [201]],
    ['200 - 204', '200-204', [200, 202, 204], [205]],
    ['100', '100', [100], [101]],
    ['599', '599', [599], [598]],
    ['5xx', '5xx', [500, 599], [499]],
    ['1xx', '1xx', [100, 199], [200]],
    ['204-204', '204-204', [204], [203, 205]],
  ];
  for (const [text, canonical, accepted, rejected] of valid) {
    it(`accepts ${JSON.stringify(text)}`, () => {
      const spec = parseStatusSpec(text);
      assert.ok(spec);
      assert.equal(spec.text, canonical);
      for (const status of accepted) assert.equal(spec.matches(status), true, `${status}`);
      for (const status of rejected) assert.equal(spec.matches(status), false, `${status}`);
    });
  }

  const invalid = [
    '',
    ' ',
    ',',
    '200,',
    ',200',
    '200,,204',
    '99',
    '099',
    '600',
    '0200',
    '20',
    '2000',
    'abc',
    '299-200',
    '200-600',
    '50-299',
    '200-',
    '-200',
    '200--299',
    '0xx',
    '6xx',
    '2x',
    '2xxx',
    'xx',
    '2 xx',
    '200 204',
    '200;204',
    '+200',
    '200.0',
    '２００',
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parseStatusSpec(text), undefined);
    });
  }
});

describe('parseHeader', () => {
  const valid: [text: string, name: string, value: string][] = [
    ['X-Token: abc', 'X-Token', 'abc'],
    ['X-Token:abc', 'X-Token', 'abc'],
    ['  X-Token :  abc  ', 'X-Token', 'abc'],
    ['X-Empty:', 'X-Empty', ''],
    ['X-Empty:   ', 'X-Empty', ''],
    ['X-Url: http://host:8080/path', 'X-Url', 'http://host:8080/path'],
    ['Authorization: Bearer a.b.c', 'Authorization', 'Bearer a.b.c'],
    ["x!#$%&'*+-.^_`|~9: v", "x!#$%&'*+-.^_`|~9", 'v'],
    ['X-Tab: a\tb', 'X-Tab', 'a\tb'],
    ['X-Utf8: café', 'X-Utf8', 'café'],
  ];
  for (const [text, name, value] of valid) {
    it(`accepts ${JSON.stringify(text)}`, () => {
      assert.deepEqual(parseHeader(text), { name, value });
    });
  }

  const invalid = [
    '',
    'X-Token',
    ': abc',
    'X Token: abc',
    'X-Token\u0000: abc',
    'X(Token): abc',
    'X-Töken: abc',
    'X-Token: a\r\nX-Evil: b',
    'X-Token: a\nb',
    'X-Token: a\u0000b',
    'X-Token: a\u007fb',
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parseHeader(text), undefined);
    });
  }
});

describe('parseHeaderFile', () => {
  const valid: [text: string, name: string, path: string][] = [
    ['X-Token=/etc/token', 'X-Token', '/etc/token'],
    [' X-Token = /etc/token ', 'X-Token', '/etc/token'],
    ['Authorization=/var/run/secrets/a=b', 'Authorization', '/var/run/secrets/a=b'],
    ['X-Token=relative/token', 'X-Token', 'relative/token'],
  ];
  for (const [text, name, path] of valid) {
    it(`accepts ${JSON.stringify(text)}`, () => {
      assert.deepEqual(parseHeaderFile(text), { name, path });
    });
  }

  const invalid = ['', 'X-Token', 'X-Token=', 'X-Token=  ', '=/etc/token', 'X Token=/etc/token'];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parseHeaderFile(text), undefined);
    });
  }
});
