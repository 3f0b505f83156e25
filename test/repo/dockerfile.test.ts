// The Dockerfiles, read as Docker would (dockerfile-ast, dockerfile-utils' checks), since no
// Docker engine builds them here: no problem reported, and the image keeps its promises (Node 24's
// binary alone on Debian slim: no npm, npx, yarn, yarnpkg or corepack; UID 65532; only the bundle
// and package.json; `hotreload` on the PATH as the entrypoint; OCI labels), built without a
// frontend image pulled by a `# syntax=` line. .ci/run builds what scripts/dockerfile.ts reads
// from the build stage, and runs the bundle with a copy of the node binary alone.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DockerfileParser, type Copy, type From, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { DEFAULTS } from '../../src/config/defaults.js';
import { buildStageCopies } from '../../scripts/dockerfile.js';

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
const dockerfile = read('Dockerfile');

interface Stage {
  readonly from: From;
  /** The stage's instructions, its FROM first. */
  readonly instructions: Instruction[];
}

/** The stages of a Dockerfile, in order. */
function stagesOf(text: string): Stage[] {
  const parsed = DockerfileParser.parse(text);
  const froms = parsed.getFROMs();
  return froms.map((from, n) => {
    const start = from.getRange().start.line;
    const end = froms[n + 1]?.getRange().start.line ?? Number.POSITIVE_INFINITY;
    const instructions = parsed
      .getInstructions()
      .filter((i) => i.getRange().start.line >= start && i.getRange().start.line < end);
    return { from, instructions };
  });
}

const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());
const stages = stagesOf(dockerfile);
const runtime = stages.at(-1)!;
const of = (stage: Stage, keyword: string) =>
  stage.instructions.filter((i) => i.getKeyword() === keyword);
/** The Debian release of a node or debian image tag: 24-bookworm-slim, bookworm-slim. */
const debianRelease = (from: From) =>
  /^(?:\d+-)?([a-z]+)-slim$/.exec(from.getImageTag() ?? '')?.[1];
const PACKAGE_MANAGERS = ['npm', 'npx', 'yarn', 'yarnpkg', 'corepack'];

describe('Dockerfiles', () => {
  for (const file of ['Dockerfile', 'examples/child/Dockerfile']) {
    it(`${file}: no problem found by dockerfile-utils`, () => {
      const problems = validate(read(file)).map(
        (d) =>
          `line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`,
      );
      assert.deepEqual(problems, []);
    });
  }

  it('the Dockerfile has no parser directive (no syntax line: BuildKit pulls no frontend image)', () => {
    assert.deepEqual(
      DockerfileParser.parse(dockerfile)
        .getDirectives()
        .map((d) => d.toString()),
      [],
    );
    assert.doesNotMatch(dockerfile, /^#\s*syntax\s*=/im);
  });

  it('three stages: the bundle built on the builder platform, Node 24 for the target, Debian slim', () => {
    assert.deepEqual(
      stages.map(({ from }) => [
        from.getImage(),
        from.getBuildStage(),
        from.getPlatformFlag()?.getValue(),
      ]),
      [
        ['node:24-bookworm-slim', 'build', '$BUILDPLATFORM'],
        ['node:24-bookworm-slim', 'node', undefined],
        ['debian:bookworm-slim', null, undefined],
      ],
    );
    // The node stage only lends its binary: nothing runs there.
    assert.deepEqual(
      stages[1]!.instructions.map((i) => i.getKeyword()),
      ['FROM'],
    );
    // The node binary is linked against the C library of the Debian release it was packaged for.
    assert.equal(debianRelease(runtime.from), debianRelease(stages[1]!.from));
  });

  it('the image: the node binary alone, no npm, npx, yarn, yarnpkg or corepack', () => {
    // Debian slim ships no Node.js tooling, and from the node image only its binary is copied
    // (to the path examples/child/Dockerfile takes it from).
    assert.equal(runtime.from.getImageName(), 'debian');
    const fromNode = of(runtime, 'COPY').filter(
      (c) => (c as Copy).getFromFlag()?.getValue() === 'node',
    );
    assert.deepEqual(fromNode.map(args), [['/usr/local/bin/node', '/usr/local/bin/node']]);
    for (const i of runtime.instructions) {
      const words = i.getArgumentsContent() ?? '';
      for (const tool of PACKAGE_MANAGERS)
        assert.doesNotMatch(
          words,
          new RegExp(`(^|[\\s/])${tool}\\b`),
          `${i.getKeyword()} ${words}`,
        );
    }
  });

  it('the image: only the bundle and package.json, UID 65532, hotreload as the entrypoint', () => {
    assert.deepEqual(
      of(runtime, 'COPY').map((c) => [(c as Copy).getFromFlag()?.getValue(), ...args(c).slice(-2)]),
      [
        ['node', '/usr/local/bin/node', '/usr/local/bin/node'],
        ['build', '/src/package.json', './package.json'],
        ['build', '/src/dist', './dist'],
      ],
    );
    assert.deepEqual(of(runtime, 'WORKDIR').map(args), [['/app']]);
    assert.deepEqual(of(runtime, 'USER').map(args), [['65532:65532']]);
    assert.deepEqual(of(runtime, 'RUN').map(args), [
      ['ln', '-s', '/app/dist/main.js', '/usr/local/bin/hotreload'],
    ]);
    const entrypoint = of(runtime, 'ENTRYPOINT');
    assert.equal(entrypoint.length, 1);
    assert.deepEqual(JSON.parse(entrypoint[0]!.getArgumentsContent()!), ['hotreload']);
    assert.deepEqual(of(runtime, 'EXPOSE').map(args), [[DEFAULTS.listen.replace(/^:/, '')]]);
    const labels = of(runtime, 'LABEL')
      .map((l) => l.getArgumentsContent())
      .join(' ');
    for (const key of ['title', 'description', 'version', 'licenses'])
      assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key}=`));
  });

  it('the build stage installs with the lockfile and copies what the build reads', () => {
    const copies = buildStageCopies(dockerfile).map((c) => c.source);
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'src'])
      assert.ok(copies.includes(needed), `the build stage does not copy ${needed}`);
    assert.match(dockerfile, /^RUN npm ci\b/m);
    assert.match(dockerfile, /^RUN npm run build$/m);
  });

  it('.dockerignore keeps local builds, dependencies and history out of the context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'dist', '.git']) assert.ok(ignored.includes(entry), entry);
  });
});
