// SortedMap, the immutable map a plain directory's part keeps its files in: checked against a Map
// after every step of seeded random sequences of inserts and removals, and every older version
// is checked to still read as it did (a snapshot that a newer one is compared with).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SortedMap } from '../../../src/volume/sorted-map.js';
import { seededRandom as random } from '../../doubles/seeded-random.js';

const sortedEntries = (m: ReadonlyMap<string, string>) =>
  [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function assertSame(
  actual: SortedMap<string>,
  expected: ReadonlyMap<string, string>,
  what: string,
) {
  assert.equal(actual.size, expected.size, what);
  assert.deepEqual([...actual], sortedEntries(expected), what);
}

describe('SortedMap', () => {
  it('reads as a Map of the same entries would, in key order, after any inserts and removals', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rand = random(seed);
      // Few distinct keys for some seeds (many overwrites and removals of present keys), many
      // for others (splits several levels deep).
      const keySpace = seed % 2 ? 50 : 5000;
      const key = () => `/dir/${Math.floor(rand() * keySpace)}`;
      const model = new Map<string, string>();
      let map = SortedMap.empty<string>();
      const versions: [SortedMap<string>, [string, string][]][] = [];
      for (let step = 0; step < 3000; step++) {
        const k = key();
        if (rand() < 0.35) {
          model.delete(k);
          map = map.without(k);
        } else {
          const v = String(Math.floor(rand() * 4));
          model.set(k, v);
          map = map.with(k, v);
        }
        assert.equal(map.get(k), model.get(k), `seed ${seed} step ${step}`);
        assert.equal(map.has(k), model.has(k));
        if (step % 100 === 0) {
          assertSame(map, model, `seed ${seed} step ${step}`);
          versions.push([map, sortedEntries(model)]);
        }
      }
      assertSame(map, model, `seed ${seed}`);
      for (const [old, entries] of versions)
        assert.deepEqual([...old], entries, 'an older version');
    }
  });

  it('builds from sorted entries what the same inserts build, and refuses unsorted ones', () => {
    const entries = Array.from(
      { length: 2000 },
      (_, i) => [`k${String(i).padStart(5, '0')}`, String(i)] as const,
    );
    const built = SortedMap.fromSorted(entries);
    assert.deepEqual([...built], entries);
    assert.equal(built.size, 2000);
    assert.equal(built.get('k01234'), '1234');
    assert.equal(built.get('k1'), undefined);
    let grown = SortedMap.empty<string>();
    for (const [k, v] of [...entries].reverse()) grown = grown.with(k, v);
    assert.deepEqual([...grown], [...built]);
    assert.throws(
      () =>
        SortedMap.fromSorted([
          ['b', 1],
          ['a', 2],
        ]),
      /not sorted/,
    );
    assert.throws(
      () =>
        SortedMap.fromSorted([
          ['a', 1],
          ['a', 2],
        ]),
      /not sorted/,
    );
  });

  it('returns itself when nothing changes', () => {
    const map = SortedMap.fromSorted([
      ['a', '1'],
      ['b', '2'],
    ]);
    assert.equal(map.with('a', '1'), map);
    assert.equal(map.without('c'), map);
    assert.equal(SortedMap.empty().without('a').size, 0);
  });

  it('lists the entries from a key on, those under a prefix first', () => {
    const map = SortedMap.fromSorted(
      ['/d/a', '/d/sub', '/d/sub.conf', '/d/sub/x', '/d/sub/y/z', '/d/sub0', '/d/t'].map(
        (k) => [k, ''] as const,
      ),
    );
    const under = (prefix: string) =>
      [...map.entriesFrom(prefix)].map(([k]) => k).filter((k) => k.startsWith(prefix));
    assert.deepEqual(under('/d/sub/'), ['/d/sub/x', '/d/sub/y/z']);
    assert.deepEqual(under('/d/none/'), []);
    assert.deepEqual(
      [...map.entriesFrom('/d/sub0')].map(([k]) => k),
      ['/d/sub0', '/d/t'],
    );
    assert.deepEqual([...map.entriesFrom('/e')], []);
  });
});
