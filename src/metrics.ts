// Prometheus metrics on a registry of hotreload's own (no globals registered at import time).
// Names follow prometheus-config-reloader's reloader_* set, under the hotreload_ prefix.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly reloads: Counter<'result'>;
  readonly reloadDuration: Histogram;
  readonly lastReloadSuccessful: Gauge;
  readonly lastReloadSuccessTimestamp: Gauge;
  readonly watchEvents: Counter<'path'>;
  readonly watchErrors: Counter<'path'>;
  readonly changes: Counter;
  readonly pendingReload: Gauge;
  readonly appliedInfo: Gauge<'fingerprint'>;
}

export function createMetrics(version: string, withDefaults = true): Metrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new Gauge({
    name: 'hotreload_build_info',
    help: 'Always 1; labels carry the hotreload version and the Node.js version.',
    labelNames: ['version', 'node'],
    registers,
  }).set({ version, node: process.versions.node }, 1);
  const metrics: Metrics = {
    registry,
    reloads: new Counter({
      name: 'hotreload_reloads_total',
      help: 'Reload attempts, by result (success or failure).',
      labelNames: ['result'],
      registers,
    }),
    reloadDuration: new Histogram({
      name: 'hotreload_reload_duration_seconds',
      help: 'Time taken by one reload attempt (all actions in order).',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    lastReloadSuccessful: new Gauge({
      name: 'hotreload_last_reload_successful',
      help: '1 if the last reload attempt succeeded, 0 if it failed.',
      registers,
    }),
    lastReloadSuccessTimestamp: new Gauge({
      name: 'hotreload_last_reload_success_timestamp_seconds',
      help: 'Unix time of the last successful reload.',
      registers,
    }),
    watchEvents: new Counter({
      name: 'hotreload_watch_events_total',
      help: 'Filesystem events seen, by watched path.',
      labelNames: ['path'],
      registers,
    }),
    watchErrors: new Counter({
      name: 'hotreload_watch_errors_total',
      help: 'Watcher and fingerprint errors, by watched path.',
      labelNames: ['path'],
      registers,
    }),
    changes: new Counter({
      name: 'hotreload_changes_total',
      help: 'Content changes detected (fingerprint differs from the previous one).',
      registers,
    }),
    pendingReload: new Gauge({
      name: 'hotreload_pending_reload',
      help: '1 while a change has not been delivered yet (reload running or waiting to retry).',
      registers,
    }),
    appliedInfo: new Gauge({
      name: 'hotreload_applied_config_info',
      help: 'Always 1; the fingerprint label is the content the application last took.',
      labelNames: ['fingerprint'],
      registers,
    }),
  };
  metrics.lastReloadSuccessful.set(1);
  metrics.pendingReload.set(0);
  return metrics;
}

/** Sets the info metric to exactly one series, for `fingerprint`. */
export function setApplied(metrics: Metrics, fingerprint: string): void {
  metrics.appliedInfo.reset();
  metrics.appliedInfo.set({ fingerprint }, 1);
}
