// Content fingerprint of what the application would read under the watched paths: one sha256 per
// file, keyed by the path the application opens, and one hash over all of them. It does not watch,
// log, or keep any file content, and it never reports a kubelet-internal ("..") name as content.
import { createHash } from 'node:crypto';
import type { Dirent, Stats } from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { HotreloadError } from './errors.js';
import { isUtf8 } from 'node:buffer';
import {
  poolFs,
  syncFs,
  type FingerprintFs,
  type FsPath,
  type OpenFile,
} from './fingerprint-fs.js';
import { DATA_LINK, isKubeletBookkeeping, isKubeletInternal } from './watch/target.js';

export interface Snapshot {
  /** sha256 hex over every (path, content hash) pair and every missing watch path. */
  readonly hash: string;
  /** Absolute path as the application opens it -> sha256 hex of its content (or a marker). */
  readonly files: ReadonlyMap<string, string>;
  /** Entries that could not be read as content (unreadable, looping, missing watch path). */
  readonly problems: readonly { path: string; code: string }[];
  /** Watch paths read as kubelet volumes, or known to be one that is being torn down. */
  readonly volumes: ReadonlySet<string>;
  /**
   * Per watch path found, when its content was last written, ms since the epoch: the kubelet's
   * commit (the rename of `..data`) for a volume; the newest change time of what was read (files
   * and directories) otherwise.
   */
  readonly written: ReadonlyMap<string, number>;
  /**
   * Per kubelet volume read, the generation it read and what that held: the kubelet never
   * changes a generation once `..data` names it, so the next snapshot reuses it while `..data`
   * names the same one (a resync reads it again).
   */
  readonly generations: ReadonlyMap<string, GenerationRead>;
}

/** What one generation of a kubelet volume held. */
export interface GenerationRead {
  readonly name: string;
  readonly files: ReadonlyMap<string, string>;
  readonly problems: readonly { path: string; code: string }[];
  readonly written: number;
}

export interface SnapshotOptions {
  /** Read every generation again instead of reusing the previous snapshot's (the resync). */
  readonly fresh?: boolean;
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

interface Collector {
  readonly files: Map<string, string>;
  readonly problems: { path: string; code: string }[];
  readonly missing: Set<string>;
  readonly volumes: Set<string>;
  readonly written: Map<string, number>;
  readonly generations: Map<string, GenerationRead>;
  /** The newest change time seen by this walk, on the watch path's own filesystem. */
  newest: number;
  /** The watch path's device: what a link leads to elsewhere (/proc, another mount) is not dated. */
  device: number | undefined;
}

function collector(): Collector {
  return {
    files: new Map(),
    problems: [],
    missing: new Set(),
    volumes: new Set(),
    written: new Map(),
    generations: new Map(),
    newest: 0,
    device: undefined,
  };
}

/** Directories on the way down, as "dev:ino", so a symlink back up is seen as a loop. */
type Ancestors = ReadonlySet<string>;

/**
 * Fingerprints every watch path. `previous` (the last snapshot) says which paths were kubelet
 * volumes: one that has lost its `..data` link is being torn down, not emptied. Throws
 * E_FINGERPRINT_UNSTABLE when a volume never holds still.
 */
export async function takeSnapshot(
  watchPaths: readonly string[],
  previous?: Pick<Snapshot, 'volumes' | 'generations'>,
  opts: SnapshotOptions = {},
): Promise<Snapshot> {
  // Kubelet volumes are read without leaving the event loop's thread; one turn of the loop first
  // keeps a caller that fingerprints in a loop from starving everything else.
  await nextTurn();
  const out = collector();
  for (const p of watchPaths) {
    const read = opts.fresh ? undefined : previous?.generations.get(p);
    await snapshotPath(p, previous?.volumes.has(p) ?? false, read, out);
  }
  return finish(out);
}

/** What differs between two snapshots; each list sorted. No previous snapshot: all is added. */
export function diffSnapshots(prev: Snapshot | undefined, next: Snapshot): ChangeSet {
  const before = prev?.files ?? new Map<string, string>();
  const added: string[] = [];
  const changed: string[] = [];
  for (const [p, hash] of next.files) {
    const old = before.get(p);
    if (old === undefined) added.push(p);
    else if (old !== hash) changed.push(p);
  }
  const removed = [...before.keys()].filter((p) => !next.files.has(p));
  return { added: added.sort(), changed: changed.sort(), removed: removed.sort() };
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

async function snapshotPath(
  p: string,
  wasVolume: boolean,
  known: GenerationRead | undefined,
  out: Collector,
): Promise<void> {
  const found = await readWatchPath(p, wasVolume, known, out);
  if (found === 'missing') {
    out.missing.add(p);
    out.problems.push({ path: p, code: 'ENOENT' });
  } else if (found === 'torn') {
    // Reported as its missing ..data link: the pipeline waits for it, as for a missing path.
    out.volumes.add(p);
    out.missing.add(p);
    out.problems.push({ path: path.join(p, DATA_LINK), code: 'ENOENT' });
  }
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
 * Steps 1 to 3 are synchronous system calls: a volume the kubelet writes is small (the API server
 * caps a ConfigMap or Secret at 1 MiB) and local, and thread-pool round trips, a dozen per run,
 * were most of the time from a swap to the reload request: a few microseconds each here, through
 * the pool 50 µs to several milliseconds on a busy node.
 */
async function readWatchPath(
  dir: string,
  wasVolume: boolean,
  known: GenerationRead | undefined,
  out: Collector,
): Promise<'found' | 'missing' | 'torn'> {
  const dataLink = path.join(dir, DATA_LINK);
  for (let attempt = 1; attempt <= MAX_GENERATION_READS; attempt++) {
    // (1)
    const generation = await syncFs.readlink(dataLink).catch(() => undefined);
    if (generation !== undefined && generation === known?.name) {
      addGeneration(out, dir, known);
      return 'found';
    }
    if (generation === undefined) {
      const plain = collector();
      if (!(await visit(poolFs, dir, dir, new Set(), plain))) return 'missing';
      // Only a directory that showed nothing can be a torn volume: the common plain directory
      // is not listed a second time.
      const empty = plain.files.size === 0 && plain.problems.length === 0;
      if (empty && (await isTornVolume(dir, wasVolume))) return 'torn';
      addPart(out, plain);
      out.written.set(dir, plain.newest);
      return 'found';
    }
    // (2)
    const part = collector();
    const genDir = path.resolve(dir, generation);
    const listed = await walkDir(syncFs, genDir, dir, new Set([await dirId(syncFs, genDir)]), part);
    // (3)
    const after = await syncFs.readlink(dataLink).catch(() => undefined);
    // A generation that could not be listed was moved or removed under `..data`: read again.
    if (listed && after === generation) {
      addGeneration(out, dir, {
        name: generation,
        files: part.files,
        problems: part.problems,
        written: await commitTime(dataLink),
      });
      return 'found';
    }
  }
  throw new HotreloadError(
    'E_FINGERPRINT_UNSTABLE',
    `${dataLink} moved during each of ${MAX_GENERATION_READS} reads`,
    { hint: 'something other than the kubelet may be rewriting the volume' },
  );
}

/**
 * When `..data` last moved: the kubelet creates `..data_tmp` and renames it over `..data` at once,
 * so the link's change time is the commit of the generation it names.
 */
async function commitTime(dataLink: string): Promise<number> {
  const st = await syncFs.lstat(dataLink).catch(() => undefined);
  return st ? Math.max(st.ctimeMs, st.mtimeMs) : 0;
}

/** Adds a kubelet volume's generation, read now or reused, to `out`. */
function addGeneration(out: Collector, dir: string, read: GenerationRead): void {
  for (const [p, hash] of read.files) out.files.set(p, hash);
  out.problems.push(...read.problems);
  out.volumes.add(dir);
  out.written.set(dir, read.written);
  out.generations.set(dir, read);
}

/** Adds the files and problems read into `part` to `out`. */
function addPart(out: Collector, part: Collector): void {
  for (const [p, hash] of part.files) out.files.set(p, hash);
  out.problems.push(...part.problems);
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
function child(readDir: FsPath, shownDir: string, name: Buffer): { read: FsPath; shown: string } {
  const utf8 = isUtf8(name);
  const read =
    typeof readDir === 'string' && utf8
      ? path.join(readDir, name.toString('utf8'))
      : Buffer.concat([typeof readDir === 'string' ? Buffer.from(readDir) : readDir, SLASH, name]);
  const plain = utf8 && !name.includes(BACKSLASH);
  return { read, shown: path.join(shownDir, plain ? name.toString('utf8') : escapeName(name)) };
}

const SLASH = Buffer.from('/');
const BACKSLASH = 0x5c;

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

/**
 * The snapshot: the hash is sha256 over the records `file\0PATH\0HASH\0` and `missing\0PATH\0`
 * in sorted order. Every field ends with NUL, which no path or hash contains, so records cannot
 * run together; for the same reason the file records sort as their paths do, and all of them
 * before the missing ones: they are hashed in path order without building them first (a tree of
 * 20,000 files would hold megabytes of record strings for a moment).
 */
function finish(out: Collector): Snapshot {
  const files = new Map([...out.files].sort(([a], [b]) => compare(a, b)));
  const hash = createHash('sha256');
  for (const [p, h] of files) hash.update(`file\0${p}\0${h}\0`);
  for (const p of [...out.missing].sort(compare)) hash.update(`missing\0${p}\0`);
  const unique = new Map(out.problems.map((pr) => [`${pr.path}\0${pr.code}`, pr]));
  const problems = [...unique.values()].sort(
    (a, b) => compare(a.path, b.path) || compare(a.code, b.code),
  );
  return {
    hash: hash.digest('hex'),
    files,
    problems,
    volumes: out.volumes,
    written: out.written,
    generations: out.generations,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
