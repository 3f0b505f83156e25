// The contract between the flags and the HTTP client: every header and method hotreload accepts
// at start, the client (node:http) sends; every one it would refuse at each request is a usage
// error at start (a flag accepted, then refused for ever, is a reload that never lands). Checked
// with hotreload's real client, with requests to a port nothing listens on: a request it accepts
// fails to connect.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from '../../../src/actions/http-client.js';
import { parse } from '../../../src/config/cli.js';
import { resolveConfig } from '../../../src/config/config.js';

const ORIGIN = 'http://127.0.0.1:9';

/** True when hotreload's command line takes these flags. */
function flagsAccepted(extra: readonly string[]): boolean {
  const parsed = parse(['--watch', '/a', '--http-url', `${ORIGIN}/r`, ...extra], {}, '1');
  if (parsed.kind !== 'run') return false;
  try {
    resolveConfig(parsed.options, '/', parsed.command);
    return true;
  } catch {
    return false;
  }
}

/** True when the client sends such a request: it then fails to connect, not to build it. */
async function clientSends(method: string, headers: [string, string][]): Promise<boolean> {
  try {
    const res = await request({
      url: new URL(`${ORIGIN}/r`),
      method,
      headers: headers.flat(),
      signal: AbortSignal.timeout(2000),
    });
    await res.dump(0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'ECONNREFUSED';
  }
}

const HEADERS: [string, string][] = [
  ['X-Reload', '1'],
  ['Authorization', 'Bearer a.b.c'],
  ['X-Latin1', 'café'],
  ['X-Tab', 'a\tb'],
  ['X-Empty', ''],
  ['X-Euro', 't€ken'],
  ['X-Emoji', '🔑'],
  ['X-Del', 'a\u007fb'],
  ['X-Nul', 'a\u0000b'],
  ['Transfer-Encoding', 'chunked'],
  ['Keep-Alive', 'timeout=5'],
  ['Upgrade', 'websocket'],
  ['Expect', '100-continue'],
  ['Content-Length', '0'],
  ['Connection', 'close'],
  ['Connection', 'keep-alive, x-custom'],
  ['Connection', 'close "x"'],
  ['Host', 'app.example'],
];

describe('headers: hotreload accepts at start exactly what the client sends', () => {
  for (const [name, value] of HEADERS) {
    it(`${name}: ${JSON.stringify(value)}`, async () => {
      const accepted = flagsAccepted(['--http-header', `${name}: ${value}`]);
      const sent = await clientSends('POST', [[name, value]]);
      // hotreload may be stricter (Content-Length: hotreload sends no body), never looser.
      if (accepted) assert.equal(sent, true, 'accepted at start, refused by the client');
      if (!sent) assert.equal(accepted, false, 'refused by the client, accepted at start');
    });
  }
});

describe('methods: hotreload accepts at start exactly what the client sends', () => {
  for (const method of ['POST', 'PUT', 'GET', 'PATCH', 'DELETE', 'TRACE', 'CONNECT', 'FOO']) {
    it(method, async () => {
      const accepted = flagsAccepted(['--http-method', method]);
      const sent = await clientSends(method, []);
      if (accepted) assert.equal(sent, true, 'accepted at start, refused by the client');
      if (!sent) assert.equal(accepted, false, 'refused by the client, accepted at start');
    });
  }
});
