// End to end under the image's runtime conditions, without a Docker engine: the image's user
// (UID 65532, so no capabilities), a read-only root filesystem (the root of a mount namespace is a
// read-only bind of /, as `readOnlyRootFilesystem: true` gives a container), `hotreload` found on
// the PATH and executed as the image's ENTRYPOINT executes it (the bundle's first line picks node
// and its flags), and --state-file on a writable mount of its own (an emptyDir).
import assert from 'node:assert/strict';
import { chown, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import { FAST, TIMEOUT, hotreload, killProcesses, reloaded, volume } from '../harness/e2e.js';
import { startTarget } from '../harness/http-target.js';
import { MAIN } from '../harness/hotreload-process.js';
import { request } from '../harness/net.js';
import { requireProgram } from '../harness/programs.js';
import { requireRoot } from '../harness/reliability.js';
import { cliRunnableBy } from '../harness/run-as.js';
import { waitFor } from '../harness/wait.js';

afterEach(killProcesses);
after(cleanupTempDirs);

/** The image's USER. */
const IMAGE_UID = 65532;

/**
 * Runs `node MAIN args` (its arguments) the image's way: in a new mount namespace whose root is a
 * read-only view of /, with `state` bound writable, as IMAGE_UID, executing `hotreload` from
 * `bin` on the PATH instead of `node MAIN`.
 */
const IN_IMAGE = `
set -e
root=$1 state=$2 bin=$3 nodedir=$4
shift 6
mount --rbind / "$root"
mount -o remount,bind,ro "$root"
mount --bind "$state" "$root$state"
exec chroot --userspec=${IMAGE_UID}:${IMAGE_UID} "$root" /usr/bin/env -i PATH="$bin:$nodedir" hotreload "$@"
`;

describe('the image: UID 65532, read-only root filesystem, hotreload on the PATH', () => {
  const skip =
    requireRoot() ||
    requireProgram('/usr/bin/unshare', process.env, 'apt-get install util-linux') ||
    requireProgram('/usr/sbin/chroot', process.env, 'apt-get install coreutils');

  it(
    'starts, serves its endpoints, reloads once on a kubelet update and keeps its state on the writable mount only',
    { ...TIMEOUT, skip },
    async () => {
      const { dir, writer } = await volume('image', { 'app.conf': 'v1' });
      const taken: string[] = [];
      const app = await startTarget(async () => {
        taken.push(await readFile(path.join(dir, 'app.conf'), 'utf8'));
        return {};
      });
      try {
        const cli = await cliRunnableBy(IMAGE_UID, IMAGE_UID);
        const bin = await makeTempDir('image-bin');
        await symlink(cli.main ?? MAIN, path.join(bin, 'hotreload'));
        const root = await makeTempDir('image-root');
        const state = await makeTempDir('image-state');
        await chown(state, IMAGE_UID, IMAGE_UID);
        const nodedir = path.dirname(cli.node ?? process.execPath);
        const stateFile = path.join(state, 'state.json');
        const hr = hotreload(
          ['--watch', dir, '--http-url', `${app.url}/-/reload`, '--state-file', stateFile, ...FAST],
          {},
          {
            wrap: [
              '/usr/bin/unshare',
              '-m',
              '--propagation',
              'private',
              'sh',
              '-c',
              IN_IMAGE,
              'sh',
              root,
              state,
              bin,
              nodedir,
            ],
          },
        );
        const base = await hr.ready(20_000);
        assert.equal((await request(`${base}/healthz`)).status, 200);

        await writer.write({ 'app.conf': 'v2' });
        await hr.waitForLog(reloaded, 10_000);
        assert.deepEqual(taken, ['v2']);
        await waitFor(
          async () => (await readFile(stateFile, 'utf8').catch(() => '')).includes('fingerprint'),
          5000,
          'the state file on the writable mount',
        );
        const stateText = await readFile(stateFile, 'utf8');
        assert.match(stateText, /"fingerprint":"[0-9a-f]{64}"/);

        // The conditions really held: hotreload's process runs as the image's user on a root
        // mounted read-only, and nothing it did complained.
        const pid = hr.proc.pid!;
        const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
        assert.deepEqual(uids?.slice(1), [String(IMAGE_UID), String(IMAGE_UID)]);
        const rootMount = (await readFile(`/proc/${pid}/mountinfo`, 'utf8'))
          .split('\n')
          .map((line) => line.split(' '))
          .find((fields) => fields[4] === '/');
        assert.match(rootMount?.[5] ?? '', /^ro\b/, `the root mount: ${rootMount?.join(' ')}`);
        assert.match(await readFile(`/proc/${pid}/cmdline`, 'utf8'), /--max-semi-space-size/);
        const complaints = hr.logs.filter((r) => ['warn', 'error', 'fatal'].includes(r.level));
        assert.deepEqual(complaints, []);
        assert.deepEqual(await hr.stop(), { code: 0, signal: null });
      } finally {
        await app.close();
      }
    },
  );
});
