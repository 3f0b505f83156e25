// What `npm publish` sends: `npm pack --dry-run --json` lists the tarball, and it must be exactly
// what a user of the package needs, nothing else. The bundle (dist/main.js, the `hotreload` bin,
// executable, and the modules it loads: every other dist/*.js the build wrote) and the licences
// of what it bundles (dist/THIRD-PARTY-LICENSES.txt: their licences ask for it wherever the code
// goes); package.json (the bin, engines, "type": "module", and the version hotreload reports);
// README.md, LICENSE and CHANGELOG.md (what it is, its terms, and the upgrade notes). No sources,
// tests, scripts, CI, docs, examples or Dockerfile: the bundle needs none of them, and README's
// links lead to the repository. Run after `npm run build` (npm test builds first).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  engines: { node: string };
  type: string;
  files: string[];
};

/** What the build wrote: dist/main.js, the modules it loads, the licences. */
function distFiles(): string[] {
  return readdirSync(`${ROOT}/dist`).map((f) => `dist/${f}`);
}

const TARBALL = () =>
  ['CHANGELOG.md', 'LICENSE', 'README.md', 'package.json', ...distFiles()].sort();

interface Packed {
  readonly name: string;
  readonly version: string;
  readonly files: { path: string; mode: number }[];
}

function pack(): Packed {
  // --ignore-scripts: no prepack or prepare script may change what is listed.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return (JSON.parse(out) as Packed[])[0]!;
}

describe('npm pack', () => {
  const built = existsSync(`${ROOT}/dist/main.js`);
  const packed = built ? pack() : undefined;

  it('holds exactly the bundle, its licences, package.json, README, LICENSE and CHANGELOG', () => {
    assert.ok(packed, 'dist/main.js is missing: run `npm run build` first');
    assert.deepEqual(packed.files.map((f) => f.path).sort(), TARBALL());
    assert.ok(distFiles().includes('dist/THIRD-PARTY-LICENSES.txt'));
  });

  it('ships the bin executable, for the Node.js versions the bundle is built for', () => {
    assert.ok(packed, 'dist/main.js is missing: run `npm run build` first');
    assert.deepEqual(pkg.bin, { hotreload: 'dist/main.js' });
    const main = packed.files.find((f) => f.path === 'dist/main.js')!;
    assert.equal(main.mode & 0o111, 0o111, `dist/main.js has mode ${main.mode.toString(8)}`);
    // dist/main.js is an ES module, and scripts/build.ts targets the oldest Node.js engines allows.
    assert.equal(pkg.type, 'module');
    const target = /target: 'node([\d.]+)'/.exec(readFileSync(`${ROOT}/scripts/build.ts`, 'utf8'));
    assert.equal(pkg.engines.node, `>=${target?.[1]}.0`);
  });

  it('its CHANGELOG has a section for the version it carries', () => {
    const changelog = readFileSync(`${ROOT}/CHANGELOG.md`, 'utf8');
    assert.match(changelog, /^## \[Unreleased\]$/m);
    assert.ok(
      changelog.includes(`\n## [${pkg.version}]`),
      `CHANGELOG.md has no section ## [${pkg.version}]`,
    );
  });
});
