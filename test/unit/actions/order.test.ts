// The actions run in one fixed, documented order whatever the order of the flags.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createActions } from '../../../src/actions/create.js';
import { parse } from '../../../src/config/cli.js';
import { resolveConfig } from '../../../src/config/config.js';
import { FakeClock } from '../../doubles/fake-clock.js';
import { logSink } from '../../doubles/log-sink.js';

function kinds(argv: string[]): string[] {
  const parsed = parse(argv, {}, '1');
  assert.equal(parsed.kind, 'run');
  if (parsed.kind !== 'run') return [];
  const config = resolveConfig(parsed.options, '/', parsed.command);
  const { actions } = createActions(config, {
    supervisor: undefined,
    kill: () => assert.fail('no kill while building'),
    selfPid: 1234,
    selfUid: 0,
    env: {},
    clock: new FakeClock(),
    log: logSink().log,
  });
  return actions.map((a) => a.kind);
}

describe('action order', () => {
  it('is exec, http, signal, verify, whatever the order of the flags', () => {
    const argv = [
      '--watch',
      '/a',
      '--verify-url',
      'http://127.0.0.1:1/healthz',
      '--signal',
      'HUP',
      '--process-name',
      'app',
      '--http-url',
      'http://127.0.0.1:1/a',
      '--exec',
      'true',
      '--http-url',
      'http://127.0.0.1:1/b',
    ];
    assert.deepEqual(kinds(argv), ['exec', 'http', 'http', 'signal', 'verify']);
  });

  it('is exec, http, restart, then exit last', () => {
    const restart = ['--watch', '/a', '--restart', '--process-name', 'app', '--exec', 'true'];
    assert.deepEqual(kinds([...restart, '--http-url', 'http://127.0.0.1:1/a']), [
      'exec',
      'http',
      'restart',
    ]);
    const exit = ['--watch', '/a', '--exit', '3', '--http-url', 'http://127.0.0.1:1/a'];
    assert.deepEqual(kinds([...exit, '--exec', 'true']), ['exec', 'http', 'exit']);
  });

  it('builds only the actions configured', () => {
    assert.deepEqual(kinds(['--watch', '/a', '--signal', 'HUP', '--process-name', 'nginx']), [
      'signal',
    ]);
  });
});
