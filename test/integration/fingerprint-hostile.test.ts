// The fingerprint against what a hostile or broken volume holds: entries that fail to read for
// any reason, files too large or endless to hash, FIFOs, names that are not valid UTF-8, and a
// kubelet volume with a large file that must not hold the event loop. Real files on real
// filesystems; each case checks that the snapshot is taken, names the entry, and still sees
// changes of everything else.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { open, rename, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { MAX_HASHED_BYTES, TOO_LARGE, takeSnapshot } from '../../src/volume/fingerprint.js';
import { AtomicWriter, cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';

after(cleanupTempDirs);

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe('an entry that fails to read', () => {
  it('ENAMETOOLONG (a link to a name longer than NAME_MAX): named as a problem, the rest hashed, never thrown', async () => {
    const dir = await makeTempDir('hostile');
    await writeFile(path.join(dir, 'app.conf'), 'v1');
    await symlink(`/${'x'.repeat(300)}`, path.join(dir, 'long'));
    const snap = await takeSnapshot([dir]);
    assert.equal(snap.files.get(path.join(dir, 'app.conf')), sha256('v1'));
    assert.deepEqual(snap.problems, [{ path: path.join(dir, 'long'), code: 'ENAMETOOLONG' }]);
    await writeFile(path.join(dir, 'app.conf'), 'v2');
    const next = await takeSnapshot([dir]);
    assert.notEqual(next.hash, snap.hash, 'a change of another file is still seen');
  });

  it('a FIFO is not read (it would block) and does not hold the others back', async () => {
    const dir = await makeTempDir('hostile');
    await writeFile(path.join(dir, 'app.conf'), 'v1');
    execFileSync('mkfifo', [path.join(dir, 'pipe.conf')]);
    const snap = await takeSnapshot([dir]);
    assert.deepEqual([...snap.files.keys()], [path.join(dir, 'app.conf')]);
  });
});

describe('files too large or endless to hash', () => {
  it(`a 64 GiB sparse file stands for its metadata (${TOO_LARGE}), is not read, and its change is still seen`, async () => {
    const dir = await makeTempDir('hostile');
    const big = path.join(dir, 'big.bin');
    await writeFile(big, '');
    await truncate(big, 64 * 1024 ** 3);
    const started = performance.now();
    const snap = await takeSnapshot([dir]);
    assert.ok(performance.now() - started < 2000, 'not read');
    assert.deepEqual(snap.problems, [{ path: big, code: TOO_LARGE }]);
    assert.match(snap.files.get(big)!, /^too-large:/);
    await truncate(big, 64 * 1024 ** 3 + 1);
    assert.notEqual((await takeSnapshot([dir])).hash, snap.hash);
  });

  it('a link to an endless /proc file is read up to the bound only', async () => {
    const dir = await makeTempDir('hostile');
    await symlink('/proc/self/pagemap', path.join(dir, 'endless'));
    await writeFile(path.join(dir, 'app.conf'), 'v1');
    const snap = await takeSnapshot([dir]);
    assert.deepEqual(snap.problems, [{ path: path.join(dir, 'endless'), code: TOO_LARGE }]);
    assert.equal(snap.files.get(path.join(dir, 'app.conf')), sha256('v1'));
  });

  it('a file at the bound is hashed by its content', async () => {
    const dir = await makeTempDir('hostile');
    const file = path.join(dir, 'edge.bin');
    const fh = await open(file, 'w');
    await fh.truncate(MAX_HASHED_BYTES);
    await fh.close();
    const snap = await takeSnapshot([dir]);
    assert.deepEqual(snap.problems, []);
    assert.equal(snap.files.get(file), sha256(Buffer.alloc(MAX_HASHED_BYTES)));
  });
});

describe('file names that are not valid UTF-8', () => {
  it('are read byte-exact, kept apart, shown escaped, and their changes seen', async () => {
    const dir = await makeTempDir('names');
    const raw = (name: Buffer) => Buffer.concat([Buffer.from(`${dir}/`), name]);
    // Two names that a UTF-8 decoder would both turn into "a\uFFFD.conf".
    writeFileSync(raw(Buffer.from([0x61, 0xff, 0x2e, 0x63, 0x6f, 0x6e, 0x66])), 'one');
    writeFileSync(raw(Buffer.from([0x61, 0xfe, 0x2e, 0x63, 0x6f, 0x6e, 0x66])), 'two');
    writeFileSync(path.join(dir, 'a\\xff.conf'), 'a literal backslash');
    const snap = await takeSnapshot([dir]);
    assert.deepEqual([...snap.files.keys()].sort(), [
      path.join(dir, 'a\\x5cxff.conf'),
      path.join(dir, 'a\\xfe.conf'),
      path.join(dir, 'a\\xff.conf'),
    ]);
    assert.equal(snap.files.get(path.join(dir, 'a\\xff.conf')), sha256('one'));
    assert.deepEqual(snap.problems, []);
    writeFileSync(raw(Buffer.from([0x61, 0xff, 0x2e, 0x63, 0x6f, 0x6e, 0x66])), 'one, changed');
    assert.notEqual((await takeSnapshot([dir])).hash, snap.hash);
  });

  it('in a kubelet generation: read byte-exact, kept apart, shown escaped', async () => {
    // A generation is listed as text first; one name that is not UTF-8 makes it listed as bytes.
    const dir = await makeTempDir('names-volume');
    const gen = path.join(dir, '..2026_12_02_00_00_00.1');
    mkdirSync(gen);
    const raw = (name: Buffer) => Buffer.concat([Buffer.from(`${gen}/`), name]);
    writeFileSync(raw(Buffer.from([0x61, 0xff, 0x2e, 0x63, 0x6f, 0x6e, 0x66])), 'one');
    writeFileSync(raw(Buffer.from([0x61, 0xfe, 0x2e, 0x63, 0x6f, 0x6e, 0x66])), 'two');
    writeFileSync(path.join(gen, 'a\\xff.conf'), 'a literal backslash');
    writeFileSync(path.join(gen, 'plain.conf'), 'plain');
    const sub = Buffer.concat([Buffer.from(`${gen}/`), Buffer.from([0x64, 0xff])]);
    mkdirSync(sub);
    writeFileSync(Buffer.concat([sub, Buffer.from('/x\\y.conf')]), 'x');
    symlinkSync(path.basename(gen), path.join(dir, '..data'));
    const snap = await takeSnapshot([dir]);
    assert.deepEqual(snap.problems, []);
    assert.deepEqual([...snap.files.keys()].sort(), [
      path.join(dir, 'a\\x5cxff.conf'),
      path.join(dir, 'a\\xfe.conf'),
      path.join(dir, 'a\\xff.conf'),
      path.join(dir, 'd\\xff', 'x\\x5cy.conf'),
      path.join(dir, 'plain.conf'),
    ]);
    assert.equal(snap.files.get(path.join(dir, 'a\\xff.conf')), sha256('one'));
    assert.equal(snap.files.get(path.join(dir, 'a\\xfe.conf')), sha256('two'));
    assert.equal(snap.files.get(path.join(dir, 'd\\xff', 'x\\x5cy.conf')), sha256('x'));
  });

  it('in a kubelet generation of text names, one with a backslash', async () => {
    const dir = await makeTempDir('names-volume-text');
    await new AtomicWriter(dir).write({ 'a\\b.conf': 'backslash', 'ü.conf': 'umlaut' });
    const snap = await takeSnapshot([dir]);
    assert.deepEqual([...snap.files.keys()].sort(), [
      path.join(dir, 'a\\x5cb.conf'),
      path.join(dir, 'ü.conf'),
    ]);
    assert.equal(snap.files.get(path.join(dir, 'ü.conf')), sha256('umlaut'));
  });

  it('in a directory whose own name is not valid UTF-8', async () => {
    const dir = await makeTempDir('names');
    const sub = Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x64, 0xff])]);
    mkdirSync(sub);
    writeFileSync(Buffer.concat([sub, Buffer.from('/x.conf')]), 'x');
    const snap = await takeSnapshot([dir]);
    assert.deepEqual([...snap.files.keys()], [path.join(dir, 'd\\xff', 'x.conf')]);
  });
});

describe('a kubelet volume with a large file', () => {
  it('never holds the event loop for more than a few milliseconds while it is fingerprinted', async () => {
    const dir = await makeTempDir('large-volume');
    const content = Buffer.alloc(12 * 1024 * 1024, 7);
    await new AtomicWriter(dir).write({ 'bundle.pem': { content }, 'app.conf': 'v1' });
    let longest = 0;
    let last = performance.now();
    const beat = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 1);
    try {
      const snap = await takeSnapshot([dir]);
      assert.equal(snap.files.get(path.join(dir, 'bundle.pem')), sha256(content));
    } finally {
      clearInterval(beat);
    }
    // 4 ms slices, plus the timer's own lateness on a loaded machine.
    assert.ok(longest < 50, `the event loop was held ${longest.toFixed(1)} ms`);
  });
});

describe('a link swapped in during a read', () => {
  it('a FIFO renamed over a file between the listing and the open is skipped, not waited on', async () => {
    const dir = await makeTempDir('swap');
    const file = path.join(dir, 'app.conf');
    await writeFile(file, 'v1');
    const fifo = path.join(await makeTempDir('swap-fifo'), 'fifo');
    execFileSync('mkfifo', [fifo]);
    await rename(fifo, file);
    symlinkSync('/nonexistent', path.join(dir, 'dangling'));
    const snap = await takeSnapshot([dir]);
    assert.deepEqual([...snap.files.keys()], []);
    assert.deepEqual(snap.problems, []);
  });
});
