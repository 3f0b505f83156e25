// The chokidar adapter for one --watch PATH: it reports "maybe changed" events and keeps the
// watch alive across kubelet updates, a missing path, and the path being removed and recreated.
// It does not decide whether content changed; the fingerprint does.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { watch, type ChokidarOptions, type FSWatcher } from 'chokidar';
import type { Clock, TimerHandle } from '../clock.js';
import { HotreloadError, messageOf } from '../errors.js';
import { classify, isKubeletInternal, type TargetKind, type WatchTarget } from './target.js';

export interface WatchEvent {
  readonly watchPath: string;
  /** chokidar's event name, or "appeared" / "disappeared" for the watched path itself. */
  readonly event: string;
  readonly path: string;
}

export type WatchState = 'waiting' | 'watching' | 'failed' | 'closed';

export interface PathWatcher {
  readonly watchPath: string;
  readonly state: WatchState;
  readonly kind: TargetKind | undefined;
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
}

/** Where chokidar watches for one target, and which of its events are reported. */
export interface WatchPlan {
  readonly root: string;
  readonly options: ChokidarOptions;
  /**
   * "inotify": every kernel event on the root directory itself (chokidar's "raw" events) whose
   * name passes `relevant`. "chokidar": chokidar's add, change, unlink, addDir and unlinkDir.
   */
  readonly report: 'inotify' | 'chokidar';
  readonly relevant: (name: string) => boolean;
}

const DEFAULT_POLL_MISSING_MS = 1000;
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
 * Never an inotify watch on `..data`, a key link or a key file: the kubelet replaces them, and a
 * watch on a replaced inode dies silently (DESIGN.md, "What the kubelet does to a volume").
 * - kubelet volume: the volume directory only (one inotify watch); each of its inotify events is
 *   reported, the swap being `rename ..data_tmp` and `rename ..data`.
 * - single file: its parent directory only (one inotify watch), so an atomic replace of the file
 *   and a kubelet swap (when the file is a key link) are seen; events naming siblings are not
 *   reported.
 * - plain directory: the whole tree, through chokidar's events (which include files found when a
 *   new subdirectory is scanned); every event counts.
 * The single-directory plans report inotify events rather than chokidar's, because chokidar drops
 * a "change" of a path within 50 ms of the previous one (`_throttle('change', path, 50)`), and
 * because with followSymlinks: false it reports every symlink of the initial scan as "add" even
 * with ignoreInitial (chokidar 5.0.0). Telling chokidar to ignore every entry keeps it from
 * adding watches for them.
 */
export function planFor(target: WatchTarget): WatchPlan {
  const full = path.resolve(target.path);
  switch (target.kind) {
    case 'kubelet':
      return singleDirectory(full, () => true);
    case 'file': {
      const name = path.basename(full);
      return singleDirectory(path.dirname(full), (n) => n === name || isKubeletInternal(n));
    }
    case 'dir':
      return { root: full, options: BASE_OPTIONS, report: 'chokidar', relevant: () => true };
  }
}

function singleDirectory(root: string, relevant: (name: string) => boolean): WatchPlan {
  const options = { ...BASE_OPTIONS, depth: 0, ignored: (p: string) => p !== root };
  return { root, options, report: 'inotify', relevant };
}

class ChokidarPathWatcher implements PathWatcher {
  state: WatchState = 'waiting';
  kind: TargetKind | undefined;
  private fsw: FSWatcher | undefined;
  private timer: TimerHandle | undefined;
  private loggedWaiting = false;

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
    this.timer?.cancel();
    this.timer = undefined;
    await this.stopWatching();
  }

  /** Classifies the path and watches it, or polls until it exists. */
  private async locate(appeared: boolean): Promise<void> {
    const target = await classify(this.watchPath);
    if (this.closed) return;
    if (!target) return this.waitForPath();
    const plan = planFor(target);
    const rootId = await identity(plan.root);
    if (this.closed) return;
    if (!rootId) return this.waitForPath();
    this.startWatching(target, plan, rootId, appeared);
  }

  private waitForPath(): void {
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
    const fsw = watch(plan.root, plan.options);
    this.fsw = fsw;
    this.kind = target.kind;
    let ready = false;
    const report = (event: string, p: string) => {
      if (ready) this.opts.onEvent({ watchPath: this.watchPath, event, path: p });
    };
    if (plan.report === 'chokidar') fsw.on('all', report);
    fsw.on('raw', (event, name, details) => {
      if (watchedPathOf(details) !== plan.root) return;
      if (name === path.basename(plan.root)) {
        this.checkRoot(fsw, plan.root, rootId).catch((err) => this.fail(err));
      }
      if (plan.report === 'inotify' && (!name || plan.relevant(name))) {
        report(event, name ? path.join(plan.root, name) : plan.root);
      }
    });
    fsw.on('error', (err) => this.watchError(plan.root, err));
    fsw.once('ready', () => {
      ready = true;
      if (this.fsw !== fsw || this.state !== 'waiting') return;
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
    const fsw = this.fsw;
    this.fsw = undefined;
    await fsw?.close();
  }

  private watchError(root: string, err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (LIMIT_CODES.has(code)) {
      if (!this.closed) this.state = 'failed';
      this.opts.onError(
        new HotreloadError('E_WATCH_LIMIT', `cannot watch ${root}: ${messageOf(err)}`, {
          cause: err,
          hint: 'raise fs.inotify.max_user_watches and fs.inotify.max_user_instances',
        }),
      );
      return;
    }
    this.opts.onError(
      new HotreloadError('E_WATCH', `watching ${root} failed: ${messageOf(err)}`, { cause: err }),
    );
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    this.state = 'failed';
    this.opts.onError(
      new HotreloadError('E_WATCH', `watching ${this.watchPath} failed: ${messageOf(err)}`, {
        cause: err,
      }),
    );
  }
}

/** "dev:ino" of what `p` names now, or undefined when it is gone. */
async function identity(p: string): Promise<string | undefined> {
  const st = await stat(p).catch(() => undefined);
  return st && `${st.dev}:${st.ino}`;
}

function watchedPathOf(details: unknown): string | undefined {
  const watched = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
  return typeof watched === 'string' ? watched : undefined;
}
