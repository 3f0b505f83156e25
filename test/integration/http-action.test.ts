import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Agent } from 'node:http';

import type { ReloadContext } from '../../src/actions/action.js';
import { realClock } from '../../src/lib/clock.js';
import { createHttpAction, type HttpActionOptions } from '../../src/actions/http.js';
import { createMetrics } from '../../src/metrics/hotreload.js';
import { parseStatusSpec, type StatusSpec } from '../../src/config/http-spec.js';
import { VERSION } from '../../src/lib/version.js';
import { FakeClock } from '../doubles/fake-clock.js';
import { waitFor } from '../harness/wait.js';
import type { ReloadError } from '../../src/lib/errors.js';
import { failure } from '../doubles/reload-error.js';
import { startTarget, type Target } from '../harness/http-target.js';

const BOUND = { timeout: 5000 };

function spec(text: string): StatusSpec {
  const parsed = parseStatusSpec(text);
  assert.ok(parsed, text);
  return parsed;
}

function context(signal: AbortSignal = new AbortController().signal): ReloadContext {
  return {
    fingerprint: 'sha256:test',
    writtenAt: 0,
    changed: ['config.yaml'],
    attempt: 1,
    signal,
    superseded: new AbortController().signal,
  };
}

/** Message, hint and every cause's message, for "never shows X" assertions. */
function everythingShown(err: ReloadError): string {
  const parts = [err.message, err.hint ?? '', String(err.stack)];
  for (let cause: unknown = err.cause; cause instanceof Error; cause = cause.cause) {
    parts.push(cause.message, String(cause.stack));
  }
  return parts.join('\n');
}

describe('the http action against a real server', () => {
  let target: Target;
  let agent: Agent;
  let dir: string;

  beforeEach(async () => {
    target = await startTarget();
    agent = new Agent({ keepAlive: true });
    dir = await mkdtemp(path.join(tmpdir(), 'hotreload-http-'));
  });

  afterEach(async () => {
    await target.close();
    agent.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  function action(overrides: Partial<HttpActionOptions> = {}) {
    return createHttpAction({
      url: new URL(`${target.url}/-/reload`),
      method: 'POST',
      headers: [],
      headerFiles: [],
      expectStatus: spec('2xx'),
      timeoutMs: 2000,
      agent,
      clock: realClock,
      ...overrides,
    });
  }

  it('resolves on a 200 and sends one request with the hotreload user agent', BOUND, async () => {
    const act = action();
    assert.equal(act.kind, 'http');
    assert.equal(act.target, `POST ${target.url}/-/reload`);

    await act.run(context());

    assert.equal(target.requests.length, 1);
    const [req] = target.requests;
    assert.equal(req?.method, 'POST');
    assert.equal(req?.url, '/-/reload');
    assert.equal(req?.headers['user-agent'], `hotreload/${VERSION}`);
    assert.match(VERSION, /^\d+\.\d+\.\d+/);
  });

  it('uses the process-wide keep-alive agent when none is given', BOUND, async () => {
    await action({ agent: undefined }).run(context());
    assert.equal(target.requests.length, 1);
  });

  it(
    'rejects a 500 with E_HTTP_STATUS naming the status, the spec and the body',
    BOUND,
    async () => {
      target.setHandler(() => ({ status: 500, body: 'bad config:\n  line 3\x1b[31m' }));

      const err = await failure(action().run(context()));

      assert.equal(err.code, 'E_HTTP_STATUS');
      assert.match(err.message, /\b500\b/);
      assert.match(err.message, /expected 2xx/);
      assert.match(err.message, /bad config: line 3 \[31m$/);
      assert.doesNotMatch(err.message, /\p{Cc}/u);
    },
  );

  it('accepts 204 when the expected status is 200,204 and rejects 202', BOUND, async () => {
    const act = action({ expectStatus: spec('200,204') });
    target.setHandler(() => ({ status: 204 }));
    await act.run(context());

    target.setHandler(() => ({ status: 202 }));
    const err = await failure(act.run(context()));
    assert.equal(err.code, 'E_HTTP_STATUS');
    assert.match(err.message, /202, expected 200,204/);
  });

  it('accepts any 2xx status when the expected status is 2xx', BOUND, async () => {
    const act = action({ expectStatus: spec('2xx') });
    for (const status of [200, 201, 202, 204, 299]) {
      target.setHandler(() => ({ status }));
      await act.run(context());
    }
    target.setHandler(() => ({ status: 302 }));
    assert.equal((await failure(act.run(context()))).code, 'E_HTTP_STATUS');
  });

  it('sends the configured method', BOUND, async () => {
    await action({ method: 'PUT' }).run(context());
    await action({ method: 'GET' }).run(context());
    assert.deepEqual(
      target.requests.map((r) => r.method),
      ['PUT', 'GET'],
    );
    assert.equal(action({ method: 'GET' }).target, `GET ${target.url}/-/reload`);
  });

  it('sends the configured headers, and a user agent set by the operator wins', BOUND, async () => {
    const headers = [
      { name: 'X-Reload-Token', value: 'abc' },
      { name: 'X-Empty', value: '' },
      { name: 'User-Agent', value: 'mine/1' },
    ];
    await action({ headers }).run(context());

    const sent = target.requests[0]?.headers;
    assert.equal(sent?.['x-reload-token'], 'abc');
    assert.equal(sent?.['x-empty'], '');
    assert.equal(sent?.['user-agent'], 'mine/1');
  });

  it('reads a header file at each request, so a rotated token is sent', BOUND, async () => {
    const file = path.join(dir, 'token');
    await writeFile(file, 'token-one\n');
    const act = action({ headerFiles: [{ name: 'X-Token', path: file }] });

    await act.run(context());
    await writeFile(file, '  token-two \r\n');
    await act.run(context());

    assert.deepEqual(
      target.requests.map((r) => r.headers['x-token']),
      ['token-one', 'token-two'],
    );
  });

  it('reads header files through the injected readFile', BOUND, async () => {
    const reads: string[] = [];
    const readFile = (p: string) => {
      reads.push(p);
      return Promise.resolve('injected\n');
    };
    await action({ headerFiles: [{ name: 'X-Token', path: '/x/token' }], readFile }).run(context());
    assert.deepEqual(reads, ['/x/token']);
    assert.equal(target.requests[0]?.headers['x-token'], 'injected');
  });

  it(
    'rejects a missing header file with E_HEADER_FILE naming header and path, never the value',
    BOUND,
    async () => {
      const file = path.join(dir, 'token');
      await writeFile(file, 'super-secret-value\n');
      const act = action({ headerFiles: [{ name: 'X-Token', path: file }] });
      await act.run(context());
      await unlink(file);

      const err = await failure(act.run(context()));

      assert.equal(err.code, 'E_HEADER_FILE');
      assert.ok(err.message.includes('X-Token'), err.message);
      assert.ok(err.message.includes(file), err.message);
      assert.match(err.message, /ENOENT/);
      assert.ok(!everythingShown(err).includes('super-secret-value'));
      assert.equal(target.requests.length, 1, 'no request without the header');
    },
  );

  it(
    'rejects a header file with a line break inside the value, without showing it',
    BOUND,
    async () => {
      const file = path.join(dir, 'token');
      await writeFile(file, 'secret-line-one\nX-Evil: secret-line-two\n');

      const err = await failure(
        action({ headerFiles: [{ name: 'X-Token', path: file }] }).run(context()),
      );

      assert.equal(err.code, 'E_HEADER_FILE');
      assert.ok(err.message.includes(file));
      assert.doesNotMatch(everythingShown(err), /secret-line/);
      assert.equal(target.requests.length, 0);
    },
  );

  it('gives up on a hanging target with E_HTTP_TIMEOUT within the timeout', BOUND, async () => {
    target.setHandler(() => ({ hang: true }));
    const signal = new AbortController().signal;
    const started = performance.now();

    const err = await failure(action({ timeoutMs: 200 }).run(context(signal)));

    const elapsed = performance.now() - started;
    assert.equal(err.code, 'E_HTTP_TIMEOUT');
    assert.match(err.message, /200ms/);
    assert.match(err.hint ?? '', /--http-timeout/);
    assert.ok(elapsed >= 150 && elapsed < 1500, `elapsed ${elapsed}ms`);
    assert.equal(getEventListeners(signal, 'abort').length, 0, 'shutdown listener removed');
  });

  it('times its deadline on the injected clock, not the real one', BOUND, async () => {
    target.setHandler(() => ({ hang: true }));
    const clock = new FakeClock();
    let settled = false;
    const run = failure(action({ timeoutMs: 60_000, clock }).run(context())).finally(
      () => (settled = true),
    );
    await waitFor(() => target.requests.length === 1, 2000, 'the request to arrive');
    assert.equal(settled, false, 'no answer, and the deadline has not passed on the fake clock');
    await clock.tick(60_000);
    const err = await run;
    assert.equal(err.code, 'E_HTTP_TIMEOUT');
    assert.match(err.message, /1m/);
  });

  it(
    'counts an expected status as delivered even when the body stalls past the timeout',
    BOUND,
    async () => {
      target.setHandler(() => ({ status: 200, body: 'reloading', stallBody: true }));
      const started = performance.now();

      await action({ timeoutMs: 200 }).run(context());

      assert.ok(performance.now() - started < 1500);
    },
  );

  it(
    'reports an unexpected status with the body that arrived before the timeout',
    BOUND,
    async () => {
      target.setHandler(() => ({ status: 500, body: 'partial error', stallBody: true }));
      const started = performance.now();

      const err = await failure(action({ timeoutMs: 200 }).run(context()));

      assert.equal(err.code, 'E_HTTP_STATUS');
      assert.match(err.message, /500, expected 2xx; body: partial error$/);
      assert.ok(performance.now() - started < 1500);
    },
  );

  it(
    'rejects a closed port with E_HTTP_CONNECT and asks whether the app listens',
    BOUND,
    async () => {
      const gone = await startTarget();
      const url = new URL(`${gone.url}/-/reload`);
      await gone.close();

      const err = await failure(action({ url }).run(context()));

      assert.equal(err.code, 'E_HTTP_CONNECT');
      assert.match(err.message, /ECONNREFUSED/);
      assert.equal(err.hint, `is the application listening on ${url.host}?`);
    },
  );

  it('rejects a connection reset with E_HTTP or E_HTTP_CONNECT', BOUND, async () => {
    target.setHandler(() => ({ reset: true }));

    const err = await failure(action().run(context()));

    assert.ok(['E_HTTP', 'E_HTTP_CONNECT'].includes(err.code), err.code);
    assert.equal(target.requests.length, 1);
  });

  describe('with credentials in the URL', () => {
    const password = 'pa55-w0rd';

    function credentialed(base: string): URL {
      return new URL(`${base.replace('http://', `http://admin:${password}@`)}/-/reload?x=1`);
    }

    it('sends them as basic auth, not in the request line', BOUND, async () => {
      await action({ url: credentialed(target.url) }).run(context());

      const req = target.requests[0];
      const expected = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
      assert.equal(req?.headers.authorization, expected);
      assert.equal(req?.url, '/-/reload?x=1');
    });

    it('sends a lone username (a token) as basic auth with an empty password', BOUND, async () => {
      const url = new URL(`${target.url.replace('http://', 'http://tok%40en@')}/-/reload`);
      const act = action({ url });
      assert.equal(act.target, `POST ${target.url.replace('http://', 'http://xxxxx@')}/-/reload`);

      await act.run(context());

      const sent = target.requests[0]?.headers.authorization;
      assert.equal(sent, `Basic ${Buffer.from('tok@en:').toString('base64')}`);
    });

    it('lets an Authorization header set by the operator win', BOUND, async () => {
      const headers = [{ name: 'Authorization', value: 'Bearer mine' }];
      await action({ url: credentialed(target.url), headers }).run(context());
      assert.equal(target.requests[0]?.headers.authorization, 'Bearer mine');
    });

    it('never shows the password in the target or in any error', BOUND, async () => {
      const act = action({ url: credentialed(target.url), timeoutMs: 200 });
      assert.ok(!act.target.includes(password));
      assert.match(act.target, /admin:xxxxx@/);

      target.setHandler(() => ({ status: 500 }));
      const status = await failure(act.run(context()));
      target.setHandler(() => ({ hang: true }));
      const timeout = await failure(act.run(context()));
      target.setHandler(() => ({ reset: true }));
      const reset = await failure(act.run(context()));
      const gone = await startTarget();
      const refusedAction = action({ url: credentialed(gone.url) });
      await gone.close();
      const refused = await failure(refusedAction.run(context()));

      assert.deepEqual(
        [status, timeout, refused].map((e) => e.code),
        ['E_HTTP_STATUS', 'E_HTTP_TIMEOUT', 'E_HTTP_CONNECT'],
      );
      for (const err of [status, timeout, reset, refused]) {
        assert.ok(!everythingShown(err).includes(password), everythingShown(err));
      }
    });
  });

  it('rejects with E_ABORTED when ctx.signal aborts during the request', BOUND, async () => {
    target.setHandler(() => ({ hang: true }));
    const shutdown = new AbortController();
    const started = performance.now();
    setTimeout(() => shutdown.abort(), 50);

    const err = await failure(action({ timeoutMs: 2000 }).run(context(shutdown.signal)));

    assert.equal(err.code, 'E_ABORTED');
    assert.ok(performance.now() - started < 1000);
  });

  it(
    'rejects with E_ABORTED and sends nothing when ctx.signal is already aborted',
    BOUND,
    async () => {
      const err = await failure(action().run(context(AbortSignal.abort())));
      assert.equal(err.code, 'E_ABORTED');
      assert.equal(target.requests.length, 0);
    },
  );

  it('rejects with E_ABORTED when shutdown begins while header files are read', BOUND, async () => {
    const shutdown = new AbortController();
    const readFile = () => {
      shutdown.abort();
      return Promise.resolve('token');
    };
    const act = action({ headerFiles: [{ name: 'X-Token', path: '/x/token' }], readFile });

    const err = await failure(act.run(context(shutdown.signal)));

    assert.equal(err.code, 'E_ABORTED');
    assert.equal(target.requests.length, 0);
  });

  it('consumes a 1 MiB response body without error', BOUND, async () => {
    const big = Buffer.alloc(1024 * 1024, 'a');
    target.setHandler(() => ({ status: 200, body: big }));
    const act = action();

    await act.run(context());
    await act.run(context());

    assert.equal(target.requests.length, 2);
  });

  it('shows only the first 200 characters of a 1 MiB error body', BOUND, async () => {
    target.setHandler(() => ({ status: 503, body: Buffer.alloc(1024 * 1024, 'b') }));

    const err = await failure(action().run(context()));

    assert.equal(err.code, 'E_HTTP_STATUS');
    const shown = /body: (b+)…$/.exec(err.message);
    assert.equal(shown?.[1]?.length, 200);
  });
});

describe("configmap-reload's metrics from the http action", () => {
  it(
    'count successes, statuses and each kind of failure per webhook, credentials redacted',
    BOUND,
    async () => {
      const target = await startTarget();
      const agent = new Agent({ keepAlive: true });
      const metrics = createMetrics('test', { processMetrics: false, configmapReload: true });
      try {
        const url = new URL(`${target.url}/-/reload`);
        url.username = 'admin';
        url.password = 'hunter2';
        const run = (overrides: Partial<HttpActionOptions> = {}) =>
          createHttpAction({
            url,
            method: 'POST',
            headers: [],
            headerFiles: [],
            expectStatus: spec('200'),
            timeoutMs: 2000,
            agent,
            clock: realClock,
            observe: metrics.configmapReload?.request,
            ...overrides,
          }).run(context());

        await run();
        const afterSuccess = await metrics.registry.metrics();
        target.setHandler(() => ({ status: 503 }));
        await failure(run());
        await failure(run({ headerFiles: [{ name: 'X-Token', path: '/nonexistent/token' }] }));
        await target.close();
        await failure(run());

        const text = await metrics.registry.metrics();
        const webhook = `webhook="http://admin:xxxxx@${url.host}/-/reload"`;
        assert.match(
          afterSuccess,
          new RegExp(`configmap_reload_last_reload_error\\{${esc(webhook)}\\} 0`),
        );
        const lines = text.split('\n').filter((l) => l.startsWith('configmap_reload_'));
        assert.deepEqual(
          lines.filter((l) => !l.includes('last_request_duration_seconds')).sort(),
          [
            `configmap_reload_last_reload_error{${webhook}} 1`,
            `configmap_reload_request_errors_total{${webhook},reason="client_request_create"} 1`,
            `configmap_reload_request_errors_total{${webhook},reason="client_request_do"} 1`,
            `configmap_reload_request_errors_total{${webhook},reason="client_response"} 1`,
            `configmap_reload_requests_total{${webhook},status_code="200"} 1`,
            `configmap_reload_requests_total{${webhook},status_code="503"} 1`,
            `configmap_reload_success_reloads_total{${webhook}} 1`,
            'configmap_reload_watcher_errors_total 0',
          ].sort(),
        );
        assert.match(
          text,
          new RegExp(
            `configmap_reload_last_request_duration_seconds\\{${esc(webhook)}\\} 0\\.\\d+`,
          ),
        );
        assert.doesNotMatch(text, /hunter2/);
      } finally {
        await target.close();
        agent.destroy();
      }
    },
  );
});

function esc(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
