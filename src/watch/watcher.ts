// One --watch PATH: reports "maybe changed" events and keeps the watch alive across kubelet
// updates, a missing path, the path being removed, replaced or mounted over, and an inotify limit
// (polling meanwhile). It costs one inotify watch per directory, never one per file, and reads no
// directory when an event comes (but a plain tree's new subdirectory). It does not decide whether
// content changed; the fingerprint does.
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Clock, TimerHandle } from '../lib/clock.js';
import { codeOf, messageOf, RecoverableError } from '../lib/errors.js';
import {
  DATA_LINK,
  classify,
  isKubeletBookkeeping,
  isKubeletInternal,
  type TargetKind,
  type WatchTarget,
} from '../volume/kubelet.js';

export interface WatchEvent {
  readonly watchPath: string;
  /**
   * What was seen: the kernel's event kind ('rename' for a name created, removed or moved,
   * 'change' for a write or an attribute), 'appeared', 'disappeared' or 'replaced' for the
   * watched path itself, 'poll' while polling. Only a hint: content decides.
   */
  readonly event: string;
  readonly path: string;
  /**
   * For an event inside a watched plain directory: the entry's path relative to that directory,
   * as bytes (names need not be UTF-8). Absent: anything under the watch path may have changed.
   */
  readonly below?: Buffer;
}

export type WatchState = 'waiting' | 'watching' | 'failed' | 'closed';

export interface PathWatcher {
  readonly watchPath: string;
  readonly state: WatchState;
  readonly kind: TargetKind | undefined;
  /** 'inotify' normally; 'polling' while the kernel refuses a watch (ENOSPC, EMFILE, ENFILE). */
  readonly mode: 'inotify' | 'polling';
  /** How many directories it watches (inotify watches it holds). */
  readonly watches: number;
  /**
   * Resolves once the first look at the path is done: it is watched, it is missing and being
   * waited for, or watching it failed. Never rejects.
   */
  readonly settled: Promise<void>;
  /**
   * Checks that the watched directory is still the one watched (the periodic resync calls it):
   * a directory replaced, or mounted over, without an event the watch could see is watched anew.
   */
  recheck(): Promise<void>;
  close(): Promise<void>;
}

/** The part of fs.watch a watcher uses: Buffer file names, an error event, close. */
export type WatchFactory = (
  dir: string | Buffer,
  listener: (event: string, name: Buffer | null) => void,
) => Pick<FSWatcher, 'close' | 'on'>;

export interface WatchOptions {
  onEvent(e: WatchEvent): void;
  onError(err: Error): void;
  onAppeared?(target: WatchTarget): void;
  log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    debug(obj: object, msg: string): void;
  };
  clock: Clock;
  /** How often a missing path is looked for; default 1000. */
  pollMissingMs?: number;
  /** How often content is looked at when inotify is out of watches; default 1000. */
  pollFallbackMs?: number;
  /** How often inotify is tried again while polling; default 30000. */
  retryInotifyMs?: number;
  /** How long after a failure watching is tried again; default 5000. */
  retryFailedMs?: number;
  /** fs.watch, replaceable in tests (to make it fail as the kernel would). */
  watchFactory?: WatchFactory;
}

/** Where the watch goes for one target, and which of its events are reported. */
interface WatchPlan {
  /** A real path, never inside a kubelet generation directory. */
  readonly root: string;
  /** 'tree': the root and every directory below it; 'dir': the root only. */
  readonly depth: 'tree' | 'dir';
  /** For 'dir': the names in the root whose events are reported. */
  readonly relevant: (name: string) => boolean;
}

/** The directory to watch, and the name in it that leads to the target (none: the target itself). */
interface Anchor {
  readonly root: string;
  readonly below: string | undefined;
}

const DEFAULT_POLL_MISSING_MS = 1000;
const DEFAULT_POLL_FALLBACK_MS = 1000;
const DEFAULT_RETRY_INOTIFY_MS = 30_000;
const DEFAULT_RETRY_FAILED_MS = 5000;
/** The kernel refused another inotify watch or instance: this path is not watched at all. */
const LIMIT_CODES = new Set(['ENOSPC', 'EMFILE', 'ENFILE']);
/** Directories of a new subtree read at once while adding their watches. */
const SCAN_CONCURRENCY = 8;

const defaultFactory: WatchFactory = (dir, listener) =>
  fsWatch(dir, { encoding: 'buffer' }, (event, name) => listener(event, name));

/** Starts watching `p` (now, or once it appears) and returns its handle at once. */
export function watchPath(p: string, opts: WatchOptions): PathWatcher {
  const watcher = new DirectoryWatcher(p, opts);
  watcher.start();
  return watcher;
}

/**
 * Never an inotify watch on `..data`, a key link, a key file or anything inside a generation
 * directory: the kubelet replaces them, and a watch on a replaced inode dies silently (DESIGN.md,
 * "What the kubelet does to a volume"). So the anchor is the deepest directory on the target's
 * path (the path itself for a directory, its parent for a file) whose real path does not pass
 * through a `..` name; for a key file that is the volume directory, and for a file below a nested
 * key (`sub/app.conf`, where `sub -> ..data/sub`) too. Resolves undefined when nothing exists.
 */
async function anchorFor(target: WatchTarget): Promise<Anchor | undefined> {
  const full = path.resolve(target.path);
  for (let dir = target.kind === 'file' ? path.dirname(full) : full; ; dir = path.dirname(dir)) {
    const real = await realpath(dir).catch(() => undefined);
    if (!real) return undefined;
    if (!real.split(path.sep).some(isKubeletInternal)) {
      return {
        root: real,
        below: dir === full ? undefined : path.relative(dir, full).split(path.sep)[0],
      };
    }
    if (dir === path.dirname(dir)) return undefined;
  }
}

/**
 * - kubelet volume: the volume directory only (one inotify watch). The swap is reported by the
 *   rename of `..data`; the kubelet's other names (a new generation being written, `..data_tmp`,
 *   the old generation removed) are not: none of them changes what `..data` shows, so a swap is
 *   one event, not six. Other names are reported (a key link made or removed, or the files of a
 *   directory that stopped being a volume).
 * - plain directory: the directory and each directory below it (one inotify watch each: the
 *   kernel reports a file's writes to its directory's watch); every event counts.
 * - anything else (a single file; a directory inside a kubelet volume): the anchor directory only,
 *   reporting events that name the way to the target or `..data`, so an atomic replace of the
 *   file and a kubelet swap are seen, and siblings are not reported.
 */
function planFor(kind: TargetKind, anchor: Anchor): WatchPlan {
  const { root, below } = anchor;
  if (below === undefined && kind === 'dir') return { root, depth: 'tree', relevant: () => true };
  const relevant = (n: string) =>
    n === DATA_LINK || (!isKubeletBookkeeping(n) && (below === undefined || n === below));
  return { root, depth: 'dir', relevant };
}

class DirectoryWatcher implements PathWatcher {
  state: WatchState = 'waiting';
  kind: TargetKind | undefined;
  mode: 'inotify' | 'polling' = 'inotify';
  private tree: WatchTree | undefined;
  /** The plan and identity of what is watched now (or polled), for recheck(). */
  private current: { plan: WatchPlan; rootId: string; target: WatchTarget } | undefined;
  private timer: TimerHandle | undefined;
  private loggedWaiting = false;
  /** Polling, and trying inotify again: a limit reached again is not warned about again. */
  private retrying = false;
  private markSettled!: () => void;
  readonly settled = new Promise<void>((resolve) => (this.markSettled = resolve));

  constructor(
    readonly watchPath: string,
    private readonly opts: WatchOptions,
  ) {}

  get watches(): number {
    return this.tree?.size ?? 0;
  }

  private get closed(): boolean {
    return this.state === 'closed';
  }

  start(): void {
    this.locate(false).catch((err) => this.fail(err));
  }

  async close(): Promise<void> {
    this.state = 'closed';
    this.markSettled();
    this.timer?.cancel();
    this.timer = undefined;
    this.stopWatching();
    return Promise.resolve();
  }

  async recheck(): Promise<void> {
    const current = this.current;
    if (!current || this.closed || this.state !== 'watching') return;
    const now = await identity(current.plan.root);
    if (this.current !== current || sameDirectory(now, current.rootId)) return;
    await this.restart('watched directory was replaced or mounted over; watching anew', 'replaced');
  }

  /** Classifies the path and watches it, or polls until it exists. */
  private async locate(appeared: boolean): Promise<void> {
    const target = await classify(this.watchPath);
    if (this.closed) return;
    const anchor = target && (await anchorFor(target));
    if (this.closed) return;
    if (!target || !anchor) return this.waitForPath();
    const plan = planFor(target.kind, anchor);
    const rootId = await identity(plan.root);
    if (this.closed) return;
    if (!rootId) return this.waitForPath();
    await this.startWatching(target, plan, rootId, appeared);
  }

  private waitForPath(): void {
    this.markSettled();
    if (!this.loggedWaiting) {
      this.opts.log.info({ path: this.watchPath }, 'waiting for watched path to appear');
      this.loggedWaiting = true;
    }
    this.state = 'waiting';
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      this.locate(true).catch((err) => this.fail(err));
    }, this.opts.pollMissingMs ?? DEFAULT_POLL_MISSING_MS);
  }

  private async startWatching(
    target: WatchTarget,
    plan: WatchPlan,
    rootId: string,
    appeared: boolean,
  ): Promise<void> {
    const report = (event: string, p: string, below?: Buffer) =>
      this.opts.onEvent({ watchPath: this.watchPath, event, path: p, ...(below && { below }) });
    const tree = new WatchTree(plan, this.opts.watchFactory ?? defaultFactory, {
      report,
      rootEvent: () => void this.checkRoot(tree, plan.root, rootId).catch((err) => this.fail(err)),
      error: (err) => this.watchError(plan.root, err),
      skipped: (dir, err) =>
        this.opts.log.warn(
          { path: this.watchPath, dir, code: codeOf(err) ?? '' },
          'cannot watch a directory below the watched path; the periodic resync still covers it',
        ),
    });
    this.tree = tree;
    this.current = { plan, rootId, target };
    this.kind = target.kind;
    try {
      await tree.start();
    } catch (err) {
      if (this.tree !== tree) return;
      if (LIMIT_CODES.has(codeOf(err) ?? '')) return this.watchError(plan.root, err);
      throw err;
    }
    this.markSettled();
    if (this.tree !== tree || this.closed) return;
    if (this.state === 'failed') {
      this.opts.log.info({ path: this.watchPath }, 'watching again after a failure');
    }
    this.state = 'watching';
    this.opts.log.debug(
      { path: this.watchPath, kind: target.kind, root: plan.root, watches: tree.size },
      'watching',
    );
    if (!appeared) return;
    this.opts.onAppeared?.(target);
    report('appeared', this.watchPath);
  }

  /**
   * The directory's own inotify watch reports its deletion or move under the directory's own
   * name; after that the watch is dead. If the root is really gone or replaced, start over.
   */
  private async checkRoot(tree: WatchTree, root: string, rootId: string): Promise<void> {
    const now = await identity(root);
    if (this.tree !== tree || now === rootId) return;
    await this.restart('watched directory went away; watching anew', 'disappeared');
  }

  private async restart(message: string, event: string): Promise<void> {
    const root = this.current?.plan.root;
    this.opts.log.info({ path: this.watchPath, root }, message);
    this.stopWatching();
    if (this.closed) return;
    this.state = 'waiting';
    this.kind = undefined;
    this.loggedWaiting = false;
    this.opts.onEvent({ watchPath: this.watchPath, event, path: root ?? this.watchPath });
    await this.locate(true);
  }

  private stopWatching(): void {
    this.tree?.close();
    this.tree = undefined;
    this.current = undefined;
  }

  private watchError(root: string, err: unknown): void {
    const code = codeOf(err) ?? '';
    if (LIMIT_CODES.has(code)) {
      this.opts.onError(
        new RecoverableError('E_WATCH_LIMIT', `cannot watch ${root}: ${messageOf(err)}`, {
          cause: err,
          hint: 'raise fs.inotify.max_user_watches and fs.inotify.max_user_instances (sysctl, on the node)',
        }),
      );
      this.fallBackToPolling(root, code);
      return;
    }
    this.fail(err);
  }

  /**
   * The kernel refused an inotify watch or instance: nothing is watched. Instead, report a
   * "maybe changed" every pollFallbackMs (the fingerprint decides, as for any event), and try
   * inotify again every retryInotifyMs: a limit reached for a moment (EMFILE while many files
   * were open) does not leave the path polled for the rest of the process's life.
   */
  private fallBackToPolling(root: string, code: string): void {
    if (this.mode === 'polling' || this.closed) return;
    this.mode = 'polling';
    this.stopWatching();
    this.markSettled();
    this.state = 'watching';
    const everyMs = this.opts.pollFallbackMs ?? DEFAULT_POLL_FALLBACK_MS;
    const retryMs = this.opts.retryInotifyMs ?? DEFAULT_RETRY_INOTIFY_MS;
    const fields = { path: this.watchPath, root, code, everyMs, retryInotifyMs: retryMs };
    const message =
      'inotify limit reached; polling the content instead, and trying inotify again; raise fs.inotify.max_user_watches and fs.inotify.max_user_instances on the node';
    if (this.retrying) this.opts.log.debug(fields, message);
    else this.opts.log.warn(fields, message);
    let sinceRetry = 0;
    const poll = () => {
      this.timer = this.opts.clock.setTimeout(() => {
        this.timer = undefined;
        if (this.closed) return;
        this.opts.onEvent({ watchPath: this.watchPath, event: 'poll', path: root });
        sinceRetry += everyMs;
        if (sinceRetry < retryMs) return poll();
        // A limit reached again starts polling anew (and says so at debug level only).
        this.mode = 'inotify';
        this.state = 'waiting';
        this.retrying = true;
        this.locate(true).then(
          () => {
            if (this.tree) {
              this.retrying = false;
              this.opts.log.info(
                { path: this.watchPath, root },
                'inotify watches available again; polling stopped',
              );
            }
          },
          (err: unknown) => this.fail(err),
        );
      }, everyMs);
    };
    poll();
  }

  /**
   * Watching broke in a way that is not a missing path or an inotify limit: /healthz fails while
   * the state is 'failed', and watching is tried again every retryFailedMs. Once it works, the
   * path counts as appeared, so a change made meanwhile is not lost.
   */
  private fail(err: unknown): void {
    this.markSettled();
    if (this.closed) return;
    this.state = 'failed';
    const retryMs = this.opts.retryFailedMs ?? DEFAULT_RETRY_FAILED_MS;
    this.opts.onError(
      new RecoverableError('E_WATCH', `watching ${this.watchPath} failed: ${messageOf(err)}`, {
        cause: err,
        hint: `trying again in ${retryMs}ms; /healthz fails until it works`,
      }),
    );
    this.timer?.cancel();
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      this.stopWatching();
      if (!this.closed) this.locate(true).catch((e: unknown) => this.fail(e));
    }, retryMs);
  }
}

interface TreeCallbacks {
  /** `below`: the entry relative to the root, for a tree. */
  report(event: string, p: string, below?: Buffer): void;
  /** A directory below the root that cannot be watched (the resync covers it). */
  skipped(dir: string, err: unknown): void;
  /** An event named after the root itself: it may have been removed or moved. */
  rootEvent(): void;
  error(err: unknown): void;
}

/**
 * The inotify watches of one plan: the root, and for a tree every directory below it (not
 * through symlinks: a link leading out of the tree is covered by the resync). A new subdirectory
 * is found from the event that created it and watched with what it already holds; a removed one's
 * watches are closed. Directories are keyed by their path bytes, so a name that is not valid UTF-8
 * is watched like any other.
 */
class WatchTree {
  private readonly watches = new Map<string, Pick<FSWatcher, 'close' | 'on'>>();
  private closed = false;
  /** Names created or removed in the tree, looked at together on the next turn. */
  private pending = new Set<string>();
  private flushing = false;
  private readonly rootBytes: Buffer;

  constructor(
    private readonly plan: WatchPlan,
    private readonly factory: WatchFactory,
    private readonly cb: TreeCallbacks,
  ) {
    this.rootBytes = Buffer.from(plan.root);
  }

  get size(): number {
    return this.watches.size;
  }

  /** Watches the root (and, for a tree, every directory below it). Throws what fs.watch throws. */
  async start(): Promise<void> {
    this.add(Buffer.from(this.plan.root));
    if (this.plan.depth === 'tree') await this.scan(Buffer.from(this.plan.root));
  }

  close(): void {
    this.closed = true;
    for (const w of this.watches.values()) w.close();
    this.watches.clear();
    this.pending.clear();
  }

  /**
   * Sets one watch below the root. The kernel refusing more watches (ENOSPC, EMFILE) is thrown:
   * the whole path is polled then. A directory that cannot be watched for another reason (no read
   * permission) is left to the resync, and said once.
   */
  private addBelow(dir: Buffer): void {
    try {
      this.add(dir);
    } catch (err) {
      if (LIMIT_CODES.has(codeOf(err) ?? '')) throw err;
      this.cb.skipped(dir.toString('utf8'), err);
    }
  }

  /** Sets one watch; fs.watch throws what inotify_add_watch(2) refuses. */
  private add(dir: Buffer): void {
    const key = dir.toString('latin1');
    if (this.closed || this.watches.has(key)) return;
    const isRoot = key === Buffer.from(this.plan.root).toString('latin1');
    const w = this.factory(dir, (event, name) => this.onEvent(dir, isRoot, event, name));
    w.on('error', (err) => {
      // The watch of a removed subdirectory may end in an error: that is the removal.
      if (!isRoot) this.remove(key);
      else this.cb.error(err);
    });
    this.watches.set(key, w);
  }

  private remove(key: string): void {
    for (const [k, w] of this.watches) {
      if (k === key || k.startsWith(`${key}/`)) {
        w.close();
        this.watches.delete(k);
      }
    }
  }

  /** Adds watches for every directory below `dir`, SCAN_CONCURRENCY directories at a time. */
  private async scan(dir: Buffer): Promise<void> {
    const queue = [dir];
    const worker = async () => {
      for (let next = queue.shift(); next && !this.closed; next = queue.shift()) {
        const entries = await readdir(next, { withFileTypes: true, encoding: 'buffer' }).catch(
          () => [],
        );
        for (const e of entries) {
          if (!e.isDirectory()) continue;
          const sub = joinBytes(next, e.name);
          this.addBelow(sub);
          queue.push(sub);
        }
      }
    };
    // Workers start as the queue fills: the first one lists the root.
    await worker();
    while (queue.length > 0 && !this.closed) {
      await Promise.all(Array.from({ length: Math.min(SCAN_CONCURRENCY, queue.length) }, worker));
    }
  }

  private onEvent(dir: Buffer, isRoot: boolean, event: string, name: Buffer | null): void {
    if (this.closed) return;
    const text = name?.toString('utf8');
    if (isRoot && text === path.basename(this.plan.root)) this.cb.rootEvent();
    if (this.plan.depth === 'dir') {
      if (!isRoot || (text !== undefined && !this.plan.relevant(text))) return;
      this.cb.report(event, text === undefined ? this.plan.root : path.join(this.plan.root, text));
      return;
    }
    const shown = dir.toString('utf8');
    const entry = name ? joinBytes(dir, name) : dir;
    this.cb.report(event, text === undefined ? shown : path.join(shown, text), this.below(entry));
    // A name created or removed may be a directory to watch, or one to stop watching.
    if (event === 'rename' && name) this.later(joinBytes(dir, name));
  }

  /** `entry` relative to the root; undefined for the root itself. */
  private below(entry: Buffer): Buffer | undefined {
    const root = this.rootBytes;
    if (entry.length <= root.length) return undefined;
    return entry.subarray(root.at(-1) === SLASH[0] ? root.length : root.length + 1);
  }

  private later(p: Buffer): void {
    this.pending.add(p.toString('latin1'));
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      const batch = [...this.pending].map((k) => Buffer.from(k, 'latin1'));
      this.pending.clear();
      this.follow(batch).catch((err: unknown) => this.cb.error(err));
    });
  }

  /** For each created or removed name: watch a new directory (and what it holds), or forget one. */
  private async follow(paths: readonly Buffer[]): Promise<void> {
    for (const p of paths) {
      if (this.closed) return;
      const st = await stat(p).catch(() => undefined);
      const key = p.toString('latin1');
      if (!st?.isDirectory()) {
        this.remove(key);
        continue;
      }
      if (this.watches.has(key)) continue;
      try {
        this.addBelow(p);
        await this.scan(p);
      } catch (err) {
        this.cb.error(err);
        return;
      }
      // Files written into the new directory before its watch was set: one more look.
      this.cb.report('rename', p.toString('utf8'), this.below(p));
    }
  }
}

function joinBytes(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, SLASH, name]);
}

const SLASH = Buffer.from('/');

/**
 * "dev:ino:birth" of what `p` names now, or undefined when it is gone. The inode number alone is
 * not enough: ext4 gives a directory made right after a removal the same number. The birth time
 * tells them apart; where the filesystem keeps none, the change time does (it also moves when
 * entries change, which at worst makes the watcher start over once for nothing). A mount over the
 * directory changes the device.
 */
async function identity(p: string): Promise<string | undefined> {
  const st = await stat(p, { bigint: true }).catch(() => undefined);
  if (!st) return undefined;
  const birth = st.birthtimeNs > 0n ? `b${st.birthtimeNs}` : `c${st.ctimeNs}`;
  return `${st.dev}:${st.ino}:${birth}`;
}

/**
 * For recheck(), which runs at every resync: where the filesystem keeps no birth time, the change
 * time moves at every update of the directory's entries, so only the device and inode count.
 */
function sameDirectory(now: string | undefined, then: string): boolean {
  if (now === undefined) return false;
  if (now === then) return true;
  const [devNow, inoNow, birthNow] = now.split(':');
  const [devThen, inoThen, birthThen] = then.split(':');
  return (
    devNow === devThen &&
    inoNow === inoThen &&
    !birthNow!.startsWith('b') &&
    !birthThen!.startsWith('b')
  );
}
