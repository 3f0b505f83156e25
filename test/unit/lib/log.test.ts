// The logger's last line of defence: header values never reach a log line, whoever passes them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { censored, createLogger, writeAtOnce } from '../../../src/lib/log.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', {
    write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { log, lines };
}

describe('log records', () => {
  it('censor headers and authorization at the top and one level down', () => {
    const { log, lines } = capture();
    const nested = { url: 'http://app/-/reload', headers: { 'X-Token': 'secret-1' } };
    log.info({ request: nested, authorization: 'Bearer secret-2' }, 'a');
    log.child({ rule: 'r' }).warn({ headers: { Authorization: 'secret-3' } }, 'b');
    log.info({ target: { authorization: 'secret-4', method: 'POST' } }, 'c');
    const text = JSON.stringify(lines);
    for (const s of ['secret-1', 'secret-2', 'secret-3', 'secret-4']) {
      assert.ok(!text.includes(s), `${s} in ${text}`);
    }
    assert.deepEqual(lines[0]!.request, { url: 'http://app/-/reload', headers: '[redacted]' });
    assert.equal(lines[0]!.authorization, '[redacted]');
    assert.equal(lines[1]!.headers, '[redacted]');
    assert.equal(lines[1]!.rule, 'r');
    assert.deepEqual(lines[2]!.target, { authorization: '[redacted]', method: 'POST' });
    assert.deepEqual(
      nested.headers,
      { 'X-Token': 'secret-1' },
      "the caller's object is left as it was",
    );
  });

  it('leave every other record as it is, without a copy', () => {
    const record = { fingerprint: 'abc', changed: ['/cfg/a'], counts: { changed: 1 }, err: null };
    assert.equal(censored(record), record);
    const { log, lines } = capture();
    log.info(record, 'change detected');
    assert.deepEqual(lines[0]!.changed, ['/cfg/a']);
    assert.deepEqual(lines[0]!.counts, { changed: 1 });
    assert.equal(lines[0]!.msg, 'change detected');
  });
});

describe('a log line written at once to a non-blocking pipe', () => {
  const line = 'ab é\n'; // 6 bytes, 5 characters
  const failing = (code: string) => () => {
    throw Object.assign(new Error(code), { code });
  };

  it('leaves nothing to queue when the pipe takes it all', () => {
    assert.deepEqual(
      writeAtOnce(1, line, () => 6),
      {},
    );
  });

  it('queues the whole line when the pipe is full (EAGAIN) or takes nothing', () => {
    assert.deepEqual(writeAtOnce(1, line, failing('EAGAIN')), { rest: line });
    assert.deepEqual(
      writeAtOnce(1, line, () => 0),
      { rest: line },
    );
  });

  it('queues the bytes after those taken, even in the middle of a character', () => {
    assert.deepEqual(
      writeAtOnce(1, line, () => 4),
      { rest: Buffer.from([0xa9, 0x0a]) },
    );
    assert.deepEqual(
      writeAtOnce(1, line, () => 2),
      { rest: Buffer.from(' é\n') },
    );
  });

  it('says the pipe is broken on any other error (EPIPE: nobody reads)', () => {
    assert.deepEqual(writeAtOnce(1, line, failing('EPIPE')), { failed: true });
  });
});
