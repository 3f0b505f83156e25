// --include / --exclude: which files count, and that the fingerprint (of a kubelet volume and of
// a plain directory updated from events) ignores every change to a file that does not.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Fingerprinter, takeSnapshot } from '../../../src/volume/fingerprint.js';
import { fileFilter } from '../../../src/volume/select.js';
import { AtomicWriter, cleanupTempDirs, makeTempDir } from '../../harness/atomic-writer.js';

after(cleanupTempDirs);

describe('fileFilter', () => {
  const keep = (include: string[], exclude: string[], rel: string, watch = '/cfg') =>
    fileFilter({ include, exclude })!(watch, path.join(watch, rel));

  it('keeps everything without globs', () => {
    assert.equal(fileFilter({ include: [], exclude: [] }), undefined);
  });

  it('matches a glob without / at any depth, and one with / from the watched path', () => {
    assert.equal(keep(['*.yaml'], [], 'app.yaml'), true);
    assert.equal(keep(['*.yaml'], [], 'conf.d/b.yaml'), true);
    assert.equal(keep(['*.yaml'], [], 'app.json'), false);
    assert.equal(keep(['conf.d/**'], [], 'conf.d/x/y.conf'), true);
    assert.equal(keep(['conf.d/**'], [], 'other/conf.d/y.conf'), false);
  });

  it('matches dot files, and an exclude wins over an include', () => {
    assert.equal(keep(['*.yaml'], [], '.hidden.yaml'), true);
    assert.equal(keep(['*.yaml'], ['secret*'], 'secret.yaml'), false);
    assert.equal(keep([], ['*.swp'], 'app.conf.swp'), false);
    assert.equal(keep([], ['*.swp'], 'app.conf'), true);
  });

  it('matches a watched file by its name', () => {
    const filter = fileFilter({ include: ['*.conf'], exclude: [] })!;
    assert.equal(filter('/etc/app.conf', '/etc/app.conf'), true);
    assert.equal(filter('/etc/app.txt', '/etc/app.txt'), false);
  });
});

describe('the fingerprint with --include / --exclude', () => {
  it('a kubelet volume: only included keys count; a change of another key changes nothing', async () => {
    const dir = await makeTempDir('select-volume');
    const writer = new AtomicWriter(dir);
    await writer.write({ 'app.yaml': 'a: 1', 'notes.txt': 'n1' });
    const select = fileFilter({ include: ['*.yaml'], exclude: [] })!;
    const first = await takeSnapshot([dir], undefined, { select });
    assert.deepEqual([...first.files.keys()], [path.join(dir, 'app.yaml')]);
    await writer.write({ 'app.yaml': 'a: 1', 'notes.txt': 'n2' });
    const second = await takeSnapshot([dir], first, { select });
    assert.equal(second.hash, first.hash);
    await writer.write({ 'app.yaml': 'a: 2', 'notes.txt': 'n2' });
    const third = await takeSnapshot([dir], second, { select });
    assert.notEqual(third.hash, first.hash);
  });

  it('a plain directory updated from events: an excluded file never changes it', async () => {
    const dir = await makeTempDir('select-plain');
    await writeFile(path.join(dir, 'app.conf'), 'v1');
    await writeFile(path.join(dir, 'app.conf.swp'), 's1');
    const fp = new Fingerprinter(
      [dir],
      takeSnapshot,
      fileFilter({ include: [], exclude: ['*.swp'] }),
    );
    const first = await fp.snapshot();
    assert.deepEqual([...first.files.keys()], [path.join(dir, 'app.conf')]);
    await writeFile(path.join(dir, 'app.conf.swp'), 's2');
    fp.note(dir, Buffer.from('app.conf.swp'));
    assert.equal((await fp.snapshot()).hash, first.hash);
    await writeFile(path.join(dir, 'app.conf'), 'v2');
    fp.note(dir, Buffer.from('app.conf'));
    const changed = await fp.snapshot();
    assert.notEqual(changed.hash, first.hash);
    assert.deepEqual([...changed.files.keys()], [path.join(dir, 'app.conf')]);
    // A resync reads everything again: the same answer.
    assert.equal((await fp.snapshot(true)).hash, changed.hash);
  });
});
