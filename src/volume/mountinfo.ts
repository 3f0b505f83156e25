// Finds watched paths that Kubernetes will never update: files mounted with subPath
// (kubernetes#50345). Reads /proc/self/mountinfo (proc(5)); it only reports, it never fails.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface Mount {
  /** Where it is mounted in this container. */
  readonly mountPoint: string;
  /** The path inside the source filesystem that is mounted there. */
  readonly root: string;
}

/** Parses mountinfo lines; octal escapes (\040 for a space) are decoded. */
export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 5) continue;
    mounts.push({ root: unescape(fields[3]!), mountPoint: unescape(fields[4]!) });
  }
  return mounts;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * The watched paths that are, or contain, a subPath mount: a mount whose source root lies in the
 * kubelet's volume-subpaths directory. Such a file is a bind mount of one generation's file and
 * keeps its old content forever.
 */
export function subPathMounts(
  mounts: readonly Mount[],
  watched: readonly string[],
): { watched: string; mountPoint: string }[] {
  const found: { watched: string; mountPoint: string }[] = [];
  for (const m of mounts) {
    if (!m.root.includes('/volume-subpaths/')) continue;
    for (const w of watched) {
      if (m.mountPoint === w || m.mountPoint.startsWith(w.endsWith(path.sep) ? w : w + path.sep)) {
        found.push({ watched: w, mountPoint: m.mountPoint });
      }
    }
  }
  return found;
}

/** Reads this process's mountinfo; an empty list when it cannot (not Linux, no /proc). */
export async function readMounts(file = '/proc/self/mountinfo'): Promise<Mount[]> {
  return parseMountinfo(await readFile(file, 'utf8').catch(() => ''));
}
