// hotreload imports a few of prom-client's own modules instead of its package index
// (src/metrics/hotreload.ts), to keep the sidecar small. Those paths are not
// public API: these tests fail, naming the path, when an upgrade moves or changes them. The
// versions are pinned with ~ in package.json for the same reason.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as promClient from 'prom-client';
import CounterMetric from 'prom-client/lib/counter.js';
import GaugeMetric from 'prom-client/lib/gauge.js';
import HistogramMetric from 'prom-client/lib/histogram.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import RegistryClass from 'prom-client/lib/registry.js';
import { createMetrics } from '../../src/metrics/hotreload.js';

describe('prom-client modules imported by path', () => {
  it('lib/registry, counter, gauge and histogram are the classes the index exports', () => {
    assert.equal(RegistryClass, promClient.Registry);
    assert.equal(CounterMetric, promClient.Counter);
    assert.equal(GaugeMetric, promClient.Gauge);
    assert.equal(HistogramMetric, promClient.Histogram);
  });

  it('a lib/metrics module registers its metrics on the registry it is given', async () => {
    const registry = new RegistryClass();
    osMemoryHeap(registry);
    assert.match(await registry.metrics(), /^process_resident_memory_bytes \d+$/m);
  });

  it('createMetrics exports the process metrics and leaves out the event-loop and GC ones', async () => {
    const text = await createMetrics('test').registry.metrics();
    const names = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1] ?? ''));
    for (const name of [
      'process_cpu_seconds_total',
      'process_start_time_seconds',
      'process_resident_memory_bytes',
      'process_open_fds',
      'process_max_fds',
      'nodejs_heap_size_used_bytes',
      'nodejs_active_handles',
      'nodejs_version_info',
      'hotreload_build_info',
    ]) {
      assert.ok(names.has(name), `${name} is missing`);
    }
    for (const name of names) {
      assert.doesNotMatch(name, /^nodejs_(eventloop_lag|gc_duration|heap_space)/);
    }
  });
});
