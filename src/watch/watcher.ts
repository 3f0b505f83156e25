// The chokidar adapter for one --watch PATH: it reports "maybe changed" events and keeps the
// watch alive across kubelet updates, a missing path, and the path being removed and recreated.
// It does not decide whether content changed; the fingerprint does.
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { watch, type ChokidarOptions, type FSWatcher } from 'chokidar';
import type { Clock, TimerHandle } from '../clock.js';
import { HotreloadError, messageOf } from '../errors.js';
import { classify, isKubeletInternal, type TargetKind, type WatchTarget } from './target.js';

export interface WatchEvent {
  readonly watchPath: string;
  /**
   * What was seen: chokidar's add, change, unlink, addDir or unlinkDir for a plain directory;
   * Node's inotify event kind, rename or change, for a watch on one directory; "appeared" or
   * "disappeared" for the watched path itself. Only a hint: content decides.
   */
  readonly event: string;
  readonly path: string;
}

export type WatchState = 'waiting' | 'watching' | 'failed' | 'closed';

export interface PathWatcher {
  readonly watchPath: string;
  readonly state: WatchState;
  readonly kind: TargetKind | undefined;
  /** 'inotify' normally; 'polling' after the kernel refused a watch (ENOSPC, EMFILE, ENFILE). */
  readonly mode: 'inotify' | 'polling';
  /**
   * Resolves once the first look at the path is done: it is watched (the initial scan is over),
   * it is missing and being waited for, or watching it failed. Never rejects.
   */
  readonly settled: Promise<void>;
  close(): Promise<void>;
}

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
  /** How long after a failure watching is tried again; default 5000. */
  retryFailedMs?: number;
  /** chokidar's watch(), replaceable in tests (to make it fail as the kernel would). */
  watchFactory?: typeof watch;
}

/** Where chokidar watches for one target, and which of its events are reported. */
interface WatchPlan {
  /** A real path, never inside a kubelet generation directory. */
  readonly root: string;
  readonly options: ChokidarOptions;
  /**
   * "inotify": every kernel event on the root directory itself (chokidar's "raw" events) whose
   * name passes `relevant`. "chokidar": chokidar's add, change, unlink, addDir and unlinkDir.
   */
  readonly report: 'inotify' | 'chokidar';
  readonly relevant: (name: string) => boolean;
}

/** The directory to watch, and the name in it that leads to the target (none: the target itself). */
interface Anchor {
  readonly root: string;
  readonly below: string | undefined;
}

const DEFAULT_POLL_MISSING_MS = 1000;
const DEFAULT_POLL_FALLBACK_MS = 1000;
const DEFAULT_RETRY_FAILED_MS = 5000;
/** After a chokidar event, when the plain-directory plan reports once more: past its 50 ms throttle. */
const TRAILING_MS = 75;
/** The kernel refused another inotify watch or instance: this path is not watched at all. */
const LIMIT_CODES = new Set(['ENOSPC', 'EMFILE', 'ENFILE']);
const BASE_OPTIONS = {
  followSymlinks: false,
  ignoreInitial: true,
  persistent: true,
} as const satisfies ChokidarOptions;

/** Starts watching `p` (now, or once it appears) and returns its handle at once. */
export function watchPath(p: string, opts: WatchOptions): PathWatcher {
  const watcher = new ChokidarPathWatcher(p, opts);
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
 * - kubelet volume: the volume directory only (one inotify watch); each of its inotify events is
 *   reported, the swap being `rename ..data_tmp` and `rename ..data`.
 * - plain directory: the whole tree, through chokidar's events (which include files found when a
 *   new subdirectory is scanned) and the kernel's raw events under it; every event counts, and
 *   is followed by one more report TRAILING_MS later, for a change chokidar's throttle dropped.
 * - anything else (a single file; a directory inside a kubelet volume): the anchor directory only
 *   (one inotify watch), reporting events that name the way to the target or a `..` name, so an
 *   atomic replace of the file and a kubelet swap are seen, and siblings are not reported.
 * The single-directory plans report inotify events rather than chokidar's, because chokidar drops
 * a "change" of a path within 50 ms of the previous one (`_throttle('change', path, 50)`), and
 * because with followSymlinks: false it reports every symlink of the initial scan as "add" even
 * with ignoreInitial (chokidar 5.0.0). Telling chokidar to ignore every entry keeps it from
 * adding watches for them.
 */
function planFor(kind: TargetKind, anchor: Anchor): WatchPlan {
  const { root, below } = anchor;
  if (below === undefined && kind === 'dir') {
    return { root, options: BASE_OPTIONS, report: 'chokidar', relevant: () => true };
  }
  const relevant = (n: string) => below === undefined || n === below || isKubeletInternal(n);
  const options = { ...BASE_OPTIONS, depth: 0, ignored: (p: string) => p !== root };
  return { root, options, report: 'inotify', relevant };
}

class ChokidarPathWatcher implements PathWatcher {
  state: WatchState = 'waiting';
  kind: TargetKind | undefined;
  mode: 'inotify' | 'polling' = 'inotify';
  private fsw: FSWatcher | undefined;
  private timer: TimerHandle | undefined;
  /** The report that follows chokidar's events (see planFor). */
  private trailing: TimerHandle | undefined;
  private loggedWaiting = false;
  private markSettled!: () => void;
  readonly settled = new Promise<void>((resolve) => (this.markSettled = resolve));

  constructor(
    readonly watchPath: string,
    private readonly opts: WatchOptions,
  ) {}

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
    await this.stopWatching();
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
    this.startWatching(target, plan, rootId, appeared);
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

  /** Events before chokidar's "ready" belong to its initial scan and are dropped. */
  private startWatching(target: WatchTarget, plan: WatchPlan, rootId: string, appeared: boolean) {
    const fsw = (this.opts.watchFactory ?? watch)(plan.root, plan.options);
    this.fsw = fsw;
    this.kind = target.kind;
    let ready = false;
    const report = (event: string, p: string) => {
      if (!ready) return;
      this.opts.onEvent({ watchPath: this.watchPath, event, path: p });
      if (plan.report !== 'chokidar' || this.trailing) return;
      // chokidar drops a second "change" of a path within 50 ms of the first and never reports
      // it later; one more look after that window catches it (the fingerprint decides).
      this.trailing = this.opts.clock.setTimeout(() => {
        this.trailing = undefined;
        if (this.fsw === fsw)
          this.opts.onEvent({ watchPath: this.watchPath, event: 'trailing', path: p });
      }, TRAILING_MS);
    };
    if (plan.report === 'chokidar') fsw.on('all', report);
    fsw.on('raw', (event, name, details) => {
      const watched = watchedPathOf(details);
      if (watched === plan.root && name === path.basename(plan.root)) {
        this.checkRoot(fsw, plan.root, rootId).catch((err) => this.fail(err));
      }
      // In a plain directory the kernel's own events count too: chokidar reports no event for a
      // symlink replaced by one with the same target path (it compares the link texts).
      if (plan.report === 'chokidar') {
        if (watched !== undefined)
          report(`raw-${event}`, name ? path.join(watched, name) : watched);
      } else if (watched === plan.root && (!name || plan.relevant(name))) {
        report(event, name ? path.join(plan.root, name) : plan.root);
      }
    });
    fsw.on('error', (err) => this.watchError(plan.root, err));
    fsw.once('ready', () => {
      ready = true;
      this.markSettled();
      if (this.fsw !== fsw || (this.state !== 'waiting' && this.state !== 'failed')) return;
      if (this.state === 'failed') {
        this.opts.log.info({ path: this.watchPath }, 'watching again after a failure');
      }
      this.state = 'watching';
      this.opts.log.debug({ path: this.watchPath, kind: target.kind, root: plan.root }, 'watching');
      if (!appeared) return;
      this.opts.onAppeared?.(target);
      this.opts.onEvent({ watchPath: this.watchPath, event: 'appeared', path: this.watchPath });
    });
  }

  /**
   * The directory's own inotify watch reports its deletion or move under the directory's own
   * name; after that the watch is dead. If the root is really gone or replaced, start over.
   */
  private async checkRoot(fsw: FSWatcher, root: string, rootId: string): Promise<void> {
    const now = await identity(root);
    if (this.fsw !== fsw || now === rootId) return;
    this.opts.log.info(
      { path: this.watchPath, root },
      'watched directory went away; watching anew',
    );
    await this.stopWatching();
    if (this.closed) return;
    this.state = 'waiting';
    this.kind = undefined;
    this.loggedWaiting = false;
    this.opts.onEvent({ watchPath: this.watchPath, event: 'disappeared', path: root });
    await this.locate(true);
  }

  private async stopWatching(): Promise<void> {
    this.trailing?.cancel();
    this.trailing = undefined;
    const fsw = this.fsw;
    this.fsw = undefined;
    await fsw?.close();
  }

  private watchError(root: string, err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (LIMIT_CODES.has(code)) {
      this.opts.onError(
        new HotreloadError('E_WATCH_LIMIT', `cannot watch ${root}: ${messageOf(err)}`, {
          cause: err,
          hint: 'raise fs.inotify.max_user_watches and fs.inotify.max_user_instances (sysctl, on the node)',
        }),
      );
      this.fallBackToPolling(root, code).catch((e) => this.fail(e));
      return;
    }
    this.opts.onError(
      new HotreloadError('E_WATCH', `watching ${root} failed: ${messageOf(err)}`, { cause: err }),
    );
  }

  /**
   * The kernel refused an inotify watch or instance: nothing is watched. Instead, report a
   * "maybe changed" every pollFallbackMs; the fingerprint decides, as for any event.
   */
  private async fallBackToPolling(root: string, code: string): Promise<void> {
    if (this.mode === 'polling' || this.closed) return;
    this.mode = 'polling';
    await this.stopWatching();
    this.markSettled();
    if (this.closed) return;
    this.state = 'watching';
    const everyMs = this.opts.pollFallbackMs ?? DEFAULT_POLL_FALLBACK_MS;
    this.opts.log.warn(
      { path: this.watchPath, root, code, everyMs },
      'inotify limit reached; polling the content instead; raise fs.inotify.max_user_watches and fs.inotify.max_user_instances on the node',
    );
    const poll = () => {
      this.timer = this.opts.clock.setTimeout(() => {
        this.opts.onEvent({ watchPath: this.watchPath, event: 'poll', path: root });
        poll();
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
      new HotreloadError('E_WATCH', `watching ${this.watchPath} failed: ${messageOf(err)}`, {
        cause: err,
        hint: `trying again in ${retryMs}ms; /healthz fails until it works`,
      }),
    );
    this.timer?.cancel();
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      void this.stopWatching()
        .then(() => (this.closed ? undefined : this.locate(true)))
        .catch((e: unknown) => this.fail(e));
    }, retryMs);
  }
}

/**
 * "dev:ino:birth" of what `p` names now, or undefined when it is gone. The inode number alone is
 * not enough: ext4 gives a directory made right after a removal the same number. The birth time
 * tells them apart; where the filesystem keeps none, the change time does (it also moves when
 * entries change, which at worst makes the watcher start over once for nothing).
 */
async function identity(p: string): Promise<string | undefined> {
  const st = await stat(p, { bigint: true }).catch(() => undefined);
  return st && `${st.dev}:${st.ino}:${st.birthtimeNs > 0n ? st.birthtimeNs : st.ctimeNs}`;
}

function watchedPathOf(details: unknown): string | undefined {
  const watched = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
  return typeof watched === 'string' ? watched : undefined;
}
