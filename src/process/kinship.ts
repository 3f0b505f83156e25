// Tells hotreload's own processes apart from the application's by walking the ppid chain; it
// does not read /proc itself.
import type { ProcInfo } from './table.js';

/**
 * - 'self': hotreload's own process;
 * - 'own': a descendant of hotreload that it does not supervise (an exec action's command, ...);
 * - 'supervised': hotreload's supervised child, or a descendant of it;
 * - 'foreign': everything else, PID 1 included (unless hotreload is PID 1).
 */
export type Kinship = 'self' | 'own' | 'supervised' | 'foreign';

export interface Family {
  readonly selfPid: number;
  readonly supervised: ReadonlySet<number>;
}

/** Classifies `p` within the table `byPid`. A ppid cycle (a torn read) ends the walk as foreign. */
export function kinship(p: ProcInfo, byPid: ReadonlyMap<number, ProcInfo>, f: Family): Kinship {
  if (p.pid === f.selfPid) return 'self';
  const seen = new Set<number>();
  let underSupervised = false;
  for (let cur: ProcInfo | undefined = p; cur && !seen.has(cur.pid); cur = byPid.get(cur.ppid)) {
    if (cur.pid === f.selfPid) return underSupervised ? 'supervised' : 'own';
    if (f.supervised.has(cur.pid)) underSupervised = true;
    seen.add(cur.pid);
  }
  return 'foreign';
}
