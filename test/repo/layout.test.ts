// The layout of src/ as a contract: one level of concept folders, no barrel files, no import
// cycle, and imports that run one way (from the composition root down to lib/). Also the test
// tree's split: doubles for unit tests, a harness that scripts may use. See docs/ARCHITECTURE.md.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Each folder of src/ and the folders it may import from (beside itself). '.' is main.ts and
 * app.ts. A folder missing here fails the test: a new concept says where it sits.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  '.': [
    'inject',
    'probe',
    'serve',
    'rules',
    'reload',
    'actions',
    'validate',
    'watch',
    'config',
    'volume',
    'metrics',
    'process',
    'lib',
  ],
  inject: ['config', 'lib'],
  probe: ['lib'],
  serve: ['reload', 'watch', 'config', 'lib'],
  rules: [
    'reload',
    'actions',
    'validate',
    'watch',
    'config',
    'volume',
    'metrics',
    'process',
    'lib',
  ],
  reload: ['actions', 'validate', 'volume', 'metrics', 'process', 'lib'],
  actions: ['config', 'metrics', 'process', 'lib'],
  validate: ['process', 'lib'],
  watch: ['volume', 'lib'],
  config: ['process', 'lib'],
  volume: ['process', 'lib'],
  metrics: ['lib'],
  process: ['lib'],
  lib: [],
};

function filesUnder(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|mjs)$/.test(e.name))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm;

/** The repository files `file` imports by a relative specifier (.js written, .ts on disk). */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(SPECIFIER)].map((m) =>
    path.normalize(path.join(path.dirname(file), m[2]!)).replace(/\.js$/, '.ts'),
  );
}

/** The folder of a src/ file: '.' for src/main.ts and src/app.ts. */
function folderOf(file: string): string {
  const parts = path.relative('src', file).split(path.sep);
  return parts.length === 1 ? '.' : parts[0]!;
}

const SRC = filesUnder('src').filter((f) => !f.endsWith('.d.ts'));

describe('the layout of src/', () => {
  it('has one level of concept folders, each listed in MAY_IMPORT, and no barrel index.ts', () => {
    for (const f of SRC) {
      const depth = path.relative('src', f).split(path.sep).length;
      assert.ok(depth <= 2, `${f}: more than one level of folders`);
      assert.ok(folderOf(f) in MAY_IMPORT, `${f}: folder ${folderOf(f)} is not in MAY_IMPORT`);
      assert.notEqual(path.basename(f), 'index.ts', `${f}: name the module for what it does`);
    }
    assert.deepEqual(SRC.filter((f) => folderOf(f) === '.').sort(), ['src/app.ts', 'src/main.ts']);
  });

  it('imports run one way: each folder only from the folders below it', () => {
    const wrong: string[] = [];
    for (const f of SRC) {
      const from = folderOf(f);
      for (const to of importsOf(f).map(folderOf)) {
        if (to !== from && !MAY_IMPORT[from]!.includes(to)) wrong.push(`${f} imports from ${to}/`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('has no import cycle between modules', () => {
    const graph = new Map(SRC.map((f) => [f, importsOf(f)]));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, trail: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(f)), f].join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const g of graph.get(f) ?? []) visit(g, [...trail, f]);
      state.set(f, 'done');
    };
    for (const f of SRC) visit(f, []);
    assert.deepEqual(cycles, []);
  });

  it('finds the imports it checks (the checks above cannot pass on an empty graph)', () => {
    assert.ok(importsOf('src/main.ts').includes(path.join('src', 'app.ts')));
    assert.ok(SRC.length > 40, `${SRC.length} modules`);
  });
});

describe('the layout of test/ and scripts/', () => {
  const imports = (dir: string) =>
    filesUnder(dir).flatMap((f) => importsOf(f).map((to) => ({ f, to })));

  it('src/ imports nothing from test/ or scripts/', () => {
    assert.deepEqual(
      imports('src').filter(({ to }) => !to.startsWith('src' + path.sep)),
      [],
    );
  });

  it('test doubles do not use the end-to-end harness', () => {
    assert.deepEqual(
      imports('test/doubles').filter(({ to }) => to.startsWith(path.join('test', 'harness'))),
      [],
    );
  });

  it('scripts use the harness only, never unit-test doubles or tests', () => {
    const bad = imports('scripts').filter(
      ({ to }) => to.startsWith('test' + path.sep) && !to.startsWith(path.join('test', 'harness')),
    );
    assert.deepEqual(bad, []);
  });

  it('no unit test waits in real time (a fake clock drives time; real time is for test/integration)', () => {
    const waits: string[] = [];
    for (const f of filesUnder('test/unit')) {
      const text = readFileSync(path.join(ROOT, f), 'utf8');
      const found = [
        ...[...text.matchAll(/(?<![.\w])setTimeout\([^,]+,\s*([^)]+)\)/g)].filter(
          (m) => m[1]!.trim() !== '0',
        ),
        ...text.matchAll(/node:timers\/promises|\brealClock\b|\bsetInterval\(/g),
      ];
      for (const m of found) waits.push(`${f}: ${m[0]}`);
    }
    assert.deepEqual(waits, []);
  });

  it('unit tests mirror src/: test/unit/FOLDER/ exists as src/FOLDER/', () => {
    const folders = readdirSync(path.join(ROOT, 'test/unit'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    for (const folder of folders) assert.ok(folder in MAY_IMPORT, `test/unit/${folder}`);
    assert.deepEqual(
      filesUnder('test/unit').filter((f) => path.dirname(f) === path.join('test', 'unit')),
      [],
      'every unit test sits in the folder of the module it tests',
    );
  });
});
