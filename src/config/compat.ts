// prometheus-config-reloader's flags with their meanings, as hotreload's own options, applied
// before the options are resolved: --retry-interval, --runtimeinfo-url, --reload-method and
// --config-file (watched; rendered by actions/render.ts with --config-envsubst-file) here
// (--listen-address, --reload-url, --reload-timeout, --watched-dir, --process-executable-name
// and --log-format are aliases or options of their own in options.ts); --watch-interval is
// --resync-interval, but 0 renders once and exits (config.ts: `once`), as it does there. A combination whose meaning
// would be ambiguous is a usage error naming both flags.
import type { RawOptions } from './options.js';
import { duration, fail } from './values.js';

/** What Prometheus says in /api/v1/status/runtimeinfo once it has taken a configuration. */
const RUNTIMEINFO_CONDITIONS = [
  '.data.reloadConfigSuccess == true',
  '.data.lastConfigTime changed',
];

export function fromPrometheusConfigReloader(raw: RawOptions): RawOptions {
  let out: RawOptions = { ...raw };
  const interval = raw['retry-interval'];
  if (interval !== undefined) {
    if (raw['retry-initial'] !== undefined || raw['retry-max'] !== undefined) {
      fail('retry-interval', interval, 'give it, or --retry-initial and --retry-max, not both');
    }
    duration('retry-interval', interval); // named by its own flag when it is not a duration
    out = { ...out, 'retry-initial': interval, 'retry-max': interval };
  }
  const watchInterval = raw['watch-interval'];
  if (watchInterval !== undefined) {
    if (raw['resync-interval'] !== undefined) {
      fail('watch-interval', watchInterval, 'give it, or --resync-interval, not both');
    }
    const ms = duration('watch-interval', watchInterval, { allowZero: true, min: 100 });
    if (ms === 0 && raw['config-envsubst-file'] === undefined) {
      fail(
        'watch-interval',
        watchInterval,
        '0 renders --config-file into --config-envsubst-file once and exits: give both, or a duration such as 3m to keep watching',
      );
    }
    if (ms > 0) out = { ...out, 'resync-interval': watchInterval };
  }
  const runtimeinfo = raw['runtimeinfo-url'];
  if (runtimeinfo !== undefined) {
    if ((raw['verify-url'] ?? []).length > 0) {
      fail('runtimeinfo-url', runtimeinfo, 'give it, or --verify-url, not both');
    }
    out = {
      ...out,
      'verify-url': [runtimeinfo],
      'verify-json': [...RUNTIMEINFO_CONDITIONS, ...(raw['verify-json'] ?? [])],
    };
  }
  const method = raw['reload-method'];
  if (method !== undefined && method !== 'http') {
    if (method !== 'signal') fail('reload-method', method, 'expected http or signal');
    if ((raw['http-url'] ?? []).length > 0) {
      fail(
        'reload-method',
        method,
        'signal sends SIGHUP instead of calling --reload-url / --http-url: drop one',
      );
    }
    const selected =
      raw['process-name'] !== undefined ||
      raw['process-match'] !== undefined ||
      raw['pid-file'] !== undefined;
    out = {
      ...out,
      signal: raw.signal ?? 'HUP',
      ...(!selected && { 'process-name': 'prometheus' }),
    };
  }
  const input = raw['config-file'];
  const output = raw['config-envsubst-file'];
  if (output !== undefined && input === undefined) {
    fail('config-envsubst-file', output, 'it is rendered from --config-file; add --config-file');
  }
  if (input !== undefined) {
    if (input.trim() === '') fail('config-file', input, 'expected the path of a file');
    if (output?.trim() === '') fail('config-envsubst-file', output, 'expected the path of a file');
    out = { ...out, watch: [...(raw.watch ?? []), input] };
  }
  return out;
}
