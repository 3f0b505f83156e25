// A real Prometheus for end-to-end tests, run by the test with its prometheus.yml in a
// kubelet-style volume, and readers of what it runs and says about its last reload. It does not
// start hotreload.
import path from 'node:path';
import { parse } from 'yaml';
import { makeTempDir } from './atomic-writer.js';
import { volume, type Volume } from './e2e.js';
import { freePort, request, waitForBody } from './net.js';
import { startProcess, type Started } from './processes.js';
import { PROMETHEUS } from './programs.js';

export interface Prometheus extends Volume {
  readonly server: Started;
  readonly url: string;
  readonly data: string;
  readonly port: number;
}

/** A prometheus.yml with this global scrape_interval. */
export const promConfig = (interval: string) => `global:\n  scrape_interval: ${interval}\n`;
/** A prometheus.yml that Prometheus refuses (not a duration). */
export const BROKEN_PROM_CONFIG = 'global:\n  scrape_interval: not-a-duration\n';

/** Starts Prometheus on a free port with scrape_interval 15s, and waits until it is ready. */
export async function startPrometheus(existing?: Volume & { data?: string }): Promise<Prometheus> {
  const vol =
    existing ?? (await volume('prometheus-conf', { 'prometheus.yml': promConfig('15s') }));
  const data = existing?.data ?? path.join(await makeTempDir('prometheus'), 'data');
  const port = await freePort();
  const server = startPrometheusProcess(vol.dir, data, port);
  const url = `http://127.0.0.1:${port}`;
  await waitForBody(`${url}/-/ready`, () => true, 30_000, 'Prometheus to be ready').catch(
    (err: Error) => {
      throw new Error(`${err.message}; its output: ${server.output().slice(-2000)}`);
    },
  );
  return { ...vol, server, url, data, port };
}

/** Runs the Prometheus binary on `dir`/prometheus.yml; nothing waited for. */
export function startPrometheusProcess(dir: string, data: string, port: number): Started {
  return startProcess(PROMETHEUS, [
    `--config.file=${dir}/prometheus.yml`,
    '--web.enable-lifecycle',
    `--web.listen-address=127.0.0.1:${port}`,
    `--storage.tsdb.path=${data}`,
  ]);
}

/** The global scrape_interval of the configuration Prometheus runs now. */
export async function scrapeInterval(p: Pick<Prometheus, 'url'>): Promise<string> {
  const res = await request(`${p.url}/api/v1/status/config`);
  const body = JSON.parse(res.body) as { data: { yaml: string } };
  const running = parse(body.data.yaml) as { global: { scrape_interval: string } };
  return running.global.scrape_interval;
}

/** prometheus_config_last_reload_successful as Prometheus exports it. */
export async function lastReloadSuccessful(p: Pick<Prometheus, 'url'>): Promise<number> {
  const body = (await request(`${p.url}/metrics`)).body;
  const line = body
    .split('\n')
    .find((l) => l.startsWith('prometheus_config_last_reload_successful '));
  if (!line) throw new Error('prometheus_config_last_reload_successful not exported');
  return Number(line.split(' ')[1]);
}
