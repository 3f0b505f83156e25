// A faithful simulator of the kubelet's AtomicWriter, for tests that must see what a real
// configMap/secret volume looks like on disk. It does not validate paths as strictly as the
// kubelet, and it is not safe for concurrent writes to one directory (neither is the kubelet's).
// Reference: kubernetes pkg/volume/util/atomic_writer.go, and DESIGN.md "What the kubelet does to a
// volume".
import { randomInt } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, readdir } from 'node:fs/promises';
import { rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** One key's content and mode; a bare string is the content with mode 0644. */
export type Projection = string | { content: string | Buffer; mode?: number };
export type Payload = Record<string, Projection>;

/** The points where `onStep` can pause a write, in the order they are reached. */
export type WriteStep = 'dir-written' | 'linked' | 'committed' | 'links-updated' | 'old-removed';

const DATA_LINK = '..data';
const DATA_TMP_LINK = '..data_tmp';
const DEFAULT_MODE = 0o644;

interface CleanFile {
  readonly data: Buffer;
  readonly mode: number;
}

export class AtomicWriter {
  /**
   * @param dir the volume directory; it must exist.
   * @param onStep awaited after each step, so a test can observe the half-made states in between.
   */
  constructor(
    readonly dir: string,
    private readonly onStep?: (step: WriteStep) => Promise<void>,
  ) {}

  /**
   * Projects the payload into the volume. Resolves false and touches nothing when every key's
   * content equals what the current generation holds and no key was removed; like the kubelet, a
   * change of mode alone is not written. Otherwise, in this order:
   * 1. mkdir `..<timestamp>.<digits>` (0700, then chmod 0755) and write every key with its mode;
   * 2. symlink `..data_tmp` to it, then rename `..data_tmp` over `..data` (the atomic commit);
   * 3. create `key -> ..data/key` links for new top-level names, remove links of removed top-level
   *    names, and `rm -r` the previous generation directory.
   */
  async write(payload: Payload): Promise<boolean> {
    const files = cleanPayload(payload);
    const oldGen = await readlink(this.join(DATA_LINK)).catch(ifMissing(undefined));
    const removed = oldGen ? await pathsToRemove(files, this.join(oldGen)) : [];
    if (oldGen && removed.length === 0 && !(await differs(files, this.join(oldGen)))) return false;

    // (1)
    const gen = await this.newGenerationDir();
    await writeFiles(files, this.join(gen));
    await this.onStep?.('dir-written');
    // (2)
    await symlink(gen, this.join(DATA_TMP_LINK));
    await this.onStep?.('linked');
    await rename(this.join(DATA_TMP_LINK), this.join(DATA_LINK));
    await this.onStep?.('committed');
    // (3)
    await this.createUserVisibleLinks(files);
    await this.removeUserVisibleLinks(removed);
    await this.onStep?.('links-updated');
    if (oldGen) await rm(this.join(oldGen), { recursive: true, force: true });
    await this.onStep?.('old-removed');
    return true;
  }

  /** The name of the generation `..data` points to now, or undefined before the first write. */
  async currentGeneration(): Promise<string | undefined> {
    return readlink(this.join(DATA_LINK)).catch(ifMissing(undefined));
  }

  private join(name: string): string {
    return path.join(this.dir, name);
  }

  private async newGenerationDir(): Promise<string> {
    const name = `${timestamp(new Date())}.${randomInt(1_000_000_000, 10_000_000_000)}`;
    await mkdir(this.join(name), { mode: 0o700 });
    await chmod(this.join(name), 0o755);
    return name;
  }

  private async createUserVisibleLinks(files: ReadonlyMap<string, CleanFile>): Promise<void> {
    for (const top of new Set([...files.keys()].map(topName))) {
      const exists = await lstat(this.join(top)).then(() => true, ifMissing(false));
      if (!exists) await symlink(path.join(DATA_LINK, top), this.join(top));
    }
  }

  private async removeUserVisibleLinks(removed: readonly string[]): Promise<void> {
    for (const p of removed) {
      if (!p.includes('/')) await unlink(this.join(p));
    }
  }
}

/** `..2006_01_02_15_04_05` in UTC, the prefix the kubelet gives its generation directories. */
function timestamp(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const date = [d.getUTCFullYear(), two(d.getUTCMonth() + 1), two(d.getUTCDate())];
  const time = [two(d.getUTCHours()), two(d.getUTCMinutes()), two(d.getUTCSeconds())];
  return `..${[...date, ...time].join('_')}`;
}

function cleanPayload(payload: Payload): Map<string, CleanFile> {
  const files = new Map<string, CleanFile>();
  for (const [key, projection] of Object.entries(payload)) {
    const clean = path.posix.normalize(key);
    if (path.isAbsolute(clean) || clean.split('/').some((part) => part.startsWith('..'))) {
      throw new Error(`invalid payload key ${JSON.stringify(key)}`);
    }
    const p = typeof projection === 'string' ? { content: projection } : projection;
    files.set(clean, { data: Buffer.from(p.content), mode: p.mode ?? DEFAULT_MODE });
  }
  return files;
}

function topName(key: string): string {
  return key.split('/')[0]!;
}

/** True when some key is new or its bytes differ from the old generation's. */
async function differs(files: ReadonlyMap<string, CleanFile>, oldDir: string): Promise<boolean> {
  for (const [key, file] of files) {
    const old = await readFile(path.join(oldDir, key)).catch(ifMissing(undefined));
    if (!old || !old.equals(file.data)) return true;
  }
  return false;
}

/** Every path (files and directories) of the old generation that the new payload lacks. */
async function pathsToRemove(
  files: ReadonlyMap<string, CleanFile>,
  oldDir: string,
): Promise<string[]> {
  const keep = new Set<string>();
  for (const key of files.keys()) {
    for (let p = key; p !== '.'; p = path.posix.dirname(p)) keep.add(p);
  }
  const old = await listTree(oldDir, '');
  return old.filter((p) => !keep.has(p)).sort();
}

/** Relative paths of every file and directory under `dir`. */
async function listTree(dir: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    out.push(rel);
    if (e.isDirectory()) out.push(...(await listTree(path.join(dir, e.name), rel)));
  }
  return out;
}

async function writeFiles(files: ReadonlyMap<string, CleanFile>, genDir: string): Promise<void> {
  for (const [key, file] of files) {
    const full = path.join(genDir, key);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, file.data, { mode: file.mode });
    // The mode given to open(2) is masked by the umask; the kubelet chmods to get it exactly.
    await chmod(full, file.mode);
  }
}

function ifMissing<T>(value: T): (err: unknown) => T {
  return (err) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return value;
    throw err;
  };
}

const created = new Set<string>();

/** A fresh directory under the OS temp dir, mode 0755 so a test can read it as another user. */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `hotreload-${prefix}-`));
  await chmod(dir, 0o755);
  created.add(dir);
  return dir;
}

/** Removes every directory makeTempDir created (call it from `after`). */
export async function cleanupTempDirs(): Promise<void> {
  for (const dir of created) {
    await rm(dir, { recursive: true, force: true });
    created.delete(dir);
  }
}
