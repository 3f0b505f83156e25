// Content fingerprint of what the application would read under the watched paths: one sha256 per
// file, keyed by the path the application opens, one hash per watch path over its files, and one
// over those. Each snapshot reads only what can have changed since the one before (Fingerprinter).
// It does not watch, log, or keep any file content, and it never reports a kubelet-internal ("..")
// name as content.
import { createHash, hash as hashOnce } from 'node:crypto';
import { closeSync, openSync, readSync, readdirSync, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RecoverableError } from '../lib/errors.js';
import type { FileFilter } from './select.js';
import { isUtf8 } from 'node:buffer';
import {
  OPEN_FLAGS,
  poolFs,
  sliceDue,
  syncFs,
  type FingerprintFs,
  type FsPath,
  type OpenFile,
} from './fingerprint-fs.js';
import { DATA_LINK, isKubeletBookkeeping, isKubeletInternal } from './kubelet.js';
import { SortedMap } from './sorted-map.js';

export interface Snapshot {
  /** sha256 hex over every watch path's part (see snapshotOf). */
  readonly hash: string;
  /** Absolute path as the application opens it -> sha256 hex of its content (or a marker). */
  readonly files: ReadonlyMap<string, string>;
  /** Entries that could not be read as content (unreadable, looping, missing watch path). */
  readonly problems: readonly Problem[];
  /** Watch paths read as kubelet volumes, or known to be one that is being torn down. */
  readonly volumes: ReadonlySet<string>;
  /**
   * Per watch path found, when its content was last written, ms since the epoch: the kubelet's
   * commit (the rename of `..data`) for a volume; the newest change time of what was read (files
   * and directories) otherwise.
   */
  readonly written: ReadonlyMap<string, number>;
  /**
   * Per watch path, what it held: the next snapshot reuses a part that cannot have changed (a
   * volume whose `..data` names the same generation, a plain path without events), and two
   * snapshots are compared part by part. Absent for content known only by its hash.
   */
  readonly parts?: ReadonlyMap<string, Part>;
  /**
   * The hash the same content had in --state-file format 3, whose builds hashed a plain path's
   * records in path order, as a volume's still are. O(files).
   */
  formerHash?(): string;
}

export interface Problem {
  readonly path: string;
  readonly code: string;
}

/** What one watch path held. */
export interface Part {
  /** Read as a kubelet volume, read as it is, missing, or a volume being torn down. */
  readonly kind: 'volume' | 'plain' | 'missing' | 'torn';
  /** Sorted by path; for a plain path, a SortedMap, which an update copies only in part. */
  readonly files: ReadonlyMap<string, string>;
  readonly problems: readonly Problem[];
  /** See Snapshot.written; 0 for a missing or torn path. */
  readonly written: number;
  /**
   * Over the records `file\0PATH\0HASH\0`, one per file: for a volume, sha256 hex over them in
   * path order (a volume is read whole); for a plain path, sha256 hex over their sum (setHash),
   * which an update of one file changes by one record out and one in. Either way a function of
   * the files alone, however the part was reached.
   */
  readonly hash: string;
  /** For a volume: the generation read. The kubelet never changes one once `..data` names it. */
  readonly generation?: string;
  /**
   * For a plain directory walked without following a symlink: what updates the part from the
   * entries the watcher names. Undefined: read whole at each event (a link may show the same
   * file under two names, and only one of them gets an event).
   */
  readonly index?: PlainIndex;
  /**
   * For a plain directory updated from reported entries: the updates that led to it, newest
   * first, at most MAX_UPDATES of them since it was last read whole. Each has the hash of the part
   * it was made from and every path that may differ from it, so the part compares in O(change)
   * with any of those, not only with the last: a target told two changes ago, a snapshot taken in
   * between that nobody compared. Only the hashes are kept, not the parts: a chain of updates
   * holds no older index.
   */
  readonly delta?: readonly Update[];
}

/** One update of a plain directory's part (see Part.delta). */
export interface Update {
  readonly fromHash: string;
  readonly touched: ReadonlySet<string>;
}

/** The updates a part remembers (Part.delta). */
const MAX_UPDATES = 16;

/**
 * What updates a plain directory's part in O(change): its files (the part's own), sorted, so
 * those under a directory are found by their prefix, and the sum its hash is made from (setHash).
 * Immutable: the part an update starts from, which an older snapshot may still hold, stays as it
 * was.
 */
export interface PlainIndex {
  readonly files: SortedMap<string>;
  /** The sum of the records' digests, mod 2^512 (see setHash). */
  readonly sum: bigint;
}

/** What the watcher reported for one watch path since the last snapshot. */
export type Reported =
  /** Anything under the watch path may have changed. */
  | 'all'
  /** These entries changed, as paths relative to the watched directory (bytes); none: nothing. */
  | readonly Buffer[];

export interface SnapshotOptions {
  /** Read every watch path again instead of reusing the previous snapshot's parts (the resync). */
  readonly fresh?: boolean;
  /**
   * Per watch path, what changed since `previous` (a path not in the map: nothing). Without it,
   * anything may have changed: plain paths are read whole.
   */
  readonly reported?: ReadonlyMap<string, Reported>;
  /**
   * --include / --exclude: the files that count; the others are dropped from each part. The same
   * at each snapshot: a part reused from `previous` is not filtered again.
   */
  readonly select?: FileFilter;
}

export interface ChangeSet {
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
}

/** How often `..data` may move while a kubelet volume is read before giving up on this snapshot. */
const MAX_GENERATION_READS = 10;
const READ_CHUNK = 64 * 1024;
/** The smallest read buffer: files that report size 0 (procfs-like) still read in useful chunks. */
const MIN_CHUNK = 4096;
/** Entries of one directory read at once through the thread pool: enough for its four threads. */
const DIR_CONCURRENCY = 8;
const ABSENT = new Set(['ENOENT', 'ENOTDIR']);
/**
 * Files larger than this stand for their metadata (size, times, inode) instead of their content:
 * a ConfigMap or Secret holds at most 1 MiB in all, and hashing is bounded whatever a watched
 * directory holds (a 64 GiB sparse file, a link to an endless /proc file).
 */
export const MAX_HASHED_BYTES = 16 * 1024 * 1024;
/** The problem code of a file over MAX_HASHED_BYTES. */
export const TOO_LARGE = 'TOO_LARGE';
/** The hash of the part of a watch path that is missing, or a volume being torn down. */
const MISSING = 'missing';

interface Collector {
  readonly files: Map<string, string>;
  readonly problems: Problem[];
  /** Directories walked (shown paths). */
  readonly dirs: Set<string>;
  /** Whether a symlink was followed. */
  linked: boolean;
  /** The newest change time seen by this walk, on the watch path's own filesystem. */
  newest: number;
  /** The watch path's device: what a link leads to elsewhere (/proc, another mount) is not dated. */
  device: number | undefined;
}

function collector(): Collector {
  return {
    files: new Map(),
    problems: [],
    dirs: new Set(),
    linked: false,
    newest: 0,
    device: undefined,
  };
}

/** Directories on the way down, as "dev:ino", so a symlink back up is seen as a loop. */
type Ancestors = ReadonlySet<string>;

/**
 * Fingerprints every watch path. `previous` (the last snapshot) gives the parts that may be
 * reused and says which paths were kubelet volumes: one that has lost its `..data` link is being
 * torn down, not emptied. Throws E_FINGERPRINT_UNSTABLE when a volume never holds still.
 */
export async function takeSnapshot(
  watchPaths: readonly string[],
  previous?: Pick<Snapshot, 'parts'>,
  opts: SnapshotOptions = {},
): Promise<Snapshot> {
  // Kubelet volumes are read without leaving the event loop's thread; one turn of the loop first
  // keeps a caller that fingerprints in a loop from starving everything else.
  await nextTurn();
  const parts = new Map<string, Part>();
  for (const p of watchPaths) {
    const before = previous?.parts?.get(p);
    const reported = opts.reported ? (opts.reported.get(p) ?? []) : 'all';
    const select = opts.select;
    const keep = select && ((file: string) => select(p, file));
    parts.set(
      p,
      await readPart(p, before, opts.fresh ? 'all' : reported, opts.fresh === true, keep),
    );
  }
  return new PartsSnapshot(parts);
}

/**
 * What differs between two snapshots; each list sorted. No previous snapshot: all is added. Parts
 * with the same hash are not compared file by file: ten volumes cost what the changed one does.
 */
export function diffSnapshots(prev: Snapshot | undefined, next: Snapshot): ChangeSet {
  if (!prev?.parts || !next.parts) return diffFiles(prev?.files ?? new Map(), next.files);
  const diffs: ChangeSet[] = [];
  for (const p of new Set([...prev.parts.keys(), ...next.parts.keys()])) {
    const before = prev.parts.get(p);
    const after = next.parts.get(p);
    if (before?.hash === after?.hash) continue;
    const touched = before && after && touchedSince(before, after);
    diffs.push(diffFiles(before?.files ?? new Map(), after?.files ?? new Map(), touched));
  }
  if (diffs.length === 1) return diffs[0]!;
  // Overlapping watch paths (a directory and one below it) name the same file in two parts.
  const merged = (pick: (c: ChangeSet) => readonly string[]) =>
    [...new Set(diffs.flatMap(pick))].sort(compare);
  return {
    added: merged((c) => c.added),
    changed: merged((c) => c.changed),
    removed: merged((c) => c.removed),
  };
}

/**
 * Every path that may differ between two parts, when `after` was updated from `before`, or from
 * a part with the same hash (the same files), within the updates it remembers; undefined when it
 * was not.
 */
function touchedSince(before: Part, after: Part): ReadonlySet<string> | undefined {
  const updates = after.delta ?? [];
  const last = updates.findIndex((u) => u.fromHash === before.hash);
  if (last <= 0) return last === 0 ? updates[0]!.touched : undefined;
  const touched = new Set<string>();
  for (const u of updates.slice(0, last + 1)) for (const p of u.touched) touched.add(p);
  return touched;
}

/** The differences between two sets of files; only at `touched` when given (see Part.delta). */
function diffFiles(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
  touched?: ReadonlySet<string>,
): ChangeSet {
  const added: string[] = [];
  const changed: string[] = [];
  const removed: string[] = [];
  // Without `touched`, every path of `after`, then those of `before` it lacks: no union built.
  for (const p of touched ?? after.keys()) {
    const old = before.get(p);
    const now = after.get(p);
    if (old === undefined && now !== undefined) added.push(p);
    else if (old !== undefined && now === undefined) removed.push(p);
    else if (old !== now) changed.push(p);
  }
  if (!touched) for (const p of before.keys()) if (!after.has(p)) removed.push(p);
  return {
    added: added.sort(compare),
    changed: changed.sort(compare),
    removed: removed.sort(compare),
  };
}

/** When the newest of the watched contents was written (0 when nothing was found). */
export function latestWrite(s: Pick<Snapshot, 'written'>): number {
  let newest = 0;
  for (const t of s.written.values()) newest = Math.max(newest, t);
  return newest;
}

/** Every path the change set names, sorted and without duplicates. */
export function changedPaths(c: ChangeSet): string[] {
  return [...new Set([...c.added, ...c.changed, ...c.removed])].sort();
}

/**
 * Reads one watch path, reusing what `before` read where nothing can have changed:
 * - a kubelet volume whose `..data` names the generation read before (see readWatchPath);
 * - a plain path without events; with events naming entries of a directory walked without
 *   following links, those entries are read again and the rest kept (updatePlain).
 * `fresh` reads everything again (the resync). What is read is filtered through `keep`; what is
 * reused was filtered when it was read.
 */
async function readPart(
  p: string,
  before: Part | undefined,
  reported: Reported,
  fresh: boolean,
  keep: Keep | undefined,
): Promise<Part> {
  // Paths below it are joined to it by concatenation (path.join was a fifth of the time of a
  // large volume's read): it is normalized once here.
  const dir = p.length > 1 ? path.normalize(p).replace(/(.)\/+$/, '$1') : p;
  if (before?.kind === 'plain' && reported !== 'all') {
    if (reported.length === 0) return before;
    const updated = before.index && (await updatePlain(dir, before, before.index, reported, keep));
    if (updated) return updated;
  }
  const wasVolume = before?.kind === 'volume' || before?.kind === 'torn';
  const known = fresh || before?.kind !== 'volume' ? undefined : before;
  const found = await readWatchPath(dir, wasVolume, known, keep);
  if (found === 'missing') return emptyPart('missing', { path: p, code: 'ENOENT' });
  // Reported as its missing ..data link: the pipeline waits for it, as for a missing path.
  if (found === 'torn') return emptyPart('torn', { path: path.join(p, DATA_LINK), code: 'ENOENT' });
  return found;
}

function emptyPart(kind: 'missing' | 'torn', problem: Problem): Part {
  return { kind, files: new Map(), problems: [problem], written: 0, hash: MISSING };
}

/**
 * Reads a watch path. A kubelet volume is read as one generation, so content never mixes two
 * updates and a key whose top-level link is not made yet is already seen (DESIGN.md, "What the
 * kubelet does to a volume"):
 * 1. readlink `..data`. When that fails, `p` is a plain directory, a file, missing, or a volume
 *    being torn down (see isTornVolume); all but the last are read as they are, through the
 *    thread pool. Trying the link first, rather than classifying the path (stat, then lstat),
 *    saves two calls. When it names the generation `known` read, that read stands: the kubelet
 *    never changes a committed generation, so events before the swap (the new generation being
 *    written) and after it (links made, the old generation removed) cost one readlink;
 * 2. read the generation directory it names, reporting each file under the volume directory;
 * 3. readlink `..data` again; if it moved, the read may mix generations: start over.
 * Steps 1 to 3 are synchronous system calls (readGeneration): a volume the kubelet writes is
 * small (the API server caps a ConfigMap or Secret at 1 MiB) and local, and thread-pool round
 * trips, 50 µs to several milliseconds each on a busy node, were most of the time from a swap to
 * the reload request.
 */
async function readWatchPath(
  dir: string,
  wasVolume: boolean,
  known: Part | undefined,
  keep: Keep | undefined,
): Promise<Part | 'missing' | 'torn'> {
  const dataLink = path.join(dir, DATA_LINK);
  for (let attempt = 1; attempt <= MAX_GENERATION_READS; attempt++) {
    // (1)
    const generation = await syncFs.readlink(dataLink).catch(() => undefined);
    if (generation !== undefined && generation === known?.generation) return known;
    if (generation === undefined) {
      const plain = collector();
      if (!(await visit(poolFs, dir, dir, new Set(), plain))) return 'missing';
      // Only a directory that showed nothing can be a torn volume: the common plain directory
      // is not listed a second time.
      const empty = plain.files.size === 0 && plain.problems.length === 0;
      if (empty && (await isTornVolume(dir, wasVolume))) return 'torn';
      return plainPart(plain, keep, !plain.linked && plain.dirs.size > 0);
    }
    // (2)
    const read = collector();
    const genDir = path.resolve(dir, generation);
    const listed = await readGeneration(genDir, dir, read);
    // (3)
    const after = await syncFs.readlink(dataLink).catch(() => undefined);
    // A generation that could not be listed was moved or removed under `..data`: read again.
    if (listed && after === generation) {
      return volumePart(read, await commitTime(dataLink), generation, keep);
    }
  }
  throw new RecoverableError(
    'E_FINGERPRINT_UNSTABLE',
    `${dataLink} moved during each of ${MAX_GENERATION_READS} reads`,
    { hint: 'something other than the kubelet may be rewriting the volume' },
  );
}

/**
 * Reads a kubelet generation directory without a promise per call: each regular file is opened
 * non-blocking, read once into a shared buffer and hashed in one call (a key the kubelet writes
 * is small). Anything else (a file that fills the buffer, an entry that fails, a link, a special
 * file) goes the general way (visit), which knows how to bound, date and record it. Resolves
 * false when the directory is gone.
 */
async function readGeneration(genDir: string, shownDir: string, out: Collector): Promise<boolean> {
  const ancestors = new Set([await dirId(syncFs, genDir)]);
  const pending: { read: FsPath; shown: string }[] = [{ read: genDir, shown: shownDir }];
  for (let dir = pending.pop(); dir; dir = pending.pop()) {
    let entries: Dirent[] | Dirent<Buffer>[];
    try {
      entries = listDir(dir.read);
    } catch (err) {
      if (dir.read === genDir) return recordFailure(syncFs, dir.read, dir.shown, err, out);
      await recordFailure(syncFs, dir.read, dir.shown, err, out);
      continue;
    }
    for (const e of entries) {
      // isKubeletInternal; on bytes, without making a string for the test.
      const name = e.name;
      const internal =
        typeof name === 'string' ? isKubeletInternal(name) : name[0] === DOT && name[1] === DOT;
      if (internal) continue;
      const entry = child(dir.read, dir.shown, name);
      if (e.isDirectory()) pending.push(entry);
      else if (!(e.isFile() && hashSmallFile(entry.read, entry.shown, out))) {
        await visit(syncFs, entry.read, entry.shown, ancestors, out);
      }
      const due = sliceDue();
      if (due) await due;
    }
  }
  return true;
}

/**
 * A directory's entries named as text when every name is UTF-8, as bytes otherwise (a name that
 * is not UTF-8 must reach the file as it is): a listing as text costs a third of one as bytes, and
 * every key the kubelet writes is text (the API server allows only `-._a-zA-Z0-9` in keys).
 */
function listDir(dir: FsPath): Dirent[] | Dirent<Buffer>[] {
  const entries = readdirSync(dir, { withFileTypes: true });
  if (!entries.some((e) => e.name.includes(REPLACEMENT))) return entries;
  return readdirSync(dir, { withFileTypes: true, encoding: 'buffer' });
}

/** What a listing as text shows in place of bytes that are not UTF-8. */
const REPLACEMENT = '\uFFFD';

/** One read of a file, the most a file takes here without going the general way. */
const smallFileBuffer = Buffer.allocUnsafe(READ_CHUNK);

/**
 * Hashes a file that one read of READ_CHUNK bytes holds whole, in four calls (open, read, close,
 * hash). False when it does not (larger, or any failure): the caller reads it the general way.
 */
function hashSmallFile(readPath: FsPath, shownPath: string, out: Collector): boolean {
  let fd: number;
  try {
    fd = openSync(readPath, OPEN_FLAGS);
  } catch {
    return false;
  }
  try {
    const bytesRead = readSync(fd, smallFileBuffer, 0, READ_CHUNK, null);
    if (bytesRead === READ_CHUNK) return false;
    out.files.set(shownPath, hashOnce('sha256', smallFileBuffer.subarray(0, bytesRead), 'hex'));
    return true;
  } catch {
    return false;
  } finally {
    try {
      closeSync(fd);
    } catch {
      // Closing a file only read cannot lose anything.
    }
  }
}

/**
 * Updates a plain directory's part from the entries the watcher named: each is removed with
 * what was under it, then read again (a file hashed, a directory walked) if it still exists;
 * the rest of the part is kept. An entry with a kubelet name (a volume inside the directory)
 * stands for its directory. Undefined when the watch path itself must be read again.
 *
 * It costs what the entries hold, not what the part holds: the files under an entry are found by
 * their prefix in the sorted index (whether or not it was a directory when last read), the new
 * index shares all but the nodes on the way to them with `before`'s (which stays as it was: a
 * snapshot may still hold it), and the hash moves by the records that went out and came in.
 */
async function updatePlain(
  watchPath: string,
  before: Part,
  index: PlainIndex,
  reported: readonly Buffer[],
  keep: Keep | undefined,
): Promise<Part | undefined> {
  const entries = new Map<string, { read: FsPath; shown: string; parents: FsPath[] }>();
  for (const rel of reported) {
    const names = splitBytes(rel).filter((n) => n.length > 0);
    while (names.length > 0 && isKubeletInternal(names.at(-1)!.toString('latin1'))) names.pop();
    if (names.length === 0) return undefined;
    let at = { read: watchPath as FsPath, shown: watchPath };
    const parents: FsPath[] = [];
    for (const name of names) {
      parents.push(at.read);
      at = child(at.read, at.shown, name);
    }
    entries.set(at.shown, { ...at, parents });
  }
  // Outermost first; an entry below another one named is read with it.
  const chosen = [...entries.values()]
    .sort((a, b) => a.parents.length - b.parents.length)
    .filter((e, i, all) => !all.slice(0, i).some((o) => e.shown.startsWith(`${o.shown}/`)));
  let { files, sum } = index;
  /** The files at or under the entries, with their hash: each goes, unless read again. */
  const gone = new Map<string, string>();
  for (const e of chosen) {
    const h = files.get(e.shown);
    if (h !== undefined) gone.set(e.shown, h);
    for (const [p, hash] of files.entriesFrom(`${e.shown}/`)) {
      if (!p.startsWith(`${e.shown}/`)) break;
      gone.set(p, hash);
    }
  }

  const out = collector();
  out.newest = before.written;
  for (const e of chosen) {
    const ancestors = await ancestorsOf(e.parents, out);
    if (ancestors === undefined) return undefined;
    const st = await poolFs.lstat(e.read).catch(() => undefined);
    if (st?.isSymbolicLink()) out.linked = true;
    await visit(poolFs, e.read, e.shown, ancestors, out);
  }
  const touched = new Set(gone.keys());
  for (const [p, h] of gone) {
    if (out.files.get(p) === h) continue;
    sum -= recordDigest(p, h);
    if (!out.files.has(p)) files = files.without(p);
  }
  for (const [p, h] of out.files) {
    if (keep && !keep(p)) continue;
    touched.add(p);
    if (gone.get(p) === h) continue;
    sum += recordDigest(p, h);
    files = files.with(p, h);
  }
  sum = BigInt.asUintN(SUM_BITS, sum);
  const under = (p: string) => chosen.some((e) => p === e.shown || p.startsWith(`${e.shown}/`));
  const problems = [
    ...before.problems.filter((pr) => !under(pr.path)),
    ...kept(out.problems, keep),
  ];
  return {
    kind: 'plain',
    files,
    problems: uniqueProblems(problems),
    written: out.newest,
    hash: setHash(sum, files.size),
    ...(!out.linked && { index: { files, sum } }),
    delta: [{ fromHash: before.hash, touched }, ...(before.delta ?? [])].slice(0, MAX_UPDATES),
  };
}

/**
 * The directories from the watch path down to an entry's parent, as "dev:ino", each dated (a
 * removal changes its directory). Undefined when the watch path is no longer a directory; a
 * directory missing lower down means the entry is gone with it.
 */
async function ancestorsOf(
  dirs: readonly FsPath[],
  out: Collector,
): Promise<Set<string> | undefined> {
  const ids = new Set<string>();
  for (const [i, dir] of dirs.entries()) {
    const st = await poolFs.stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) return i === 0 ? undefined : ids;
    noteWritten(out, st);
    ids.add(idOf(st));
  }
  return ids;
}

function splitBytes(b: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  for (let start = 0; start <= b.length;) {
    const end = b.indexOf(SLASH, start);
    parts.push(b.subarray(start, end === -1 ? b.length : end));
    if (end === -1) break;
    start = end + 1;
  }
  return parts;
}

/**
 * When `..data` last moved: the kubelet creates `..data_tmp` and renames it over `..data` at once,
 * so the link's change time is the commit of the generation it names.
 */
async function commitTime(dataLink: string): Promise<number> {
  const st = await syncFs.lstat(dataLink).catch(() => undefined);
  return st ? Math.max(st.ctimeMs, st.mtimeMs) : 0;
}

/**
 * True when `dir` is what a kubelet volume leaves while it is removed (entry by entry, `..data`
 * possibly before the key links, or all at once, leaving an empty directory) or before its first
 * commit: nothing in it but the kubelet's own entries and key links into `..data`, and either
 * some of those or, for an empty directory, a volume in the last snapshot. A directory with
 * content of its own is plain. Read through the thread pool, like a plain directory.
 */
async function isTornVolume(dir: string, wasVolume: boolean): Promise<boolean> {
  const entries = await poolFs.readdir(dir).catch(() => undefined);
  if (entries === undefined) return false;
  for (const e of entries) {
    const name = e.name.toString('utf8');
    if (isKubeletBookkeeping(name)) continue;
    if (!e.isSymbolicLink()) return false;
    const target = await poolFs.readlink(path.join(dir, name)).catch(() => '');
    if (!target.startsWith(`${DATA_LINK}/`)) return false;
  }
  return entries.length > 0 || wasVolume;
}

async function dirId(fs: FingerprintFs, p: FsPath): Promise<string> {
  const st = await fs.stat(p).catch(() => undefined);
  return st ? idOf(st) : String(p);
}

function idOf(st: Stats): string {
  return `${st.dev}:${st.ino}`;
}

/**
 * Adds the entry at `readPath` (files hashed, directories walked, symlinks followed as the
 * application would) under the name `shownPath`. Resolves false when it does not exist.
 */
async function visit(
  fs: FingerprintFs,
  readPath: FsPath,
  shownPath: string,
  ancestors: Ancestors,
  out: Collector,
): Promise<boolean> {
  let st: Stats;
  try {
    st = await fs.stat(readPath);
  } catch (err) {
    return recordFailure(fs, readPath, shownPath, err, out);
  }
  noteWritten(out, st);
  if (st.isDirectory()) {
    out.dirs.add(shownPath);
    if (ancestors.has(idOf(st))) out.problems.push({ path: shownPath, code: 'ELOOP' });
    else await walkDir(fs, readPath, shownPath, new Set([...ancestors, idOf(st)]), out);
  } else if (st.isFile()) {
    await hashFile(fs, readPath, shownPath, out);
  }
  // Sockets, FIFOs and devices are not content; reading a FIFO would block.
  return true;
}

/**
 * Adds every entry of a directory, DIR_CONCURRENCY at a time. A regular file (as the listing
 * says) is hashed without a stat of its own: hashFile checks what it opened anyway. A directory
 * that cannot be listed is recorded like an unreadable file; its siblings are read as usual.
 * Resolves false when the directory is gone.
 */
async function walkDir(
  fs: FingerprintFs,
  readDir: FsPath,
  shownDir: string,
  ancestors: Ancestors,
  out: Collector,
): Promise<boolean> {
  let entries: Dirent<Buffer>[];
  try {
    entries = await fs.readdir(readDir);
  } catch (err) {
    // Unreadable, it is recorded and counts as listed; gone (ENOENT), it resolves false.
    return recordFailure(fs, readDir, shownDir, err, out);
  }
  const wanted = entries.filter((e) => !isKubeletInternal(e.name.toString('latin1')));
  await forEachLimited(wanted, DIR_CONCURRENCY, async (e) => {
    const { read, shown } = child(readDir, shownDir, e.name);
    if (e.isSymbolicLink()) out.linked = true;
    if (e.isFile()) await hashFile(fs, read, shown, out);
    else await visit(fs, read, shown, ancestors, out);
  });
  return true;
}

/**
 * The path of entry `name` of a directory, to read it and to show it. A name that is valid UTF-8
 * is read through a string path; one that is not through a Buffer path (byte-exact). It is shown
 * as it is, or, when it is not valid UTF-8 or holds a backslash, with every byte that is not
 * printable ASCII (the backslash included) as \\xNN: two different names never share a key.
 */
function child(
  readDir: FsPath,
  shownDir: string,
  name: Buffer | string,
): { read: FsPath; shown: string } {
  // A name listed as text (listDir) is UTF-8: its bytes are Buffer.from(name).
  const text = typeof name === 'string' ? name : isUtf8(name) ? name.toString('utf8') : undefined;
  const read =
    typeof readDir === 'string' && text !== undefined
      ? joinName(readDir, text)
      : Buffer.concat([
          typeof readDir === 'string' ? Buffer.from(readDir) : readDir,
          SLASH,
          bytesOf(name),
        ]);
  const plain = text !== undefined && !text.includes('\\');
  return { read, shown: joinName(shownDir, plain ? text : escapeName(bytesOf(name))) };
}

function bytesOf(name: Buffer | string): Buffer {
  return typeof name === 'string' ? Buffer.from(name) : name;
}

/**
 * `dir/name` for a normalized `dir` (readPart normalizes the watch path, and every directory
 * below it is made here) and a directory entry's name (never empty, `.`, `..` or holding `/`):
 * what path.join gives, without its normalizing pass.
 */
function joinName(dir: string, name: string): string {
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

const SLASH = Buffer.from('/');
const BACKSLASH = 0x5c;
const DOT = 0x2e;

function escapeName(name: Buffer): string {
  let text = '';
  for (const b of name) {
    const printable = b >= 0x20 && b < 0x7f && b !== BACKSLASH;
    text += printable ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return text;
}

/**
 * Runs `fn` on every item, at most `limit` at a time. After a failure no new item starts; the
 * ones running finish, then the first failure is thrown.
 */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      await fn(items[next++]!).catch((err: unknown) => {
        failed = true;
        throw err;
      });
    }
  };
  const settled = await Promise.allSettled(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  );
  const failure = settled.find((r) => r.status === 'rejected');
  if (failure) throw failure.reason;
}

/**
 * Hashes one file. It is opened non-blocking and checked with fstat, so a FIFO swapped in after
 * the stat (or the listing) is skipped instead of hanging the read. A read that returns less than
 * asked once fstat's size is reached is the last: a small file takes one read, not two. A file
 * larger than MAX_HASHED_BYTES, or one that keeps giving bytes past it (a link to an endless
 * /proc file), stands for its metadata instead (problem TOO_LARGE): what is hashed is bounded.
 */
async function hashFile(
  fs: FingerprintFs,
  readPath: FsPath,
  shownPath: string,
  out: Collector,
): Promise<void> {
  let file: OpenFile;
  try {
    file = await fs.open(readPath);
  } catch (err) {
    await recordFailure(fs, readPath, shownPath, err, out);
    return;
  }
  try {
    const st = await file.stat();
    if (!st.isFile()) return;
    noteWritten(out, st);
    if (st.size > MAX_HASHED_BYTES) return tooLarge(st, shownPath, out);
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(MIN_CHUNK, st.size + 1)));
    for (let total = 0; ;) {
      const bytesRead = await file.read(buf);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > MAX_HASHED_BYTES) return tooLarge(st, shownPath, out);
      hash.update(buf.subarray(0, bytesRead));
      if (bytesRead < buf.length && total >= st.size) break;
    }
    out.files.set(shownPath, hash.digest('hex'));
  } catch (err) {
    await recordFailure(fs, readPath, shownPath, err, out);
  } finally {
    await file.close().catch(() => undefined);
  }
}

/**
 * Counts an entry's change time toward when the content was written, if it is on the watch
 * path's filesystem: a /proc or /sys file a link leads to is dated when it is looked at.
 */
function noteWritten(out: Collector, st: Stats): void {
  out.device ??= st.dev;
  if (st.dev === out.device) out.newest = Math.max(out.newest, st.ctimeMs);
}

function tooLarge(st: Stats, shownPath: string, out: Collector): void {
  out.files.set(shownPath, `too-large:${metadataOf(st)}`);
  out.problems.push({ path: shownPath, code: TOO_LARGE });
}

/**
 * Files that vanished are absent (false). Any other failure, whatever its errno (EACCES, EIO from
 * a flaky disk or a network mount, ENAMETOOLONG, ETIMEDOUT from a mount that does not answer),
 * leaves a marker so the entry still counts, and a problem naming it; a loop is only a problem.
 * Nothing an entry does stops the others from being read.
 */
async function recordFailure(
  fs: FingerprintFs,
  readPath: FsPath,
  shownPath: string,
  err: unknown,
  out: Collector,
): Promise<boolean> {
  const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
  if (ABSENT.has(code)) return false;
  if (code !== 'ELOOP') out.files.set(shownPath, await unreadableMarker(fs, readPath, code));
  out.problems.push({ path: shownPath, code });
  return true;
}

/**
 * What stands for the content of a file hotreload cannot read: its metadata, which needs no
 * read permission. A kubelet update writes every key as a new file (a new inode), and a write in
 * place changes the size or mtime, so an update of a file hotreload cannot read still counts as a
 * change, without its content. A chmod changes only ctime: that counts too, and once the file
 * is readable again its real hash replaces the marker.
 */
async function unreadableMarker(
  fs: FingerprintFs,
  readPath: FsPath,
  code: string,
): Promise<string> {
  const st = await fs.stat(readPath).catch(() => undefined);
  return st ? `unreadable:${code}:${metadataOf(st)}` : `unreadable:${code}`;
}

function metadataOf(st: Stats): string {
  return `${idOf(st)}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** Whether a file counts (--include / --exclude), by the path it is shown as. */
type Keep = (file: string) => boolean;

/** The problems of the files that count; a missing path or `..data` link always counts. */
function kept(problems: readonly Problem[], keep: Keep | undefined): readonly Problem[] {
  return keep ? problems.filter((pr) => pr.code === 'ENOENT' || keep(pr.path)) : problems;
}

/**
 * A volume's part from what a read of one generation collected: the files that count sorted by
 * path, problems sorted without duplicates, and its hash, sha256 over the records
 * `file\0PATH\0HASH\0` in path order (sortedHash). Every field ends with NUL, which no path or
 * hash contains, so records cannot run together and sort as their paths do.
 */
function volumePart(
  read: Pick<Collector, 'files' | 'problems'>,
  written: number,
  generation: string,
  keep: Keep | undefined,
): Part {
  // The paths sorted, then the map made in their order: a third of the cost of sorting entries.
  const paths = [...read.files.keys()].filter((p) => !keep || keep(p)).sort(compare);
  const files = new Map<string, string>();
  for (const p of paths) files.set(p, read.files.get(p)!);
  return {
    kind: 'volume',
    files,
    problems: uniqueProblems(kept(read.problems, keep)),
    written,
    hash: sortedHash(files),
    generation,
  };
}

/** Records hashed in one call, at most (bytes of text, about): a bound on the memory they hold. */
const RECORD_BATCH = 16 * 1024;

/**
 * sha256 hex over the records of `files` in their order (sorted by path), handed to the hash a few
 * kilobytes at a time: one call per record was half the time of a 1,000-key volume's part, and
 * all of them built at once would hold megabytes of record strings for a moment at 5,000 keys.
 */
function sortedHash(files: ReadonlyMap<string, string>): string {
  const hash = createHash('sha256');
  let batch = '';
  for (const [p, h] of files) {
    batch += `file\0${p}\0${h}\0`;
    if (batch.length >= RECORD_BATCH) {
      hash.update(batch);
      batch = '';
    }
  }
  return hash.update(batch).digest('hex');
}

/**
 * A plain path's part from what a read of all of it collected: the files that count, in a
 * SortedMap, problems sorted without duplicates, and its hash (setHash). `indexed`: the part
 * keeps what updates it from reported entries (a directory walked without following a link).
 */
function plainPart(read: Collector, keep: Keep | undefined, indexed: boolean): Part {
  const entries = [...read.files].filter(([p]) => !keep || keep(p));
  const files = SortedMap.fromSorted(entries.sort(([a], [b]) => compare(a, b)));
  let sum = 0n;
  for (const [p, h] of entries) sum += recordDigest(p, h);
  sum = BigInt.asUintN(SUM_BITS, sum);
  return {
    kind: 'plain',
    files,
    problems: uniqueProblems(kept(read.problems, keep)),
    written: read.newest,
    hash: setHash(sum, files.size),
    ...(indexed && { index: { files, sum } }),
  };
}

/** The digests of a plain part's records are summed modulo 2^SUM_BITS. */
const SUM_BITS = 512;

/**
 * The digest of one record `file\0PATH\0HASH\0` of a plain part: sha512, as a number. A part's
 * records are hashed one by one rather than in path order, so that an update of one file adds
 * and subtracts one digest instead of hashing every record again.
 */
function recordDigest(p: string, h: string): bigint {
  return BigInt(`0x${hashOnce('sha512', `file\0${p}\0${h}\0`)}`);
}

/**
 * A plain part's hash: sha256 hex over its number of files and the sum of its records' digests
 * modulo 2^512, an additive multiset hash. The same files give the same sum in whatever order
 * they were added and removed. Two sets of files with the same sum are found fastest by a
 * generalized birthday search (Wagner): some two million crafted files and 2^44 steps.
 */
function setHash(sum: bigint, count: number): string {
  return hashOnce('sha256', `set\0${count}\0${sum.toString(16)}\0`);
}

function uniqueProblems(problems: readonly Problem[]): Problem[] {
  const unique = new Map(problems.map((pr) => [`${pr.path}\0${pr.code}`, pr]));
  return [...unique.values()].sort((a, b) => compare(a.path, b.path) || compare(a.code, b.code));
}

/**
 * A snapshot made of parts. Its hash is sha256 over `part\0WATCHPATH\0PARTHASH\0` in watch-path
 * order, so it depends on the content, not on the order of the flags. What the pipeline reads on
 * every run (the hash, the problems, when the content was written) is cheap; the union of the
 * files of several parts is built only when asked for.
 */
class PartsSnapshot implements Snapshot {
  readonly hash: string;
  private allFiles: Map<string, string> | undefined;
  private allProblems: Problem[] | undefined;

  constructor(readonly parts: ReadonlyMap<string, Part>) {
    this.hash = snapshotHash(parts, (part) => part.hash);
  }

  formerHash(): string {
    // A plain part's files are sorted by path (a SortedMap): hashed in that order, as they were.
    return snapshotHash(this.parts, (part) =>
      part.kind === 'plain' ? sortedHash(part.files) : part.hash,
    );
  }

  get files(): ReadonlyMap<string, string> {
    if (this.allFiles) return this.allFiles;
    // One part's files are sorted already.
    if (this.parts.size === 1) return [...this.parts.values()][0]!.files;
    const all: [string, string][] = [];
    for (const part of this.parts.values()) all.push(...part.files);
    this.allFiles = new Map(all.sort(([a], [b]) => compare(a, b)));
    return this.allFiles;
  }

  get problems(): readonly Problem[] {
    this.allProblems ??= uniqueProblems([...this.parts.values()].flatMap((part) => part.problems));
    return this.allProblems;
  }

  get volumes(): ReadonlySet<string> {
    const kinds = new Set(['volume', 'torn']);
    return new Set([...this.parts].filter(([, part]) => kinds.has(part.kind)).map(([p]) => p));
  }

  get written(): ReadonlyMap<string, number> {
    const found = [...this.parts].filter(
      ([, part]) => part.kind === 'volume' || part.kind === 'plain',
    );
    return new Map(found.map(([p, part]) => [p, part.written]));
  }
}

function snapshotHash(parts: ReadonlyMap<string, Part>, hashOf: (part: Part) => string): string {
  const hash = createHash('sha256');
  for (const p of [...parts.keys()].sort(compare))
    hash.update(`part\0${p}\0${hashOf(parts.get(p)!)}\0`);
  return hash.digest('hex');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Reported entries kept per watch path, at most: past this, the path is read whole (a burst of
 * events costs one walk, not thousands of entries).
 */
const MAX_REPORTED = 1000;

/**
 * Takes the snapshots of a set of watch paths, one at a time, each reusing what the one before it
 * read wherever the watchers reported nothing (see readPart). What the watchers report between
 * two snapshots is noted here; a snapshot that fails gives it back for the next one.
 */
export class Fingerprinter {
  private last: Snapshot | undefined;
  private reported = new Map<string, Set<string> | 'all'>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly watchPaths: readonly string[],
    private readonly take: (
      watchPaths: readonly string[],
      previous: Snapshot | undefined,
      opts: SnapshotOptions,
    ) => Promise<Snapshot> = takeSnapshot,
    /** --include / --exclude. */
    private readonly select?: FileFilter,
  ) {}

  /** Something changed under `watchPath`: at `below` (relative bytes), or anywhere. */
  note(watchPath: string, below: Buffer | undefined): void {
    const known = this.reported.get(watchPath);
    if (known === 'all') return;
    if (below === undefined || (known?.size ?? 0) >= MAX_REPORTED) {
      this.reported.set(watchPath, 'all');
      return;
    }
    if (known) known.add(below.toString('latin1'));
    else this.reported.set(watchPath, new Set([below.toString('latin1')]));
  }

  /** The snapshot of now; `fresh` reads everything again (the resync). */
  snapshot(fresh = false): Promise<Snapshot> {
    const next = this.queue.then(() => this.read(fresh));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async read(fresh: boolean): Promise<Snapshot> {
    const taken = this.reported;
    this.reported = new Map();
    const reported = new Map<string, Reported>();
    for (const [p, r] of taken) {
      reported.set(p, r === 'all' ? 'all' : [...r].map((k) => Buffer.from(k, 'latin1')));
    }
    try {
      this.last = await this.take(this.watchPaths, this.last, {
        fresh,
        reported,
        ...(this.select && { select: this.select }),
      });
      return this.last;
    } catch (err) {
      // Given back: merged with what was reported meanwhile, within the same bound.
      for (const [p, r] of taken) {
        const now = this.reported.get(p);
        if (r === 'all' || now === 'all' || (now?.size ?? 0) + r.size > MAX_REPORTED) {
          this.reported.set(p, 'all');
        } else {
          this.reported.set(p, new Set([...r, ...(now ?? [])]));
        }
      }
      throw err;
    }
  }
}
