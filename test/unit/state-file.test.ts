import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { readState, writeState } from '../../src/state-file.js';
import { cleanupTempDirs, makeTempDir } from '../support/atomic-writer.js';

after(cleanupTempDirs);

describe('state file', () => {
  it('is absent until written, then reads back what was written', async () => {
    const file = path.join(await makeTempDir('state'), 'hotreload.json');
    assert.equal(await readState(file), undefined);
    await writeState(file, { fingerprint: 'abc', appliedAt: 123 });
    assert.deepEqual(await readState(file), { fingerprint: 'abc', appliedAt: 123 });
    await writeState(file, { fingerprint: 'def', appliedAt: 456 });
    assert.deepEqual(await readState(file), { fingerprint: 'def', appliedAt: 456 });
  });

  it('leaves no temporary file behind', async () => {
    const dir = await makeTempDir('state');
    await writeState(path.join(dir, 's.json'), { fingerprint: 'x', appliedAt: 1 });
    assert.deepEqual(await readdir(dir), ['s.json']);
  });

  it('rejects a file that is not a state file', async () => {
    const file = path.join(await makeTempDir('state'), 's.json');
    await writeFile(file, '{"fingerprint": 3}');
    await assert.rejects(readState(file), /not a hotreload state file/);
    await writeFile(file, 'garbage');
    await assert.rejects(readState(file));
  });

  it('fails to write into a missing directory without leaving anything', async () => {
    await assert.rejects(writeState('/nonexistent-dir/s.json', { fingerprint: 'x', appliedAt: 1 }));
  });
});
