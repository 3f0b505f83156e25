// The file-system calls a fingerprint makes, in two interchangeable sets: through libuv's thread
// pool (fs/promises), each bounded in time, and synchronous, yielding to the event loop every few
// milliseconds. Paths are strings, or Buffers for names that are not valid UTF-8, so every entry
// is read byte-exact. It does not walk, hash or decide which set to use; fingerprint.ts does.
import { constants, type Dirent, type Stats } from 'node:fs';
import {
  closeSync,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  readdirSync,
  readlinkSync,
  statSync,
} from 'node:fs';
import { lstat, open, readdir, readlink, stat } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** A path as fs calls take it: a Buffer where a name is not valid UTF-8. */
export type FsPath = string | Buffer;

/** An open file: read sequentially from the start. */
export interface OpenFile {
  stat(): Promise<Stats>;
  /** Bytes read into `buf` from the current position; 0 at the end. */
  read(buf: Buffer): Promise<number>;
  close(): Promise<void>;
}

export interface FingerprintFs {
  readlink(p: FsPath): Promise<string>;
  stat(p: FsPath): Promise<Stats>;
  lstat(p: FsPath): Promise<Stats>;
  /** Entries with Buffer names (byte-exact). */
  readdir(p: FsPath): Promise<Dirent<Buffer>[]>;
  /** Opens read-only and non-blocking, so opening or reading a FIFO never hangs. */
  open(p: FsPath): Promise<OpenFile>;
}

/** Read-only and non-blocking: opening or reading a FIFO never hangs. */
export const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/**
 * How long one thread-pool call may take before its entry counts as unreadable (ETIMEDOUT): a
 * hung NFS, FUSE or CSI mount never answers, and a call that never answers holds a thread.
 */
export const CALL_TIMEOUT_MS = 5000;

/**
 * Calls still running after their timeout, by path: the same path is not asked again until they
 * end (each would hold one more of the pool's four threads), it fails at once with ETIMEDOUT.
 * Module state, like the thread pool it mirrors.
 */
const stalled = new Map<string, Promise<unknown>>();

function timedOut(p: FsPath): NodeJS.ErrnoException {
  return Object.assign(new Error(`no answer within ${CALL_TIMEOUT_MS}ms: ${String(p)}`), {
    code: 'ETIMEDOUT',
  });
}

/**
 * Runs one thread-pool call, failing with ETIMEDOUT after CALL_TIMEOUT_MS. What a late call
 * still returns is handed to `late` (an open file is closed).
 */
async function bounded<T>(p: FsPath, call: () => Promise<T>, late?: (v: T) => void): Promise<T> {
  const key = String(p);
  if (stalled.has(key)) throw timedOut(p);
  const work = call();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CALL_TIMEOUT_MS);
    timer.unref();
  });
  try {
    const first = await Promise.race([work, timeout]);
    if (first !== 'timeout') return first;
  } finally {
    clearTimeout(timer);
  }
  stalled.set(
    key,
    work.then(late, () => undefined).finally(() => stalled.delete(key)),
  );
  throw timedOut(p);
}

/** How many thread-pool calls are still running past their timeout. */
export function stalledCalls(): number {
  return stalled.size;
}

/** Each call a round trip through libuv's thread pool, bounded in time. */
export const poolFs: FingerprintFs = {
  readlink: (p) => bounded(p, () => readlink(p, 'utf8')),
  stat: (p) => bounded(p, () => stat(p)),
  lstat: (p) => bounded(p, () => lstat(p)),
  readdir: (p) => bounded(p, () => readdir(p, { withFileTypes: true, encoding: 'buffer' })),
  async open(p) {
    const fh = await bounded(
      p,
      () => open(p, OPEN_FLAGS),
      (late) => void late.close(),
    );
    return {
      stat: () => bounded(p, () => fh.stat()),
      read: async (buf) => (await bounded(p, () => fh.read(buf, 0, buf.length, null))).bytesRead,
      close: () => fh.close(),
    };
  },
};

/** Synchronous work between two turns of the event loop, at most. */
const SLICE_MS = 4;
/** A monotonic clock in ms (process.hrtime: reading `performance` would load perf_hooks). */
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
let sliceStart = nowMs();

/**
 * Each call a plain system call on the event loop's thread: microseconds instead of a round trip
 * of 50-300 µs. After SLICE_MS of them the next one waits for a turn of the event loop, so a large
 * volume never holds up probes, timers or other I/O for more than a few milliseconds. For local
 * trees only (a kubelet volume is tmpfs or local disk): a call that hangs would hang the loop.
 */
export const syncFs: FingerprintFs = {
  readlink: (p) => sliced(() => readlinkSync(p, 'utf8')),
  stat: (p) => sliced(() => statSync(p)),
  lstat: (p) => sliced(() => lstatSync(p)),
  readdir: (p) => sliced(() => readdirSync(p, { withFileTypes: true, encoding: 'buffer' })),
  open: (p) =>
    sliced(() => {
      const fd = openSync(p, OPEN_FLAGS);
      return {
        stat: () => sliced(() => fstatSync(fd)),
        read: (buf: Buffer) => sliced(() => readSync(fd, buf, 0, buf.length, null)),
        close: () => sliced(() => closeSync(fd)),
      };
    }),
};

/** `fn` as a promise (what it throws becomes the rejection), after a turn when the slice is up. */
async function sliced<T>(fn: () => T): Promise<T> {
  const due = sliceDue();
  if (due) await due;
  return fn();
}

/**
 * For synchronous work done in a loop: a turn of the event loop to wait for when the slice is
 * up (a new slice starts after it), else undefined (no promise made).
 */
export function sliceDue(): Promise<void> | undefined {
  if (nowMs() - sliceStart <= SLICE_MS) return undefined;
  return nextTurn().then(() => {
    sliceStart = nowMs();
  });
}
