// The pipeline's checks before and its memory after: validators that refuse content, and the
// applied fingerprint stored across restarts (--state-file), with a fake clock and doubles.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  fileStore,
  type AppliedStore,
  type StoredDeliveries,
} from '../../../src/reload/applied-store.js';
import { ReloadError } from '../../../src/lib/errors.js';
import { takeSnapshot, type Part, type Snapshot } from '../../../src/volume/fingerprint.js';
import { AtomicWriter, cleanupTempDirs, makeTempDir } from '../../harness/atomic-writer.js';
import { createMetrics } from '../../../src/metrics/hotreload.js';
import { reloadObserver } from '../../doubles/observer.js';
import { Pipeline } from '../../../src/reload/pipeline.js';
import { ValidationError, type Validator } from '../../../src/validate/validators.js';
import { FakeClock } from '../../doubles/fake-clock.js';
import { logSink } from '../../doubles/log-sink.js';
import { recordingAction } from '../../doubles/recording-action.js';

after(cleanupTempDirs);

function snap(content: string): Snapshot {
  const hash = createHash('sha256').update(content).digest('hex');
  return {
    hash,
    files: new Map([['/cfg/app.yaml', hash]]),
    problems: [],
    volumes: new Set(),
    written: new Map(),
  };
}

/** A validator that refuses content containing "broken", or fails as the script says. */
function validator(outcomes: ('throw-transient' | undefined)[] = []) {
  const seen: string[] = [];
  const v: Validator & { seen: string[] } = {
    kind: 'test',
    seen,
    check(ctx) {
      seen.push(ctx.fingerprint);
      if (outcomes.shift() === 'throw-transient')
        return Promise.reject(new ReloadError('E_VALIDATE_TIMEOUT', 'slow'));
      if (ctx.fingerprint === snap('broken').hash) {
        return Promise.reject(
          new ValidationError('invalid YAML in /cfg/app.yaml:2:3', [
            { path: '/cfg/app.yaml', format: 'YAML', line: 2, column: 3, message: 'bad' },
          ]),
        );
      }
      return Promise.resolve();
    },
  };
  return v;
}

/** What the recording action is called in --state-file. */
const TARGET_ID = 'test test-target';

/** A --state-file double: loads a state of format 1 (one fingerprint), records each new state. */
function memoryStore(initial?: string): AppliedStore & { saved: StoredDeliveries[] } {
  const saved: StoredDeliveries[] = [];
  return {
    saved,
    load: () =>
      Promise.resolve(
        initial === undefined ? undefined : { fingerprint: initial, targets: undefined },
      ),
    save(state) {
      const last = saved[saved.length - 1];
      if (JSON.stringify(last) !== JSON.stringify(state)) saved.push(state);
    },
    flush: () => Promise.resolve(),
  };
}

/** The fingerprints the store recorded as applied by every target, in order, once each. */
function appliedSaved(store: { saved: StoredDeliveries[] }): (string | undefined)[] {
  return store.saved.map((s) => s.fingerprint).filter((fp, i, all) => i === 0 || all[i - 1] !== fp);
}

function setup(
  opts: { validators?: Validator[]; store?: AppliedStore; snapshot?: typeof snap } = {},
) {
  const clock = new FakeClock();
  const sink = logSink();
  const metrics = createMetrics('test', { processMetrics: false });
  const action = recordingAction();
  let content = 'v1';
  const pipeline = new Pipeline({
    takeSnapshot: () => Promise.resolve((opts.snapshot ?? snap)(content)),
    validators: opts.validators ?? [],
    actions: [action],
    store: opts.store,
    retry: { initialMs: 500, maxMs: 500, maxAttempts: 0 },
    clock,
    random: () => 1,
    observer: reloadObserver(metrics, sink.log, clock),
    schedule: (_reason, delayMs, onDue) =>
      clock.setTimeout(() => {
        onDue?.();
        void pipeline.run();
      }, delayMs),
  });
  return {
    clock,
    sink,
    metrics,
    action,
    pipeline,
    async change(c: string) {
      content = c;
      await pipeline.run();
    },
  };
}

describe('validation before reloading', () => {
  it('refuses broken content: no action, counted, shown, and not retried', async () => {
    const v = validator();
    const t = setup({ validators: [v] });
    await t.pipeline.init(false);
    await t.change('broken');
    assert.equal(t.action.calls.length, 0);
    assert.equal(t.pipeline.status().rejected?.fingerprint, snap('broken').hash);
    assert.equal(t.pipeline.status().rejected?.problems[0]?.line, 2);
    assert.equal(
      t.pipeline.status().applied,
      snap('v1').hash,
      'the application keeps its configuration',
    );
    assert.match(
      await t.metrics.registry.metrics(),
      /hotreload_validation_failures_total\{rule="default"\} 1/,
    );
    // Refused content is not pending: nothing will try it again until it changes.
    assert.match(
      await t.metrics.registry.metrics(),
      /hotreload_pending_reload\{rule="default"\} 0/,
    );
    assert.ok(t.sink.records.some((r) => r.msg.startsWith('configuration rejected by validation')));
    await t.clock.tick(120_000);
    assert.equal(t.action.calls.length, 0);
    assert.equal(t.clock.pending, 0, 'no retry scheduled');
  });

  it('does not check the same broken content again, not even on a resync', async () => {
    const v = validator();
    const t = setup({ validators: [v] });
    await t.pipeline.init(false);
    await t.change('broken');
    await t.pipeline.run();
    assert.equal(v.seen.length, 1);
    await t.pipeline.run(new Set(['resync']));
    assert.equal(v.seen.length, 1);
    assert.match(
      await t.metrics.registry.metrics(),
      /hotreload_validation_failures_total\{rule="default"\} 1/,
    );
  });

  it('reloads once the file is fixed, and forgets the rejection', async () => {
    const t = setup({ validators: [validator()] });
    await t.pipeline.init(false);
    await t.change('broken');
    await t.change('fixed');
    assert.equal(t.action.calls.length, 1);
    assert.equal(t.pipeline.status().applied, snap('fixed').hash);
    assert.equal(t.pipeline.status().rejected, undefined);
  });

  it('treats a check that could not run as a failed attempt, retried', async () => {
    const t = setup({ validators: [validator(['throw-transient'])] });
    await t.pipeline.init(false);
    await t.change('v2');
    assert.equal(t.action.calls.length, 0);
    assert.equal(t.pipeline.status().lastReload?.error?.code, 'E_VALIDATE_TIMEOUT');
    await t.clock.tick(500);
    assert.equal(t.action.calls.length, 1);
  });
});

describe('without validators', () => {
  it("never merges the watch paths' files: a change costs what its volume does, not all of them", async () => {
    let merged = 0;
    const counting = (content: string): Snapshot => {
      const s = snap(content);
      // One watch path, compared part by part as takeSnapshot's snapshots are.
      const part: Part = { kind: 'volume', files: s.files, problems: [], written: 0, hash: s.hash };
      const parts = new Map([['/cfg', part]]);
      return Object.defineProperty({ ...s, parts }, 'files', {
        get: () => {
          merged++;
          return s.files;
        },
      });
    };
    const t = setup({ snapshot: counting });
    await t.pipeline.init(false);
    const atStart = merged;
    for (const c of ['v2', 'v3', 'v4']) await t.change(c);
    assert.equal(t.action.calls.length, 3);
    assert.equal(merged - atStart, 0, 'Snapshot.files read after start');
  });
});

describe('the applied fingerprint across restarts (--state-file)', () => {
  it('does not reload when the stored fingerprint equals the content', async () => {
    const store = memoryStore(snap('v1').hash);
    const t = setup({ store });
    assert.equal(await t.pipeline.init(false), false);
    assert.equal(t.pipeline.status().applied, snap('v1').hash);
  });

  it('reloads once when the content changed while hotreload was down', async () => {
    const store = memoryStore(snap('v0').hash);
    const t = setup({ store });
    assert.equal(await t.pipeline.init(false), true);
    await t.pipeline.run();
    assert.equal(t.action.calls.length, 1);
    await t.pipeline.run();
    assert.equal(t.action.calls.length, 1);
    assert.deepEqual(store.saved.at(-1), {
      fingerprint: snap('v1').hash,
      targets: { [TARGET_ID]: snap('v1').hash },
    });
  });

  // Found by a code review: the stand-in for the stored content had no missing paths, so a watched
  // path missing at start held back the reload of the others for ever.
  it('reloads a change made while it was down even though another watched path is missing', async () => {
    const store = memoryStore(snap('v0').hash);
    const action = recordingAction();
    const withMissing: Snapshot = {
      ...snap('v1'),
      problems: [{ path: '/not-yet', code: 'ENOENT' }],
    };
    const pipeline = new Pipeline({
      takeSnapshot: () => Promise.resolve(withMissing),
      actions: [action],
      store,
      retry: { initialMs: 500, maxMs: 500, maxAttempts: 0 },
      clock: new FakeClock(),
      random: () => 1,
      observer: reloadObserver(createMetrics('test', { processMetrics: false }), logSink().log),
      schedule: () => ({ cancel: () => undefined }),
    });
    assert.equal(await pipeline.init(false), true);
    await pipeline.run();
    assert.equal(action.calls.length, 1);
    assert.deepEqual(appliedSaved(store), [undefined, withMissing.hash]);
  });

  it('stores the initial content without a stored state, and each delivered change', async () => {
    const store = memoryStore(undefined);
    const t = setup({ store });
    assert.equal(await t.pipeline.init(false), false);
    await t.change('v2');
    assert.deepEqual(appliedSaved(store), [snap('v1').hash, snap('v2').hash]);
  });

  it('stores a target whose reload failed as unknown: a restart tells it again, even the old content', async () => {
    const store = memoryStore(snap('v1').hash);
    const t = setup({ store });
    await t.pipeline.init(false);
    t.action.script.push('fail');
    await t.change('v2');
    assert.deepEqual(store.saved.at(-1), {
      fingerprint: snap('v1').hash,
      targets: { [TARGET_ID]: null },
    });
    t.pipeline.stop();

    const restarted = setup({
      store: { ...memoryStore(), load: () => Promise.resolve(store.saved.at(-1)) },
    });
    assert.equal(
      await restarted.pipeline.init(false),
      true,
      'v1 is mounted, the target may hold v2',
    );
    await restarted.pipeline.run();
    assert.equal(restarted.action.calls.length, 1);
  });
});

describe('a --state-file of format 3 (plain directories hashed in path order)', () => {
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  /** The fingerprint format 3 gave a snapshot: records in path order, per watch path. */
  function format3Hash(s: Snapshot): string {
    const parts = [...s.parts!].sort(([a], [b]) => (a < b ? -1 : 1));
    return sha256(
      parts
        .map(([p, part]) => {
          const files = [...part.files].sort(([a], [b]) => (a < b ? -1 : 1));
          const records = files.map(([f, h]) => `file\0${f}\0${h}\0`).join('');
          return `part\0${p}\0${sha256(records)}\0`;
        })
        .join(''),
    );
  }

  async function contentAndState(stored: (now: Snapshot) => string) {
    const plain = await makeTempDir('state3-plain');
    await writeFile(path.join(plain, 'a.conf'), 'a');
    await writeFile(path.join(plain, 'b.conf'), 'b');
    const volume = await makeTempDir('state3-volume');
    await new AtomicWriter(volume).write({ 'app.conf': 'v' });
    const paths = [plain, volume];
    const now = await takeSnapshot(paths);
    const file = path.join(await makeTempDir('state3'), 'state.json');
    const fingerprint = stored(now);
    const state = { format: 3, fingerprint, targets: { [TARGET_ID]: fingerprint }, savedAt: 1 };
    await writeFile(file, JSON.stringify(state));
    const clock = new FakeClock();
    const action = recordingAction();
    const pipeline = new Pipeline({
      takeSnapshot: () => takeSnapshot(paths),
      actions: [action],
      store: fileStore(file, clock, logSink().log),
      retry: { initialMs: 500, maxMs: 500, maxAttempts: 0 },
      clock,
      random: () => 1,
      observer: reloadObserver(createMetrics('test', { processMetrics: false }), logSink().log),
      schedule: () => ({ cancel: () => undefined }),
    });
    return { now, file, pipeline };
  }

  it('names the content now by the fingerprint it had then: no reload, and the file is rewritten', async () => {
    const { now, file, pipeline } = await contentAndState(format3Hash);
    assert.notEqual(format3Hash(now), now.hash, 'the plain directory is hashed another way now');
    assert.equal(now.formerHash?.(), format3Hash(now));
    assert.equal(await pipeline.init(false), false, 'the target took this content');
    await pipeline.flush();
    const written = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    assert.equal(written.format, 4);
    assert.deepEqual(written.targets, { [TARGET_ID]: now.hash });
  });

  it('still tells a target whose stored fingerprint is of other content', async () => {
    const { pipeline } = await contentAndState(() => sha256('older content'));
    assert.equal(await pipeline.init(false), true);
  });
});
