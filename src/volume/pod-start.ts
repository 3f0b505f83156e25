// Tells, at start, whether the watched content was written during the pod's life: after the
// kubelet created the volume (its first generation is written at once, before any container
// starts), or, for a plain directory, after hotreload started. Targets whose process cannot be
// seen (an HTTP endpoint, a command) are told at start when it was: the application may have
// started before that write, and nothing says whether an earlier hotreload told it (--state-file
// does). It decides nothing else and changes nothing.
import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../lib/clock.js';
import type { Snapshot } from './fingerprint.js';
import { readProcess, startClock } from '../process/table.js';
import { DATA_LINK } from './kubelet.js';

export interface PodStartDeps {
  readonly procRoot: string;
  readonly selfPid: number;
  /** When hotreload started, ms since the epoch. */
  readonly selfStartedAt: number;
  readonly clock: Clock;
}

/**
 * The kubelet writes a volume's first generation right after it creates the volume directory;
 * a generation committed more than this after the directory's birth is an update.
 */
export const FIRST_WRITE_SLACK_MS = 1000;

export async function changedDuringPod(snapshot: Snapshot, deps: PodStartDeps): Promise<boolean> {
  for (const [watchPath, writtenAt] of snapshot.written) {
    if (writtenAt > (await podSince(watchPath, deps))) return true;
  }
  return false;
}

/**
 * The time after which content at `watchPath` counts as changed during the pod's life:
 * 1. in a kubelet volume (the path, or the directory of a watched key file), its directory's
 *    birth time plus FIRST_WRITE_SLACK_MS;
 * 2. a volume on a filesystem that keeps no birth time: PID 1's start (the pod's pause process
 *    with shareProcessNamespace, else the container's first process, hotreload or its init);
 * 3. a plain directory or file: hotreload's own start.
 */
async function podSince(watchPath: string, deps: PodStartDeps): Promise<number> {
  const root = await volumeRoot(watchPath);
  if (!root) return deps.selfStartedAt; // 3.
  const birth = (await stat(root).catch(() => undefined))?.birthtimeMs ?? 0;
  if (birth > 0) return birth + FIRST_WRITE_SLACK_MS; // 1.
  return Math.min(deps.selfStartedAt, await pid1Start(deps)); // 2.
}

/** The kubelet volume directory `p` is, or holds `p` as a key; undefined for anything else. */
async function volumeRoot(p: string): Promise<string | undefined> {
  for (const dir of [p, path.dirname(p)]) {
    const link = await lstat(path.join(dir, DATA_LINK)).catch(() => undefined);
    if (link?.isSymbolicLink()) return dir;
  }
  return undefined;
}

async function pid1Start(deps: PodStartDeps): Promise<number> {
  if (deps.selfPid === 1) return deps.selfStartedAt;
  try {
    const pid1 = await readProcess(deps.procRoot, 1);
    if (!pid1) return deps.selfStartedAt;
    return (await startClock(deps.procRoot, () => deps.clock.now()))(pid1);
  } catch {
    return deps.selfStartedAt;
  }
}
