// End to end: a real Prometheus, run by the test, its prometheus.yml in a kubelet-style volume;
// hotreload makes it reload either through its lifecycle endpoint (/-/reload) or with SIGHUP.
// What Prometheus reports at /api/v1/status/config is the configuration it actually runs.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { parse } from 'yaml';
import { cleanupTempDirs, makeTempDir } from '../support/atomic-writer.js';
import {
  FAST,
  TIMEOUT,
  escapeRegExp,
  hotreload,
  killProcesses,
  reloaded,
  sentTo,
  volume,
  type Volume,
} from '../support/e2e.js';
import { freePort, request, waitForBody } from '../support/net.js';
import { startProcess, type Started } from '../support/processes.js';
import { PROMETHEUS, requireProgram } from '../support/programs.js';
import { waitFor } from '../support/wait.js';

afterEach(killProcesses);
after(cleanupTempDirs);

interface Prometheus extends Volume {
  readonly server: Started;
  readonly url: string;
  readonly data: string;
}

const config = (interval: string) => `global:\n  scrape_interval: ${interval}\n`;

/** Starts Prometheus on a free port with scrape_interval 15s, and waits until it is ready. */
async function startPrometheus(): Promise<Prometheus> {
  const vol = await volume('prometheus-conf', { 'prometheus.yml': config('15s') });
  const data = path.join(await makeTempDir('prometheus'), 'data');
  const port = await freePort();
  const server = startProcess(PROMETHEUS, [
    `--config.file=${vol.dir}/prometheus.yml`,
    '--web.enable-lifecycle',
    `--web.listen-address=127.0.0.1:${port}`,
    `--storage.tsdb.path=${data}`,
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitForBody(`${url}/-/ready`, () => true, 30_000, 'Prometheus to be ready').catch(
    (err: Error) => {
      throw new Error(`${err.message}; its output: ${server.output().slice(-2000)}`);
    },
  );
  return { ...vol, server, url, data };
}

/** The global scrape_interval of the configuration Prometheus runs now. */
async function scrapeInterval(p: Prometheus): Promise<string> {
  const res = await request(`${p.url}/api/v1/status/config`);
  const body = JSON.parse(res.body) as { data: { yaml: string } };
  const running = parse(body.data.yaml) as { global: { scrape_interval: string } };
  return running.global.scrape_interval;
}

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
