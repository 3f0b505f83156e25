// A plain directory updated from the entries the watcher names costs what changed, not what the
// directory holds: an update of one file among thousands hashes the records it changed (counted
// through crypto.hash) and asks --include / --exclude about the files it read (counted through the
// filter), and the part it was made from, which an older snapshot still holds, stays as it was.
// Seeded random sequences of changes check every incremental result against a full read: the same
// hash however the content was reached, and the same change set from any earlier snapshot.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { after, afterEach, describe, it, mock } from 'node:test';
import {
  Fingerprinter,
  diffSnapshots,
  takeSnapshot,
  type Snapshot,
} from '../../../src/volume/fingerprint.js';
import { cleanupTempDirs, makeTempDir } from '../../harness/atomic-writer.js';
import { seededRandom as random } from '../../doubles/seeded-random.js';

after(cleanupTempDirs);
afterEach(() => {
  mock.restoreAll();
  syncBuiltinESMExports();
});

const b = (s: string) => Buffer.from(s);

function view(s: Snapshot) {
  return { hash: s.hash, files: [...s.files], problems: s.problems };
}

/** Counts crypto.hash calls by algorithm (a plain part's records are digested with sha512). */
function countHashes(): { sha512: () => number } {
  const m = mock.method(crypto, 'hash');
  syncBuiltinESMExports();
  return { sha512: () => m.mock.calls.filter((c) => c.arguments[0] === 'sha512').length };
}

const FILES = 2000;

async function largeDir(name: string): Promise<string> {
  const dir = await makeTempDir(name);
  await mkdir(path.join(dir, 'sub'));
  for (let i = 0; i < FILES; i++) {
    const rel = i % 10 === 0 ? `sub/f${i}.conf` : `f${i}.conf`;
    await writeFile(path.join(dir, rel), `content ${i}`);
  }
  return dir;
}

describe('an update of a large plain directory', () => {
  it('hashes the records that changed, not every record of the part', async () => {
    const dir = await largeDir('fpi-count');
    const fp = new Fingerprinter([dir]);
    const hashes = countHashes();
    const first = await fp.snapshot();
    assert.equal(hashes.sha512(), FILES, 'a full read digests every record once');

    const steps: [string, () => Promise<unknown>, string, number][] = [
      [
        'a file replaced by a rename',
        async () => {
          await writeFile(path.join(dir, '.tmp'), 'new');
          await rename(path.join(dir, '.tmp'), path.join(dir, 'f1.conf'));
        },
        'f1.conf',
        2,
      ],
      ['a file added', () => writeFile(path.join(dir, 'new.conf'), 'x'), 'new.conf', 1],
      ['a file removed', () => rm(path.join(dir, 'f2.conf')), 'f2.conf', 1],
      [
        'a file written with what it held',
        () => writeFile(path.join(dir, 'f3.conf'), 'content 3'),
        'f3.conf',
        0,
      ],
      [
        'a file in a subdirectory',
        () => writeFile(path.join(dir, 'sub/f10.conf'), 'y'),
        'sub/f10.conf',
        2,
      ],
    ];
    let snap = first;
    for (const [what, change, reported, digests] of steps) {
      await change();
      fp.note(dir, b(reported));
      const before = hashes.sha512();
      snap = await fp.snapshot();
      assert.equal(hashes.sha512() - before, digests, what);
    }
    assert.deepEqual(view(snap), view(await takeSnapshot([dir])));
  });

  it('asks --include / --exclude about the files it read, not every file of the part', async () => {
    const dir = await largeDir('fpi-select');
    let asked = 0;
    const select = (_watch: string, file: string) => {
      asked++;
      return !file.endsWith('.tmp');
    };
    const fp = new Fingerprinter([dir], takeSnapshot, select);
    let snap = await fp.snapshot();
    assert.equal(asked, FILES);
    for (let i = 0; i < 5; i++) {
      asked = 0;
      await writeFile(path.join(dir, 'f1.conf.tmp'), `v${i}`);
      await rename(path.join(dir, 'f1.conf.tmp'), path.join(dir, 'f1.conf'));
      fp.note(dir, b('f1.conf.tmp'));
      fp.note(dir, b('f1.conf'));
      snap = await fp.snapshot();
      assert.ok(asked <= 2, `asked ${asked} times`);
    }
    assert.equal(snap.hash, (await takeSnapshot([dir], undefined, { select })).hash);
  });

  it('leaves the part it was made from as it was, for the snapshots that still hold it', async () => {
    const dir = await largeDir('fpi-persist');
    const fp = new Fingerprinter([dir]);
    const first = await fp.snapshot();
    const firstView = view(first);
    await writeFile(path.join(dir, 'f1.conf'), 'changed');
    await rm(path.join(dir, 'sub'), { recursive: true });
    fp.note(dir, b('f1.conf'));
    fp.note(dir, b('sub'));
    const second = await fp.snapshot();
    assert.deepEqual(view(first), firstView);
    assert.equal(second.files.size, first.files.size - FILES / 10);
    const diff = diffSnapshots(first, second);
    assert.deepEqual(diff.changed, [path.join(dir, 'f1.conf')]);
    assert.equal(diff.removed.length, FILES / 10);
  });
});

describe('an entry reported only below a new directory', () => {
  it('is removed with everything under it when its directory goes', async () => {
    const dir = await makeTempDir('fpi-unknown-dir');
    const fp = new Fingerprinter([dir]);
    await fp.snapshot();
    // The part learns of a/c and a/c/x.conf, not of a itself.
    await mkdir(path.join(dir, 'a/c'), { recursive: true });
    await writeFile(path.join(dir, 'a/c/x.conf'), 'x');
    fp.note(dir, b('a/c'));
    await fp.snapshot();
    await rm(path.join(dir, 'a'), { recursive: true });
    fp.note(dir, b('a'));
    assert.deepEqual(view(await fp.snapshot()), view(await takeSnapshot([dir])));
  });
});

describe('random sequences of changes to a plain directory', () => {
  it('give what a full read gives, and the change set a full comparison gives from any earlier snapshot', async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const rand = random(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
      const dir = await makeTempDir(`fpi-random${seed}`);
      // Entries are named from small sets, so that changes hit what earlier ones made.
      const dirs = ['', 'a', 'b', 'a/c'];
      const names = ['x.conf', 'y.conf', 'z', '.tmp'];
      const fp = new Fingerprinter([dir]);
      const history: [Snapshot, Snapshot][] = [[await fp.snapshot(), await takeSnapshot([dir])]];
      for (let step = 0; step < 60; step++) {
        const at = pick(dirs);
        const file = path.join(at, pick(names));
        const what = rand();
        // Each change is followed by what the watcher reports for it.
        let reported: string[];
        try {
          if (what < 0.45) {
            await writeFile(path.join(dir, file), pick(['1', '2', '3']));
            reported = [file];
          } else if (what < 0.6) {
            await rm(path.join(dir, file));
            reported = [file];
          } else if (what < 0.75) {
            const to = path.join(pick(dirs), pick(names));
            await rename(path.join(dir, file), path.join(dir, to));
            reported = [file, to];
          } else if (what < 0.88) {
            // As the watcher does: the new entry of the watch path, then the one below it.
            await mkdir(path.join(dir, at), { recursive: true });
            reported = at ? [at.split('/')[0]!, at] : ['.'];
          } else {
            if (at === '') continue;
            await rm(path.join(dir, at), { recursive: true });
            reported = [at];
          }
        } catch {
          continue; // a parent missing, a name taken by a directory: nothing changed
        }
        // The watch path itself ('.') is read whole; an entry is read again.
        for (const r of reported) fp.note(dir, r === '.' ? undefined : b(r));
        const now: [Snapshot, Snapshot] = [await fp.snapshot(), await takeSnapshot([dir])];
        const where = `seed ${seed} step ${step}`;
        assert.deepEqual(view(now[0]), view(now[1]), where);
        const [then, thenFull] = pick(history);
        assert.deepEqual(diffSnapshots(then, now[0]), diffSnapshots(thenFull, now[1]), where);
        history.push(now);
      }
    }
  });
});
