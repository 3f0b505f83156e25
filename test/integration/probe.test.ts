// `hotreload probe` against a real HTTP server on 127.0.0.1: a 2xx is exit 0, anything else exit 1
// with one line saying what came back. In-process (runProbe), and once through the built CLI as
// an exec probe runs it. Every case is bounded by the probe's --timeout and the test's timeout.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { cleanupTempDirs } from '../harness/atomic-writer.js';
import { MAIN } from '../harness/hotreload-process.js';
import { startTarget, type Target } from '../harness/http-target.js';
import { OPENSSL, makePki } from '../harness/pki.js';
import { requireProgram } from '../harness/programs.js';
import { probeWith } from '../doubles/probe.js';
import { freePort } from '../harness/net.js';

const BOUND = { timeout: 10_000 };

describe('hotreload probe against a real server', () => {
  let target: Target;
  before(async () => {
    target = await startTarget((req) => {
      if (req.url === '/healthz') return { status: 200, body: 'ok' };
      if (req.url === '/no-content') return { status: 204 };
      if (req.url === '/down') return { status: 503, body: 'not ready' };
      if (req.url === '/moved') return { status: 302 };
      if (req.url === '/big') return { status: 200, body: Buffer.alloc(1 << 20) };
      return { hang: true };
    });
  });
  after(() => target.close());

  it('exits 0 on a 200, and says so on stdout', BOUND, async () => {
    const r = await probeWith([`${target.url}/healthz`]);
    assert.deepEqual(r, { code: 0, stdout: '200 OK\n', stderr: '' });
    const last = target.requests.at(-1)!;
    assert.equal(last.method, 'GET');
    assert.match(String(last.headers['user-agent']), /^hotreload-probe\//);
  });

  it('exits 0 on any 2xx (204)', BOUND, async () => {
    assert.equal((await probeWith([`${target.url}/no-content`])).code, 0);
  });

  it('exits 0 on a 2xx with a large body, which it does not wait for', BOUND, async () => {
    assert.equal((await probeWith([`${target.url}/big`])).code, 0);
  });

  it('exits 1 on a 503, naming the URL and the status on one line', BOUND, async () => {
    const r = await probeWith([`${target.url}/down`]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `hotreload probe: GET ${target.url}/down: 503 Service Unavailable\n`);
  });

  it('exits 1 on a redirect: only a 2xx is healthy', BOUND, async () => {
    const r = await probeWith([`${target.url}/moved`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /: 302 Found\n$/);
  });

  it('exits 1 when the connection is refused', BOUND, async () => {
    const port = await freePort();
    const r = await probeWith([`http://127.0.0.1:${port}/healthz`]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `hotreload probe: GET http://127.0.0.1:${port}/healthz: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    );
  });

  it('exits 1 when no answer comes within --timeout, at about that time', BOUND, async () => {
    const started = Date.now();
    const r = await probeWith(['--timeout', '300ms', `${target.url}/hang`]);
    const took = Date.now() - started;
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `hotreload probe: GET ${target.url}/hang: no answer within 300ms\n`);
    assert.ok(took >= 290 && took < 3000, `took ${took} ms`);
  });

  it('never shows the password of the URL it requests', BOUND, async () => {
    const r = await probeWith([`${target.url.replace('//', '//me:s3cret@')}/down`]);
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.stderr, /s3cret/);
  });

  it(
    'the built CLI: `hotreload probe URL` exits 0 on a 200 and 1 on a 503, as an exec probe sees it',
    BOUND,
    async () => {
      const run = (url: string) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          execFile(
            process.execPath,
            [MAIN, 'probe', url],
            { timeout: 8000 },
            (err, stdout, stderr) =>
              resolve({
                code: err ? ((err as { code?: number }).code ?? null) : 0,
                stdout,
                stderr,
              }),
          );
        });
      assert.deepEqual(await run(`${target.url}/healthz`), {
        code: 0,
        stdout: '200 OK\n',
        stderr: '',
      });
      const down = await run(`${target.url}/down`);
      assert.equal(down.code, 1);
      assert.match(down.stderr, /503 Service Unavailable/);
      assert.equal((await run('gopher://x')).code, 2);
    },
  );
});

describe('hotreload probe over https', () => {
  const skip = requireProgram(OPENSSL, process.env, 'apt-get install openssl');
  after(cleanupTempDirs);

  it(
    'exits 0 on a 2xx from a server whose certificate no system CA signed, as the kubelet would',
    { ...BOUND, skip },
    async () => {
      const pki = await makePki();
      const target = await startTarget(() => ({ status: 200 }), {
        tls: { key: pki.pem.serverKey, cert: pki.pem.serverCert },
      });
      try {
        const r = await probeWith([`${target.url}/healthz`]);
        assert.deepEqual(r, { code: 0, stdout: '200 OK\n', stderr: '' });
      } finally {
        await target.close();
      }
    },
  );
});
