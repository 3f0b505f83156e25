// The actions run in one fixed, documented order whatever the order of the flags.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createActions } from '../../src/actions/index.js';
import { parse } from '../../src/cli.js';
import { realClock } from '../../src/clock.js';
import { resolveConfig } from '../../src/config.js';
import { logSink } from '../support/log-sink.js';

function kinds(argv: string[]): string[] {
  const parsed = parse(argv, {}, '1');
  assert.equal(parsed.kind, 'run');
  if (parsed.kind !== 'run') return [];
  const config = resolveConfig(parsed.options, '/', parsed.command);
  const actions = createActions(config, {
    supervisor: undefined,
    kill: () => assert.fail('no kill while building'),
    selfPid: 1234,
    selfUid: 0,
    env: {},
    clock: realClock,
    log: logSink().log,
    requestExit: () => assert.fail('no exit while building'),
  });
  return actions.map((a) => a.kind);
}

describe('action order', () => {
  it('is exec, http, signal, restart, exit', () => {
    const argv = [
      '--watch',
      '/a',
      '--exit',
      '3',
      '--restart',
      '--signal',
      'HUP',
      '--process-name',
      'app',
    ];
    const all = [
      ...argv,
      '--http-url',
      'http://127.0.0.1:1/a',
      '--exec',
      'true',
      '--http-url',
      'http://127.0.0.1:1/b',
    ];
    assert.deepEqual(kinds(all), ['exec', 'http', 'http', 'signal', 'restart', 'exit']);
  });

  it('builds only the actions configured', () => {
    assert.deepEqual(kinds(['--watch', '/a', '--signal', 'HUP', '--process-name', 'nginx']), [
      'signal',
    ]);
  });
});
