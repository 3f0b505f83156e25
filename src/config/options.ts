// The options table: every flag hotreload takes, with its type, aliases, group, description and
// the default --help shows (config/defaults.ts holds the values), and the examples --help prints.
// It parses nothing; cli.ts hands it to yargs, and docs/FLAGS.md must list every entry.
import type { Options } from 'yargs';
import { DEFAULTS } from './defaults.js';

export interface RawOptions {
  config?: string;
  watch?: string[];
  include?: string[];
  exclude?: string[];
  'resync-interval'?: string;
  debounce?: string;
  'max-wait'?: string;
  'http-url'?: string[];
  'http-method'?: string;
  'http-header'?: string[];
  'http-header-file'?: string[];
  'http-expect-status'?: string;
  'http-timeout'?: string;
  'http-ca-file'?: string;
  'http-client-cert'?: string;
  'http-client-key'?: string;
  'http-insecure-skip-verify'?: boolean;
  'http-bearer-token-file'?: string;
  'retry-initial'?: string;
  'retry-max'?: string;
  retries?: string;
  'reload-on-start'?: boolean;
  'dry-run'?: boolean;
  listen?: string;
  'metrics-path'?: string;
  'configmap-reload-metrics'?: boolean;
  'log-level'?: string;
  'log-format'?: string;
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
  'retry-interval'?: string;
  'watch-interval'?: string;
  'statefulset-ordinal-from-envvar'?: string;
  'runtimeinfo-url'?: string;
  'reload-method'?: string;
  'config-file'?: string;
  'config-envsubst-file'?: string;
}

/** One option: yargs' definition, and how a list is written in its HOTRELOAD_* variable. */
export type Def = Options & { env?: 'comma' | 'newline' };
const WATCHING = 'Watching:';
const HTTP = 'HTTP reload:';
const RETRY = 'Retries:';
const SERVER = 'Server and logs:';
const GENERAL = 'General:';
const PROCESS = 'Process actions (need shareProcessNamespace: true, or a child after --):';
const SELECT = 'Choosing the target process:';
const EXEC = 'Command and exit:';
const SAFETY = 'Validation, verification and state:';
const PCR = "prometheus-config-reloader's flags (mapped to hotreload's):";

/** Every option; the key is the flag, and HOTRELOAD_<KEY in upper snake case> its variable. */
export const OPTIONS: Record<keyof RawOptions, Def> = {
  config: {
    group: GENERAL,
    type: 'string',
    describe:
      'A YAML file of rules, each with its own watch paths, filters, actions and retries (docs/GUIDE.md, Rules); applied again when it changes. With it, only the server, log and child flags are given.',
  },
  watch: {
    group: WATCHING,
    type: 'string',
    array: true,
    env: 'comma',
    alias: ['volume-dir', 'watched-dir'],
    describe:
      'Path to watch, repeatable: a ConfigMap/Secret volume (holds ..data), a directory (recursive) or a file. A missing path is waited for.',
  },
  include: {
    group: WATCHING,
    type: 'string',
    array: true,
    env: 'comma',
    describe:
      "Only files matching this glob count (repeatable), relative to the watched path; a glob without / matches at any depth: '*.yaml'.",
  },
  exclude: {
    group: WATCHING,
    type: 'string',
    array: true,
    env: 'comma',
    describe: "Files matching this glob never count (repeatable), e.g. '*.swp' or 'cache/**'.",
  },
  'resync-interval': {
    group: WATCHING,
    type: 'string',
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
    alias: 'reload-timeout',
    defaultDescription: DEFAULTS.httpTimeout,
    describe: 'Timeout of one request, connect to last byte.',
  },
  'http-ca-file': {
    group: HTTP,
    type: 'string',
    describe:
      'PEM file of the CA(s) that sign the https:// servers of --http-url and --verify-url (instead of the system CAs); read at each request.',
  },
  'http-client-cert': {
    group: HTTP,
    type: 'string',
    describe:
      'PEM client certificate for mutual TLS, with --http-client-key; read at each request.',
  },
  'http-client-key': {
    group: HTTP,
    type: 'string',
    describe: 'PEM key of --http-client-cert; read at each request, never logged.',
  },
  'http-insecure-skip-verify': {
    group: HTTP,
    type: 'boolean',
    defaultDescription: 'false',
    describe:
      "Do not check the https:// server's certificate (anyone on the path can answer); hotreload warns at start.",
  },
  'http-bearer-token-file': {
    group: HTTP,
    type: 'string',
    describe:
      'Send Authorization: Bearer TOKEN with every request, TOKEN read from this file at each request (a mounted service account token), never logged.',
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
    alias: ['web.listen-address', 'listen-address'],
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
    describe:
      "trace, debug, info, warn, error, fatal or silent (prometheus-config-reloader's none and all: silent and trace).",
  },
  'log-format': {
    group: SERVER,
    type: 'string',
    defaultDescription: DEFAULTS.logFormat,
    describe:
      'json (one JSON object per line) or logfmt (key=value, as prometheus-config-reloader and go-kit write).',
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
    alias: 'process-executable-name',
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
  'retry-interval': {
    group: PCR,
    type: 'string',
    describe:
      'A fixed delay between retries: sets --retry-initial and --retry-max both (with full jitter).',
  },
  'watch-interval': {
    group: PCR,
    type: 'string',
    describe:
      'How often to look again without events (--resync-interval); 0: render --config-file into --config-envsubst-file once and exit, telling nothing (an init container).',
  },
  'statefulset-ordinal-from-envvar': {
    group: PCR,
    type: 'string',
    defaultDescription: 'POD_NAME',
    describe:
      'When rendering, $(STATEFULSET_ORDINAL_NUMBER) is the number this environment variable ends with (prometheus-0 -> 0).',
  },
  'runtimeinfo-url': {
    group: PCR,
    type: 'string',
    describe:
      "Prometheus' /api/v1/status/runtimeinfo: --verify-url URL with --verify-json '.data.reloadConfigSuccess == true' and '.data.lastConfigTime changed'.",
  },
  'reload-method': {
    group: PCR,
    type: 'string',
    describe:
      'http (the default: --http-url / --reload-url) or signal (--signal HUP to --process-name prometheus, unless a selector is given).',
  },
  'config-file': {
    group: PCR,
    type: 'string',
    describe:
      'A configuration file to watch (added to --watch); with --config-envsubst-file, rendered into it (gunzipped, $(VAR) expanded) before each reload.',
  },
  'config-envsubst-file': {
    group: PCR,
    type: 'string',
    describe:
      'Where --config-file is rendered, atomically, before the application is told (and at start): on a volume the application reads (an emptyDir).',
  },
};

export const EXAMPLES: [string, string][] = [
  [
    '$0 --watch /etc/nginx/conf.d --http-url http://127.0.0.1:8080/-/reload',
    'call a reload endpoint when the ConfigMap changes',
  ],
  [
    '$0 --volume-dir /etc/config --webhook-url http://localhost:9090/-/reload',
    "configmap-reload's flags, unchanged",
  ],
  [
    '$0 --watch /etc/app --http-url https://app:8443/reload --http-ca-file /etc/tls/ca.crt --http-bearer-token-file /var/run/secrets/tokens/reload',
    'https with a mounted token (Authorization: Bearer)',
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
 * The options of the process as a whole (one server, one log, one supervised child): given as
 * flags also with --config, never in a rule. Every other option is a rule's setting.
 */
export const PROCESS_OPTIONS: ReadonlySet<keyof RawOptions> = new Set([
  'config',
  'listen',
  'metrics-path',
  'configmap-reload-metrics',
  'log-level',
  'log-format',
  'shutdown-timeout',
]);

/**
 * Rule settings that may also be given as flags with --config: how the supervised child is
 * stopped, and where /proc is; a rule that sets them wins for its own actions.
 */
export const INHERITED_OPTIONS: ReadonlySet<keyof RawOptions> = new Set([
  'stop-signal',
  'stop-timeout',
  'proc-root',
]);

/** Every long name and alias, with its option's definition. */
export function optionsByName(): Map<string, Def> {
  const byName = new Map<string, Def>();
  for (const [key, def] of Object.entries<Def>(OPTIONS)) {
    byName.set(key, def);
    for (const a of [def.alias ?? []].flat()) byName.set(a, def);
  }
  return byName;
}
