// Resolves RawOptions (strings from argv/env) into a frozen, fully defaulted Config: durations
// in ms, URLs parsed, statuses and headers parsed, paths absolute. Every bad value becomes a
// ConfigError naming the flag, the value and what is accepted. Nothing downstream parses again.
import { LOG_LEVELS, type LogLevel } from '../lib/log.js';
import path from 'node:path';
import type { RawOptions } from './options.js';
import { DEFAULTS } from './defaults.js';
import { parseDuration } from '../lib/duration.js';
import { resolveProcessConfig, type ProcessConfig } from './process.js';
import { resolveSafetyConfig, type SafetyConfig } from './checks.js';
import { httpUrl } from './url.js';
import { fromPrometheusConfigReloader } from './compat.js';
import { duration, fail, glob, statusSpec } from './values.js';
import { ConfigError } from '../lib/errors.js';
import {
  headerNameOf,
  headerProblem,
  parseHeader,
  parseHeaderFile,
  type StatusSpec,
} from './http-spec.js';

export interface HttpTargetConfig {
  readonly url: URL;
  readonly method: string;
  readonly headers: readonly { readonly name: string; readonly value: string }[];
  readonly headerFiles: readonly HeaderFileConfig[];
  readonly expectStatus: StatusSpec;
  readonly timeoutMs: number;
  readonly tls: TlsConfig | undefined;
}

/** A header whose value is read from a file at each request: `prefix` + the file's one line. */
export interface HeaderFileConfig {
  readonly name: string;
  readonly path: string;
  readonly prefix?: string;
}

/** TLS for https:// requests (reload and verify): files read at each request. */
export interface TlsConfig {
  readonly caFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  /** --http-insecure-skip-verify: the server's certificate is not checked. */
  readonly insecure: boolean;
}

export interface ListenAddress {
  readonly host: string | undefined;
  readonly port: number;
}

/** The settings of the process as a whole: one server, one log (config/options.ts PROCESS_OPTIONS). */
export interface ServerConfig {
  readonly listen: ListenAddress | undefined;
  readonly metricsPath: string;
  /** Also export configmap-reload's metric names (--configmap-reload-metrics). */
  readonly configmapReloadMetrics: boolean;
  readonly logLevel: LogLevel;
  readonly logFormat: 'json' | 'logfmt';
  readonly shutdownTimeoutMs: number;
}

/** One rule's settings (the flags form is one rule), with the server's. */
export interface Config extends ServerConfig {
  readonly watch: readonly string[];
  /** --include / --exclude: the files that count. */
  readonly selection: { readonly include: readonly string[]; readonly exclude: readonly string[] };
  readonly resyncIntervalMs: number;
  readonly debounceMs: number;
  readonly maxWaitMs: number;
  readonly http: readonly HttpTargetConfig[];
  /** TLS for every https:// request (reload and verify). */
  readonly tls: TlsConfig | undefined;
  /** --http-bearer-token-file, sent with every request (reload and verify). */
  readonly bearer: HeaderFileConfig | undefined;
  /**
   * --config-file rendered into --config-envsubst-file before each delivery; $(STATEFULSET_ORDINAL_NUMBER)
   * is the number the variable `ordinalFrom` ends with.
   */
  readonly render:
    { readonly input: string; readonly output: string; readonly ordinalFrom: string } | undefined;
  /** --watch-interval=0: render once and exit, telling nothing (an init container). */
  readonly once: boolean;
  readonly retry: {
    readonly initialMs: number;
    readonly maxMs: number;
    readonly maxAttempts: number;
  };
  readonly reloadOnStart: boolean;
  readonly dryRun: boolean;
  readonly process: ProcessConfig;
  readonly safety: SafetyConfig;
}

function watchPaths(values: readonly string[] | undefined, cwd: string): string[] {
  if (!values || values.length === 0) {
    throw new ConfigError(
      'watch',
      values ? '' : undefined,
      'give the path of a mounted ConfigMap/Secret, a directory or a file, e.g. --watch /etc/config',
    );
  }
  return [
    ...new Set(
      values.map((v) => {
        if (v.trim() === '')
          throw new ConfigError('watch', v, 'expected a path, e.g. --watch /etc/config');
        return path.resolve(cwd, v);
      }),
    ),
  ];
}

function httpMethod(value: string): string {
  if (!/^[A-Za-z]+$/.test(value))
    throw new ConfigError('http-method', value, 'expected a method such as POST, PUT or GET');
  const method = value.toUpperCase();
  // CONNECT opens a tunnel; the HTTP client refuses it for a request.
  if (method === 'CONNECT')
    throw new ConfigError('http-method', value, 'CONNECT opens a tunnel; use POST, PUT or GET');
  return method;
}

function listenAddress(value: string): ListenAddress | undefined {
  if (value === '') return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*))?:(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new ConfigError(
      'listen',
      value,
      "expected [host]:port such as :9533 or 127.0.0.1:9533, or '' to disable",
    );
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

function integer(flag: string, value: string): number {
  if (!/^\d+$/.test(value.trim()))
    throw new ConfigError(flag, value, 'expected a whole number, 0 or more');
  return Number(value);
}

function each<T>(values: readonly string[] | undefined, fn: (v: string) => T): T[] {
  return (values ?? []).map(fn);
}

/** Resolves and validates every option; throws the first ConfigError found. */
export function resolveConfig(
  given: RawOptions,
  cwd: string,
  command: readonly string[] = [],
): Config {
  const raw = fromPrometheusConfigReloader(given);
  const v = <K extends keyof RawOptions>(key: K, fallback: NonNullable<RawOptions[K]>) =>
    raw[key] ?? fallback;
  const debounceMs = duration('debounce', v('debounce', DEFAULTS.debounce), { allowZero: true });
  // Unset, --max-wait is never shorter than --debounce: a long quiet period is what the user asked for.
  const maxWaitMs =
    raw['max-wait'] === undefined
      ? Math.max(duration('max-wait', DEFAULTS.maxWait), debounceMs)
      : duration('max-wait', raw['max-wait']);
  if (maxWaitMs < debounceMs)
    throw new ConfigError(
      'max-wait',
      raw['max-wait'] ?? DEFAULTS.maxWait,
      `must be at least --debounce (${raw.debounce ?? DEFAULTS.debounce})`,
    );
  const timeoutMs = duration('http-timeout', v('http-timeout', DEFAULTS.httpTimeout));
  const expectText = v('http-expect-status', DEFAULTS.httpExpectStatus);
  const expectStatus = statusSpec('http-expect-status', expectText);
  const method = httpMethod(v('http-method', DEFAULTS.httpMethod));
  const headers = each(raw['http-header'], (h) => {
    const parsed = parseHeader(h);
    const name = parsed?.name ?? headerNameOf(h);
    if (!name) fail('http-header', h, "expected 'Name: value', e.g. 'X-Reload: 1'");
    const problem = headerProblem(name, parsed?.value ?? h.slice(h.indexOf(':') + 1).trim());
    // The value may be a secret: the message names the header, never its value.
    if (problem || !parsed) fail('http-header', `${name}: (value not shown)`, problem ?? '');
    return parsed;
  });
  const headerFiles: HeaderFileConfig[] = each(raw['http-header-file'], (h) => {
    const parsed =
      parseHeaderFile(h) ??
      fail(
        'http-header-file',
        h,
        "expected 'Name=/path', e.g. 'Authorization=/var/run/secrets/token'",
      );
    const problem = headerProblem(parsed.name);
    if (problem) fail('http-header-file', h, problem);
    return { name: parsed.name, path: path.resolve(cwd, parsed.path) };
  });
  const hosts = [...headers, ...headerFiles].filter((h) => h.name.toLowerCase() === 'host');
  if (hosts.length > 1) {
    const flag = headers.some((h) => h.name.toLowerCase() === 'host')
      ? 'http-header'
      : 'http-header-file';
    fail(flag, hosts.map((h) => h.name).join(', '), 'Host may be given once');
  }
  const urls = each(raw['http-url'], (u) => httpUrl(u));
  const tls = tlsConfig(raw, cwd, [...urls, ...(raw['verify-url'] ?? [])]);
  const bearer = raw['http-bearer-token-file'];
  if (bearer !== undefined) {
    if (bearer.trim() === '')
      fail('http-bearer-token-file', bearer, 'expected the path of a file holding the token');
    const named = [...headers, ...headerFiles].find(
      (h) => h.name.toLowerCase() === 'authorization',
    );
    if (named) {
      const by = headers.some((h) => h === named) ? '--http-header' : '--http-header-file';
      fail('http-bearer-token-file', bearer, `Authorization is also set by ${by}; give one`);
    }
  }
  const bearerHeader: HeaderFileConfig | undefined = bearer
    ? { name: 'Authorization', path: path.resolve(cwd, bearer), prefix: 'Bearer ' }
    : undefined;
  if (bearerHeader) headerFiles.push(bearerHeader);
  const retryInitialMs = duration('retry-initial', v('retry-initial', DEFAULTS.retryInitial));
  const retryMaxMs = duration('retry-max', v('retry-max', DEFAULTS.retryMax));
  if (retryMaxMs < retryInitialMs)
    throw new ConfigError(
      'retry-max',
      raw['retry-max'] ?? DEFAULTS.retryMax,
      `must be at least --retry-initial (${raw['retry-initial'] ?? DEFAULTS.retryInitial})`,
    );
  const server = resolveServerConfig(raw);
  const dryRun = raw['dry-run'] ?? false;
  const processConfig = resolveProcessConfig(raw, command, cwd);
  const { signal, restart, exec, exit } = processConfig;
  const render =
    raw['config-file'] !== undefined && raw['config-envsubst-file'] !== undefined
      ? Object.freeze({
          input: path.resolve(cwd, raw['config-file']),
          output: path.resolve(cwd, raw['config-envsubst-file']),
          ordinalFrom: ordinalFrom(raw['statefulset-ordinal-from-envvar']),
        })
      : undefined;
  if (raw['statefulset-ordinal-from-envvar'] !== undefined && !render) {
    fail(
      'statefulset-ordinal-from-envvar',
      raw['statefulset-ordinal-from-envvar'],
      'it applies to the rendering of --config-file into --config-envsubst-file; give both',
    );
  }
  if (urls.length === 0 && !signal && !restart && !exec && !exit && !dryRun && !render) {
    throw new ConfigError(
      'http-url',
      undefined,
      'nothing to do on a change; give --http-url URL, --signal, --restart, --exec or --exit, or --dry-run to only log changes',
    );
  }
  return Object.freeze({
    watch: Object.freeze(watchPaths(raw.watch, cwd)),
    selection: Object.freeze({
      include: Object.freeze(globs('include', raw.include)),
      exclude: Object.freeze(globs('exclude', raw.exclude)),
    }),
    resyncIntervalMs: duration('resync-interval', v('resync-interval', DEFAULTS.resyncInterval), {
      allowZero: true,
      min: 100,
    }),
    debounceMs,
    maxWaitMs,
    tls,
    bearer: bearerHeader,
    render,
    http: Object.freeze(
      urls.map((url) =>
        Object.freeze({ url, method, headers, headerFiles, expectStatus, timeoutMs, tls }),
      ),
    ),
    retry: Object.freeze({
      initialMs: retryInitialMs,
      maxMs: retryMaxMs,
      maxAttempts: integer('retries', v('retries', DEFAULTS.retries)),
    }),
    reloadOnStart: raw['reload-on-start'] ?? false,
    dryRun,
    // prometheus-config-reloader's --watch-interval=0 (compat.ts requires the rendering for it).
    once: raw['watch-interval'] !== undefined && parseDuration(raw['watch-interval']) === 0,
    process: processConfig,
    safety: resolveSafetyConfig(raw, processConfig, cwd),
    ...server,
  });
}

/** Resolves the process-wide options (the server, the log, the shutdown). */
export function resolveServerConfig(raw: RawOptions): ServerConfig {
  const logFormat = raw['log-format'] ?? DEFAULTS.logFormat;
  if (logFormat !== 'json' && logFormat !== 'logfmt')
    throw new ConfigError('log-format', logFormat, 'expected json or logfmt');
  const given = raw['log-level'] ?? DEFAULTS.logLevel;
  // prometheus-config-reloader's names for the two ends: none logs nothing, all everything.
  const logLevel = given === 'none' ? 'silent' : given === 'all' ? 'trace' : given;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    throw new ConfigError(
      'log-level',
      given,
      `expected one of ${LOG_LEVELS.join(', ')} (or prometheus-config-reloader's all and none)`,
    );
  const metricsPath = raw['metrics-path'] ?? DEFAULTS.metricsPath;
  if (!/^\/[^\s?#]*$/.test(metricsPath))
    throw new ConfigError(
      'metrics-path',
      metricsPath,
      'expected a path starting with /, e.g. /metrics',
    );
  if (['/healthz', '/readyz', '/status'].includes(metricsPath))
    throw new ConfigError(
      'metrics-path',
      metricsPath,
      `${metricsPath} is one of hotreload's own endpoints (probes and status); choose another path, e.g. /metrics`,
    );
  return {
    listen: listenAddress(raw.listen ?? DEFAULTS.listen),
    metricsPath,
    configmapReloadMetrics: raw['configmap-reload-metrics'] ?? false,
    logLevel: logLevel as LogLevel,
    logFormat,
    shutdownTimeoutMs: duration(
      'shutdown-timeout',
      raw['shutdown-timeout'] ?? DEFAULTS.shutdownTimeout,
      {
        allowZero: true,
      },
    ),
  };
}

/**
 * --http-ca-file, --http-client-cert/--http-client-key and --http-insecure-skip-verify: TLS for
 * the https:// URLs among `urls` (they are refused when there is none: they would do nothing).
 */
function tlsConfig(
  raw: RawOptions,
  cwd: string,
  urls: readonly (URL | string)[],
): TlsConfig | undefined {
  const { 'http-ca-file': ca, 'http-client-cert': cert, 'http-client-key': key } = raw;
  const insecure = raw['http-insecure-skip-verify'] ?? false;
  const given = (
    [
      ['http-ca-file', ca],
      ['http-client-cert', cert],
      ['http-client-key', key],
      ['http-insecure-skip-verify', insecure ? 'true' : undefined],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (given.length === 0) return undefined;
  for (const [flag, value] of given) {
    if (value!.trim() === '') fail(flag, value, 'expected the path of a PEM file');
  }
  if ((cert === undefined) !== (key === undefined)) {
    const [flag, value, other] =
      cert === undefined
        ? (['http-client-key', key, '--http-client-cert'] as const)
        : (['http-client-cert', cert, '--http-client-key'] as const);
    fail(flag, value, `a client certificate needs both; add ${other}`);
  }
  const https = urls.some((u) => String(u).startsWith('https:'));
  if (!https) {
    const [flag, value] = given[0]!;
    fail(flag, value, 'it applies to https:// URLs, and no --http-url or --verify-url is one');
  }
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(cwd, p));
  return Object.freeze({ caFile: abs(ca), certFile: abs(cert), keyFile: abs(key), insecure });
}

/** --statefulset-ordinal-from-envvar: an environment variable's name (POD_NAME by default). */
function ordinalFrom(name: string | undefined): string {
  if (name === undefined) return 'POD_NAME';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    fail(
      'statefulset-ordinal-from-envvar',
      name,
      'expected an environment variable name such as POD_NAME',
    );
  }
  return name;
}

/** --include / --exclude globs, each checked. */
function globs(flag: 'include' | 'exclude', values: readonly string[] | undefined): string[] {
  return each(values, (g) => glob(flag, g));
}
