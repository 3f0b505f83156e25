// End to end: a real Prometheus, run by the test, its prometheus.yml in a kubelet-style volume;
// hotreload makes it reload either through its lifecycle endpoint (/-/reload) or with SIGHUP.
// What Prometheus reports at /api/v1/status/config is the configuration it actually runs.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parse } from 'yaml';
import { cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import {
  FAST,
  TIMEOUT,
  escapeRegExp,
  hotreload,
  killProcesses,
  reloaded,
  sentTo,
  volume,
} from '../harness/e2e.js';
import { freePort, request, waitForBody } from '../harness/net.js';
import { startProcess } from '../harness/processes.js';
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

  // prometheus-operator's sidecar, with its own flags: the configuration is a gzipped Secret key
  // with $(POD_NAME) in external_labels (Prometheus does not expand it), rendered into an emptyDir
  // that Prometheus reads; the reload checked through /api/v1/status/runtimeinfo.
  it(
    "prometheus-config-reloader's invocation: renders the envsubst'd configuration Prometheus starts on, then each update",
    { ...TIMEOUT, skip },
    async () => {
      const conf = (interval: string) => ({
        'prometheus.yaml.gz': {
          content: gzipSync(
            `global:\n  scrape_interval: ${interval}\n  external_labels:\n    prometheus_replica: $(POD_NAME)\n`,
          ),
        },
      });
      const secret = await volume('pcr-secret', conf('15s'));
      const out = path.join(await makeTempDir('pcr-config-out'), 'prometheus.env.yaml');
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const hr = hotreload(
        [
          '--listen-address=127.0.0.1:0',
          `--reload-url=${url}/-/reload`,
          `--config-file=${path.join(secret.dir, 'prometheus.yaml.gz')}`,
          `--config-envsubst-file=${out}`,
          `--runtimeinfo-url=${url}/api/v1/status/runtimeinfo`,
          '--reload-timeout=30s',
          '--retry-interval=300ms',
          '--watch-interval=3m',
        ],
        { POD_NAME: 'prometheus-k8s-0' },
      );
      await hr.ready();
      await waitFor(
        () =>
          access(out).then(
            () => true,
            () => false,
          ),
        10_000,
        'the rendered file',
      );
      const data = path.join(await makeTempDir('pcr-prometheus'), 'data');
      const server = startProcess(PROMETHEUS, [
        `--config.file=${out}`,
        '--web.enable-lifecycle',
        `--web.listen-address=127.0.0.1:${port}`,
        `--storage.tsdb.path=${data}`,
      ]);
      await waitForBody(`${url}/-/ready`, () => true, 30_000, 'Prometheus to be ready');
      const running = async () => {
        const body = JSON.parse((await request(`${url}/api/v1/status/config`)).body) as {
          data: { yaml: string };
        };
        return parse(body.data.yaml) as {
          global: { scrape_interval: string; external_labels: Record<string, string> };
        };
      };
      assert.deepEqual((await running()).global.external_labels, {
        prometheus_replica: 'prometheus-k8s-0',
      });

      const before = hr.logs.filter(reloaded).length;
      await secret.writer.write(conf('7s'));
      await waitFor(
        () => hr.logs.filter(reloaded).some((r, i) => i >= before && r.action === 'http'),
        20_000,
        'the reload of the update',
      );
      const now = await running();
      assert.equal(now.global.scrape_interval, '7s');
      assert.deepEqual(now.global.external_labels, { prometheus_replica: 'prometheus-k8s-0' });
      assert.equal(server.proc.exitCode, null);
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );
});
