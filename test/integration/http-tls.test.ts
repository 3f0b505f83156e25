// TLS and token auth of the reload and verify requests, against a real https server with a CA
// made for the test (openssl): --http-ca-file, mutual TLS with --http-client-cert/--http-client-key,
// --http-insecure-skip-verify, --http-bearer-token-file (re-read at each request), each failure
// with its code and hint. Every file is read at each request, so a rotated one is used at once.
import assert from 'node:assert/strict';
import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ReloadContext } from '../../src/actions/action.js';
import { createHttpAction, type HttpActionOptions } from '../../src/actions/http.js';
import { createVerifyUrlAction } from '../../src/actions/verify-url.js';
import type { TlsConfig } from '../../src/config/config.js';
import { parseStatusSpec } from '../../src/config/http-spec.js';
import { realClock } from '../../src/lib/clock.js';
import { cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import { failure } from '../doubles/reload-error.js';
import { startTarget, type Target, type TargetTls } from '../harness/http-target.js';
import { OPENSSL, makePki, type Pki } from '../harness/pki.js';
import { requireProgram } from '../harness/programs.js';

const BOUND = { timeout: 20_000 };

function context(): ReloadContext {
  const signal = new AbortController().signal;
  return { fingerprint: 'f', writtenAt: 0, changed: [], attempt: 1, signal, superseded: signal };
}

describe('TLS and token auth of outgoing requests', () => {
  const skip = requireProgram(OPENSSL, process.env, 'apt-get install openssl');
  let pki: Pki;
  const servers: Target[] = [];

  before(async () => {
    if (!skip) pki = await makePki();
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await cleanupTempDirs();
  });

  async function server(extra: Partial<TargetTls> = {}): Promise<Target> {
    const t = await startTarget(() => ({}), {
      tls: { key: pki.pem.serverKey, cert: pki.pem.serverCert, ...extra },
    });
    servers.push(t);
    return t;
  }

  function action(
    t: Target,
    tls: Partial<TlsConfig> | undefined,
    more: Partial<HttpActionOptions> = {},
  ) {
    return createHttpAction({
      url: new URL(`${t.url}/-/reload`),
      method: 'POST',
      headers: [],
      headerFiles: [],
      expectStatus: parseStatusSpec('2xx')!,
      timeoutMs: 5000,
      clock: realClock,
      tls: tls && {
        caFile: undefined,
        certFile: undefined,
        keyFile: undefined,
        insecure: false,
        ...tls,
      },
      ...more,
    });
  }

  it('trusts the server signed by --http-ca-file', { ...BOUND, skip }, async () => {
    const t = await server();
    await action(t, { caFile: pki.files.ca }).run(context());
    assert.equal(t.requests.length, 1);
  });

  it(
    'refuses a server its CAs did not sign: E_HTTP_TLS naming --http-ca-file',
    { ...BOUND, skip },
    async () => {
      const t = await server();
      for (const tls of [undefined, { caFile: pki.files.otherCa }]) {
        const err = await failure(action(t, tls).run(context()));
        assert.equal(err.code, 'E_HTTP_TLS');
        assert.match(err.hint ?? '', /--http-ca-file/);
      }
      assert.equal(t.requests.length, 0);
    },
  );

  it(
    'with --http-insecure-skip-verify, does not check the certificate',
    { ...BOUND, skip },
    async () => {
      const t = await server();
      await action(t, { insecure: true }).run(context());
      assert.equal(t.requests.length, 1);
    },
  );

  it(
    'mutual TLS: sends --http-client-cert, and without it the server refuses',
    { ...BOUND, skip },
    async () => {
      const t = await server({ requestCert: true, ca: pki.pem.ca });
      const err = await failure(action(t, { caFile: pki.files.ca }).run(context()));
      assert.equal(err.code, 'E_HTTP_TLS');
      assert.match(err.message, /certificate required/);
      assert.doesNotMatch(err.message, /deps\/openssl|\.c:\d+/, 'OpenSSL internals');
      assert.match(err.hint ?? '', /--http-client-cert/);
      await action(t, {
        caFile: pki.files.ca,
        certFile: pki.files.clientCert,
        keyFile: pki.files.clientKey,
      }).run(context());
      assert.deepEqual(
        t.requests.map((r) => r.clientCn),
        ['hotreload-client'],
      );
    },
  );

  it(
    'reads the CA at each request: a rotated CA file is used at the next request',
    { ...BOUND, skip },
    async () => {
      const t = await server();
      const dir = await makeTempDir('tls-rotate');
      const ca = path.join(dir, 'ca.crt');
      await copyFile(pki.files.otherCa, ca);
      const act = action(t, { caFile: ca });
      assert.equal((await failure(act.run(context()))).code, 'E_HTTP_TLS');
      await copyFile(pki.files.ca, ca);
      await act.run(context());
      assert.equal(t.requests.length, 1);
    },
  );

  it(
    'a TLS file that cannot be read: E_TLS_FILE naming the flag and the path',
    { ...BOUND, skip },
    async () => {
      const t = await server();
      const err = await failure(action(t, { caFile: '/nonexistent/ca.crt' }).run(context()));
      assert.equal(err.code, 'E_TLS_FILE');
      assert.match(err.message, /--http-ca-file \/nonexistent\/ca\.crt: ENOENT/);
    },
  );

  it(
    '--http-bearer-token-file: Authorization: Bearer, re-read at each request, never in an error',
    { ...BOUND, skip },
    async () => {
      const t = await server();
      t.setHandler(() => ({ status: t.requests.length === 2 ? 401 : 200, body: 'denied' }));
      const dir = await makeTempDir('tls-token');
      const token = path.join(dir, 'token');
      await writeFile(token, 'first-token\n');
      const act = action(
        t,
        { caFile: pki.files.ca },
        {
          headerFiles: [{ name: 'Authorization', path: token, prefix: 'Bearer ' }],
        },
      );
      await act.run(context());
      await writeFile(token, 'rotated-token');
      const err = await failure(act.run(context()));
      assert.deepEqual(
        t.requests.map((r) => r.headers.authorization),
        ['Bearer first-token', 'Bearer rotated-token'],
      );
      assert.equal(err.code, 'E_HTTP_STATUS');
      assert.doesNotMatch(`${err.message} ${err.hint ?? ''} ${String(err.stack)}`, /token/i);
    },
  );

  it('--verify-url over https uses the same CA and token', { ...BOUND, skip }, async () => {
    const t = await server();
    const dir = await makeTempDir('tls-verify');
    const token = path.join(dir, 'token');
    await writeFile(token, 'verify-token');
    const verify = createVerifyUrlAction({
      urls: [new URL(`${t.url}/-/healthy`)],
      expectStatus: parseStatusSpec('2xx')!,
      conditions: [],
      timeoutMs: 5000,
      clock: realClock,
      tls: { caFile: pki.files.ca, certFile: undefined, keyFile: undefined, insecure: false },
      bearer: { name: 'Authorization', path: token, prefix: 'Bearer ' },
    });
    await verify.run(context());
    assert.ok(t.requests.length >= 1);
    assert.equal(t.requests[0]!.headers.authorization, 'Bearer verify-token');
  });
});
