// --log-format logfmt: pino's JSON lines rewritten as logfmt, field for field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toLogfmt } from '../../../src/lib/logfmt.js';

describe('toLogfmt', () => {
  it('writes ts, level and msg first, then every other field, flattening nested ones', () => {
    const line = JSON.stringify({
      level: 'warn',
      time: '2026-12-02T10:00:00.000Z',
      name: 'hotreload',
      action: 'http',
      attempt: 2,
      ok: false,
      err: { code: 'E_HTTP_STATUS', message: 'answered 503, expected 2xx' },
      msg: 'reload failed; retrying',
    });
    assert.equal(
      toLogfmt(`${line}\n`),
      'ts=2026-12-02T10:00:00.000Z level=warn msg="reload failed; retrying" name=hotreload action=http attempt=2 ok=false err.code=E_HTTP_STATUS err.message="answered 503, expected 2xx"\n',
    );
  });

  it('quotes what is not one plain word, and writes a list as its JSON', () => {
    const out = toLogfmt(
      JSON.stringify({
        msg: 'change detected',
        changed: ['/etc/a b', '/etc/c'],
        empty: '',
        eq: 'a=b',
        quote: 'say "hi"',
        ctl: 'line\nbreak',
        none: null,
      }),
    );
    assert.equal(
      out,
      'msg="change detected" changed="[\\"/etc/a b\\",\\"/etc/c\\"]" empty="" eq="a=b" quote="say \\"hi\\"" ctl="line\\nbreak" none=null\n',
    );
    assert.equal(out.split('\n').length, 2, 'one line');
  });

  it('keeps a line that is not a JSON object, quoted as its message', () => {
    assert.equal(toLogfmt('not json\n'), 'msg="not json"\n');
  });
});
