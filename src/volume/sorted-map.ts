// An immutable map from strings to values, iterated in key order (as `<` orders strings): a B-tree
// whose with() and without() return a new map that shares all but the few nodes on the way to the
// key with the map they were called on, which stays as it was. A plain directory's part keeps its
// files in one: a change of one file among 20,000 costs O(log n), not a copy of the whole map,
// and an older snapshot, which a newer one is compared with, still reads as it did.

/** Entries per leaf, children per branch, at most. */
const MAX = 32;
/** How full fromSorted() fills its nodes: room for inserts before the first split. */
const FILL = 24;

/**
 * A leaf holds `keys` and their `values`; a branch holds `children`, and `keys[i]` (i >= 1) is
 * above every key of children[i - 1] and at most the first of children[i] (keys[0] is unused).
 * One shape for both, so the code that reads them sees one kind of object.
 */
interface Node<V> {
  readonly keys: readonly string[];
  readonly values: readonly V[] | undefined;
  readonly children: readonly Node<V>[] | undefined;
}

/** What an insert below a node gives its parent: the node, or the two it was split into. */
type Put<V> = readonly [Node<V>] | readonly [Node<V>, string, Node<V>];

export class SortedMap<V> implements ReadonlyMap<string, V> {
  private constructor(
    private readonly root: Node<V> | undefined,
    readonly size: number,
  ) {}

  static empty<V>(): SortedMap<V> {
    return new SortedMap<V>(undefined, 0);
  }

  /** The map of `entries`, which must be sorted by key without duplicates (throws otherwise). */
  static fromSorted<V>(entries: readonly (readonly [string, V])[]): SortedMap<V> {
    for (let i = 1; i < entries.length; i++) {
      if (!(entries[i - 1]![0] < entries[i]![0])) throw new Error('entries not sorted by key');
    }
    if (entries.length === 0) return SortedMap.empty();
    let level: Node<V>[] = [];
    for (let i = 0; i < entries.length; i += FILL) {
      const chunk = entries.slice(i, i + FILL);
      level.push(
        leaf(
          chunk.map(([k]) => k),
          chunk.map(([, v]) => v),
        ),
      );
    }
    while (level.length > 1) {
      const up: Node<V>[] = [];
      for (let i = 0; i < level.length; i += FILL) {
        const children = level.slice(i, i + FILL);
        up.push(
          branch(
            children.map((c, j) => (j === 0 ? '' : firstKey(c))),
            children,
          ),
        );
      }
      level = up;
    }
    return new SortedMap(level[0], entries.length);
  }

  get(key: string): V | undefined {
    let node = this.root;
    if (!node) return undefined;
    while (node.children) node = node.children[childIndex(node.keys, key)]!;
    const i = lowerBound(node.keys, key);
    return node.keys[i] === key ? node.values![i] : undefined;
  }

  has(key: string): boolean {
    let node = this.root;
    if (!node) return false;
    while (node.children) node = node.children[childIndex(node.keys, key)]!;
    return node.keys[lowerBound(node.keys, key)] === key;
  }

  /** This map with `key` set to `value` (this map itself when it already holds that). */
  with(key: string, value: V): SortedMap<V> {
    if (!this.root) return new SortedMap(leaf([key], [value]), 1);
    const added = !this.has(key);
    const put = insert(this.root, key, value);
    if (put.length === 1) {
      return put[0] === this.root ? this : new SortedMap(put[0], this.size + (added ? 1 : 0));
    }
    return new SortedMap(branch(['', put[1]], [put[0], put[2]]), this.size + (added ? 1 : 0));
  }

  /** This map without `key` (this map itself when it has none). */
  without(key: string): SortedMap<V> {
    if (!this.root) return this;
    let root = remove(this.root, key);
    if (root === this.root) return this;
    // A branch left with one child is replaced by it: the tree gets no deeper than it must.
    while (root?.children?.length === 1) root = root.children[0];
    return new SortedMap(root, this.size - 1);
  }

  /**
   * The entries whose key is `from` or after it, in key order: those that start with a prefix
   * (the files under a directory) come first and together, from the prefix itself.
   */
  *entriesFrom(from: string): IterableIterator<[string, V]> {
    if (!this.root) return;
    // The branches on the way down, each with the index of the child to visit after this one.
    const stack: { node: Node<V>; next: number }[] = [];
    let node = this.root;
    while (node.children) {
      const i = childIndex(node.keys, from);
      stack.push({ node, next: i + 1 });
      node = node.children[i]!;
    }
    for (let i = lowerBound(node.keys, from); ; i = 0) {
      for (; i < node.keys.length; i++) yield [node.keys[i]!, node.values![i]!];
      // The next leaf: up to the first branch with a child left, then down its leftmost side.
      let top = stack.at(-1);
      while (top && top.next >= top.node.children!.length) {
        stack.pop();
        top = stack.at(-1);
      }
      if (!top) return;
      node = top.node.children![top.next++]!;
      while (node.children) {
        stack.push({ node, next: 1 });
        node = node.children[0]!;
      }
    }
  }

  entries(): IterableIterator<[string, V]> {
    return this.entriesFrom('');
  }

  *keys(): IterableIterator<string> {
    for (const [k] of this.entriesFrom('')) yield k;
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entriesFrom('')) yield v;
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entriesFrom('');
  }

  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown) {
    for (const [k, v] of this.entriesFrom('')) fn.call(thisArg, v, k, this);
  }
}

function leaf<V>(keys: readonly string[], values: readonly V[]): Node<V> {
  return { keys, values, children: undefined };
}

function branch<V>(keys: readonly string[], children: readonly Node<V>[]): Node<V> {
  return { keys, values: undefined, children };
}

function firstKey<V>(node: Node<V>): string {
  while (node.children) node = node.children[0]!;
  return node.keys[0]!;
}

/** The first index whose key is `key` or after it. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The child of a branch whose keys include `key`, if it has it. */
function childIndex(keys: readonly string[], key: string): number {
  let lo = 1;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

function insert<V>(node: Node<V>, key: string, value: V): Put<V> {
  if (!node.children) {
    const values = node.values!;
    const i = lowerBound(node.keys, key);
    if (node.keys[i] === key) {
      if (Object.is(values[i], value)) return [node];
      return [leaf(node.keys, values.with(i, value))];
    }
    const keys = node.keys.toSpliced(i, 0, key);
    const vals = values.toSpliced(i, 0, value);
    if (keys.length <= MAX) return [leaf(keys, vals)];
    const half = keys.length >>> 1;
    return [
      leaf(keys.slice(0, half), vals.slice(0, half)),
      keys[half]!,
      leaf(keys.slice(half), vals.slice(half)),
    ];
  }
  const c = childIndex(node.keys, key);
  const put = insert(node.children[c]!, key, value);
  if (put.length === 1) {
    if (put[0] === node.children[c]) return [node];
    return [branch(node.keys, node.children.with(c, put[0]))];
  }
  const keys = node.keys.toSpliced(c + 1, 0, put[1]);
  const children = node.children.toSpliced(c, 1, put[0], put[2]);
  if (children.length <= MAX) return [branch(keys, children)];
  const half = children.length >>> 1;
  return [
    branch(keys.slice(0, half), children.slice(0, half)),
    keys[half]!,
    branch(['', ...keys.slice(half + 1)], children.slice(half)),
  ];
}

/**
 * `node` without `key`: the node itself when it has none, undefined when nothing is left. Nodes
 * that shrink are not merged with their neighbours: the tree never gets deeper by removals, and
 * a read of the whole path (the resync) builds it anew.
 */
function remove<V>(node: Node<V>, key: string): Node<V> | undefined {
  if (!node.children) {
    const i = lowerBound(node.keys, key);
    if (node.keys[i] !== key) return node;
    if (node.keys.length === 1) return undefined;
    return leaf(node.keys.toSpliced(i, 1), node.values!.toSpliced(i, 1));
  }
  const c = childIndex(node.keys, key);
  const child = remove(node.children[c]!, key);
  if (child === node.children[c]) return node;
  if (child) return branch(node.keys, node.children.with(c, child));
  if (node.children.length === 1) return undefined;
  // The first child's key is unused: the second one's takes its place, unused in turn.
  return branch(node.keys.toSpliced(c, 1), node.children.toSpliced(c, 1));
}
