// Fingerprints of volumes made by the kubelet AtomicWriter simulator, of plain directories and of
// single files. Real temporary directories, no sleeping.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  changedPaths,
  diffSnapshots,
  takeSnapshot,
  type Snapshot,
} from '../../../src/volume/fingerprint.js';
import { AtomicWriter, cleanupTempDirs, makeTempDir } from '../../harness/atomic-writer.js';

after(cleanupTempDirs);

async function volume(payload: Record<string, string>) {
  const dir = await makeTempDir('fp');
  const writer = new AtomicWriter(dir);
  await writer.write(payload);
  return { dir, writer, at: (key: string) => path.join(dir, key) };
}

describe('takeSnapshot on a kubelet volume', () => {
  it('gives the same hash for the same content, whatever the generation', async () => {
    const v = await volume({ 'a.conf': 'one', 'b.conf': 'two' });
    const first = await takeSnapshot([v.dir]);
    assert.equal((await takeSnapshot([v.dir])).hash, first.hash);
    await v.writer.write({ 'a.conf': 'changed', 'b.conf': 'two' });
    await v.writer.write({ 'a.conf': 'one', 'b.conf': 'two' });
    assert.equal((await takeSnapshot([v.dir])).hash, first.hash);
  });

  it('maps each key to the path the application opens and hashes its content', async () => {
    const v = await volume({ 'a.conf': 'one' });
    const snap = await takeSnapshot([v.dir]);
    assert.deepEqual(
      [...snap.files.keys()],
      [v.at('a.conf')],
      'only the key, never ..data or the generation directory',
    );
    assert.match(snap.files.get(v.at('a.conf'))!, /^[0-9a-f]{64}$/);
    assert.deepEqual(snap.problems, []);
  });

  it('reports a changed key as changed, and nothing else', async () => {
    const v = await volume({ 'a.conf': 'one', 'b.conf': 'two' });
    const before = await takeSnapshot([v.dir]);
    await v.writer.write({ 'a.conf': 'one', 'b.conf': 'TWO' });
    const after = await takeSnapshot([v.dir]);
    assert.notEqual(after.hash, before.hash);
    assert.deepEqual(diffSnapshots(before, after), {
      added: [],
      changed: [v.at('b.conf')],
      removed: [],
    });
  });

  it('reports a new key as added and a deleted key as removed', async () => {
    const v = await volume({ 'a.conf': 'one', 'b.conf': 'two' });
    const s1 = await takeSnapshot([v.dir]);
    await v.writer.write({ 'a.conf': 'one', 'b.conf': 'two', 'c.conf': 'three' });
    const s2 = await takeSnapshot([v.dir]);
    assert.deepEqual(diffSnapshots(s1, s2), { added: [v.at('c.conf')], changed: [], removed: [] });
    await v.writer.write({ 'b.conf': 'two', 'c.conf': 'three' });
    const s3 = await takeSnapshot([v.dir]);
    assert.deepEqual(diffSnapshots(s2, s3), { added: [], changed: [], removed: [v.at('a.conf')] });
  });

  it('reads nested keys like a/b.conf under their top-level directory', async () => {
    const v = await volume({ 'a/b.conf': 'nested', 'a/c/d.conf': 'deeper', 'top.conf': 'top' });
    const snap = await takeSnapshot([v.dir]);
    assert.deepEqual(
      [...snap.files.keys()],
      [v.at('a/b.conf'), v.at('a/c/d.conf'), v.at('top.conf')],
    );
    assert.ok((await lstat(v.at('a'))).isSymbolicLink(), 'the kubelet links the top directory');
  });

  it('leaves the hash unchanged when an update carries the same content', async () => {
    const v = await volume({ 'a.conf': 'one' });
    const before = await takeSnapshot([v.dir]);
    const generation = await v.writer.currentGeneration();
    assert.equal(await v.writer.write({ 'a.conf': 'one' }), false);
    assert.equal(await v.writer.currentGeneration(), generation, 'the no-op wrote nothing');
    assert.equal((await takeSnapshot([v.dir])).hash, before.hash);
  });

  it('sees the whole new generation right after the commit, before the new key has a link', async () => {
    const dir = await makeTempDir('fp');
    let during: Snapshot | undefined;
    let linkExisted: boolean | undefined;
    const writer = new AtomicWriter(dir, async (step) => {
      if (step !== 'committed') return;
      linkExisted = await lstat(path.join(dir, 'new.conf')).then(
        () => true,
        () => false,
      );
      during = await takeSnapshot([dir]);
    });
    await writer.write({ 'a.conf': 'one' });
    during = undefined;
    await writer.write({ 'a.conf': 'two', 'new.conf': 'fresh' });
    assert.equal(linkExisted, false, 'the half-made state was really observed');
    assert.deepEqual(
      [...during!.files.keys()],
      [path.join(dir, 'a.conf'), path.join(dir, 'new.conf')],
    );
    assert.equal(during!.hash, (await takeSnapshot([dir])).hash);
  });

  it('still sees the old generation when the new directory is written but not committed', async () => {
    const dir = await makeTempDir('fp');
    let during: Snapshot | undefined;
    const writer = new AtomicWriter(dir, async (step) => {
      if (step === 'dir-written') during = await takeSnapshot([dir]);
    });
    await writer.write({ 'a.conf': 'one' });
    const old = await takeSnapshot([dir]);
    await writer.write({ 'a.conf': 'two', 'new.conf': 'fresh' });
    assert.equal(during!.hash, old.hash);
    assert.notEqual((await takeSnapshot([dir])).hash, old.hash);
  });

  it('never mixes two generations while updates keep landing', async () => {
    const v = await volume({ 'a.conf': 'A0', 'b.conf': 'A0' });
    let stop = false;
    let landed = 0;
    const updates = (async () => {
      for (let i = 1; !stop; i++) {
        await v.writer.write({ 'a.conf': `A${i}`, 'b.conf': `A${i}` });
        landed++;
      }
    })();
    try {
      for (let i = 0; landed < 20 && i < 20_000; i++) {
        const snap = await takeSnapshot([v.dir]).catch((err: { code?: string }) => {
          assert.equal(err.code, 'E_FINGERPRINT_UNSTABLE');
          return undefined;
        });
        if (!snap) continue;
        assert.equal(snap.files.size, 2);
        const [a, b] = [...snap.files.values()];
        assert.equal(a, b, 'both keys come from one generation');
      }
    } finally {
      stop = true;
      await updates;
    }
    assert.ok(landed >= 20, `updates really overlapped the snapshots (${landed} landed)`);
  });
});

describe('takeSnapshot on a kubelet volume without its ..data link', () => {
  it('reads a volume half torn down (links left dangling) as missing ..data, not as empty', async () => {
    const v = await volume({ 'a.conf': 'one', 'b.conf': 'two' });
    await rm(v.at('..data'));
    const snap = await takeSnapshot([v.dir]);
    assert.equal(snap.files.size, 0);
    assert.deepEqual(snap.problems, [{ path: v.at('..data'), code: 'ENOENT' }]);
    assert.deepEqual([...snap.volumes], [v.dir]);
  });

  it('reads a volume before its first commit (a generation directory only) as missing ..data', async () => {
    const dir = await makeTempDir('fp');
    let during: Snapshot | undefined;
    const writer = new AtomicWriter(dir, async (step) => {
      if (step === 'dir-written') during = await takeSnapshot([dir]);
    });
    await writer.write({ 'a.conf': 'one' });
    assert.deepEqual(during?.problems, [{ path: path.join(dir, '..data'), code: 'ENOENT' }]);
  });

  it('reads an emptied volume as missing only when the last snapshot saw a volume there', async () => {
    const v = await volume({ 'a.conf': 'one' });
    const previous = await takeSnapshot([v.dir]);
    assert.deepEqual([...previous.volumes], [v.dir]);
    const generation = await v.writer.currentGeneration();
    for (const name of ['a.conf', '..data', generation!]) await rm(v.at(name), { recursive: true });

    const torn = await takeSnapshot([v.dir], previous);
    assert.deepEqual(torn.problems, [{ path: v.at('..data'), code: 'ENOENT' }]);
    assert.deepEqual([...torn.volumes], [v.dir], 'still known as a volume for the next snapshot');
    const plain = await takeSnapshot([v.dir]);
    assert.deepEqual(plain.problems, [], 'an empty directory never seen as a volume is plain');
    assert.deepEqual([...plain.volumes], []);
  });

  it('reads a former volume with content of its own as a plain directory', async () => {
    const v = await volume({ 'a.conf': 'one' });
    const previous = await takeSnapshot([v.dir]);
    await rm(v.at('..data'));
    await writeFile(v.at('own.conf'), 'plain');
    const snap = await takeSnapshot([v.dir], previous);
    assert.deepEqual([...snap.files.keys()], [v.at('own.conf')]);
    assert.deepEqual(snap.problems, []);
  });
});

describe('takeSnapshot on a plain directory', () => {
  it('walks subdirectories and follows symlinks to files and directories', async () => {
    const dir = await makeTempDir('plain');
    const elsewhere = await makeTempDir('elsewhere');
    await mkdir(path.join(dir, 'sub', 'deeper'), { recursive: true });
    await writeFile(path.join(dir, 'top.conf'), 'top');
    await writeFile(path.join(dir, 'sub', 'deeper', 'x.conf'), 'x');
    await writeFile(path.join(elsewhere, 'shared.conf'), 'shared');
    await symlink(path.join(elsewhere, 'shared.conf'), path.join(dir, 'link.conf'));
    await symlink(elsewhere, path.join(dir, 'linked-dir'));
    const snap = await takeSnapshot([dir]);
    assert.deepEqual(
      [...snap.files.keys()],
      ['link.conf', 'linked-dir/shared.conf', 'sub/deeper/x.conf', 'top.conf'].map((p) =>
        path.join(dir, p),
      ),
    );
    assert.equal(
      snap.files.get(path.join(dir, 'link.conf')),
      snap.files.get(path.join(dir, 'linked-dir/shared.conf')),
    );
  });

  it('never counts names starting with ".." as content, at any depth', async () => {
    const dir = await makeTempDir('plain');
    await mkdir(path.join(dir, 'sub', '..hidden-dir'), { recursive: true });
    await writeFile(path.join(dir, '..top'), 'internal');
    await writeFile(path.join(dir, 'sub', '..inner'), 'internal');
    await writeFile(path.join(dir, 'sub', '..hidden-dir', 'x'), 'internal');
    await writeFile(path.join(dir, 'sub', 'real.conf'), 'real');
    const snap = await takeSnapshot([dir]);
    assert.deepEqual([...snap.files.keys()], [path.join(dir, 'sub', 'real.conf')]);
  });

  it('reports a symlink loop as ELOOP and finishes', async () => {
    const dir = await makeTempDir('loop');
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'sub', 'a.conf'), 'a');
    await symlink('..', path.join(dir, 'sub', 'up'));
    await symlink('self', path.join(dir, 'self'));
    const snap = await takeSnapshot([dir]);
    assert.deepEqual([...snap.files.keys()], [path.join(dir, 'sub', 'a.conf')]);
    assert.deepEqual(snap.problems, [
      { path: path.join(dir, 'self'), code: 'ELOOP' },
      { path: path.join(dir, 'sub', 'up'), code: 'ELOOP' },
    ]);
  });

  it('counts an unreadable file with a marker of its metadata, which a rewrite changes', async (t) => {
    const dir = await makeTempDir('unreadable');
    const secret = path.join(dir, 'secret.conf');
    await writeFile(secret, 'hidden');
    const readable = await takeSnapshot([dir]);
    await chmod(secret, 0o000);
    // root reads any file, so as root the snapshot is taken by a child running as "nobody".
    const unreadable = () =>
      process.getuid?.() === 0 ? snapshotAsNobody(t, dir) : takeSnapshot([dir]);
    const snap = await unreadable();
    if (!snap) return;
    assert.match(snap.files.get(secret) ?? '', /^unreadable:EACCES:/);
    assert.deepEqual(snap.problems, [{ path: secret, code: 'EACCES' }]);
    assert.notEqual(snap.hash, readable.hash);
    assert.equal((await unreadable())?.hash, snap.hash, 'nothing changed, same marker');

    // Same size, same mode: only the write itself (mtime) tells the versions apart.
    await writeFile(secret, 'HIDDEN');
    await utimes(secret, new Date(), new Date(Date.now() + 5000));
    const rewritten = await unreadable();
    assert.notEqual(rewritten?.files.get(secret), snap.files.get(secret));
    assert.match(rewritten?.files.get(secret) ?? '', /^unreadable:EACCES:/);
  });
});

describe('takeSnapshot on a single file', () => {
  it('hashes just that file, also when it is a key link of a kubelet volume', async () => {
    const dir = await makeTempDir('single');
    const file = path.join(dir, 'app.conf');
    await writeFile(file, 'one');
    await writeFile(path.join(dir, 'other.conf'), 'other');
    const snap = await takeSnapshot([file]);
    assert.deepEqual([...snap.files.keys()], [file]);

    const v = await volume({ 'a.conf': 'one', 'b.conf': 'two' });
    const key = await takeSnapshot([v.at('a.conf')]);
    assert.deepEqual([...key.files.keys()], [v.at('a.conf')]);
    assert.equal(key.files.get(v.at('a.conf')), snap.files.get(file), 'same content, same hash');
  });
});

describe('takeSnapshot on a missing path', () => {
  it('reports it, and its appearance changes the hash even while it is empty', async () => {
    const parent = await makeTempDir('missing');
    const missing = path.join(parent, 'not-yet');
    const before = await takeSnapshot([missing]);
    assert.equal(before.files.size, 0);
    assert.deepEqual(before.problems, [{ path: missing, code: 'ENOENT' }]);
    assert.notEqual(before.hash, (await takeSnapshot([])).hash);
    await mkdir(missing);
    const empty = await takeSnapshot([missing]);
    assert.notEqual(empty.hash, before.hash);
    assert.deepEqual(empty.problems, []);
  });
});

describe('diffSnapshots and changedPaths', () => {
  const snap = (files: Record<string, string>): Snapshot => ({
    hash: '',
    files: new Map(Object.entries(files)),
    problems: [],
    volumes: new Set(),
    written: new Map(),
  });

  it('treats everything as added when there is no previous snapshot', () => {
    assert.deepEqual(diffSnapshots(undefined, snap({ '/b': '1', '/a': '2' })), {
      added: ['/a', '/b'],
      changed: [],
      removed: [],
    });
  });

  it('lists every path once, sorted', () => {
    const diff = diffSnapshots(snap({ '/c': '1', '/b': '1' }), snap({ '/a': '1', '/b': '2' }));
    assert.deepEqual(diff, { added: ['/a'], changed: ['/b'], removed: ['/c'] });
    assert.deepEqual(changedPaths(diff), ['/a', '/b', '/c']);
  });
});

const projectRoot = fileURLToPath(new URL('../../..', import.meta.url));

const FINGERPRINT_MODULE = fileURLToPath(
  new URL('../../../src/volume/fingerprint.ts', import.meta.url),
);

/**
 * Takes the snapshot in a child process running as uid/gid 65534 ("nobody"). Skipped unless
 * root (only root can start it); as root, a child that fails fails the test.
 */
async function snapshotAsNobody(
  t: { skip(message: string): void },
  dir: string,
): Promise<Snapshot | undefined> {
  if (process.getuid?.() !== 0) {
    t.skip("needs root, to run a child as uid 65534 and drop root's read access");
    return undefined;
  }
  const module = FINGERPRINT_MODULE;
  const code = [
    `const { takeSnapshot } = await import(${JSON.stringify(module)});`,
    `const s = await takeSnapshot([${JSON.stringify(dir)}]);`,
    'console.log(JSON.stringify({ hash: s.hash, problems: s.problems, files: [...s.files] }));',
  ].join('\n');
  const args = ['--import', 'tsx', '--input-type=module', '-e', code];
  const options = {
    cwd: projectRoot,
    uid: 65534,
    gid: 65534,
    env: { ...process.env, HOME: '/tmp' },
  };
  const run = await promisify(execFile)(process.execPath, args, options);
  const parsed = JSON.parse(run.stdout) as Pick<Snapshot, 'hash' | 'problems'> & {
    files: [string, string][];
  };
  return { ...parsed, files: new Map(parsed.files), volumes: new Set(), written: new Map() };
}
