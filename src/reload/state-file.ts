// --state-file: keeps what each delivery target last took across restarts of hotreload (put it on
// an emptyDir, which outlives container restarts). Written atomically (temporary file, fsync,
// rename), so a crash never leaves half a state. It does not decide what a stored state means;
// the pipeline does.
import { writeFileAtomically } from '../lib/atomic-file.js';
import { RecoverableError, type ErrorCode } from '../lib/errors.js';
import { readSmallFile } from '../lib/small-file.js';

export interface StoredState {
  /** The content every target took, when they all hold the same. */
  readonly fingerprint: string | undefined;
  /**
   * Per target ("http POST http://127.0.0.1:8080/-/reload"): the content it took, or null when
   * its last attempt failed and what it holds is unknown.
   */
  readonly targets: Readonly<Record<string, string | null>> | undefined;
  /** Unix milliseconds of the write. */
  readonly savedAt: number;
  /**
   * Read from a file of format 3: its fingerprints hash a plain directory's files in path order
   * (Snapshot.formerHash), a volume's as now.
   */
  readonly formerHashes?: true;
}

/**
 * 4: a plain directory's part is hashed as a set of files (fingerprint.ts, setHash). 3 holds the
 * same fingerprints but for plain directories, whose files were hashed in path order.
 */
const FORMAT = 4;
const FORMER_FORMAT = 3;
/** The code readState throws for a state file of an older format. */
export const OLDER_FORMAT = 'E_STATE_FORMAT' satisfies ErrorCode;
/** A state file is a few hundred bytes; anything much larger is not one. */
const MAX_BYTES = 64 * 1024;
/** A state file on an emptyDir answers at once; one that does not is treated as unreadable. */
const READ_TIMEOUT_MS = 5000;

/** The stored state; undefined when there is none yet. Throws when the file is unreadable or corrupt. */
export async function readState(file: string): Promise<StoredState | undefined> {
  let text: string;
  try {
    text = (
      await readSmallFile(file, { maxBytes: MAX_BYTES, timeoutMs: READ_TIMEOUT_MS })
    ).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const data = JSON.parse(text) as Record<string, unknown>;
  // Formats 1 and 2 (hotreload 0.1) hold fingerprints computed another way (one hash over every
  // file; now one per watch path, so an unchanged volume costs nothing): they match nothing now.
  if (data.format === 1 || data.format === 2) {
    throw new RecoverableError(
      OLDER_FORMAT,
      `${file} was written by an older hotreload (format ${data.format}), whose fingerprints are computed differently`,
      { hint: 'it is replaced at the next reload; until then, start-up decides as without one' },
    );
  }
  if (
    (data.format !== FORMAT && data.format !== FORMER_FORMAT) ||
    (data.fingerprint !== undefined && typeof data.fingerprint !== 'string') ||
    typeof data.savedAt !== 'number' ||
    !isTargets(data.targets)
  ) {
    throw new Error(`not a hotreload state file (format ${String(data.format)})`);
  }
  const state = { fingerprint: data.fingerprint, targets: data.targets, savedAt: data.savedAt };
  return data.format === FORMER_FORMAT ? { ...state, formerHashes: true } : state;
}

function isTargets(value: unknown): value is Record<string, string | null> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((v) => v === null || typeof v === 'string');
}

/** Replaces the stored state atomically. */
export async function writeState(file: string, state: StoredState): Promise<void> {
  const { fingerprint, targets, savedAt } = state;
  const text = JSON.stringify({ format: FORMAT, fingerprint, targets, savedAt });
  await writeFileAtomically(file, text + '\n');
}
