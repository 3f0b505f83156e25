// The Fingerprinter: each snapshot reuses what cannot have changed since the one before (a volume
// whose ..data names the same generation, a plain path nothing was reported for) and reads only
// the entries the watcher named. Every incremental result is checked against a full read of the
// same tree. Real temporary directories, no sleeping.
import assert from 'node:assert/strict';
import { mkdir, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  Fingerprinter,
  diffSnapshots,
  takeSnapshot,
  type Snapshot,
} from '../../../src/volume/fingerprint.js';
import { AtomicWriter, cleanupTempDirs, makeTempDir } from '../../harness/atomic-writer.js';

after(cleanupTempDirs);

const b = (s: string) => Buffer.from(s);

/** The snapshot as a plain record, to compare an incremental read with a full one. */
function view(s: Snapshot) {
  return { hash: s.hash, files: [...s.files], problems: s.problems };
}

describe('Fingerprinter on a plain directory', () => {
  it('reuses the part when nothing was reported, and reads only the entries reported', async () => {
    const dir = await makeTempDir('fpr-plain');
    await writeFile(path.join(dir, 'a.conf'), 'a1');
    await writeFile(path.join(dir, 'b.conf'), 'b1');
    const fp = new Fingerprinter([dir]);
    const first = await fp.snapshot();

    await writeFile(path.join(dir, 'a.conf'), 'a2');
    await writeFile(path.join(dir, 'b.conf'), 'b2');
    assert.equal((await fp.snapshot()).hash, first.hash, 'nothing reported: nothing read');

    fp.note(dir, b('b.conf'));
    const second = await fp.snapshot();
    assert.deepEqual(diffSnapshots(first, second).changed, [path.join(dir, 'b.conf')]);
    assert.equal(
      second.files.get(path.join(dir, 'a.conf')),
      first.files.get(path.join(dir, 'a.conf')),
    );

    fp.note(dir, undefined);
    assert.deepEqual(view(await fp.snapshot()), view(await takeSnapshot([dir])), 'anywhere: all');
  });

  it('gives what a full read gives after each kind of change, from the entries reported', async () => {
    const dir = await makeTempDir('fpr-steps');
    await writeFile(path.join(dir, 'keep.conf'), 'keep');
    const fp = new Fingerprinter([dir]);
    await fp.snapshot();
    const nonUtf8 = Buffer.concat([b('bad-'), Buffer.from([0xff, 0xfe]), b('.conf')]);
    const steps: [string, () => Promise<unknown>, Buffer[]][] = [
      ['a file added', () => writeFile(path.join(dir, 'x.conf'), 'x'), [b('x.conf')]],
      [
        'a directory added with files',
        async () => {
          await mkdir(path.join(dir, 'sub/deep'), { recursive: true });
          await writeFile(path.join(dir, 'sub/a.conf'), 'a');
          await writeFile(path.join(dir, 'sub/deep/b.conf'), 'b');
        },
        [b('sub')],
      ],
      [
        'a nested file changed',
        () => writeFile(path.join(dir, 'sub/deep/b.conf'), 'B'),
        [b('sub/deep/b.conf')],
      ],
      [
        'a directory renamed',
        () => rename(path.join(dir, 'sub'), path.join(dir, 'moved')),
        [b('sub'), b('moved')],
      ],
      [
        'a nested directory removed',
        () => rm(path.join(dir, 'moved/deep'), { recursive: true }),
        [b('moved/deep')],
      ],
      ['a directory removed', () => rm(path.join(dir, 'moved'), { recursive: true }), [b('moved')]],
      ['a file removed', () => unlink(path.join(dir, 'x.conf')), [b('x.conf')]],
      [
        'a name that is not UTF-8',
        () => writeFile(Buffer.concat([b(`${dir}/`), nonUtf8]), 'bytes'),
        [nonUtf8],
      ],
      [
        'an entry and one below it, reported together',
        async () => {
          await mkdir(path.join(dir, 'both'));
          await writeFile(path.join(dir, 'both/c.conf'), 'c');
        },
        [b('both/c.conf'), b('both')],
      ],
    ];
    let before = await fp.snapshot();
    let beforeFull = await takeSnapshot([dir]);
    for (const [what, change, reported] of steps) {
      await change();
      for (const r of reported) fp.note(dir, r);
      const [after, afterFull] = [await fp.snapshot(), await takeSnapshot([dir])];
      assert.deepEqual(view(after), view(afterFull), what);
      // The update's own change set (from the paths it touched) is the full comparison's.
      assert.deepEqual(diffSnapshots(before, after), diffSnapshots(beforeFull, afterFull), what);
      [before, beforeFull] = [after, afterFull];
    }
  });

  it('reads the directory of a kubelet volume inside it when a kubelet name is reported', async () => {
    const dir = await makeTempDir('fpr-nested');
    const vol = path.join(dir, 'vol');
    await mkdir(vol);
    const writer = new AtomicWriter(vol);
    await writer.write({ 'app.conf': 'one' });
    const fp = new Fingerprinter([dir]);
    await fp.snapshot();
    await writer.write({ 'app.conf': 'two' });
    fp.note(dir, b('vol/..data'));
    assert.deepEqual(view(await fp.snapshot()), view(await takeSnapshot([dir])));
  });

  it('reads the whole directory at each event once it holds a symlink', async () => {
    const dir = await makeTempDir('fpr-link');
    await mkdir(path.join(dir, 'real'));
    await writeFile(path.join(dir, 'real/a.conf'), 'one');
    await symlink('real', path.join(dir, 'alias'));
    const fp = new Fingerprinter([dir]);
    await fp.snapshot();
    // The alias shows the same file under a second name, which gets no event of its own.
    await writeFile(path.join(dir, 'real/a.conf'), 'two');
    fp.note(dir, b('real/a.conf'));
    const snap = await fp.snapshot();
    assert.deepEqual(view(snap), view(await takeSnapshot([dir])));
    assert.equal(
      snap.files.get(path.join(dir, 'alias/a.conf')),
      snap.files.get(path.join(dir, 'real/a.conf')),
    );
  });

  it('gives back what was reported when a snapshot fails', async () => {
    const dir = await makeTempDir('fpr-fail');
    await writeFile(path.join(dir, 'a.conf'), 'one');
    let fail = false;
    const fp = new Fingerprinter([dir], (paths, previous, opts) =>
      fail ? Promise.reject(new Error('boom')) : takeSnapshot(paths, previous, opts),
    );
    await fp.snapshot();
    await writeFile(path.join(dir, 'a.conf'), 'two');
    fp.note(dir, b('a.conf'));
    fail = true;
    await assert.rejects(fp.snapshot(), /boom/);
    fail = false;
    assert.deepEqual(view(await fp.snapshot()), view(await takeSnapshot([dir])));
  });

  it('takes one snapshot at a time, so none reuses a part older than the last one', async () => {
    const dir = await makeTempDir('fpr-serial');
    await writeFile(path.join(dir, 'a.conf'), 'one');
    const fp = new Fingerprinter([dir]);
    await fp.snapshot();
    await writeFile(path.join(dir, 'a.conf'), 'two');
    fp.note(dir, b('a.conf'));
    const [first, second] = await Promise.all([fp.snapshot(), fp.snapshot()]);
    const full = await takeSnapshot([dir]);
    assert.equal(first.hash, full.hash);
    assert.equal(second.hash, full.hash);
  });
});

describe('snapshots of several watch paths', () => {
  it('reuse the parts of the volumes that did not change, and diff only the one that did', async () => {
    const volumes = await Promise.all(
      Array.from({ length: 3 }, async (_, i) => {
        const dir = await makeTempDir(`fpr-vol${i}`);
        const writer = new AtomicWriter(dir);
        await writer.write({ 'app.conf': `v${i}` });
        return { dir, writer };
      }),
    );
    const paths = volumes.map((v) => v.dir);
    const fp = new Fingerprinter(paths);
    const before = await fp.snapshot();
    await volumes[1]!.writer.write({ 'app.conf': 'changed' });
    const after = await fp.snapshot();
    assert.equal(
      after.parts!.get(paths[0]!),
      before.parts!.get(paths[0]!),
      'the same part, not read again',
    );
    assert.equal(after.parts!.get(paths[2]!), before.parts!.get(paths[2]!));
    assert.notEqual(after.parts!.get(paths[1]!), before.parts!.get(paths[1]!));
    assert.deepEqual(diffSnapshots(before, after), {
      added: [],
      changed: [path.join(paths[1]!, 'app.conf')],
      removed: [],
    });
    assert.deepEqual(view(after), view(await takeSnapshot(paths)));
  });

  it('have a hash that does not depend on the order of the watch paths', async () => {
    const one = await makeTempDir('fpr-order1');
    const two = await makeTempDir('fpr-order2');
    await writeFile(path.join(one, 'a.conf'), 'a');
    await writeFile(path.join(two, 'b.conf'), 'b');
    assert.equal((await takeSnapshot([one, two])).hash, (await takeSnapshot([two, one])).hash);
  });

  it('list a file of two overlapping watch paths once in a change', async () => {
    const dir = await makeTempDir('fpr-overlap');
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'sub/a.conf'), 'one');
    const paths = [dir, path.join(dir, 'sub')];
    const before = await takeSnapshot(paths);
    await writeFile(path.join(dir, 'sub/a.conf'), 'two');
    assert.deepEqual(diffSnapshots(before, await takeSnapshot(paths)).changed, [
      path.join(dir, 'sub/a.conf'),
    ]);
  });

  it('name files as path.join does, whatever slashes the watch path is written with', async () => {
    const dir = await makeTempDir('fpr-slashes');
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'sub/a.conf'), 'a');
    const expected = [path.join(dir, 'sub/a.conf')];
    for (const written of [`${dir}/`, `${dir}//`, `${dir}/./sub/..`]) {
      assert.deepEqual([...(await takeSnapshot([written])).files.keys()], expected, written);
    }
  });
});
