// Prometheus metrics on a registry of hotreload's own (no globals registered at import time).
// Names follow prometheus-config-reloader's reloader_* set, under the hotreload_ prefix.
// prom-client's own modules rather than its index, which also loads the Summary, Pushgateway
// (http, https) and cluster aggregation (cluster, child_process) that hotreload never uses. The
// paths are pinned by prom-client's version range in package.json and checked by
// test/repo/dependency-modules.test.ts; src/metrics/prom-client-modules.d.ts types them.
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import CounterMetric from 'prom-client/lib/counter.js';
import GaugeMetric from 'prom-client/lib/gauge.js';
import HistogramMetric from 'prom-client/lib/histogram.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import nodeVersion from 'prom-client/lib/metrics/version.js';
import RegistryClass from 'prom-client/lib/registry.js';
import { createConfigmapReloadMetrics, type ConfigmapReloadMetrics } from './configmap-reload.js';

/**
 * How one attempt of one target went: told and took it (success), not taken (failure), nothing
 * sent because it already runs the content (skipped), only logged (dry_run), or cut short by
 * newer content (superseded).
 */
export type ReloadResult = 'success' | 'failure' | 'skipped' | 'dry_run' | 'superseded';

export interface Metrics {
  readonly registry: Registry;
  readonly reloads: Counter<'rule' | 'action' | 'target' | 'result'>;
  readonly reloadDuration: Histogram<'rule'>;
  readonly lastReloadSuccessful: Gauge<'rule'>;
  readonly lastReloadSuccessTimestamp: Gauge<'rule'>;
  readonly watchEvents: Counter<'rule' | 'path'>;
  readonly watchErrors: Counter<'rule' | 'path'>;
  readonly changes: Counter<'rule'>;
  readonly validationFailures: Counter<'rule'>;
  readonly pendingReload: Gauge<'rule'>;
  readonly targetInSync: Gauge<'rule' | 'action' | 'target'>;
  readonly unreadableFiles: Gauge<'rule'>;
  readonly fingerprintFailures: Counter<'rule'>;
  readonly appliedInfo: Gauge<'rule' | 'fingerprint'>;
  /** With --config: whether the rules file last read could be used, and how each read went. */
  readonly rulesFile: RulesFileMetrics | undefined;
  /** configmap-reload's metric names, with --configmap-reload-metrics. */
  readonly configmapReload: ConfigmapReloadMetrics | undefined;
}

export interface RulesFileMetrics {
  readonly lastLoadSuccessful: Gauge;
  readonly loads: Counter<'result'>;
}

export interface MetricsOptions {
  /** Rules come from a file (--config): export how its reads go. */
  readonly rulesFile?: boolean;
  /** Register prom-client's process_* and nodejs_* metrics (the subset below); default true. */
  readonly processMetrics?: boolean;
  /** Also register configmap-reload's configmap_reload_* metrics; default false. */
  readonly configmapReload?: boolean;
  /** Log lines dropped so far (a reader too slow or gone); not exported when absent. */
  readonly logDropped?: () => number;
}

/**
 * The subset of prom-client's default metrics hotreload exports: process_* (CPU, start time,
 * resident/virtual memory, open and maximum file descriptors) and nodejs_* heap size, active
 * handles, requests and resources, and version. Left out: nodejs_eventloop_lag_* (its monitor
 * wakes the process every 10 ms, all day, in a sidecar that is idle nearly all the time),
 * nodejs_gc_duration_seconds (a performance observer on every collection) and the per-space
 * nodejs_heap_space_* (V8 internals, not a sidecar's health).
 */
const PROCESS_METRICS = [
  processCpuTotal,
  processStartTime,
  osMemoryHeap,
  processOpenFileDescriptors,
  processMaxFileDescriptors,
  processHandles,
  processRequests,
  processResources,
  heapSizeAndUsed,
  nodeVersion,
];

export function createMetrics(version: string, opts: MetricsOptions = {}): Metrics {
  const registry = new RegistryClass();
  if (opts.processMetrics ?? true) for (const register of PROCESS_METRICS) register(registry);
  const registers = [registry];
  new GaugeMetric({
    name: 'hotreload_build_info',
    help: 'Always 1; labels carry the hotreload version and the Node.js version.',
    labelNames: ['version', 'node'],
    registers,
  }).set({ version, node: process.versions.node }, 1);
  const metrics: Metrics = {
    registry,
    reloads: new CounterMetric({
      name: 'hotreload_reloads_total',
      help: 'Reload attempts, by target (action kind and target) and result: success, failure, skipped (it already runs the content), dry_run, superseded (newer content arrived).',
      labelNames: ['rule', 'action', 'target', 'result'],
      registers,
    }),
    reloadDuration: new HistogramMetric({
      name: 'hotreload_reload_duration_seconds',
      help: 'Time taken by one reload attempt (all actions in order).',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      labelNames: ['rule'],
      registers,
    }),
    lastReloadSuccessful: new GaugeMetric({
      name: 'hotreload_last_reload_successful',
      help: '1 if the last reload attempt of every target succeeded, 0 if one failed.',
      labelNames: ['rule'],
      registers,
    }),
    lastReloadSuccessTimestamp: new GaugeMetric({
      name: 'hotreload_last_reload_success_timestamp_seconds',
      help: 'Unix time of the last successful reload.',
      labelNames: ['rule'],
      registers,
    }),
    watchEvents: new CounterMetric({
      name: 'hotreload_watch_events_total',
      help: 'Filesystem events seen, by watched path.',
      labelNames: ['rule', 'path'],
      registers,
    }),
    watchErrors: new CounterMetric({
      name: 'hotreload_watch_errors_total',
      help: 'Watcher and fingerprint errors, by watched path.',
      labelNames: ['rule', 'path'],
      registers,
    }),
    changes: new CounterMetric({
      name: 'hotreload_changes_total',
      help: 'Content changes detected (fingerprint differs from the previous one).',
      labelNames: ['rule'],
      registers,
    }),
    validationFailures: new CounterMetric({
      name: 'hotreload_validation_failures_total',
      help: 'Changes refused because --validate or --validate-cmd found the configuration invalid.',
      labelNames: ['rule'],
      registers,
    }),
    pendingReload: new GaugeMetric({
      name: 'hotreload_pending_reload',
      help: '1 while a target does not hold the current content and hotreload will try again (a reload running, a retry scheduled, or given up until the next resync); 0 when every target holds it or the content was refused by validation.',
      labelNames: ['rule'],
      registers,
    }),
    unreadableFiles: new GaugeMetric({
      name: 'hotreload_unreadable_files',
      help: 'Watched entries whose content cannot be compared now (unreadable, larger than 16 MiB, a loop); their metadata stands for them.',
      labelNames: ['rule'],
      registers,
    }),
    fingerprintFailures: new CounterMetric({
      name: 'hotreload_fingerprint_failures_total',
      help: 'Fingerprints that failed as a whole (retried with backoff; hotreload_pending_reload is 1 meanwhile).',
      labelNames: ['rule'],
      registers,
    }),
    targetInSync: new GaugeMetric({
      name: 'hotreload_target_in_sync',
      help: '1 when the target is known to hold the current content, 0 otherwise.',
      labelNames: ['rule', 'action', 'target'],
      registers,
    }),
    appliedInfo: new GaugeMetric({
      name: 'hotreload_applied_config_info',
      help: 'Always 1; the fingerprint label is the content the application last took.',
      labelNames: ['rule', 'fingerprint'],
      registers,
    }),
    configmapReload: opts.configmapReload ? createConfigmapReloadMetrics(registry) : undefined,
    rulesFile: opts.rulesFile
      ? {
          lastLoadSuccessful: new GaugeMetric({
            name: 'hotreload_config_last_load_successful',
            help: '1 if the rules file (--config) last read is in use, 0 if it was refused (the rules before it keep running).',
            registers,
          }),
          loads: new CounterMetric({
            name: 'hotreload_config_loads_total',
            help: 'Reads of a changed rules file (--config), by result: success (its rules applied) or failure (refused; the rules before it keep running).',
            labelNames: ['result'],
            registers,
          }),
        }
      : undefined,
  };
  metrics.rulesFile?.lastLoadSuccessful.set(1);
  metrics.rulesFile?.loads.inc({ result: 'success' }, 0);
  metrics.rulesFile?.loads.inc({ result: 'failure' }, 0);
  const dropped = opts.logDropped;
  if (dropped) {
    let counted = 0;
    new CounterMetric({
      name: 'hotreload_log_lines_dropped_total',
      help: 'Log lines dropped because standard output was not read fast enough (or not at all).',
      registers,
      collect() {
        const now = dropped();
        if (now > counted) this.inc(now - counted);
        counted = now;
      },
    });
  }
  return metrics;
}

/** The series of one rule, before it reports anything: what nothing happened yet reads as. */
export function addRule(metrics: Metrics, rule: string): void {
  metrics.lastReloadSuccessful.set({ rule }, 1);
  metrics.pendingReload.set({ rule }, 0);
  metrics.unreadableFiles.set({ rule }, 0);
  metrics.changes.inc({ rule }, 0);
  metrics.validationFailures.inc({ rule }, 0);
  metrics.fingerprintFailures.inc({ rule }, 0);
  metrics.reloadDuration.zero({ rule });
}

/**
 * Removes a rule's gauges (a rule the rules file no longer has): a state it is no longer in must
 * not be read as current. Its counters stay, as counters do.
 */
export async function removeRule(metrics: Metrics, rule: string): Promise<void> {
  const gauges: Gauge<string>[] = [
    metrics.lastReloadSuccessful,
    metrics.lastReloadSuccessTimestamp,
    metrics.pendingReload,
    metrics.targetInSync,
    metrics.unreadableFiles,
    metrics.appliedInfo,
  ];
  for (const gauge of gauges) {
    for (const { labels } of (await gauge.get()).values) {
      if (labels.rule === rule) gauge.remove(labels);
    }
  }
}

/** Sets a rule's info metric to exactly one series, for `fingerprint` (`previous`: its last). */
export function setApplied(
  metrics: Metrics,
  rule: string,
  fingerprint: string,
  previous: string | undefined,
): void {
  if (previous !== undefined) metrics.appliedInfo.remove({ rule, fingerprint: previous });
  metrics.appliedInfo.set({ rule, fingerprint }, 1);
}
