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

/** Classifies an existing path; undefined when it does not exist (yet). */
export async function classify(p: string): Promise<WatchTarget | undefined> {
  const st = await stat(p).catch(() => undefined);
  if (!st) return undefined;
  if (!st.isDirectory()) return { path: p, kind: 'file' };
  const data = await lstat(path.join(p, DATA_LINK)).catch(() => undefined);
  return { path: p, kind: data?.isSymbolicLink() ? 'kubelet' : 'dir' };
}
