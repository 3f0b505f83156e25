// The rules file applied live, in-process on real files: startApp with a rules file in a
// kubelet-style volume, each rule's action a recording double (named by its dry-run target, so a
// changed rule is a new action). What a change of the file starts, stops and keeps; that a kept
// rule keeps its delivery state; that a changed rule's old series go; that a rules file that
// disappears or cannot be used keeps the rules; that stop() during an apply stops what it starts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { startApp, type App, type RuleDeps } from '../../src/app.js';
import { parseRules } from '../../src/config/rules-file.js';
import type { Rule } from '../../src/config/rules.js';
import { realClock } from '../../src/lib/clock.js';
import { createMetrics } from '../../src/metrics/hotreload.js';
import { takeSnapshot } from '../../src/volume/fingerprint.js';
import { watchPath } from '../../src/watch/watcher.js';
import { recordingAction, type RecordingAction } from '../doubles/recording-action.js';
import { logSink } from '../doubles/log-sink.js';
import { AtomicWriter, cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import { quietFor, waitFor } from '../harness/wait.js';

const open: App[] = [];
afterEach(async () => {
  for (const app of open.splice(0)) await app.stop(1000);
});
after(cleanupTempDirs);

interface Spec {
  readonly name: string;
  readonly watch: string;
  /** Names the rule's recording action: changing it changes the rule. */
  readonly target: string;
  readonly debounce?: string;
}

async function setup(specs: Spec[], gate?: { building: boolean; open: Promise<void> }) {
  const dir = await makeTempDir('rules-live');
  const app1 = await makeTempDir('rules-live-a');
  const app2 = await makeTempDir('rules-live-b');
  const volumes = { a: new AtomicWriter(app1), b: new AtomicWriter(app2) };
  await volumes.a.write({ 'a.conf': 'a1' });
  await volumes.b.write({ 'b.conf': 'b1' });
  const paths = { a: app1, b: app2 };
  const configWriter = new AtomicWriter(dir);
  const file = path.join(dir, 'rules.yaml');
  const text = (list: Spec[]) =>
    stringify({
      rules: list.map((s) => ({
        name: s.name,
        watch: paths[s.watch as 'a' | 'b'],
        'http-url': `http://127.0.0.1:9/${s.target}`,
        debounce: s.debounce ?? '0',
        'resync-interval': '0',
      })),
    });
  await configWriter.write({ 'rules.yaml': text(specs) });
  const actions = new Map<string, RecordingAction>();
  const metrics = createMetrics('test', { processMetrics: false, rulesFile: true });
  const sink = logSink();
  const load = async () => {
    const t = await readFile(file, 'utf8');
    return { text: t, rules: parseRules(t, file, {}, []) };
  };
  const build = async (rule: Rule): Promise<RuleDeps> => {
    const target = rule.config.http[0]!.url.pathname.slice(1);
    if (gate && rule.name === 'b') {
      gate.building = true;
      await gate.open;
    }
    const action = recordingAction('http', { target });
    actions.set(target, action);
    return { name: rule.name, source: rule.source, config: rule.config, actions: [action] };
  };
  const first = await load();
  const app = await startApp({
    server: { ...first.rules[0]!.config, listen: undefined },
    rules: await Promise.all(first.rules.map(build)),
    rulesFile: { path: file, text: first.text, load, build },
    clock: realClock,
    random: Math.random,
    log: sink.log,
    metrics,
    takeSnapshot,
    watchPath,
    version: 'test',
  });
  open.push(app);
  const applied = (n: number) =>
    waitFor(
      () => sink.records.filter((r) => r.msg === 'rules file applied')[n - 1],
      10_000,
      `rules file applied #${n}`,
    );
  const calls = (target: string) => actions.get(target)?.calls.length ?? 0;
  return {
    app,
    volumes,
    sink,
    metrics,
    applied,
    calls,
    actions,
    rewrite: (list: Spec[]) => configWriter.write({ 'rules.yaml': text(list) }),
    writeRaw: (t: string) => configWriter.write({ 'rules.yaml': t }),
  };
}

describe('the rules file, applied live', () => {
  it('starts, stops and keeps rules by their text; a kept rule keeps its state; a changed one loses its old series', async () => {
    const t = await setup([
      { name: 'a', watch: 'a', target: 'a1' },
      { name: 'b', watch: 'b', target: 'b1' },
    ]);
    await t.volumes.a.write({ 'a.conf': 'a2' });
    await waitFor(() => t.calls('a1') === 1, 10_000, 'rule a told');

    await t.rewrite([
      { name: 'a', watch: 'a', target: 'a1' },
      { name: 'b', watch: 'b', target: 'b2' },
      { name: 'c', watch: 'a', target: 'c1' },
    ]);
    const applied = await t.applied(1);
    assert.deepEqual(applied.started, ['b', 'c']);
    assert.deepEqual(applied.stopped, ['b']);
    assert.deepEqual(applied.unchanged, ['a']);
    assert.deepEqual(applied.rules, ['a', 'b', 'c']);
    const text = await t.metrics.registry.metrics();
    assert.doesNotMatch(text, /target="POST http:\/\/127\.0\.0\.1:9\/b1"/, 'the old target of b');
    assert.match(text, /hotreload_config_last_load_successful 1/);

    // a kept its state: it holds a2, so a resync tells it nothing; c, new, tells its target.
    await t.volumes.a.write({ 'a.conf': 'a3' });
    await waitFor(() => t.calls('a1') === 2 && t.calls('c1') >= 1, 10_000, 'a and c told a3');
    assert.equal(t.calls('b1'), 0);
    await t.volumes.b.write({ 'b.conf': 'b2' });
    await waitFor(() => t.calls('b2') >= 1, 10_000, 'the new b told');
    assert.equal(t.calls('b1'), 0, 'the stopped b was told');
  });

  it('a rules file that cannot be used, or is gone, keeps the rules', async () => {
    const t = await setup([{ name: 'a', watch: 'a', target: 'a1' }]);
    await t.writeRaw('rules:\n  - name: a\n    watch: /x\n    debounce: soon\n');
    const refused = await waitFor(
      () => t.sink.records.find((r) => r.msg === 'rules file refused'),
      10_000,
      'the broken file refused',
    );
    assert.match(
      JSON.stringify(refused.err),
      /E_RULES_FILE.*rules\[0\] \(a\)\.debounce \(line 4\)/,
    );
    assert.match(await t.metrics.registry.metrics(), /hotreload_config_last_load_successful 0/);
    await t.volumes.a.write({ 'a.conf': 'a2' });
    await waitFor(() => t.calls('a1') === 1, 10_000, 'the old rule still told');
    await t.rewrite([{ name: 'a', watch: 'a', target: 'a1' }]);
    // The same rules as running: nothing restarts, and the failure is over.
    const applied = await t.applied(1);
    assert.deepEqual(applied.unchanged, ['a']);
    assert.match(await t.metrics.registry.metrics(), /hotreload_config_last_load_successful 1/);
  });

  it('stop() during an apply: the apply ends first, and nothing it builds runs', async () => {
    let release!: () => void;
    const gate = { building: false, open: new Promise<void>((r) => (release = r)) };
    const t = await setup([{ name: 'a', watch: 'a', target: 'a1' }], gate);
    await t.rewrite([
      { name: 'a', watch: 'a', target: 'a1' },
      { name: 'b', watch: 'b', target: 'b1' },
    ]);
    await waitFor(() => gate.building, 10_000, 'the apply to build rule b');
    const stopping = t.app.stop(2000);
    release();
    await stopping;
    open.splice(0);
    assert.ok(!t.sink.records.some((r) => r.msg === 'rules file applied'));
    await t.volumes.b.write({ 'b.conf': 'b2' });
    await t.volumes.a.write({ 'a.conf': 'a2' });
    await quietFor(300);
    assert.equal(t.calls('b1'), 0);
    assert.equal(t.calls('a1'), 0);
  });
});
