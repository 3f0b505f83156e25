// The file-system calls a fingerprint makes, in two interchangeable sets: through libuv's thread
// pool (fs/promises), and synchronous. It does not walk, hash or decide which set to use;
// fingerprint.ts does.
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

/** An open file: read sequentially from the start. */
export interface OpenFile {
  stat(): Promise<Stats>;
  /** Bytes read into `buf` from the current position; 0 at the end. */
  read(buf: Buffer): Promise<number>;
  close(): Promise<void>;
}

export interface FingerprintFs {
  readlink(p: string): Promise<string>;
  stat(p: string): Promise<Stats>;
  lstat(p: string): Promise<Stats>;
  readdir(p: string): Promise<Dirent[]>;
  /** Opens read-only and non-blocking, so opening or reading a FIFO never hangs. */
  open(p: string): Promise<OpenFile>;
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/** Each call a round trip through libuv's thread pool; the event loop keeps running meanwhile. */
export const poolFs: FingerprintFs = {
  readlink: (p) => readlink(p),
  stat: (p) => stat(p),
  lstat: (p) => lstat(p),
  readdir: (p) => readdir(p, { withFileTypes: true }),
  async open(p) {
    const fh = await open(p, OPEN_FLAGS);
    return {
      stat: () => fh.stat(),
      read: async (buf) => (await fh.read(buf, 0, buf.length, null)).bytesRead,
      close: () => fh.close(),
    };
  },
};

/**
 * Each call a plain system call on the event loop's thread: microseconds instead of a round trip
 * of 50-300 µs, but nothing else runs until the walk is done. For small, local trees only.
 */
export const syncFs: FingerprintFs = {
  readlink: (p) => settle(() => readlinkSync(p)),
  stat: (p) => settle(() => statSync(p)),
  lstat: (p) => settle(() => lstatSync(p)),
  readdir: (p) => settle(() => readdirSync(p, { withFileTypes: true })),
  open: (p) =>
    settle(() => {
      const fd = openSync(p, OPEN_FLAGS);
      return {
        stat: () => settle(() => fstatSync(fd)),
        read: (buf: Buffer) => settle(() => readSync(fd, buf, 0, buf.length, null)),
        close: () => settle(() => closeSync(fd)),
      };
    }),
};

/** The result of `fn` as a promise: what it throws becomes the rejection. */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise((resolve) => resolve(fn()));
}
