import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { maskCredentials, redactUrl } from '../../../src/lib/redact.js';

describe('redactUrl', () => {
  const cases: [input: string, shown: string][] = [
    ['http://127.0.0.1:9090/-/reload', 'http://127.0.0.1:9090/-/reload'],
    ['http://user:secret@host/path', 'http://user:xxxxx@host/path'],
    ['https://user:secret@host:8443/a?b=c#d', 'https://user:xxxxx@host:8443/a?b=c#d'],
    ['http://token@host/path', 'http://xxxxx@host/path'],
    ['http://:secret@host/', 'http://:xxxxx@host/'],
    ['http://us%40er:p%3Ass@host/', 'http://us%40er:xxxxx@host/'],
    ['http://[::1]:8080/reload', 'http://[::1]:8080/reload'],
    ['http://host', 'http://host/'],
  ];
  for (const [input, shown] of cases) {
    it(`shows ${input} as ${shown}`, () => {
      assert.equal(redactUrl(input), shown);
      assert.equal(redactUrl(new URL(input)), shown);
    });
  }

  it('does not change the URL object it is given', () => {
    const url = new URL('http://user:secret@host/');
    redactUrl(url);
    assert.equal(url.password, 'secret');
  });

  for (const input of ['', 'not a url', '/relative/path', 'http://', '://host']) {
    it(`renders ${JSON.stringify(input)} as <invalid url> instead of throwing`, () => {
      assert.equal(redactUrl(input), '<invalid url>');
    });
  }
});

describe('maskCredentials (text that does not parse as a URL)', () => {
  const cases: [input: string, shown: string][] = [
    // A password holding '/', ':' or '@', or a lone token: nothing before the last '@'.
    ['http://user:pa/ss@127.0.0.1:99999/', 'http://xxxxx@127.0.0.1:99999/'],
    ['http://user:p:ss@127.0.0.1:99999/', 'http://xxxxx@127.0.0.1:99999/'],
    ['http://user:p@ss@127.0.0.1:99999/', 'http://xxxxx@127.0.0.1:99999/'],
    ['http://TOKEN@127.0.0.1:99999/', 'http://xxxxx@127.0.0.1:99999/'],
    // What a comma in a password leaves when HOTRELOAD_HTTP_URL is split on commas.
    ['http://user:se', 'http://user:xxxxx'],
    ['cret@127.0.0.1/', 'xxxxx@127.0.0.1/'],
    // Nothing to mask: the text is shown as it is.
    ['localhost:8080', 'localhost:8080'],
    ['http://127.0.0.1:99999/', 'http://127.0.0.1:99999/'],
    ['not a url', 'not a url'],
  ];
  for (const [input, shown] of cases) {
    it(`shows ${input} as ${shown}`, () => assert.equal(maskCredentials(input), shown));
  }
});
