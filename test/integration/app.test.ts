// The whole sidecar in-process with its real parts: inotify watches on kubelet-style volumes written by
// the AtomicWriter simulator, the fingerprint, the debouncer, and the HTTP action against a real
// server that reads the configuration at request time, as an application would.
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { createHttpAction } from '../../src/actions/http.js';
import { startApp, type App } from '../../src/app.js';
import { realClock } from '../../src/lib/clock.js';
import type { Config } from '../../src/config/config.js';
import { takeSnapshot } from '../../src/volume/fingerprint.js';
import { parseStatusSpec } from '../../src/config/http-spec.js';
import { createMetrics } from '../../src/metrics/hotreload.js';
import { watchPath } from '../../src/watch/watcher.js';
import { AtomicWriter, cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import { startTarget, type Target } from '../harness/http-target.js';
import { testConfig } from '../doubles/config.js';
import { logSink } from '../doubles/log-sink.js';
import { waitFor } from '../harness/wait.js';

const open: { app?: App; target?: Target }[] = [];

/** Starts hotreload in-process on `watch`, calling a real target that reads `read()` per request. */
async function start(
  watch: string[],
  read: () => Promise<string>,
  overrides: Partial<Config> = {},
) {
  const seen: string[] = [];
  const target = await startTarget(async () => {
    seen.push(await read());
    return {};
  });
  const config = testConfig(
    watch,
    {
      resyncIntervalMs: 0,
      retry: { initialMs: 50, maxMs: 100, maxAttempts: 0 },
      listen: undefined,
      ...overrides,
    },
    ['--debounce', '50ms', '--max-wait', '1s', '--shutdown-timeout', '1s'],
  );
  const sink = logSink();
  const action = createHttpAction({
    url: new URL(`${target.url}/-/reload`),
    method: 'POST',
    headers: [],
    headerFiles: [],
    expectStatus: parseStatusSpec('2xx')!,
    timeoutMs: 2000,
    clock: realClock,
  });
  const app = await startApp({
    server: config,
    rules: [{ name: 'default', config, actions: [action] }],
    clock: realClock,
    random: Math.random,
    log: sink.log,
    metrics: createMetrics('test', { processMetrics: false }),
    version: 'test',
    takeSnapshot,
    watchPath,
  });
  open.push({ app, target });
  const reloads = () => sink.records.filter((r) => r.msg === 'reload succeeded').length;
  return { app, target, seen, sink, reloads };
}

/** Waits long enough for a quiet period plus watcher latency to pass with nothing happening. */
const settle = () => new Promise((r) => setTimeout(r, 400));

afterEach(async () => {
  for (const { app, target } of open.splice(0)) {
    await app?.stop(1000);
    await target?.close();
  }
});
after(cleanupTempDirs);

describe('sidecar on a kubelet volume', () => {
  async function kubeletVolume(payload: Record<string, string>) {
    const dir = await makeTempDir('app');
    const writer = new AtomicWriter(dir);
    await writer.write(payload);
    return { dir, writer };
  }

  it('reloads exactly once per real change, and the target reads the new content', async () => {
    const { dir, writer } = await kubeletVolume({ 'app.conf': 'v1' });
    const t = await start([dir], () => readFile(path.join(dir, 'app.conf'), 'utf8'));
    for (const v of ['v2', 'v3', 'v4']) {
      await writer.write({ 'app.conf': v });
      await waitFor(() => t.seen.length === Number(v.slice(1)) - 1, 5000, `reload for ${v}`);
    }
    await settle();
    assert.deepEqual(t.seen, ['v2', 'v3', 'v4']);
  });

  it('does not reload for a no-op update', async () => {
    const { dir, writer } = await kubeletVolume({ 'app.conf': 'v1' });
    const t = await start([dir], () => Promise.resolve(''));
    assert.equal(await writer.write({ 'app.conf': 'v1' }), false);
    await t.app.stop(1000); // nothing was written; a resync-triggered run must also find no change
    assert.equal(t.reloads(), 0);
  });

  it('sees a new key, whose link the kubelet creates after the swap, in the same reload', async () => {
    const { dir, writer } = await kubeletVolume({ 'a.conf': '1' });
    const t = await start(
      [dir],
      async () => await readFile(path.join(dir, 'b.conf'), 'utf8').catch(() => 'missing'),
    );
    await writer.write({ 'a.conf': '1', 'b.conf': 'new' });
    await waitFor(() => t.seen.length === 1, 5000, 'reload');
    assert.deepEqual(t.seen, ['new']);
    const change = t.sink.records.find((r) => r.msg === 'change detected');
    assert.deepEqual(change?.added, [path.join(dir, 'b.conf')]);
  });

  it('reloads when a key is removed', async () => {
    const { dir, writer } = await kubeletVolume({ 'a.conf': '1', 'b.conf': '2' });
    const t = await start([dir], () => Promise.resolve(''));
    await writer.write({ 'a.conf': '1' });
    await waitFor(() => t.reloads() === 1, 5000, 'reload');
    const change = t.sink.records.find((r) => r.msg === 'change detected');
    assert.deepEqual(change?.removed, [path.join(dir, 'b.conf')]);
  });

  it('reloads for a change of a nested key', async () => {
    const { dir, writer } = await kubeletVolume({ 'conf.d/site.conf': 'a', 'main.conf': 'm' });
    const t = await start([dir], () => readFile(path.join(dir, 'conf.d/site.conf'), 'utf8'));
    await writer.write({ 'conf.d/site.conf': 'b', 'main.conf': 'm' });
    await waitFor(() => t.seen.length === 1, 5000, 'reload');
    assert.deepEqual(t.seen, ['b']);
  });

  it('coalesces a burst of 50 swaps into at most 2 reloads, the last with the final content', async () => {
    const { dir, writer } = await kubeletVolume({ 'app.conf': 'v0' });
    const t = await start([dir], () => readFile(path.join(dir, 'app.conf'), 'utf8'), {
      debounceMs: 200,
      maxWaitMs: 5000,
    });
    for (let i = 1; i <= 50; i++) await writer.write({ 'app.conf': `v${i}` });
    await waitFor(() => t.seen.at(-1) === 'v50', 10_000, 'the final content');
    await settle();
    assert.ok(t.seen.length >= 1 && t.seen.length <= 2, `reloads: ${t.seen.length}`);
    assert.equal(t.seen.at(-1), 'v50');
  });
});

describe('sidecar on plain directories and files', () => {
  it('reloads for a file written in a nested plain directory', async () => {
    const dir = await makeTempDir('plain');
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'sub/x.conf'), '1');
    const t = await start([dir], () =>
      readFile(path.join(dir, 'sub/x.conf'), 'utf8').catch(() => 'gone'),
    );
    await writeFile(path.join(dir, 'sub/x.conf'), '2');
    await waitFor(() => t.seen.length === 1, 5000, 'reload');
    assert.deepEqual(t.seen, ['2']);
    await rm(path.join(dir, 'sub/x.conf'));
    await waitFor(() => t.reloads() === 2, 5000, 'reload after removal');
    assert.deepEqual(t.seen, ['2', 'gone']);
  });

  it('reloads for a single file replaced by rename, and ignores its siblings', async () => {
    const dir = await makeTempDir('file');
    const file = path.join(dir, 'app.yaml');
    await writeFile(file, 'a: 1');
    const t = await start([file], () => readFile(file, 'utf8'));
    await writeFile(path.join(dir, 'other.txt'), 'noise');
    await writeFile(`${file}.tmp`, 'a: 2');
    await rename(`${file}.tmp`, file);
    await waitFor(() => t.seen.length === 1, 5000, 'reload');
    await settle();
    assert.deepEqual(t.seen, ['a: 2']);
  });

  it('follows one key of a kubelet volume watched as a single file', async () => {
    const dir = await makeTempDir('key');
    const writer = new AtomicWriter(dir);
    await writer.write({ 'app.conf': '1', 'other.conf': 'x' });
    const file = path.join(dir, 'app.conf');
    const t = await start([file], () => readFile(file, 'utf8'));
    await writer.write({ 'app.conf': '1', 'other.conf': 'y' });
    await settle();
    assert.equal(t.seen.length, 0, 'a change of another key is not this file');
    await writer.write({ 'app.conf': '2', 'other.conf': 'y' });
    await waitFor(() => t.seen.length === 1, 5000, 'first swap');
    await writer.write({ 'app.conf': '3', 'other.conf': 'y' });
    await waitFor(() => t.seen.length === 2, 5000, 'second swap');
    assert.deepEqual(t.seen, ['2', '3']);
  });
});
