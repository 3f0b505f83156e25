// The value checks every part of the configuration shares: a duration, a status spec, and the
// ConfigError that names the flag, the bad value and what is accepted. It reads no option itself.
import path from 'node:path';
import picomatch from 'picomatch';
import { parseDuration } from '../lib/duration.js';
import { ConfigError } from '../lib/errors.js';
import { parseStatusSpec, type StatusSpec } from './http-spec.js';

const DURATION_HELP = 'expected a duration such as 500ms, 10s or 1m30s';
const STATUS_HELP = 'expected status codes 100-599 such as 200, 200,204, 200-299 or 2xx';

/** Throws the ConfigError for `--flag value`: `accepted` says what would do. */
export function fail(flag: string, value: unknown, accepted: string): never {
  throw new ConfigError(flag, value, accepted);
}

/**
 * A duration of at least `min` ms (default: above zero); with `allowZero`, 0 too (which turns
 * something off).
 */
export function duration(
  flag: string,
  value: string,
  opts: { min?: number; allowZero?: boolean } = {},
): number {
  const ms = parseDuration(value);
  if (ms === undefined) fail(flag, value, DURATION_HELP);
  if (ms === 0 && opts.allowZero) return 0;
  if (ms < (opts.min ?? 1)) {
    fail(
      flag,
      value,
      opts.allowZero
        ? `${DURATION_HELP}, or 0 to disable`
        : `must be more than 0; ${DURATION_HELP}`,
    );
  }
  return ms;
}

/** The statuses `value` accepts (`200`, `200,204`, `200-299`, `2xx`). */
export function statusSpec(flag: string, value: string): StatusSpec {
  return parseStatusSpec(value) ?? fail(flag, value, STATUS_HELP);
}

/** A glob of --include / --exclude (matched relative to the watched path). */
export function glob(flag: string, value: string): string {
  const g = value.trim();
  if (g === '') fail(flag, value, 'expected a glob such as *.yaml or conf.d/**');
  if (path.isAbsolute(g)) {
    fail(
      flag,
      value,
      'a glob is matched against the path relative to the watched path: drop the leading /',
    );
  }
  try {
    picomatch.makeRe(g);
  } catch (err) {
    fail(flag, value, `not a glob: ${(err as Error).message}`);
  }
  return g;
}
