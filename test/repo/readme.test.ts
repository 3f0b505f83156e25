// The README's flag table and metric list are the user's reference: they must list every flag the
// CLI accepts, with its aliases, its environment variable and the default --help shows, and every
// metric hotreload registers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { OPTIONS, envName, parse } from '../../src/config/cli.js';
import { createMetrics } from '../../src/metrics/hotreload.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const rows = new Map(
  readme
    .split('\n')
    .filter((l) => l.startsWith('| `--'))
    .map((l) => [/^\| `--([a-z.-]+)`/.exec(l)![1]!, l]),
);

describe('README flag table', () => {
  for (const [flag, def] of Object.entries(OPTIONS)) {
    it(`documents --${flag} with its aliases, variable and default`, () => {
      const row = rows.get(flag);
      assert.ok(row, `no row for --${flag}`);
      for (const alias of [def.alias ?? []].flat())
        assert.ok(row.includes(`\`--${alias}\``), alias);
      assert.ok(row.includes(`\`${envName(flag)}\``), envName(flag));
      const shown = def.defaultDescription?.split(' ')[0];
      if (shown) assert.ok(row.includes(`\`${shown}\``), `default ${shown}`);
    });
  }

  it('has no row for a flag the CLI does not have', () => {
    const known = new Set([...Object.keys(OPTIONS), 'help']);
    for (const flag of rows.keys()) assert.ok(known.has(flag), `--${flag} is not a flag`);
  });
});

describe('README metrics', () => {
  it("names every metric hotreload registers (its own, and configmap-reload's)", async () => {
    const metrics = createMetrics('test', { processMetrics: false, configmapReload: true });
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    assert.ok(names.length >= 15, `only ${names.length} metrics registered`);
    const missing = names.filter((name) => !readme.includes(`\`${name}`));
    assert.deepEqual(missing, [], 'metrics the README does not name');
  });
});

describe('README flag table against --help', () => {
  it('lists exactly the flags and aliases --help prints, with the defaults it prints', () => {
    const help = parse(['--help'], {}, '0.0.0');
    assert.equal(help.kind, 'exit');
    const output = help.kind === 'exit' ? help.output : '';
    // An option line of --help: "  --watch, --volume-dir  Path to ...", or "  -h, --help  Show help".
    const helpFlags = new Set(
      output
        .split('\n')
        .map((l) => l.split(/\s{2,}/))
        .filter((parts) => parts.length >= 3 && /^(-\w, )?--/.test(parts[1]!))
        .flatMap((parts) => [...parts[1]!.matchAll(/--([a-z][a-z.-]*)/g)].map((m) => m[1]!)),
    );
    const readmeFlags = new Set(
      [...rows.values()].flatMap((row) =>
        [...row.split('|')[1]!.matchAll(/`--([a-z][a-z.-]*)`/g)].map((m) => m[1]!),
      ),
    );
    helpFlags.delete('version');
    readmeFlags.delete('version');
    assert.ok(helpFlags.size > 40, `read only ${helpFlags.size} flags from --help`);
    assert.deepEqual([...readmeFlags].sort(), [...helpFlags].sort());
    for (const [, def] of Object.entries(OPTIONS)) {
      const shown = def.defaultDescription;
      if (shown) assert.ok(output.includes(`[default: ${shown}]`), `--help shows ${shown}`);
    }
  });
});
