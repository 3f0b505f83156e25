// The Dockerfiles, read as Docker would (dockerfile-ast, dockerfile-utils' checks), since no
// Docker engine builds them here: no problem reported, and the runtime stage keeps the image's
// promises (Node 24, UID 65532, only the bundle and package.json, `hotreload` on the PATH as the
// entrypoint, OCI labels). .ci/run builds what scripts/dockerfile.ts reads from the build stage.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DockerfileParser, type Copy, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { DEFAULTS } from '../../src/config/defaults.js';
import { buildStageCopies } from '../../scripts/dockerfile.js';

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
const dockerfile = read('Dockerfile');

/** The instructions of the last stage (the image), from its FROM on. */
function runtimeStage(text: string): Instruction[] {
  const parsed = DockerfileParser.parse(text);
  const start = parsed.getFROMs().at(-1)!.getRange().start.line;
  return parsed.getInstructions().filter((i) => i.getRange().start.line >= start);
}

const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());

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

  it('the image: Node 24, only the bundle and package.json, UID 65532, hotreload as the entrypoint', () => {
    const stage = runtimeStage(dockerfile);
    const of = (keyword: string) => stage.filter((i) => i.getKeyword() === keyword);
    assert.match(args(of('FROM')[0]!)[0]!, /^node:24(-|$)/);
    assert.deepEqual(
      of('COPY').map((c) => [(c as Copy).getFromFlag()?.getValue(), ...args(c).slice(-2)]),
      [
        ['build', '/src/package.json', './package.json'],
        ['build', '/src/dist', './dist'],
      ],
    );
    assert.deepEqual(of('WORKDIR').map(args), [['/app']]);
    assert.deepEqual(of('USER').map(args), [['65532:65532']]);
    assert.deepEqual(of('RUN').map(args), [
      ['ln', '-s', '/app/dist/main.js', '/usr/local/bin/hotreload'],
    ]);
    const entrypoint = of('ENTRYPOINT');
    assert.equal(entrypoint.length, 1);
    assert.deepEqual(JSON.parse(entrypoint[0]!.getArgumentsContent()!), ['hotreload']);
    assert.deepEqual(of('EXPOSE').map(args), [[DEFAULTS.listen.replace(/^:/, '')]]);
    const labels = of('LABEL')
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
