// `hotreload probe`'s arguments: every usage error exits 2 before any request, with one message
// that names the argument, the value and the fix. Requests against a real server are
// test/integration/probe.test.ts's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { probeWith } from '../../doubles/probe.js';

describe('hotreload probe: usage errors (exit 2, no request)', () => {
  const cases: [string, string[], RegExp][] = [
    ['no URL', [], /missing URL: give the URL to GET, e\.g\. hotreload probe http:\/\//],
    ['two URLs', ['http://a/', 'http://b/'], /one URL only; also given: "http:\/\/b\/"/],
    [
      'a URL that does not parse',
      ['not a url'],
      /invalid URL: "not a url"; expected an http:\/\/ or https:\/\/ URL/,
    ],
    ['another scheme', ['ftp://127.0.0.1/x'], /invalid URL: "ftp:\/\/127\.0\.0\.1\/x"/],
    ['a URL without a host', ['http://'], /invalid URL: "http:\/\/"/],
    [
      'a bad timeout',
      ['--timeout', '2x', 'http://127.0.0.1/'],
      /invalid value for --timeout: "2x"; expected a duration above zero such as 500ms, 2s or 1m/,
    ],
    [
      'a bare number as timeout',
      ['--timeout=2', 'http://127.0.0.1/'],
      /invalid value for --timeout: "2"/,
    ],
    ['a zero timeout', ['--timeout=0', 'http://127.0.0.1/'], /invalid value for --timeout: "0"/],
    [
      '--timeout without its value',
      ['http://127.0.0.1/', '--timeout'],
      /--timeout needs a value: --timeout VALUE/,
    ],
    [
      'an unknown flag',
      ['--insecure', 'http://127.0.0.1/'],
      /unknown flag --insecure; the flags are --timeout VALUE, --help/,
    ],
    ['an unknown short flag', ['-k', 'http://127.0.0.1/'], /unknown flag -k/],
    ['a value given to --help', ['--help=yes'], /--help is a switch and takes no value/],
  ];
  for (const [what, argv, message] of cases) {
    it(`refuses ${what}`, async () => {
      const r = await probeWith(argv);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^hotreload probe: /);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /Run 'hotreload probe --help' for usage\.\n$/);
    });
  }

  it('never shows the password of a URL it refuses', async () => {
    const r = await probeWith(['ftp://user:s3cret@host/x']);
    assert.equal(r.code, 2);
    assert.doesNotMatch(r.stderr, /s3cret/);
  });

  it('prints its usage on --help, exit 0', async () => {
    const r = await probeWith(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: hotreload probe URL \[--timeout DURATION\]/);
    assert.match(r.stdout, /default 2s/);
    assert.equal(r.stderr, '');
  });
});
