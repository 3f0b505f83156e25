// How the fingerprint reads: file contents hash exactly as sha256sum would, whatever their size
// relative to the read buffer, on a kubelet volume (read synchronously) and in a plain directory
// (read through the thread pool).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { takeSnapshot } from '../../../src/volume/fingerprint.js';
import { AtomicWriter, cleanupTempDirs, makeTempDir } from '../../harness/atomic-writer.js';

after(cleanupTempDirs);

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Sizes around the read buffer's edges: empty, 4 KiB, 64 KiB, and several 64 KiB reads. */
const CONTENTS = Object.fromEntries(
  [0, 1, 4095, 4096, 4097, 65535, 65536, 65537, 300_000].map((n) => [
    `size-${n}`,
    Buffer.alloc(n, n % 251),
  ]),
);

describe('file contents in a fingerprint', () => {
  it('hash like sha256sum at every size, in a kubelet volume', async () => {
    const dir = await makeTempDir('fp-read');
    await new AtomicWriter(dir).write(
      Object.fromEntries(Object.entries(CONTENTS).map(([k, content]) => [k, { content }])),
    );
    const snap = await takeSnapshot([dir]);
    for (const [key, content] of Object.entries(CONTENTS)) {
      assert.equal(snap.files.get(path.join(dir, key)), sha256(content), key);
    }
  });

  it('hash like sha256sum at every size, in a plain directory', async () => {
    const dir = await makeTempDir('fp-read');
    for (const [key, content] of Object.entries(CONTENTS)) {
      await writeFile(path.join(dir, key), content);
    }
    const snap = await takeSnapshot([dir]);
    for (const [key, content] of Object.entries(CONTENTS)) {
      assert.equal(snap.files.get(path.join(dir, key)), sha256(content), key);
    }
  });
});
