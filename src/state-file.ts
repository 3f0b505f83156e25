// --state-file: keeps the fingerprint of the content the application last took across restarts
// of hotreload (put it on an emptyDir, which outlives container restarts). Written atomically
// (temporary file, fsync, rename), so a crash never leaves half a state. It does not decide what
// a stored fingerprint means; the pipeline does.
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

export interface StoredState {
  readonly fingerprint: string;
  /** Unix milliseconds of the reload that delivered it. */
  readonly appliedAt: number;
}

const FORMAT = 1;

/** The stored state; undefined when there is none yet. Throws when the file is unreadable or corrupt. */
export async function readState(file: string): Promise<StoredState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const data = JSON.parse(text) as Partial<StoredState> & { format?: unknown };
  if (
    data.format !== FORMAT ||
    typeof data.fingerprint !== 'string' ||
    typeof data.appliedAt !== 'number'
  ) {
    throw new Error(`not a hotreload state file (format ${String(data.format)})`);
  }
  return { fingerprint: data.fingerprint, appliedAt: data.appliedAt };
}

/** Replaces the stored state atomically. */
export async function writeState(file: string, state: StoredState): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const handle = await open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(JSON.stringify({ format: FORMAT, ...state }) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
