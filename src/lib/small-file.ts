// Reads a small file named by a flag (--pid-file, --http-header-file, --state-file) within a size
// and a time bound. The application or a Secret writes these files, so they are untrusted: a
// FIFO, a device, a 300 MB file or a hung mount must fail the read, never block hotreload or
// grow its memory. It does not parse what it reads.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

export interface SmallFileLimits {
  /** Larger is refused (E2BIG). */
  readonly maxBytes: number;
  /** Slower is refused (ETIMEDOUT); the call left behind ends on its own. */
  readonly timeoutMs: number;
}

/** A read refused by its bounds or by what the path is, with an errno-like code. */
function refused(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * The file's content, in order:
 * 1. open it read-only and non-blocking (opening a FIFO does not wait for a writer);
 * 2. refuse anything but a regular file (EINVAL), and a file over maxBytes (E2BIG);
 * 3. read at most maxBytes + 1 bytes: a file that grew past the bound is refused too.
 * The whole read must end within timeoutMs (ETIMEDOUT otherwise).
 */
export async function readSmallFile(file: string, limits: SmallFileLimits): Promise<Buffer> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(refused('ETIMEDOUT', `no answer within ${limits.timeoutMs}ms`)),
      limits.timeoutMs,
    );
    timer.unref();
  });
  const reading = read(file, limits.maxBytes);
  try {
    return await Promise.race([reading, deadline]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
      late.add(reading);
      void reading.catch(() => undefined).finally(() => late.delete(reading));
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads past their deadline and still running: each holds a thread of libuv's pool. */
const late = new Set<Promise<unknown>>();

/** How many reads are still running past their deadline (see stuckCalls in fingerprint-fs). */
export function lateReads(): number {
  return late.size;
}

async function read(file: string, maxBytes: number): Promise<Buffer> {
  const fh = await open(file, OPEN_FLAGS); // (1)
  try {
    const st = await fh.stat(); // (2)
    if (!st.isFile()) throw refused('EINVAL', 'not a regular file');
    if (st.size > maxBytes) throw refused('E2BIG', `larger than ${maxBytes} bytes`);
    const buf = Buffer.alloc(maxBytes + 1); // (3)
    let total = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, total, buf.length - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw refused('E2BIG', `larger than ${maxBytes} bytes`);
    }
    return buf.subarray(0, total);
  } finally {
    await fh.close();
  }
}
