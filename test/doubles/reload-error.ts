// Assertions about the ReloadError an action or a check rejects with.
import assert from 'node:assert/strict';
import { ReloadError } from '../../src/lib/errors.js';

/** The ReloadError `run` rejected with; fails the test when it resolved or threw anything else. */
export async function failure(run: Promise<unknown>): Promise<ReloadError> {
  try {
    await run;
  } catch (err) {
    assert.ok(err instanceof ReloadError, `expected a ReloadError, got ${String(err)}`);
    return err;
  }
  return assert.fail('expected the run to fail');
}
