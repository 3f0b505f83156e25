// --config-file rendered into --config-envsubst-file (prometheus-config-reloader's): gzip input,
// $(VAR) from the environment, an atomic write, and what a bad input does (E_RENDER, the previous
// output kept).
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { ReloadContext } from '../../src/actions/action.js';
import { createRenderAction, substitute } from '../../src/actions/render.js';
import { failure } from '../doubles/reload-error.js';
import { cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';

after(cleanupTempDirs);

const ctx = (): ReloadContext => {
  const signal = new AbortController().signal;
  return { fingerprint: 'f', writtenAt: 0, changed: [], attempt: 1, signal, superseded: signal };
};

describe('substitute', () => {
  it('replaces every $(NAME) and leaves $NAME, ${NAME} and $$ alone', () => {
    const env = { POD_NAME: 'prometheus-k8s-0', NS: 'monitoring' };
    assert.equal(
      substitute('replica: $(POD_NAME)\nns: $(NS)/$(POD_NAME)\nkeep: $NS ${NS} $$\n', {
        env,
        input: 'x',
      }),
      'replica: prometheus-k8s-0\nns: monitoring/prometheus-k8s-0\nkeep: $NS ${NS} $$\n',
    );
  });

  it('names every unset variable', () => {
    assert.throws(
      () => substitute('$(A) $(B) $(A) $(SET)', { env: { SET: '1' }, input: '/in.yaml' }),
      (err: Error & { code?: string }) =>
        err.code === 'E_RENDER' && /unset environment variables: A, B$/.test(err.message),
    );
  });
});

describe('the render action', () => {
  it('gunzips, expands and writes the output in one step', async () => {
    const dir = await makeTempDir('render');
    const input = path.join(dir, 'prometheus.yaml.gz');
    const output = path.join(dir, 'out', 'prometheus.env.yaml');
    await writeFile(input, gzipSync('external_labels:\n  replica: $(POD_NAME)\n'));
    await mkdir(path.dirname(output));
    const action = createRenderAction({ input, output, env: { POD_NAME: 'p-0' }, timeoutMs: 1000 });
    assert.equal(action.kind, 'render');
    await action.run(ctx());
    assert.equal(await readFile(output, 'utf8'), 'external_labels:\n  replica: p-0\n');
    assert.deepEqual(
      await readdir(path.dirname(output)),
      ['prometheus.env.yaml'],
      'no temp file left',
    );
  });

  it('a plain input is copied with its references expanded; gzip is found by its bytes too', async () => {
    const dir = await makeTempDir('render-plain');
    const output = path.join(dir, 'out.yaml');
    await writeFile(path.join(dir, 'plain.yaml'), 'a: $(X)\n');
    await createRenderAction({
      input: path.join(dir, 'plain.yaml'),
      output,
      env: { X: '1' },
      timeoutMs: 1000,
    }).run(ctx());
    assert.equal(await readFile(output, 'utf8'), 'a: 1\n');
    await writeFile(path.join(dir, 'packed'), gzipSync('b: $(X)\n'));
    await createRenderAction({
      input: path.join(dir, 'packed'),
      output,
      env: { X: '2' },
      timeoutMs: 1000,
    }).run(ctx());
    assert.equal(await readFile(output, 'utf8'), 'b: 2\n');
  });

  it('an unset variable, a broken gzip, a missing input or output directory: E_RENDER, the previous output kept', async () => {
    const dir = await makeTempDir('render-bad');
    const output = path.join(dir, 'out.yaml');
    await writeFile(output, 'previous\n');
    const cases: [string, string | Buffer, string, RegExp][] = [
      ['unset.yaml', 'a: $(MISSING)\n', output, /unset environment variables: MISSING/],
      ['broken.yaml.gz', 'not gzip', output, /not valid gzip/],
      ['', '', output, /cannot read --config-file/],
      [
        'ok.yaml',
        'a: 1\n',
        path.join(dir, 'no-such-dir', 'out.yaml'),
        /cannot write --config-envsubst-file/,
      ],
    ];
    for (const [name, content, out, message] of cases) {
      const input = path.join(dir, name || 'missing.yaml');
      if (name) await writeFile(input, content);
      const err = await failure(
        createRenderAction({ input, output: out, env: {}, timeoutMs: 1000 }).run(ctx()),
      );
      assert.equal(err.code, 'E_RENDER', name);
      assert.match(err.message, message);
      assert.ok(err.hint, `${name}: a hint`);
    }
    assert.equal(await readFile(output, 'utf8'), 'previous\n');
  });
});
