// Node's built-in modules that only some configurations use, loaded the first time they are
// needed instead of at start: child_process (a supervised child, --exec, --validate-cmd) and zlib
// (a gzipped --config-file). Each built-in module loaded costs start-up time (they are compiled
// again: hotreload's V8 flags do not match those Node's code cache was made with) and memory in
// every pod, including the pods that never use it. `npm run bench` measures start-up and memory.
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

let childProcess: typeof import('node:child_process') | undefined;
let zlib: typeof import('node:zlib') | undefined;

/** node:child_process, loaded at the first call. */
export function childProcessModule(): typeof import('node:child_process') {
  return (childProcess ??= load('node:child_process') as typeof import('node:child_process'));
}

/** node:zlib, loaded at the first call. */
export function zlibModule(): typeof import('node:zlib') {
  return (zlib ??= load('node:zlib') as typeof import('node:zlib'));
}
