// The user's reference in docs/: FLAGS.md must list every flag the CLI accepts, with its aliases,
// its environment variable and the default --help shows; OPERATIONS.md every metric hotreload
// registers. The README's short flag table names only flags that exist, and its links resolve.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parse } from '../../src/config/cli.js';
import { resolveConfig } from '../../src/config/config.js';
import { envName } from '../../src/config/env.js';
import { OPTIONS } from '../../src/config/options.js';
import { createMetrics } from '../../src/metrics/hotreload.js';

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
const flagsDoc = read('docs/FLAGS.md');
const operations = read('docs/OPERATIONS.md');
const rows = new Map(
  flagsDoc
    .split('\n')
    .filter((l) => l.startsWith('| `--'))
    .map((l) => [/^\| `--([a-z.-]+)`/.exec(l)![1]!, l]),
);

describe('docs/FLAGS.md', () => {
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

describe('docs/OPERATIONS.md metrics', () => {
  it("names every metric hotreload registers (its own, and configmap-reload's)", async () => {
    const metrics = createMetrics('test', { processMetrics: false, configmapReload: true });
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    assert.ok(names.length >= 15, `only ${names.length} metrics registered`);
    const missing = names.filter((name) => !operations.includes(`\`${name}`));
    assert.deepEqual(missing, [], 'metrics docs/OPERATIONS.md does not name');
  });
});

describe('docs/FLAGS.md against --help', () => {
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

describe('README and docs/', () => {
  const pages = [
    'README.md',
    'CHANGELOG.md',
    'SECURITY.md',
    ...readdirSync(new URL('../../docs/', import.meta.url)).map((f) => `docs/${f}`),
  ];

  it("the README's short flag table names only flags the CLI has", () => {
    const known = new Set(
      Object.entries(OPTIONS).flatMap(([f, d]) => [f, ...[d.alias ?? []].flat()]),
    );
    const named = [...read('README.md').matchAll(/^\| `--([a-z.-]+)`/gm)].map((m) => m[1]!);
    assert.ok(named.length >= 5, `${named.length} flags in the README's table`);
    for (const flag of named) assert.ok(known.has(flag), `--${flag}`);
  });

  it('every relative link of the README, CHANGELOG, SECURITY and docs/ names a file that exists, and an anchor it has', () => {
    const broken: string[] = [];
    for (const page of pages.filter((p) => p.endsWith('.md'))) {
      const base = new URL(`../../${page}`, import.meta.url);
      for (const m of read(page).matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1]!;
        if (/^[a-z]+:/.test(link)) continue;
        const [file, anchor] = link.split('#');
        const target = file ? new URL(file, base) : base;
        if (!existsSync(target)) {
          broken.push(`${page}: ${link}`);
          continue;
        }
        if (anchor && target.pathname.endsWith('.md')) {
          const slugs = readFileSync(target, 'utf8')
            .split('\n')
            .filter((l) => l.startsWith('#'))
            .map((l) => slug(l.replace(/^#+\s*/, '')));
          if (!slugs.includes(anchor)) broken.push(`${page}: ${link} (no such heading)`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });
});

/** GitHub's anchor of a heading. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .trim()
    .replace(/\s/g, '-');
}

describe('docs/FAQ.md recipes', () => {
  it('every `args:` list of its YAML blocks is accepted by the CLI and its configuration checks', () => {
    const text = readFileSync(new URL('../../docs/FAQ.md', import.meta.url), 'utf8');
    const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const lists = blocks
      .map((b) => (parseYaml(b) as { args?: unknown } | null)?.args)
      .filter((a): a is string[] => Array.isArray(a));
    assert.ok(lists.length >= 4, `only ${lists.length} args lists found`);
    for (const args of lists) {
      const parsed = parse(args, {}, 'test');
      assert.equal(parsed.kind, 'run', parsed.kind === 'exit' ? parsed.output : '');
      if (parsed.kind !== 'run') continue;
      assert.doesNotThrow(() => resolveConfig(parsed.options, '/', parsed.command), args.join(' '));
    }
  });
});
