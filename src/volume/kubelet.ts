// What a --watch PATH turned out to be. Detection happens when the path exists; a missing path
// is waited for by the watcher and classified once it appears.
import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';

export type TargetKind = 'kubelet' | 'dir' | 'file';

export interface WatchTarget {
  /** The path as given (absolute after config resolution). */
  readonly path: string;
  readonly kind: TargetKind;
}

/** The marker the kubelet's AtomicWriter keeps in every volume it writes. */
export const DATA_LINK = '..data';

/** Names starting with ".." belong to the kubelet (..data, ..<timestamp>, ..data_tmp), never to content. */
export function isKubeletInternal(name: string): boolean {
  return name.startsWith('..');
}

/** `..data_tmp`, the link the kubelet renames over `..data`. */
const DATA_TMP_LINK = '..data_tmp';
/** A generation directory: `..2006_01_02_15_04_05.` (UTC) and the digits os.MkdirTemp adds. */
const GENERATION_DIR = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$/;

/**
 * True for a name the kubelet's AtomicWriter creates for itself (`..data`, `..data_tmp`, a
 * generation directory): what is left of a volume when its `..data` link is gone.
 */
export function isKubeletBookkeeping(name: string): boolean {
  return name === DATA_LINK || name === DATA_TMP_LINK || GENERATION_DIR.test(name);
}

/** Classifies an existing path; undefined when it does not exist (yet). */
export async function classify(p: string): Promise<WatchTarget | undefined> {
  const st = await stat(p).catch(() => undefined);
  if (!st) return undefined;
  if (!st.isDirectory()) return { path: p, kind: 'file' };
  const data = await lstat(path.join(p, DATA_LINK)).catch(() => undefined);
  return { path: p, kind: data?.isSymbolicLink() ? 'kubelet' : 'dir' };
}
