import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { OLDER_FORMAT, readState, writeState } from '../../../src/reload/state-file.js';
import { cleanupTempDirs, makeTempDir } from '../../harness/atomic-writer.js';

after(cleanupTempDirs);

describe('state file', () => {
  it('is absent until written, then reads back what was written', async () => {
    const file = path.join(await makeTempDir('state'), 'hotreload.json');
    assert.equal(await readState(file), undefined);
    const first = { fingerprint: 'abc', targets: { 'http POST http://a/': 'abc' }, savedAt: 123 };
    await writeState(file, first);
    assert.deepEqual(await readState(file), first);
    const second = {
      fingerprint: undefined,
      targets: { 'http POST http://a/': null },
      savedAt: 456,
    };
    await writeState(file, second);
    assert.deepEqual(await readState(file), second);
  });

  it('refuses a file of format 1 or 2 (fingerprints computed another way) with its own code', async () => {
    const file = path.join(await makeTempDir('state'), 's.json');
    await writeFile(file, '{"format":1,"fingerprint":"abc","appliedAt":123}\n');
    await assert.rejects(readState(file), { code: OLDER_FORMAT, message: /format 1/ });
    await writeFile(file, '{"format":2,"fingerprint":"abc","savedAt":1,"targets":{}}\n');
    await assert.rejects(readState(file), { code: OLDER_FORMAT, message: /format 2/ });
  });

  it('reads a file of format 3 as holding the former fingerprints, and writes format 4', async () => {
    const file = path.join(await makeTempDir('state'), 's.json');
    const state = { fingerprint: 'abc', targets: { 'http POST http://a/': 'abc' }, savedAt: 1 };
    await writeFile(file, JSON.stringify({ format: 3, ...state }));
    assert.deepEqual(await readState(file), { ...state, formerHashes: true });
    await writeState(file, { ...state, formerHashes: true });
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { format: 4, ...state });
    assert.deepEqual(await readState(file), state);
  });

  it('leaves no temporary file behind', async () => {
    const dir = await makeTempDir('state');
    await writeState(path.join(dir, 's.json'), {
      fingerprint: 'x',
      targets: {},
      savedAt: 1,
    });
    assert.deepEqual(await readdir(dir), ['s.json']);
  });

  it('rejects a file that is not a state file', async () => {
    const file = path.join(await makeTempDir('state'), 's.json');
    await writeFile(file, '{"fingerprint": 3}');
    await assert.rejects(readState(file), /not a hotreload state file/);
    await writeFile(file, '{"format":3,"savedAt":1,"targets":{"a":3}}');
    await assert.rejects(readState(file), /not a hotreload state file/);
    // Read within a bound: a state file is small, and a huge one is refused before it is parsed.
    await writeFile(
      file,
      JSON.stringify({ format: 3, savedAt: 1, targets: {}, pad: 'x'.repeat(70_000) }),
    );
    await assert.rejects(readState(file), /larger than 65536 bytes/);
    await writeFile(file, 'garbage');
    await assert.rejects(readState(file));
  });

  it('fails to write into a missing directory without leaving anything', async () => {
    await assert.rejects(
      writeState('/nonexistent-dir/s.json', { fingerprint: 'x', targets: {}, savedAt: 1 }),
    );
  });
});
