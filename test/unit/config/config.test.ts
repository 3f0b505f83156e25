import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from '../../../src/config/cli.js';
import { resolveConfig, type Config } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/lib/errors.js';

const BASE = ['--watch', '/etc/config', '--http-url', 'http://127.0.0.1:8080/-/reload'];

/** argv/env -> Config, or the usage error message (as main.ts would print it). */
function load(argv: string[], env: Record<string, string> = {}): Config | string {
  const parsed = parse(argv, env, '1.2.3');
  if (parsed.kind === 'exit') return parsed.output;
  try {
    return resolveConfig(parsed.options, '/work');
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
}

function config(argv: string[], env: Record<string, string> = {}): Config {
  const c = load(argv, env);
  if (typeof c === 'string') assert.fail(c);
  return c;
}

describe('configuration', () => {
  it('has sane defaults', () => {
    const c = config(BASE);
    assert.deepEqual(c.watch, ['/etc/config']);
    assert.equal(c.debounceMs, 1000);
    assert.equal(c.maxWaitMs, 10_000);
    assert.equal(c.resyncIntervalMs, 60_000);
    assert.equal(c.http[0]!.method, 'POST');
    assert.equal(c.http[0]!.timeoutMs, 10_000);
    assert.equal(c.http[0]!.expectStatus.matches(204), true);
    assert.equal(c.http[0]!.expectStatus.matches(302), false);
    assert.deepEqual(c.retry, { initialMs: 500, maxMs: 30_000, maxAttempts: 0 });
    assert.deepEqual(c.listen, { host: undefined, port: 9533 });
    assert.equal(c.metricsPath, '/metrics');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.shutdownTimeoutMs, 5000);
    assert.equal(c.reloadOnStart, false);
    assert.equal(c.dryRun, false);
    assert.ok(Object.isFrozen(c));
  });

  it("accepts configmap-reload's flags unchanged, including Go's single-dash form", () => {
    const c = config([
      '-volume-dir=/etc/a',
      '--volume-dir=/etc/b',
      '--webhook-url=http://localhost:9090/-/reload',
      '--webhook-method=GET',
      '--webhook-status-code=200',
      '--webhook-retries=3',
      '--web.listen-address=127.0.0.1:9999',
      '-web.telemetry-path=/m',
    ]);
    assert.deepEqual(c.watch, ['/etc/a', '/etc/b']);
    assert.equal(c.http[0]!.url.href, 'http://localhost:9090/-/reload');
    assert.equal(c.http[0]!.method, 'GET');
    assert.equal(c.http[0]!.expectStatus.matches(200), true);
    assert.equal(c.http[0]!.expectStatus.matches(204), false);
    assert.equal(c.retry.maxAttempts, 3);
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 9999 });
    assert.equal(c.metricsPath, '/m');
  });

  it("accepts prometheus-config-reloader's names", () => {
    const c = config([
      '--watched-dir',
      '/a',
      '--reload-url',
      'http://x/-/reload',
      '--delay-interval',
      '2s',
      '--watch-interval',
      '3m',
    ]);
    assert.equal(c.debounceMs, 2000);
    assert.equal(c.resyncIntervalMs, 180_000);
  });

  it('reads every flag from HOTRELOAD_<FLAG>, and flags win', () => {
    const c = config(['--debounce', '2s'], {
      HOTRELOAD_WATCH: '/a, /b',
      HOTRELOAD_HTTP_URL: 'http://x/1,http://x/2',
      HOTRELOAD_HTTP_HEADER: 'X-A: 1\nX-B: two, three',
      HOTRELOAD_DEBOUNCE: '5s',
      HOTRELOAD_DRY_RUN: 'true',
      HOTRELOAD_LISTEN: '',
      HOTRELOAD_RETRIES: '4',
    });
    assert.deepEqual(c.watch, ['/a', '/b']);
    assert.equal(c.http.length, 2);
    assert.deepEqual(c.http[0]!.headers, [
      { name: 'X-A', value: '1' },
      { name: 'X-B', value: 'two, three' },
    ]);
    assert.equal(c.debounceMs, 2000);
    assert.equal(c.dryRun, true);
    assert.equal(c.listen, undefined);
    assert.equal(c.retry.maxAttempts, 4);
  });

  it('parses durations the Go way', () => {
    assert.equal(config([...BASE, '--debounce', '1m30s']).debounceMs, 90_000);
    assert.equal(config([...BASE, '--debounce', '0']).debounceMs, 0);
    assert.equal(config([...BASE, '--debounce', '250ms']).debounceMs, 250);
    assert.equal(config([...BASE, '--resync-interval', '0']).resyncIntervalMs, 0);
  });

  it('resolves relative watch paths and drops duplicates', () => {
    assert.deepEqual(config([...BASE, '--watch', 'conf', '--watch', '/work/conf']).watch, [
      '/etc/config',
      '/work/conf',
    ]);
  });

  it('a single-valued flag given twice takes the last value', () => {
    assert.equal(config([...BASE, '--debounce', '1s', '--debounce', '3s']).debounceMs, 3000);
  });

  it('dry-run needs no action', () => {
    assert.equal(config(['--watch', '/a', '--dry-run']).http.length, 0);
  });

  it('--listen accepts host:port forms', () => {
    assert.deepEqual(config([...BASE, '--listen', '[::1]:80']).listen, { host: '::1', port: 80 });
    assert.deepEqual(config([...BASE, '--listen', '0.0.0.0:0']).listen, {
      host: '0.0.0.0',
      port: 0,
    });
    assert.equal(config([...BASE, '--listen', '']).listen, undefined);
  });
});

// Each row: the arguments after BASE (or instead of it), and the flag the message must name.
const INVALID: [string, string[], string, RegExp?][] = [
  ['no watch path', ['--http-url', 'http://x/'], 'watch', /missing --watch/],
  ['empty watch path', ['--watch', '', '--http-url', 'http://x/'], 'watch'],
  ['--watch without a value', ['--http-url', 'http://x/', '--watch'], 'watch'],
  ['no action', ['--watch', '/a'], 'http-url', /--dry-run/],
  ['relative URL', [...BASE, '--http-url', '/-/reload'], 'http-url', /"\/-\/reload"/],
  ['not a URL', [...BASE, '--http-url', 'localhost 8080'], 'http-url'],
  ['unsupported scheme', [...BASE, '--http-url', 'ftp://x/'], 'http-url', /only http/],
  ['password shown redacted', [...BASE, '--http-url', 'ftp://u:hunter2@x/'], 'http-url', /xxxxx/],
  ['method with a space', [...BASE, '--http-method', 'PO ST'], 'http-method'],
  ['header without colon', [...BASE, '--http-header', 'X-Token'], 'http-header', /'Name: value'/],
  ['header with a bad name', [...BASE, '--http-header', 'X Token: 1'], 'http-header'],
  ['header file without =', [...BASE, '--http-header-file', 'Authorization'], 'http-header-file'],
  [
    'header file without path',
    [...BASE, '--http-header-file', 'Authorization='],
    'http-header-file',
  ],
  ['status word', [...BASE, '--http-expect-status', 'ok'], 'http-expect-status', /2xx/],
  ['status out of range', [...BASE, '--http-expect-status', '700'], 'http-expect-status'],
  ['status range reversed', [...BASE, '--http-expect-status', '299-200'], 'http-expect-status'],
  ['status 6xx', [...BASE, '--http-expect-status', '6xx'], 'http-expect-status'],
  ['timeout without unit', [...BASE, '--http-timeout', '10'], 'http-timeout', /1m30s/],
  ['timeout zero', [...BASE, '--http-timeout', '0'], 'http-timeout'],
  ['timeout negative', [...BASE, '--http-timeout=-1s'], 'http-timeout'],
  ['debounce word', [...BASE, '--debounce', 'soon'], 'debounce'],
  ['debounce unit only', [...BASE, '--debounce', 's'], 'debounce'],
  ['max-wait zero', [...BASE, '--max-wait', '0'], 'max-wait'],
  [
    'max-wait below debounce',
    [...BASE, '--debounce', '5s', '--max-wait', '1s'],
    'max-wait',
    /at least --debounce/,
  ],
  ['resync too short', [...BASE, '--resync-interval', '1ms'], 'resync-interval', /or 0 to disable/],
  ['resync unknown unit', [...BASE, '--resync-interval', '1d'], 'resync-interval'],
  ['retry-initial zero', [...BASE, '--retry-initial', '0'], 'retry-initial'],
  [
    'retry-max below retry-initial',
    [...BASE, '--retry-initial', '5s', '--retry-max', '1s'],
    'retry-max',
  ],
  ['retries negative', [...BASE, '--retries=-1'], 'retries'],
  ['retries fraction', [...BASE, '--retries', '1.5'], 'retries', /whole number/],
  ['retries word', [...BASE, '--webhook-retries', 'many'], 'retries'],
  ['listen without port', [...BASE, '--listen', 'localhost'], 'listen', /:9533/],
  ['listen port too big', [...BASE, '--listen', ':70000'], 'listen'],
  ['metrics path relative', [...BASE, '--metrics-path', 'metrics'], 'metrics-path'],
  ['log level unknown', [...BASE, '--log-level', 'verbose'], 'log-level', /trace, debug, info/],
  ['shutdown-timeout word', [...BASE, '--shutdown-timeout', 'never'], 'shutdown-timeout'],
  [
    'unknown flag',
    [...BASE, '--wach', '/a'],
    'wach',
    /unknown flag --wach \(did you mean --watch\?\)/,
  ],
  ['a negated value flag', [...BASE, '--no-debounce'], 'debounce', /only true\/false switches/],
  ['a flag given without its value', [...BASE, '--http-header'], 'http-header', /needs a value/],
  ['a negative duration as its own argument', [...BASE, '--debounce', '-1s'], 'debounce', /"-1s"/],
  ['a bad timeout of an unused action', [...BASE, '--exec-timeout', 'x'], 'exec-timeout'],
  ['dry-run with a non-boolean', [...BASE, '--dry-run=maybe'], 'dry-run', /true or false/],
  [
    'reload-on-start with a non-boolean',
    [...BASE, '--reload-on-start=sometimes'],
    'reload-on-start',
  ],
  ['metrics path via its alias', [...BASE, '--web.telemetry-path', 'x'], 'metrics-path'],
  ['listen via its alias', [...BASE, '--web.listen-address', 'nope'], 'listen'],
  ['unknown signal', [...BASE, '--signal', 'HUPP', '--process-name', 'x'], 'signal', /SIGUSR1/],
  ['signal zero', [...BASE, '--signal', '0', '--process-name', 'x'], 'signal'],
  [
    'signal without a target',
    ['--watch', '/a', '--signal', 'HUP'],
    'signal',
    /shareProcessNamespace/,
  ],
  ['restart without a target', ['--watch', '/a', '--restart'], 'restart', /--process-name/],
  [
    'unknown stop signal',
    [...BASE, '--restart', '--process-name', 'x', '--stop-signal', 'STOP!'],
    'stop-signal',
  ],
  [
    'stop-timeout zero',
    [...BASE, '--restart', '--process-name', 'x', '--stop-timeout', '0'],
    'stop-timeout',
  ],
  [
    'restart-wait without restart',
    [...BASE, '--restart-wait', '5s'],
    'restart-wait',
    /add --restart/,
  ],
  [
    'restart-wait word',
    [...BASE, '--restart', '--process-name', 'x', '--restart-wait', 'long'],
    'restart-wait',
  ],
  [
    'process-name with a path',
    [...BASE, '--signal', 'HUP', '--process-name', '/usr/sbin/nginx'],
    'process-name',
    /--process-match/,
  ],
  [
    'process-name without an action',
    [...BASE, '--process-name', 'nginx'],
    'process-name',
    /--signal or --restart/,
  ],
  [
    'process-match not a regex',
    [...BASE, '--signal', 'HUP', '--process-match', '(nginx'],
    'process-match',
    /regular expression/,
  ],
  ['pid-file empty', [...BASE, '--signal', 'HUP', '--pid-file', ''], 'pid-file'],
  ['all-matches without a selector', [...BASE, '--all-matches'], 'all-matches'],
  ['exec empty', ['--watch', '/a', '--exec', ' '], 'exec'],
  [
    'exec-timeout word',
    ['--watch', '/a', '--exec', 'true', '--exec-timeout', 'soon'],
    'exec-timeout',
  ],
  ['exit code too big', ['--watch', '/a', '--exit', '256'], 'exit', /0 to 255/],
  ['exit code word', ['--watch', '/a', '--exit', 'now'], 'exit'],
  [
    'proc-root empty',
    [...BASE, '--signal', 'HUP', '--process-name', 'x', '--proc-root', ''],
    'proc-root',
  ],
  ['stray positional', [...BASE, 'extra'], 'extra', /unexpected argument "extra"/],
];

describe('process actions', () => {
  it('resolves signals, selectors and the child command', () => {
    const c = config([
      '--watch',
      '/a',
      '--signal',
      '1',
      '--process-match',
      '^nginx: master',
      '--all-matches',
    ]);
    assert.deepEqual(c.process.signal, { name: 'SIGHUP', number: 1 });
    assert.equal(c.process.selector?.match?.source, '^nginx: master');
    assert.equal(c.process.selector?.all, true);
    assert.equal(c.process.stopSignal.name, 'SIGTERM');
    assert.equal(c.process.stopTimeoutMs, 10_000);
    assert.equal(c.process.procRoot, '/proc');
  });

  it('--signal and --restart target a child given after --', () => {
    const parsed = parse(['--watch', '/a', '--restart', '--', 'app', '--flag'], {}, '1');
    assert.equal(parsed.kind, 'run');
    if (parsed.kind !== 'run') return;
    const c = resolveConfig(parsed.options, '/', parsed.command);
    assert.deepEqual(c.process.command, ['app', '--flag']);
    assert.equal(c.process.restart, true);
    assert.equal(c.process.selector, undefined);
  });

  it('--exit takes an optional code', () => {
    assert.deepEqual(config(['--watch', '/a', '--exit']).process.exit, { code: 0 });
    assert.deepEqual(config(['--watch', '/a', '--exit', '3']).process.exit, { code: 3 });
    assert.deepEqual(config(['--watch', '/a'], { HOTRELOAD_EXIT: '4' }).process.exit, { code: 4 });
  });

  it('--exec needs no other action', () => {
    assert.equal(
      config(['--watch', '/a', '--exec', 'nginx -s reload']).process.exec?.timeoutMs,
      30_000,
    );
  });
});

describe('invalid values', () => {
  for (const [name, argv, flag, extra] of INVALID) {
    it(`rejects ${name}, naming the flag`, () => {
      const result = load(argv);
      assert.equal(typeof result, 'string', `expected a usage error, got a config`);
      assert.match(result as string, new RegExp(`\\b${flag.replace(/[.-]/g, '\\$&')}\\b`));
      if (extra) assert.match(result as string, extra);
    });
  }

  it('rejects bad values from the environment the same way', () => {
    assert.match(load(BASE, { HOTRELOAD_DEBOUNCE: 'soon' }) as string, /--debounce: "soon"/);
    assert.match(
      load(BASE, { HOTRELOAD_DRY_RUN: 'maybe' }) as string,
      /--dry-run \(from HOTRELOAD_DRY_RUN\): "maybe"; expected true or false/,
    );
  });

  it('reads Go-style boolean values', () => {
    assert.equal(config([...BASE, '--dry-run=1']).dryRun, true);
    assert.equal(config([...BASE, '-reload-on-start=true']).reloadOnStart, true);
    assert.equal(config([...BASE, '--dry-run=false']).dryRun, false);
    assert.equal(config(BASE, { HOTRELOAD_DRY_RUN: 'off' }).dryRun, false);
  });
});

describe('--help and --version', () => {
  it('--help lists every flag with an example and exits 0', () => {
    const r = parse(['--help'], {}, '1.2.3');
    assert.equal(r.kind, 'exit');
    assert.equal(r.kind === 'exit' && r.code, 0);
    const out = r.kind === 'exit' ? r.output : '';
    for (const flag of [
      '--watch',
      '--http-url',
      '--debounce',
      '--max-wait',
      '--retries',
      '--listen',
      '--dry-run',
      '--shutdown-timeout',
    ]) {
      assert.ok(out.includes(flag), flag);
    }
    assert.match(out, /Examples:/);
  });

  it('--version prints the version', () => {
    assert.deepEqual(parse(['--version'], {}, '1.2.3'), { kind: 'exit', code: 0, output: '1.2.3' });
  });
});
