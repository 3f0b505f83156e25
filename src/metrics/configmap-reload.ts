// configmap-reload's metrics (jimmidyson/configmap-reload: configmap_reload_*, labelled by
// webhook URL), fed from hotreload's HTTP requests and watcher errors, so the dashboards and
// alerts written for it keep working after a migration (--configmap-reload-metrics). The URL in
// the webhook label has its credentials redacted, which configmap-reload does not do. It does not
// send requests or watch anything.
import type { Registry } from 'prom-client';
import CounterMetric from 'prom-client/lib/counter.js';
import GaugeMetric from 'prom-client/lib/gauge.js';

/** How one reload request went, as configmap-reload tells failures apart. */
export interface HttpOutcome {
  /** The URL, credentials redacted. */
  readonly webhook: string;
  /** The response status; absent when no response came. */
  readonly statusCode?: number;
  readonly ok: boolean;
  readonly durationMs: number;
  /**
   * Why it failed: no request could be made (a header file), no response (connection, timeout),
   * or a status other than the expected one.
   */
  readonly reason?: 'client_request_create' | 'client_request_do' | 'client_response';
}

export interface ConfigmapReloadMetrics {
  readonly request: (outcome: HttpOutcome) => void;
  readonly watcherError: () => void;
}

const PREFIX = 'configmap_reload_';

export function createConfigmapReloadMetrics(registry: Registry): ConfigmapReloadMetrics {
  const registers = [registry];
  const lastReloadError = new GaugeMetric({
    name: `${PREFIX}last_reload_error`,
    help: 'Whether the last reload resulted in an error (1 for error, 0 for success).',
    labelNames: ['webhook'],
    registers,
  });
  const lastRequestDuration = new GaugeMetric({
    name: `${PREFIX}last_request_duration_seconds`,
    help: 'Duration of the last successful webhook request.',
    labelNames: ['webhook'],
    registers,
  });
  const successReloads = new CounterMetric({
    name: `${PREFIX}success_reloads_total`,
    help: 'Total successful reload requests.',
    labelNames: ['webhook'],
    registers,
  });
  const requestErrors = new CounterMetric({
    name: `${PREFIX}request_errors_total`,
    help: 'Total request errors by reason.',
    labelNames: ['webhook', 'reason'],
    registers,
  });
  const watcherErrors = new CounterMetric({
    name: `${PREFIX}watcher_errors_total`,
    help: 'Total filesystem watcher errors.',
    registers,
  });
  const requests = new CounterMetric({
    name: `${PREFIX}requests_total`,
    help: 'Total requests by response status code.',
    labelNames: ['webhook', 'status_code'],
    registers,
  });
  watcherErrors.inc(0);
  return {
    request: ({ webhook, statusCode, ok, durationMs, reason }) => {
      if (statusCode !== undefined) requests.inc({ webhook, status_code: String(statusCode) });
      if (ok) {
        lastRequestDuration.set({ webhook }, durationMs / 1000);
        successReloads.inc({ webhook });
        lastReloadError.set({ webhook }, 0);
      } else {
        requestErrors.inc({ webhook, reason: reason ?? 'client_request_do' });
        lastReloadError.set({ webhook }, 1);
      }
    },
    watcherError: () => watcherErrors.inc(),
  };
}
