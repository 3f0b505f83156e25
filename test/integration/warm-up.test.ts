// The warm-ups that make the first reload as fast as the next ones: the HTTP action's exchange
// with a server of its own, and the rehearsal of the reload path. Each must do its work and
// touch nothing real: no request to the target, no metric, no log line. (One file, one
// process: the HTTP warm-up runs once per process.)
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { describe, it } from 'node:test';

import { createHttpAction } from '../../src/actions/http.js';
import { warmUp } from '../../src/actions/http-client.js';
import { realClock } from '../../src/lib/clock.js';
import { parseStatusSpec } from '../../src/config/http-spec.js';
import { createMetrics } from '../../src/metrics/hotreload.js';
import { rehearse } from '../../src/reload/rehearsal.js';
import { startTarget } from '../harness/http-target.js';

const BOUND = { timeout: 10_000 };

describe('the warm-ups at start', () => {
  it(
    "run the http action's own exchange against a server of their own: the target gets nothing, nothing is counted",
    BOUND,
    async () => {
      const target = await startTarget();
      const agent = new Agent({ keepAlive: true });
      const metrics = createMetrics('test', { processMetrics: false, configmapReload: true });
      try {
        const action = createHttpAction({
          url: new URL(`${target.url}/-/reload`),
          method: 'POST',
          headers: [{ name: 'X-Reload', value: '1' }],
          headerFiles: [{ name: 'X-Token', path: '/nonexistent/token' }],
          // The warm-up's server answers 200: this action's own status check refuses it.
          expectStatus: parseStatusSpec('204')!,
          timeoutMs: 2000,
          agent,
          clock: realClock,
          observe: metrics.configmapReload?.request,
        });
        await action.warmUp?.();
        // The action's own exchange ran, status check included (a plain request would be taken).
        assert.equal(await warmUp(), false);
        assert.equal(target.requests.length, 0);
        const counted = (await metrics.registry.metrics())
          .split('\n')
          .filter((l) => /^configmap_reload_(requests|success|request_errors)/.test(l));
        assert.deepEqual(counted, []);
      } finally {
        agent.destroy();
        await target.close();
      }
    },
  );

  it('rehearse ten changes through a pipeline of their own and resolve', BOUND, async () => {
    assert.equal(await rehearse(realClock, 'test'), 10);
  });
});
