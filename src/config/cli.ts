// The command line: the yargs definition and a pure parse(argv, env) -> RawOptions. It reads no
// process state and applies no defaults (config.ts owns them), so an unset flag can be filled
// from HOTRELOAD_<FLAG> and --help still shows the default.
import yargs, { type Options } from 'yargs';
import { DEFAULTS } from './defaults.js';
import { ConfigError } from '../lib/errors.js';

export interface RawOptions {
  watch?: string[];
  'resync-interval'?: string;
  debounce?: string;
  'max-wait'?: string;
  'http-url'?: string[];
  'http-method'?: string;
  'http-header'?: string[];
  'http-header-file'?: string[];
  'http-expect-status'?: string;
  'http-timeout'?: string;
  'retry-initial'?: string;
  'retry-max'?: string;
  retries?: string;
  'reload-on-start'?: boolean;
  'dry-run'?: boolean;
  listen?: string;
  'metrics-path'?: string;
  'configmap-reload-metrics'?: boolean;
  'log-level'?: string;
  'shutdown-timeout'?: string;
  signal?: string;
  restart?: boolean;
  'stop-signal'?: string;
  'stop-timeout'?: string;
  'restart-wait'?: string;
  exec?: string;
  'exec-timeout'?: string;
  exit?: string;
  'process-name'?: string;
  'process-match'?: string;
  'pid-file'?: string;
  'all-matches'?: boolean;
  'proc-root'?: string;
  'min-process-age'?: string;
  validate?: boolean;
  'validate-cmd'?: string;
  'validate-timeout'?: string;
  'verify-url'?: string[];
  'verify-status'?: string;
  'verify-metric'?: string[];
  'verify-json'?: string[];
  'verify-timeout'?: string;
  'verify-children'?: boolean;
  'state-file'?: string;
}

export type ParseResult =
  | {
      readonly kind: 'run';
      readonly options: RawOptions;
      /** The application to supervise as a child: what follows `--`. */
      readonly command: readonly string[];
      /** The options whose value came from HOTRELOAD_<FLAG>, for error messages. */
      readonly fromEnv: readonly string[];
    }
  | { readonly kind: 'exit'; readonly code: number; readonly output: string };

type Def = Options & { env?: 'comma' | 'newline' };
const WATCHING = 'Watching:';
const HTTP = 'HTTP reload:';
const RETRY = 'Retries:';
const SERVER = 'Server and logs:';
const GENERAL = 'General:';
const PROCESS = 'Process actions (need shareProcessNamespace: true, or a child after --):';
const SELECT = 'Choosing the target process:';
const EXEC = 'Command and exit:';
const SAFETY = 'Validation, verification and state:';

/** Every option; the key is the flag, and HOTRELOAD_<KEY in upper snake case> its variable. */
export const OPTIONS: Record<keyof RawOptions, Def> = {
  watch: {
    group: WATCHING,
    type: 'string',
    array: true,
    env: 'comma',
    alias: ['volume-dir', 'watched-dir'],
    describe:
      'Path to watch, repeatable: a ConfigMap/Secret volume (holds ..data), a directory (recursive) or a file. A missing path is waited for.',
  },
  'resync-interval': {
    group: WATCHING,
    type: 'string',
    alias: 'watch-interval',
    defaultDescription: DEFAULTS.resyncInterval,
    describe:
      'Re-fingerprint this often even without events, so a dropped event costs at most one interval (0 disables).',
  },
  debounce: {
    group: WATCHING,
    type: 'string',
    alias: 'delay-interval',
    defaultDescription: DEFAULTS.debounce,
    describe: 'Quiet period: act once no event arrived for this long.',
  },
  'max-wait': {
    group: WATCHING,
    type: 'string',
    defaultDescription: DEFAULTS.maxWait,
    describe: 'Act at most this long after the first event of a burst, even if events keep coming.',
  },
  'http-url': {
    group: HTTP,
    type: 'string',
    array: true,
    env: 'comma',
    alias: ['webhook-url', 'reload-url'],
    describe:
      'Reload endpoint to call, repeatable: each is a target of its own (called together, retried alone). Credentials in the URL are sent as basic auth and never logged.',
  },
  'http-method': {
    group: HTTP,
    type: 'string',
    alias: 'webhook-method',
    defaultDescription: DEFAULTS.httpMethod,
    describe: 'HTTP method for the reload request.',
  },
  'http-header': {
    group: HTTP,
    type: 'string',
    array: true,
    env: 'newline',
    describe: "Request header 'Name: value', repeatable (HOTRELOAD_HTTP_HEADER: one per line).",
  },
  'http-header-file': {
    group: HTTP,
    type: 'string',
    array: true,
    env: 'newline',
    describe:
      "Request header 'Name=/path' whose value is read from the file at each request (a mounted token); never logged.",
  },
  'http-expect-status': {
    group: HTTP,
    type: 'string',
    alias: 'webhook-status-code',
    defaultDescription: DEFAULTS.httpExpectStatus,
    describe: 'Statuses that mean success: 200, 200,204, 200-299 or 2xx.',
  },
  'http-timeout': {
    group: HTTP,
    type: 'string',
    defaultDescription: DEFAULTS.httpTimeout,
    describe: 'Timeout of one request, connect to last byte.',
  },
  'retry-initial': {
    group: RETRY,
    type: 'string',
    defaultDescription: DEFAULTS.retryInitial,
    describe: 'First retry delay; it doubles per attempt (full jitter) up to --retry-max.',
  },
  'retry-max': {
    group: RETRY,
    type: 'string',
    defaultDescription: DEFAULTS.retryMax,
    describe: 'Longest retry delay.',
  },
  retries: {
    group: RETRY,
    type: 'string',
    alias: 'webhook-retries',
    defaultDescription: '0 (until it lands)',
    describe:
      'Attempts per change in all (configmap-reload meaning); after the last, the next change or resync tries again.',
  },
  'reload-on-start': {
    group: GENERAL,
    type: 'boolean',
    defaultDescription: 'false',
    describe:
      'Tell every target at start, unless --state-file says it already took the content (without it: targets that may hold older content are told).',
  },
  'dry-run': {
    group: GENERAL,
    type: 'boolean',
    defaultDescription: 'false',
    describe: 'Log what would be done, do nothing.',
  },
  listen: {
    group: SERVER,
    type: 'string',
    alias: 'web.listen-address',
    defaultDescription: DEFAULTS.listen,
    describe:
      "Address of /metrics, /healthz, /readyz, /status ('' disables; 127.0.0.1:9533 keeps it in the pod).",
  },
  'metrics-path': {
    group: SERVER,
    type: 'string',
    alias: 'web.telemetry-path',
    defaultDescription: DEFAULTS.metricsPath,
    describe: 'Path of the Prometheus metrics.',
  },
  'configmap-reload-metrics': {
    group: SERVER,
    type: 'boolean',
    defaultDescription: 'false',
    describe:
      "Also export configmap-reload's configmap_reload_* metrics, so its dashboards and alerts keep working after a migration.",
  },
  'log-level': {
    group: SERVER,
    type: 'string',
    defaultDescription: DEFAULTS.logLevel,
    describe: 'trace, debug, info, warn, error, fatal or silent.',
  },
  'shutdown-timeout': {
    group: GENERAL,
    type: 'string',
    defaultDescription: DEFAULTS.shutdownTimeout,
    describe: 'On SIGTERM/SIGINT, how long an in-flight reload may take to finish.',
  },
  signal: {
    group: PROCESS,
    type: 'string',
    describe: 'Send this signal to the target process on change: HUP, SIGHUP or a number.',
  },
  restart: {
    group: PROCESS,
    type: 'boolean',
    defaultDescription: 'false',
    describe:
      'Stop the target process on change (--stop-signal, then SIGKILL after --stop-timeout) so the kubelet restarts its container; a supervised child is restarted in place.',
  },
  'stop-signal': {
    group: PROCESS,
    type: 'string',
    defaultDescription: DEFAULTS.stopSignal,
    describe: 'Signal that asks the target to stop, for --restart and --exit.',
  },
  'stop-timeout': {
    group: PROCESS,
    type: 'string',
    defaultDescription: DEFAULTS.stopTimeout,
    describe: 'How long a stopping process may take before SIGKILL.',
  },
  'min-process-age': {
    group: PROCESS,
    type: 'string',
    defaultDescription: DEFAULTS.minProcessAge,
    describe:
      'A target process younger than this is signalled only once it is this old (before it installs its handler, a signal kills it); one that started after the content was written is not signalled at all (0 disables the wait).',
  },
  'restart-wait': {
    group: PROCESS,
    type: 'string',
    defaultDescription: 'off',
    describe:
      'After --restart, wait this long for a new matching process; none is a failed reload.',
  },
  'process-name': {
    group: SELECT,
    type: 'string',
    describe: 'Target the process whose name (comm, or basename of argv[0]) is exactly this.',
  },
  'process-match': {
    group: SELECT,
    type: 'string',
    describe:
      "Target the process whose command line matches this regular expression, e.g. '^nginx: master'.",
  },
  'pid-file': {
    group: SELECT,
    type: 'string',
    describe: 'Target the process whose PID is in this file (read at each attempt).',
  },
  'all-matches': {
    group: SELECT,
    type: 'boolean',
    defaultDescription: 'false',
    describe:
      'Signal every matching process, not only the topmost ones (a master, not its workers).',
  },
  'proc-root': {
    group: SELECT,
    type: 'string',
    defaultDescription: DEFAULTS.procRoot,
    describe: 'Where the process table is mounted.',
  },
  exec: {
    group: EXEC,
    type: 'string',
    describe:
      'Run this command through /bin/sh -c on change, with HOTRELOAD_CHANGED (changed paths, one per line) and HOTRELOAD_FINGERPRINT set; a non-zero exit is a failed reload.',
  },
  'exec-timeout': {
    group: EXEC,
    type: 'string',
    defaultDescription: DEFAULTS.execTimeout,
    describe: 'How long --exec may run.',
  },
  exit: {
    group: EXEC,
    type: 'string',
    describe:
      'On change, stop (a supervised child first) and exit with this code (default 0), so the container restarts with the new configuration.',
  },
  validate: {
    group: SAFETY,
    type: 'boolean',
    defaultDescription: 'false',
    describe:
      'Check the syntax of changed .yaml/.yml, .json and .toml files before reloading; a broken file blocks the reload until it is fixed.',
  },
  'validate-cmd': {
    group: SAFETY,
    type: 'string',
    describe:
      "Run this check through /bin/sh -c before reloading (e.g. 'promtool check config /etc/prometheus/prometheus.yml'); a non-zero exit blocks the reload.",
  },
  'validate-timeout': {
    group: SAFETY,
    type: 'string',
    defaultDescription: DEFAULTS.validateTimeout,
    describe: 'How long --validate-cmd may run.',
  },
  'verify-url': {
    group: SAFETY,
    type: 'string',
    array: true,
    env: 'comma',
    describe:
      'After reloading, poll this URL until it answers --verify-status; otherwise the reload failed and is retried.',
  },
  'verify-status': {
    group: SAFETY,
    type: 'string',
    defaultDescription: DEFAULTS.verifyStatus,
    describe:
      'Statuses of --verify-url that mean the application took the reload: 200, 200,204, 200-299 or 2xx.',
  },
  'verify-metric': {
    group: SAFETY,
    type: 'string',
    array: true,
    env: 'newline',
    describe:
      "Require of each --verify-url answer, in the Prometheus text format: 'NAME OP VALUE' or 'NAME changed' (since before the reload), e.g. 'prometheus_config_last_reload_successful == 1'. Repeatable.",
  },
  'verify-json': {
    group: SAFETY,
    type: 'string',
    array: true,
    env: 'newline',
    describe:
      "Require of each --verify-url answer, as JSON: '.PATH OP VALUE' or '.PATH changed', e.g. '.data.reloadConfigSuccess == true'. Repeatable.",
  },
  'verify-timeout': {
    group: SAFETY,
    type: 'string',
    defaultDescription: DEFAULTS.verifyTimeout,
    describe: 'How long verification may take (--verify-url, --verify-children).',
  },
  'verify-children': {
    group: SAFETY,
    type: 'boolean',
    defaultDescription: 'false',
    describe:
      'After --signal, require the target to have replaced a child process (nginx starts new workers only when the new configuration loaded).',
  },
  'state-file': {
    group: SAFETY,
    type: 'string',
    describe:
      'Keep what each target last took in this file (on an emptyDir), so a restarted hotreload tells exactly the targets that may hold other content.',
  },
};

const EXAMPLES: [string, string][] = [
  [
    '$0 --watch /etc/nginx/conf.d --http-url http://127.0.0.1:8080/-/reload',
    'call a reload endpoint when the ConfigMap changes',
  ],
  [
    '$0 --volume-dir /etc/config --webhook-url http://localhost:9090/-/reload',
    "configmap-reload's flags, unchanged",
  ],
  [
    "$0 --watch /etc/app --http-url http://127.0.0.1:8080/reload --http-header-file 'Authorization=/var/run/secrets/token'",
    'send a mounted token',
  ],
  [
    "$0 --watch /etc/nginx --signal HUP --process-match '^nginx: master'",
    'send HUP to the nginx master (shareProcessNamespace: true)',
  ],
  [
    '$0 --watch /etc/filebeat --restart --process-name filebeat',
    'restart an application that cannot reload',
  ],
  [
    '$0 --watch /etc/app --signal HUP -- /usr/bin/app --config /etc/app/app.yaml',
    'run the application as a child and signal it',
  ],
  ['$0 --watch ./config --dry-run --debounce 0', 'only log what changes'],
];

/**
 * Rewrites argv for yargs: configmap-reload parses flags with Go's flag package, which accepts
 * -flag as well as --flag; and a boolean given a value (--dry-run=false) must say true or false,
 * where yargs would silently read anything else as false.
 */
function normalizeArgv(argv: readonly string[]): string[] {
  const defs = optionsByName();
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return out.concat(argv.slice(i));
    // Go's -flag for every long name; an unknown one (a typo, -volume-dri) is read as one long
    // flag too, so it is reported once by its name instead of as a cluster of short flags.
    const go = /^-([a-zA-Z][a-zA-Z0-9._-]+)(=.*)?$/.exec(arg);
    const long = go ? `-${arg}` : arg;
    const withValue = /^--([a-z][a-z0-9.-]+)=(.*)$/s.exec(long);
    const def = withValue && defs.get(withValue[1]!);
    const bare = /^--([a-z][a-z0-9.-]+)$/.exec(long);
    const next = argv[i + 1];
    if (withValue && def?.type === 'boolean') {
      out.push(
        parseBoolean(withValue[1]!, withValue[2]!) ? `--${withValue[1]}` : `--no-${withValue[1]}`,
      );
    } else if (
      bare &&
      defs.get(bare[1]!)?.type === 'string' &&
      next !== undefined &&
      /^-\d/.test(next)
    ) {
      // "--debounce -1s": a value that starts like a flag; keep it the flag's value, so the
      // message names the flag instead of unknown flags -1 and -s.
      out.push(`${long}=${next}`);
      i++;
    } else {
      out.push(long);
    }
  }
  return out;
}

/** Every long name and alias, with its option's definition. */
function optionsByName(): Map<string, Def> {
  const byName = new Map<string, Def>();
  for (const [key, def] of Object.entries<Def>(OPTIONS)) {
    byName.set(key, def);
    for (const a of [def.alias ?? []].flat()) byName.set(a, def);
  }
  return byName;
}

function parseBoolean(flag: string, text: string): boolean {
  if (/^(1|t|true|yes|on)$/i.test(text.trim())) return true;
  if (/^(0|f|false|no|off)$/i.test(text.trim())) return false;
  throw new ConfigError(flag, text, 'expected true or false');
}

/** The HOTRELOAD_<FLAG> variable of an option. */
export function envName(key: string): string {
  return `HOTRELOAD_${key.toUpperCase().replace(/[-.]/g, '_')}`;
}

function fromEnv(key: string, def: Def, text: string): string | boolean | string[] {
  if (def.type === 'boolean') return parseBoolean(`${key} (from ${envName(key)})`, text);
  if (!def.array) return text;
  const sep = def.env === 'newline' ? /\r?\n/ : ',';
  return text
    .split(sep)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function build(version: string) {
  return yargs()
    .scriptName('hotreload')
    .usage(
      '$0 [options] [-- COMMAND ARGS...]\n\nWatch mounted ConfigMaps and Secrets; when their content really changes, tell the application to reload.\nEvery flag can also be set as HOTRELOAD_<FLAG> (e.g. HOTRELOAD_HTTP_URL); flags win over the environment.\nDurations: 500ms, 10s, 1m30s.',
    )
    .parserConfiguration({
      'dot-notation': false,
      'populate--': true,
      'halt-at-non-option': false,
      'greedy-arrays': false,
      'duplicate-arguments-array': true,
      'flatten-duplicate-arrays': true,
      'camel-case-expansion': false,
      'strip-aliased': true,
      'boolean-negation': true,
    })
    .options(OPTIONS)
    .example(EXAMPLES)
    .strict()
    .help()
    .alias('help', 'h')
    .version(version)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .exitProcess(false);
}

/** Parses argv and the environment; never exits and never prints (the caller does). */
export function parse(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  version: string,
): ParseResult {
  try {
    return parseOrThrow(argv, env, version);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return usageError(err.message);
  }
}

function parseOrThrow(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  version: string,
): ParseResult {
  let failure: string | undefined;
  let output = '';
  let parsed: Record<string, unknown> = {};
  const parser = build(version).fail((msg, err) => {
    failure = msg || (err ? err.message : 'invalid arguments');
  });
  // With a callback, yargs parses synchronously and hands over what it would have printed.
  void parser.parse(normalizeArgv(argv), {}, (err, args, out) => {
    if (err && !failure) failure = err.message;
    parsed = args;
    output = out;
  });
  if (failure) return usageError(explainUnknown(failure, argv));
  if (parsed.help || parsed.version) return { kind: 'exit', code: 0, output };
  const unknownVariable = unknownEnv(env);
  if (unknownVariable) return usageError(unknownVariable);
  const options: Record<string, unknown> = {};
  const fromEnvironment: string[] = [];
  for (const [key, def] of Object.entries(OPTIONS)) {
    let value = parsed[key];
    checkGiven(key, def, value);
    const text = env[envName(key)];
    if (value === undefined && text !== undefined) {
      value = fromEnv(key, def, text);
      fromEnvironment.push(key);
    }
    if (value !== undefined) options[key] = lastIfScalar(def, value);
  }
  const command = ((parsed['--'] as unknown[] | undefined) ?? []).map(String);
  return { kind: 'run', options, command, fromEnv: fromEnvironment };
}

/** What hotreload itself sets for --exec and --validate-cmd; not options, never refused. */
const OWN_VARIABLES = new Set([
  'HOTRELOAD_CHANGED',
  'HOTRELOAD_CHANGED_TRUNCATED',
  'HOTRELOAD_FINGERPRINT',
]);

/**
 * A HOTRELOAD_* variable that names no option (a typo would otherwise be ignored in silence):
 * the message, with the variable meant; undefined when every one is known.
 */
function unknownEnv(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const known = Object.keys(OPTIONS).map(envName);
  const unknown = Object.keys(env).filter(
    (k) => k.startsWith('HOTRELOAD_') && !known.includes(k) && !OWN_VARIABLES.has(k),
  );
  if (unknown.length === 0) return undefined;
  return unknown
    .sort()
    .map((k) => {
      const meant = closest(k, known);
      return `unknown environment variable ${k}${meant ? ` (did you mean ${meant}?)` : '; every flag --name is HOTRELOAD_NAME'}`;
    })
    .join('; ');
}

/** A flag that takes a value must get one, and cannot be negated (--no-watch). */
function checkGiven(key: string, def: Def, value: unknown): void {
  if (value === undefined || def.type === 'boolean') return;
  const values = Array.isArray(value) ? (value as unknown[]) : [value];
  if (values.includes(false)) {
    throw new ConfigError(
      key,
      `--no-${key}`,
      `only true/false switches can be negated; give --${key} a value, or leave it out`,
    );
  }
  if (values.length === 0) throw new ConfigError(key, '', `--${key} needs a value`);
}

/** yargs says "Unknown argument: wacth"; say which flag was typed and which one was meant. */
function explainUnknown(message: string, argv: readonly string[]): string {
  const m = /^Unknown arguments?: (.*)$/.exec(message);
  if (!m) return message;
  const names = [...optionsByName().keys()];
  return m[1]!
    .split(', ')
    .map((name) => {
      // yargs reads --no-X as X=false: the flag typed is --no-X.
      const typed = argv.find((a) => {
        const bare = a.replace(/^-+/, '').split('=')[0];
        return bare === name || bare === `no-${name}`;
      });
      if (!typed || !typed.startsWith('-')) {
        return `unexpected argument ${JSON.stringify(name)}; flags start with --, and an application to supervise goes after --`;
      }
      const written = typed.split('=')[0]!;
      const bare = written.replace(/^-+/, '');
      const instead = FOREIGN_FLAGS[bare];
      if (instead) return `${written} is not a hotreload flag: ${instead}`;
      const meant = closest(bare, names) ?? closest(name, names);
      return `unknown flag ${written}${meant ? ` (did you mean --${meant}?)` : ''}`;
    })
    .join('; ');
}

/**
 * Flags of the tools hotreload replaces that it does not take, with what to use instead:
 * prometheus-config-reloader's (cmd/prometheus-config-reloader/main.go) and thanos reloader's.
 */
const FOREIGN_FLAGS: Readonly<Record<string, string>> = {
  'listen-address': 'use --listen (e.g. --listen=:8080)',
  'reload-method':
    "use --http-url for 'http', or --signal HUP with --process-name prometheus for 'signal'",
  'log-format': 'hotreload writes JSON log lines; leave it out',
  'config-file':
    'hotreload does not render configuration files; watch the directory holding it with --watch',
  'config-envsubst-file':
    'hotreload does not render configuration files (no $(VAR) expansion); watch the rendered file with --watch',
  'reload-timeout': 'use --http-timeout',
  'retry-interval': 'use --retry-initial and --retry-max (capped exponential backoff)',
  'runtimeinfo-url':
    "use --verify-url http://127.0.0.1:9090/api/v1/status/runtimeinfo with --verify-json '.data.reloadConfigSuccess == true'",
  'watched-dir-recursive': 'a watched plain directory is always watched recursively; leave it out',
};

/** The name within two edits of `typed`, if any (Levenshtein distance). */
function closest(typed: string, names: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of names) {
    const d = distance(typed, name);
    if (d <= 2 && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        prev[j]! + 1,
        row[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length]!;
}

function usageError(message: string): ParseResult {
  return {
    kind: 'exit',
    code: 2,
    output: `hotreload: ${message}\nRun 'hotreload --help' for usage.`,
  };
}

/** A single-valued flag given twice takes the last value, as Go's flag package does. */
function lastIfScalar(def: Def, value: unknown): unknown {
  if (def.array || !Array.isArray(value)) return value;
  return value[value.length - 1];
}
