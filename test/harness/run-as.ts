// Lets a root test run the built CLI as another user. That user must be able to execute node and
// read dist/ and node_modules/; a checkout under a home directory (0700) is not. Then both are
// copied to a temp directory readable by all, once per test file.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { copyFile, cp } from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir } from './atomic-writer.js';
import { MAIN, type RunAs } from './hotreload-process.js';

/** uid/gid of the users the tests impersonate; nothing on the machine needs to own them. */
export const NOBODY = 65534;
export const OTHER = 65533;

/** True when this test process may switch users (spawn with uid/gid). */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

const copies = new Map<string, RunAs>();

/**
 * The node binary and CLI to give startHotreload to run as `uid`: the ones under test when that
 * user can run them, else copies (dist/, package.json and node_modules/ next to MAIN, and node)
 * in a temp directory that makeTempDir's cleanup removes.
 */
export async function cliRunnableBy(uid: number, gid: number): Promise<RunAs> {
  const key = `${uid}:${gid}`;
  const known = copies.get(key);
  if (known) return known;
  let as: RunAs = { uid, gid };
  if (!canRun(as)) {
    const dir = await makeTempDir('cli-copy');
    // MAIN may be a link on a PATH, as `hotreload` is in the image: copy what it points to.
    const main = realpathSync(MAIN);
    const root = path.dirname(path.dirname(main));
    const dist = path.basename(path.dirname(main));
    await cp(path.dirname(main), path.join(dir, dist), { recursive: true });
    // The production copy (.ci/run) has no node_modules: its bundle needs none.
    if (existsSync(path.join(root, 'node_modules')))
      await cp(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), {
        recursive: true,
      });
    await copyFile(path.join(root, 'package.json'), path.join(dir, 'package.json'));
    let node = process.execPath;
    if (spawnSync(node, ['-e', ''], { uid, gid }).status !== 0) {
      node = path.join(dir, 'node');
      await copyFile(process.execPath, node);
    }
    chmodReadableByAll(dir);
    as = { uid, gid, node, main: path.join(dir, dist, path.basename(main)) };
    if (!canRun(as)) throw new Error(`UID ${uid} cannot run the copy of hotreload in ${dir}`);
  }
  copies.set(key, as);
  return as;
}

function canRun(as: RunAs): boolean {
  const r = spawnSync(as.node ?? process.execPath, [as.main ?? MAIN, '--version'], {
    uid: as.uid,
    gid: as.gid,
    timeout: 10_000,
  });
  return r.status === 0;
}

function chmodReadableByAll(dir: string): void {
  const r = spawnSync('chmod', ['-R', 'a+rX', dir]);
  if (r.status !== 0) throw new Error(`chmod -R a+rX ${dir} failed: ${String(r.stderr)}`);
}
