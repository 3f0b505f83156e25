// Remembers what each delivery target took across restarts of hotreload through --state-file:
// loads it at start, saves after each change of it (in order, one write at a time, the newest
// state only), and never fails a reload because the file could not be written (it warns). Without
// --state-file it does nothing.
import type { Logger } from 'pino';
import type { Clock } from '../lib/clock.js';
import { errorFields, codeOf } from '../lib/errors.js';
import { OLDER_FORMAT, readState, writeState } from './state-file.js';

/** What the pipeline stores: see StoredState. */
export interface StoredDeliveries {
  readonly fingerprint: string | undefined;
  readonly targets: Readonly<Record<string, string | null>> | undefined;
  /** The fingerprints are of the former kind (see StoredState.formerHashes). */
  readonly formerHashes?: true;
}

export interface AppliedStore {
  /** The state stored by the previous run; undefined when none (or unreadable: warned). */
  load(): Promise<StoredDeliveries | undefined>;
  /** Stores `state` in the background. */
  save(state: StoredDeliveries): void;
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
  /** The newest state not written yet: saves in a burst write once. */
  let next: StoredDeliveries | undefined;
  let written = '';
  return {
    async load() {
      try {
        const state = await readState(file);
        if (!state) return undefined;
        // A file of the former format is written again at the first save, even of the same state.
        if (!state.formerHashes) written = JSON.stringify([state.fingerprint, state.targets]);
        const { fingerprint, targets, formerHashes } = state;
        return formerHashes ? { fingerprint, targets, formerHashes } : { fingerprint, targets };
      } catch (err) {
        if (codeOf(err) === OLDER_FORMAT) {
          log.info(
            { file, err: errorFields(err) },
            'state file of an older format; starting as without one',
          );
        } else {
          log.warn(
            { file, err: errorFields(err) },
            'state file unreadable; starting as without one',
          );
        }
        return undefined;
      }
    },
    save(state) {
      const scheduled = next !== undefined;
      next = state;
      if (scheduled) return;
      chain = chain.then(async () => {
        const s = next!;
        next = undefined;
        const text = JSON.stringify([s.fingerprint, s.targets]);
        if (text === written) return;
        try {
          await writeState(file, { ...s, savedAt: clock.now() });
          written = text;
        } catch (err) {
          log.warn(
            { file, err: errorFields(err) },
            'cannot write the state file; a restart of hotreload may reload once more',
          );
        }
      });
    },
    flush: () => chain,
  };
}
