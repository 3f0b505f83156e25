// End to end: a real Prometheus, run by the test, its prometheus.yml in a kubelet-style volume;
// hotreload makes it reload either through its lifecycle endpoint (/-/reload) or with SIGHUP.
// What Prometheus reports at /api/v1/status/config is the configuration it actually runs.
import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { cleanupTempDirs } from '../harness/atomic-writer.js';
import {
  FAST,
  TIMEOUT,
  escapeRegExp,
  hotreload,
  killProcesses,
  reloaded,
  sentTo,
} from '../harness/e2e.js';
import { PROMETHEUS, requireProgram } from '../harness/programs.js';
import { promConfig as config, scrapeInterval, startPrometheus } from '../harness/prometheus.js';
import { waitFor } from '../harness/wait.js';

afterEach(killProcesses);
after(cleanupTempDirs);

describe('Prometheus reloaded by hotreload', () => {
  const skip = requireProgram(PROMETHEUS);

  it(
    'applies a new scrape_interval after hotreload calls /-/reload',
    { ...TIMEOUT, skip },
    async () => {
      const p = await startPrometheus();
      assert.equal(await scrapeInterval(p), '15s');
      const hr = hotreload(['--watch', p.dir, '--http-url', `${p.url}/-/reload`, ...FAST]);
      await hr.ready();
      await p.writer.write({ 'prometheus.yml': config('7s') });
      await hr.waitForLog(reloaded);
      // /-/reload answers once the reload is done, so the new value is there at once.
      assert.equal(await scrapeInterval(p), '7s');
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );

  it(
    'applies a new scrape_interval after hotreload sends SIGHUP to --process-name prometheus',
    { ...TIMEOUT, skip },
    async () => {
      const p = await startPrometheus();
      // --process-match narrows --process-name to this test's Prometheus (both must match), so a
      // second one on the machine is never signalled.
      const hr = hotreload([
        '--watch',
        p.dir,
        '--signal',
        'HUP',
        '--process-name',
        'prometheus',
        '--process-match',
        escapeRegExp(p.data),
        ...FAST,
      ]);
      await hr.ready();
      await p.writer.write({ 'prometheus.yml': config('7s') });
      const sent = await hr.waitForLog(sentTo(p.server.pid));
      assert.equal(sent.msg, `sent SIGHUP to prometheus (pid ${p.server.pid})`);
      await hr.waitForLog(reloaded);
      // A signal is not answered: the reload lands a little later.
      await waitFor(async () => (await scrapeInterval(p)) === '7s', 10_000, 'scrape_interval 7s');
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );
});
