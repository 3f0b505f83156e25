// A Config for tests that start parts of hotreload in-process: built the way main.ts builds one
// (parse, then resolveConfig), from flags, so every field has the value the CLI would give it;
// then the fields a test wants different.
import assert from 'node:assert/strict';
import { parse } from '../../src/config/cli.js';
import { resolveConfig, type Config } from '../../src/config/config.js';

/**
 * The Config of `hotreload --watch W... --dry-run ARGV...` (--dry-run, so no action is needed),
 * with `overrides` on top.
 */
export function testConfig(
  watch: readonly string[],
  overrides: Partial<Config> = {},
  argv: readonly string[] = [],
): Config {
  const parsed = parse([...watch.flatMap((w) => ['--watch', w]), '--dry-run', ...argv], {}, 'test');
  assert.equal(parsed.kind, 'run', parsed.kind === 'exit' ? parsed.output : '');
  if (parsed.kind !== 'run') throw new Error('unreachable');
  return { ...resolveConfig(parsed.options, '/', parsed.command), dryRun: false, ...overrides };
}
