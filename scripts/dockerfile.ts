// Reads the Dockerfile's build stage for CI, which has no Docker engine: prints what each COPY
// from the build context puts where, one "SOURCE<TAB>DESTINATION" line per file or directory,
// the destination relative to the stage's WORKDIR. .ci/run copies exactly that into a clean
// directory and builds there, so a file the build needs but the Dockerfile does not copy fails
// CI. test/repo/dockerfile.test.ts checks the rest of the Dockerfile.
//
//   node --import tsx scripts/dockerfile.ts [Dockerfile]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DockerfileParser, type Copy } from 'dockerfile-ast';

export interface ContextCopy {
  /** As written in the Dockerfile, relative to the build context. */
  readonly source: string;
  /** Relative to the stage's WORKDIR. */
  readonly destination: string;
}

/** The COPY instructions from the build context in the first stage, in order. */
export function buildStageCopies(dockerfile: string): ContextCopy[] {
  const parsed = DockerfileParser.parse(dockerfile);
  const stages = parsed.getFROMs();
  const firstStageEnd = stages[1]?.getRange().start.line ?? Number.POSITIVE_INFINITY;
  let workdir = '/';
  const copies: ContextCopy[] = [];
  for (const instruction of parsed.getInstructions()) {
    if (instruction.getRange().start.line >= firstStageEnd) break;
    const keyword = instruction.getKeyword();
    const args = instruction.getArguments().map((a) => a.getValue());
    if (keyword === 'WORKDIR') workdir = path.posix.resolve(workdir, args[0] ?? '.');
    if (keyword !== 'COPY' || (instruction as Copy).getFromFlag()) continue;
    const paths = args.filter((a) => !a.startsWith('--'));
    const dest = paths.pop();
    if (dest === undefined || paths.length === 0)
      throw new Error(`COPY without a source: ${args.join(' ')}`);
    const intoDir = dest.endsWith('/') || paths.length > 1;
    for (const source of paths) {
      const target = path.posix.resolve(
        workdir,
        intoDir ? path.posix.join(dest, path.posix.basename(source)) : dest,
      );
      const relative = path.posix.relative(workdir, target);
      if (relative.startsWith('..') || path.posix.isAbsolute(relative))
        throw new Error(`COPY ${source} ${dest} leaves WORKDIR ${workdir}`);
      copies.push({ source, destination: relative });
    }
  }
  return copies;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2] ?? 'Dockerfile';
  for (const c of buildStageCopies(readFileSync(file, 'utf8'))) {
    process.stdout.write(`${c.source}\t${c.destination}\n`);
  }
}
