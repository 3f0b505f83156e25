// The bad-input cases: every flag of the built CLI given a bad value, on the command line or
// through HOTRELOAD_<FLAG>, plus missing values, unknown flags, typos and flags that need another
// one. test/reliability/bad-input.test.ts runs them as flags; bad-rules.test.ts runs the rule
// settings among them again as keys of a rules file (--config).
import { envName } from '../../src/config/env.js';
import { OPTIONS, type RawOptions } from '../../src/config/options.js';

export type Flag = keyof RawOptions;

export interface Case {
  /** What is wrong, as the test's name says it. */
  readonly what: string;
  /** The flag the message must name (as --flag). */
  readonly flag: Flag;
  /** Text the message must show: the bad value as the message quotes it. */
  readonly shows: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Text the message must never show (a password). */
  readonly hides?: string;
}

/** A case about something that is not a flag of hotreload at all. */
export interface StrayCase {
  readonly what: string;
  /** Text the message must show: the flag or argument as the user typed it. */
  readonly shows: readonly string[];
  readonly args: readonly string[];
}

/** A path nothing creates, and a port nothing listens on: a case that starts does no harm. */
export const WATCH = '/nonexistent/hotreload-bad-input';
export const URL = 'http://127.0.0.1:9/-/reload';
/** A valid command line; each case adds to it (a single-valued flag given twice takes the last). */
export const BASE = ['--listen', '', '--watch', WATCH, '--http-url', URL];
export const TARGET = ['--process-name', 'hotreload-bad-input-app'];
export const HTTPS = 'https://127.0.0.1:9/-/reload';

export const q = (value: string) => JSON.stringify(value);

/** `--flag value` after a valid command line (plus `also`); the message quotes the value. */
export function flagCase(
  flag: Flag,
  value: string,
  what: string,
  also: readonly string[] = [],
  override: Partial<Case> = {},
): Case {
  return { what, flag, shows: q(value), args: [...BASE, ...also, `--${flag}`, value], ...override };
}

/** `args` without `--flag value`. */
export function without(args: readonly string[], flag: Flag): string[] {
  const i = args.indexOf(`--${flag}`);
  return i < 0 ? [...args] : [...args.slice(0, i), ...args.slice(i + 2)];
}

/**
 * HOTRELOAD_<FLAG>=value with a valid command line (plus `also`) that does not set the flag, since
 * a flag wins over the environment. The message quotes the value as hotreload read it (`shows`).
 */
export function envCase(
  flag: Flag,
  value: string,
  what: string,
  opts: { also?: readonly string[]; shows?: string } = {},
): Case {
  return {
    what: `${envName(flag)}: ${what}`,
    flag,
    shows: opts.shows ?? q(value),
    args: without([...BASE, ...(opts.also ?? [])], flag),
    env: { [envName(flag)]: value },
  };
}

/** Every boolean flag: a value that is neither true nor false, on the command line and in the environment. */
export const BOOLEAN_CASES: Case[] = (Object.keys(OPTIONS) as Flag[])
  .filter((flag) => OPTIONS[flag].type === 'boolean')
  .flatMap((flag) => [
    {
      what: `--${flag}=maybe is neither true nor false`,
      flag,
      shows: q('maybe'),
      args: [...BASE, `--${flag}=maybe`],
    },
    envCase(flag, 'sometimes', 'neither true nor false'),
  ]);

export const VALUE_CASES: Case[] = [
  flagCase('config', '', 'an empty path'),
  flagCase('config', '/nonexistent/hotreload-rules.yaml', 'a rules file that does not exist', [], {
    args: ['--listen', '', '--config', '/nonexistent/hotreload-rules.yaml'],
  }),
  flagCase('config', '/', 'a directory', [], { args: ['--listen', '', '--config', '/'] }),
  flagCase('watch', '', 'an empty path'),
  envCase('watch', ' , ', 'only separators', { shows: q('') }),
  flagCase('resync-interval', '50ms', 'shorter than 100ms'),
  flagCase('resync-interval', '1', 'a bare number'),
  flagCase('debounce', 'soon', 'not a duration'),
  envCase('debounce', 'soon', 'not a duration'),
  flagCase('max-wait', '0', 'zero'),
  flagCase('max-wait', '1s', 'shorter than --debounce', ['--debounce', '2s']),
  flagCase('http-url', 'ftp://127.0.0.1/reload', 'not http(s)'),
  flagCase('http-url', 'localhost:8080', 'no scheme'),
  {
    ...flagCase('http-url', 'http://user:s3cret@127.0.0.1:99999/', 'a bad port, with a password'),
    shows: q('http://xxxxx@127.0.0.1:99999/'),
    hides: 's3cret',
  },
  envCase('http-url', 'ftp://127.0.0.1/reload', 'not http(s)'),
  // Found by a hostile review: credentials showed for URL forms the masking missed.
  ...[
    ['http://user:pa/ss@127.0.0.1:99999/', 'a password holding /', 'pa/ss'],
    ['http://user:p:ss@127.0.0.1:99999/', 'a password holding :', 'p:ss'],
    ['http://user:p@ss@127.0.0.1:99999/', 'a password holding @', 'p@ss'],
    ['http://s3cr3tT0ken@127.0.0.1:99999/', 'a lone token', 's3cr3tT0ken'],
  ].map(([url, what, secret]) => ({
    ...flagCase('http-url', url!, `${what}, and a bad port`),
    shows: q('http://xxxxx@127.0.0.1:99999/'),
    hides: secret,
  })),
  {
    ...envCase(
      'http-url',
      'http://user:se,cret@127.0.0.1/',
      'a comma inside a password splits the list',
    ),
    shows: 'xxxxx',
    hides: 'cret',
  },
  flagCase('http-method', 'PO ST', 'a space in the method'),
  flagCase('http-header', 'X-Reload', "no ':'"),
  {
    // The value may be a secret: the message names the header and what is wrong, not the value.
    ...flagCase('http-header', 'X-Reload: 1\r\nX-Injected: 1', 'a second header smuggled in'),
    shows: q('X-Reload: (value not shown)'),
    hides: 'X-Injected',
  },
  {
    ...flagCase('http-header', 'Authorization: Bearer t€ken', 'a value outside Latin-1'),
    shows: q('Authorization: (value not shown)'),
    hides: 't€ken',
  },
  flagCase('http-header', 'Transfer-Encoding: chunked', 'a header the HTTP client manages', [], {
    shows: q('Transfer-Encoding: (value not shown)'),
  }),
  flagCase('http-header', 'Expect: 100-continue', 'Expect, which the HTTP client refuses', [], {
    shows: q('Expect: (value not shown)'),
  }),
  flagCase(
    'http-header',
    'Connection: keep-alive, "x"',
    'a Connection value that is not tokens',
    [],
    {
      shows: q('Connection: (value not shown)'),
    },
  ),
  flagCase('http-header-file', 'Keep-Alive=/var/run/x', 'a header the HTTP client manages'),
  flagCase('http-method', 'CONNECT', 'a method that opens a tunnel'),
  flagCase('metrics-path', '/healthz', "one of hotreload's own endpoints"),
  envCase('http-header', 'X-Reload', "no ':'"),
  flagCase('http-header-file', 'Authorization', "no '='"),
  flagCase('http-header-file', '=/var/run/secrets/token', 'no header name'),
  flagCase('http-expect-status', '600', 'out of range'),
  flagCase('http-expect-status', '299-200', 'a reversed range'),
  flagCase('http-timeout', '0', 'zero'),
  flagCase('retry-initial', '0', 'zero'),
  flagCase('retry-initial', '100', 'a bare number'),
  flagCase('retry-max', '500ms', 'shorter than --retry-initial', ['--retry-initial', '1s']),
  flagCase('retries', '-1', 'negative'),
  envCase('retries', 'many', 'not a number'),
  flagCase('listen', ':99999', 'a port above 65535'),
  flagCase('listen', '127.0.0.1', 'no port'),
  envCase('listen', 'localhost', 'no port'),
  flagCase('metrics-path', 'metrics', 'no leading /'),
  flagCase('log-level', 'loud', 'not a level'),
  flagCase('log-format', 'text', 'not a format'),
  flagCase('include', '', 'an empty glob'),
  flagCase('reload-method', 'udp', 'neither http nor signal'),
  flagCase(
    'config-envsubst-file',
    '/etc/prometheus/config_out/prometheus.env.yaml',
    'without --config-file',
  ),
  flagCase('config-file', ' ', 'an empty path', [], { shows: q(' ') }),
  flagCase('config-envsubst-file', '', 'an empty path', [
    '--config-file',
    '/etc/prometheus/prometheus.yaml.gz',
  ]),
  flagCase('reload-method', 'signal', 'signal with a --reload-url to call'),
  flagCase('watch-interval', 'often', 'not a duration'),
  flagCase('watch-interval', '0', 'run once, with nothing to render (no --config-envsubst-file)'),
  flagCase('watch-interval', '3m', 'with --resync-interval', ['--resync-interval', '1m']),
  flagCase('statefulset-ordinal-from-envvar', 'POD-NAME', 'not a variable name', [
    '--config-file',
    '/etc/prometheus/prometheus.yaml.gz',
    '--config-envsubst-file',
    '/etc/prometheus/config_out/prometheus.env.yaml',
  ]),
  flagCase('statefulset-ordinal-from-envvar', 'POD_NAME', 'without rendering to apply it to'),
  flagCase('retry-interval', '5s', 'with --retry-initial', ['--retry-initial', '1s']),
  flagCase('retry-interval', 'often', 'not a duration', [], { shows: q('often') }),
  flagCase(
    'runtimeinfo-url',
    'http://127.0.0.1:9090/api/v1/status/runtimeinfo',
    'with --verify-url',
    ['--verify-url', 'http://127.0.0.1:9090/-/healthy'],
  ),
  flagCase(
    'include',
    '/etc/config/*.yaml',
    'an absolute path, not a glob relative to the watched path',
  ),
  flagCase('exclude', ' ', 'an empty glob', [], { shows: q(' ') }),
  envCase('exclude', '/tmp/*', 'an absolute path'),
  flagCase('http-ca-file', '/etc/ssl/ca.crt', 'no https:// URL to apply to'),
  flagCase('http-ca-file', ' ', 'an empty path', ['--http-url', HTTPS]),
  flagCase('http-client-cert', '/etc/tls/tls.crt', 'without --http-client-key', [
    '--http-url',
    HTTPS,
  ]),
  flagCase('http-client-key', '/etc/tls/tls.key', 'without --http-client-cert', [
    '--http-url',
    HTTPS,
  ]),
  {
    what: '--http-insecure-skip-verify with no https:// URL to apply to',
    flag: 'http-insecure-skip-verify',
    shows: q('true'),
    args: [...BASE, '--http-insecure-skip-verify'],
  },
  flagCase('http-bearer-token-file', '', 'an empty path'),
  flagCase(
    'http-bearer-token-file',
    '/var/run/secrets/token',
    'Authorization also set by --http-header',
    ['--http-header', 'Authorization: Basic eA=='],
  ),
  envCase('log-format', 'LOGFMT', 'upper case'),
  envCase('log-level', 'INFO', 'upper case'),
  flagCase('shutdown-timeout', 'later', 'not a duration'),
  flagCase('signal', 'FOO', 'not a signal'),
  flagCase('signal', '99', 'a number no signal has', TARGET),
  envCase('signal', 'SIGNOPE', 'not a signal', { also: TARGET }),
  flagCase('stop-signal', 'KILLME', 'not a signal'),
  flagCase('stop-timeout', '0', 'zero'),
  flagCase('restart-wait', '0', 'zero', ['--restart', ...TARGET]),
  flagCase('min-process-age', 'young', 'not a duration', ['--signal', 'HUP', ...TARGET]),
  flagCase('min-process-age', '-1s', 'negative', ['--signal', 'HUP', ...TARGET]),
  envCase('min-process-age', '1', 'a bare number', { also: ['--signal', 'HUP', ...TARGET] }),
  flagCase('exec', '', 'an empty command'),
  flagCase('exec-timeout', '0', 'zero', ['--exec', 'true']),
  flagCase('exit', '256', 'above 255'),
  envCase('exit', '300', 'above 255'),
  flagCase('process-name', 'usr/bin/nginx', 'a path', ['--signal', 'HUP']),
  flagCase('process-name', '', 'empty', ['--signal', 'HUP']),
  flagCase('process-match', '(', 'not a regular expression', ['--signal', 'HUP']),
  flagCase('pid-file', '', 'empty', ['--signal', 'HUP']),
  flagCase('proc-root', '', 'empty'),
  flagCase('validate-cmd', ' ', 'a blank command'),
  flagCase('validate-timeout', '0', 'zero', ['--validate-cmd', 'true']),
  flagCase('verify-url', 'notaurl', 'not a URL'),
  envCase('verify-url', 'ftp://127.0.0.1/', 'not http(s)'),
  flagCase('verify-status', '600', 'out of range'),
  flagCase('verify-status', '2xx,', 'a trailing comma'),
  flagCase('verify-timeout', '0', 'zero'),
  flagCase('verify-metric', 'up = 1', "'=' instead of '=='", ['--verify-url', URL]),
  flagCase('verify-metric', 'up == one', 'not a number', ['--verify-url', URL]),
  flagCase('verify-metric', 'up{job=x} == 1', 'an unquoted label value', ['--verify-url', URL]),
  envCase('verify-metric', '== 1', 'no metric name', { also: ['--verify-url', URL] }),
  flagCase('verify-json', 'data.ok == true', 'no leading dot', ['--verify-url', URL]),
  flagCase('verify-json', '.data.ok', 'no comparison', ['--verify-url', URL]),
  flagCase('verify-json', '.data[x] == 1', 'a bad index', ['--verify-url', URL]),
  flagCase('state-file', '/var/run/hotreload/', 'a directory'),
];

/** A flag given last, with nothing after it. */
export function missing(flag: Flag, what: string, base: readonly string[] = BASE): Case {
  return { what, flag, shows: q(''), args: [...base, `--${flag}`] };
}

export const MISSING_CASES: Case[] = [
  missing('watch', '--watch with no path', ['--listen', '', '--http-url', URL]),
  {
    what: 'no --watch at all',
    flag: 'watch',
    shows: 'missing --watch',
    args: ['--listen', '', '--http-url', URL],
  },
  missing('debounce', '--debounce with no value'),
  missing('http-timeout', '--http-timeout with no value'),
  missing('signal', '--signal with no value', [...BASE, ...TARGET]),
  missing('validate-cmd', '--validate-cmd with no command'),
  // Found by this suite: a repeatable flag given last with nothing after it was an empty list, and
  // hotreload started without it (only --watch was refused).
  missing('http-url', '--http-url with no URL (with --dry-run)', [
    '--listen',
    '',
    '--watch',
    WATCH,
    '--dry-run',
  ]),
  missing('http-header', '--http-header with no header'),
  missing('http-header-file', '--http-header-file with no header'),
  missing('verify-url', '--verify-url with no URL'),
  // Found by this suite: yargs read '-1s' as the short flags -1 and -s, so the message named
  // neither --debounce nor the value.
  {
    what: 'a negative duration as a separate argument (--debounce -1s)',
    flag: 'debounce',
    shows: q('-1s'),
    args: [...BASE, '--debounce', '-1s'],
  },
  // Found by this suite: yargs's boolean negation turned any --no-<flag> into false, and the
  // option checks called string methods on it: a TypeError, exit 1, instead of a usage error.
  {
    what: '--no-watch (a path cannot be negated)',
    flag: 'watch',
    shows: '--no-watch',
    args: [...BASE, '--no-watch'],
  },
  {
    what: '--no-http-url (a URL cannot be negated)',
    flag: 'http-url',
    shows: '--no-http-url',
    args: [...BASE, '--no-http-url'],
  },
  {
    what: '--no-debounce (a duration cannot be negated)',
    flag: 'debounce',
    shows: '--no-debounce',
    args: [...BASE, '--no-debounce'],
  },
];

/** Flags that only mean something with another one. */
export const COMBINATION_CASES: Case[] = [
  {
    what: 'a rule setting as a flag beside --config (it belongs in a rule of the file)',
    flag: 'signal',
    shows: q('HUP'),
    args: ['--listen', '', '--config', '/nonexistent/hotreload-rules.yaml', '--signal', 'HUP'],
  },
  {
    what: 'a rule setting from the environment beside --config',
    flag: 'watch',
    shows: 'HOTRELOAD_WATCH',
    args: ['--listen', '', '--config', '/nonexistent/hotreload-rules.yaml'],
    env: { HOTRELOAD_WATCH: '/etc/app' },
  },
  {
    what: 'nothing to do on a change (no action flag)',
    flag: 'http-url',
    shows: 'nothing to do',
    args: ['--listen', '', '--watch', WATCH],
  },
  {
    what: '--signal without a target process',
    flag: 'signal',
    shows: q('HUP'),
    args: [...BASE, '--signal', 'HUP'],
  },
  {
    what: '--restart without a target process',
    flag: 'restart',
    shows: q('true'),
    args: [...BASE, '--restart'],
  },
  {
    what: '--verify-children without --signal',
    flag: 'verify-children',
    shows: q('true'),
    args: [...BASE, '--verify-children'],
  },
  {
    what: '--restart-wait without --restart',
    flag: 'restart-wait',
    shows: q('30s'),
    args: [...BASE, '--restart-wait', '30s'],
  },
  {
    what: '--restart with --exit (both restart the application)',
    flag: 'exit',
    shows: q('3'),
    args: [...BASE, ...TARGET, '--restart', '--exit', '3'],
  },
  {
    what: '--signal with --exit',
    flag: 'exit',
    shows: q('true'),
    args: [...BASE, ...TARGET, '--signal', 'HUP', '--exit'],
  },
  {
    what: '--signal with --restart',
    flag: 'restart',
    shows: q('true'),
    args: [...BASE, ...TARGET, '--signal', 'HUP', '--restart'],
  },
  {
    what: 'Host given twice (a header and a header file)',
    flag: 'http-header',
    shows: q('Host, host'),
    args: [...BASE, '--http-header', 'Host: a', '--http-header-file', 'host=/var/run/h'],
  },
  {
    what: '--min-process-age without --signal',
    flag: 'min-process-age',
    shows: q('2s'),
    args: [...BASE, '--min-process-age', '2s'],
  },
  {
    what: '--verify-metric without --verify-url',
    flag: 'verify-metric',
    shows: q('up == 1'),
    args: [...BASE, '--verify-metric', 'up == 1'],
  },
  {
    what: '--verify-json without --verify-url',
    flag: 'verify-json',
    shows: q('.ok == true'),
    args: [...BASE, '--verify-json', '.ok == true'],
  },
  {
    what: '--all-matches without a selector',
    flag: 'all-matches',
    shows: q('true'),
    args: [...BASE, '--all-matches'],
  },
  {
    what: '--process-name without --signal or --restart',
    flag: 'process-name',
    shows: q('nginx'),
    args: [...BASE, '--process-name', 'nginx'],
  },
  {
    what: '--pid-file without --signal or --restart',
    flag: 'pid-file',
    shows: q('/run/nginx.pid'),
    args: [...BASE, '--pid-file', '/run/nginx.pid'],
  },
  {
    what: 'HOTRELOAD_VERIFY_CHILDREN=true without --signal',
    flag: 'verify-children',
    shows: envName('verify-children'),
    args: BASE,
    env: { [envName('verify-children')]: 'true' },
  },
  // Found by this suite: these durations were parsed only when their command was given, so a bad
  // value passed unseen, unlike --restart-wait without --restart.
  {
    what: 'a bad --exec-timeout without --exec',
    flag: 'exec-timeout',
    shows: q('banana'),
    args: [...BASE, '--exec-timeout', 'banana'],
  },
  {
    what: 'a bad --validate-timeout without --validate-cmd',
    flag: 'validate-timeout',
    shows: q('banana'),
    args: [...BASE, '--validate-timeout', 'banana'],
  },
  {
    what: "configmap-reload's -webhook-url with a bad URL (Go-style single dash)",
    flag: 'http-url',
    shows: q('ftp://127.0.0.1/'),
    args: ['--listen', '', '--watch', WATCH, '-webhook-url=ftp://127.0.0.1/'],
  },
];

// Found by this suite: yargs reported an unknown flag without its dashes ('Unknown argument:
// wacth') and suggested nothing.
export const STRAY_CASES: StrayCase[] = [
  {
    what: 'an unknown flag (--frobnicate)',
    shows: ['--frobnicate'],
    args: [...BASE, '--frobnicate'],
  },
  { what: 'an unknown short flag (-x)', shows: ['-x'], args: [...BASE, '-x'] },
  {
    what: 'a typo of --watch (--wacth) names the flag typed and the one meant',
    shows: ['--wacth', '--watch'],
    args: ['--listen', '', '--http-url', URL, '--wacth', WATCH],
  },
  {
    what: 'a typo of --http-url (--http-ulr) names the flag typed and the one meant',
    shows: ['--http-ulr', '--http-url'],
    args: ['--listen', '', '--watch', WATCH, '--http-ulr', URL],
  },
  {
    what: 'a path without --watch in front of it',
    shows: ['/etc/config'],
    args: ['--listen', '', '--http-url', URL, '/etc/config'],
  },
  {
    what: 'a value given to a boolean flag as a separate argument (--dry-run yes)',
    shows: ['yes'],
    args: [...BASE, '--dry-run', 'yes'],
  },
  // Found by a hostile review: yargs read --no-X as X=false, so the message named "such-flag".
  {
    what: '--no-such-flag',
    shows: ['unknown flag --no-such-flag'],
    args: [...BASE, '--no-such-flag'],
  },
  // Found by a hostile review: an unknown single-dash flag was read as a cluster of short ones,
  // one error per letter.
  {
    what: "prometheus-config-reloader's --watched-dir-recursive says what to do instead",
    shows: ['--watched-dir-recursive', 'is not a hotreload flag', 'always watched recursively'],
    args: [...BASE, '--watched-dir-recursive'],
  },
  {
    what: "prometheus-config-reloader's --web-config-file says what to do instead",
    shows: ['--web-config-file', 'is not a hotreload flag', '--listen 127.0.0.1:9533'],
    args: [...BASE, '--web-config-file=/etc/web.yaml'],
  },
  {
    what: "prometheus-config-reloader's --auto-gomemlimit-ratio says to leave it out",
    shows: ['--auto-gomemlimit-ratio', 'leave it out'],
    args: [...BASE, '--auto-gomemlimit-ratio=0.9'],
  },
  {
    what: "a single-dash typo of configmap-reload's -volume-dir",
    shows: ['unknown flag -volume-dri', '--volume-dir'],
    args: ['--listen', '', '--http-url', URL, '-volume-dri=/etc/config'],
  },
];

/** HOTRELOAD_* variables that name no option: refused, with the one meant. */
export const ENV_CASES: { what: string; env: Record<string, string>; shows: string[] }[] = [
  {
    what: 'HOTRELOAD_HTTP_URLS (a typo of HOTRELOAD_HTTP_URL)',
    env: { HOTRELOAD_HTTP_URLS: URL },
    shows: ['unknown environment variable HOTRELOAD_HTTP_URLS', 'HOTRELOAD_HTTP_URL?'],
  },
  {
    what: 'HOTRELOAD_VOLUME_DIR (an alias has no variable of its own)',
    env: { HOTRELOAD_VOLUME_DIR: WATCH },
    shows: ['unknown environment variable HOTRELOAD_VOLUME_DIR'],
  },
];
