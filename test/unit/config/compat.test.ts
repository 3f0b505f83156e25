// prometheus-config-reloader's flags, as prometheus-operator passes them, read by hotreload's own
// parser with their meanings (what it does not take yet, --config-file/--config-envsubst-file, is
// refused with what to use instead: test/reliability/bad-input.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from '../../../src/config/cli.js';
import { resolveConfig, type Config } from '../../../src/config/config.js';
import { withOrdinal } from '../../../src/actions/create.js';

function configOf(argv: string[]): Config {
  const parsed = parse(argv, {}, 'test');
  assert.equal(parsed.kind, 'run', parsed.kind === 'exit' ? parsed.output : '');
  if (parsed.kind !== 'run') throw new Error('unreachable');
  return resolveConfig(parsed.options, '/', parsed.command);
}

describe("prometheus-config-reloader's flags", () => {
  it('the operator sidecar arguments (http method) map onto hotreload options', () => {
    const c = configOf([
      '--listen-address=:8080',
      '--reload-url=http://127.0.0.1:9090/-/reload',
      '--watched-dir=/etc/prometheus/rules/prometheus-k8s-rulefiles-0',
      '--watch-interval=3m',
      '--log-format=logfmt',
      '--log-level=info',
      '--reload-timeout=30s',
      '--retry-interval=5s',
      '--runtimeinfo-url=http://127.0.0.1:9090/api/v1/status/runtimeinfo',
    ]);
    assert.deepEqual(c.listen, { host: undefined, port: 8080 });
    assert.deepEqual(c.watch, ['/etc/prometheus/rules/prometheus-k8s-rulefiles-0']);
    assert.equal(c.resyncIntervalMs, 180_000);
    assert.equal(c.logFormat, 'logfmt');
    assert.equal(c.http.length, 1);
    assert.equal(c.http[0]!.url.href, 'http://127.0.0.1:9090/-/reload');
    assert.equal(c.http[0]!.timeoutMs, 30_000);
    assert.deepEqual(
      { initial: c.retry.initialMs, max: c.retry.maxMs },
      { initial: 5000, max: 5000 },
    );
    assert.deepEqual(
      c.safety.verifyUrls.map((u) => u.href),
      ['http://127.0.0.1:9090/api/v1/status/runtimeinfo'],
    );
    assert.deepEqual(
      c.safety.verifyConditions.map((x) => x.text),
      ['.data.reloadConfigSuccess == true', '.data.lastConfigTime changed'],
    );
  });

  it('--reload-method=signal: SIGHUP to the prometheus process, no HTTP request', () => {
    const c = configOf(['--watched-dir=/etc/prometheus/rules', '--reload-method=signal']);
    assert.equal(c.http.length, 0);
    assert.equal(c.process.signal?.name, 'SIGHUP');
    assert.equal(c.process.selector?.name, 'prometheus');
  });

  it('--reload-method=signal keeps a selector and a signal given', () => {
    const c = configOf([
      '--watch=/etc/prometheus',
      '--reload-method=signal',
      '--signal=USR1',
      '--process-match=^/bin/prometheus ',
    ]);
    assert.equal(c.process.signal?.name, 'SIGUSR1');
    assert.equal(c.process.selector?.name, undefined);
    assert.equal(c.process.selector?.match?.source, '^\\/bin\\/prometheus ');
  });

  it('--watch-interval is the resync interval; 0 renders once and exits (the init container)', () => {
    assert.equal(
      configOf(['--watch', '/a', '--dry-run', '--watch-interval=3m']).resyncIntervalMs,
      180_000,
    );
    assert.equal(configOf(['--watch', '/a', '--dry-run', '--watch-interval=3m']).once, false);
    const init = configOf([
      '--watch-interval=0',
      '--config-file=/etc/prometheus/config/prometheus.yaml.gz',
      '--config-envsubst-file=/etc/prometheus/config_out/prometheus.env.yaml',
    ]);
    assert.equal(init.once, true);
    assert.equal(init.render?.ordinalFrom, 'POD_NAME');
  });

  it("--log-level takes prometheus-config-reloader's none and all; --process-executable-name is --process-name", () => {
    assert.equal(configOf(['--watch', '/a', '--dry-run', '--log-level=none']).logLevel, 'silent');
    assert.equal(configOf(['--watch', '/a', '--dry-run', '--log-level=all']).logLevel, 'trace');
    const c = configOf([
      '--reload-method=signal',
      '--watch',
      '/a',
      '--process-executable-name=prom',
    ]);
    assert.equal(c.process.selector?.name, 'prom');
  });

  it('$(STATEFULSET_ORDINAL_NUMBER) is the number the chosen variable ends with', () => {
    assert.equal(
      withOrdinal({ POD_NAME: 'prometheus-k8s-12' }, 'POD_NAME').STATEFULSET_ORDINAL_NUMBER,
      '12',
    );
    assert.equal(withOrdinal({ SHARD: '3' }, 'SHARD').STATEFULSET_ORDINAL_NUMBER, '3');
    assert.equal(withOrdinal({}, 'POD_NAME').STATEFULSET_ORDINAL_NUMBER, '');
  });
});
