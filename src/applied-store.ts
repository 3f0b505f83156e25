// Remembers the applied fingerprint across restarts of hotreload through --state-file: loads it
// at start, saves after each delivered change (in order, one write at a time), and never fails
// a reload because the file could not be written (it warns). Without --state-file it does nothing.
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import { errorFields } from './errors.js';
import { readState, writeState } from './state-file.js';

export interface AppliedStore {
  /** The fingerprint stored by the previous run; undefined when none (or unreadable: warned). */
  load(): Promise<string | undefined>;
  /** Stores `fingerprint` in the background. */
  save(fingerprint: string): void;
  /** Resolves when every save so far is on disk (or failed). */
  flush(): Promise<void>;
}

export const noStore: AppliedStore = {
  load: () => Promise.resolve(undefined),
  save: () => {},
  flush: () => Promise.resolve(),
};

export function fileStore(file: string, clock: Clock, log: Logger): AppliedStore {
  let chain: Promise<void> = Promise.resolve();
  return {
    async load() {
      try {
        return (await readState(file))?.fingerprint;
      } catch (err) {
        log.warn({ file, err: errorFields(err) }, 'state file unreadable; starting as without one');
        return undefined;
      }
    },
    save(fingerprint) {
      chain = chain.then(() =>
        writeState(file, { fingerprint, appliedAt: clock.now() }).catch((err: unknown) =>
          log.warn(
            { file, err: errorFields(err) },
            'cannot write the state file; a restart of hotreload may reload once more',
          ),
        ),
      );
    },
    flush: () => chain,
  };
}
