// Builds the shipped artifact: dist/main.js and the modules it loads (dist/*.js), bundled and
// minified from hotreload and the parts of its dependencies it uses, and
// dist/THIRD-PARTY-LICENSES.txt for what they bundle. The image then needs Node.js, those files and
// package.json (for the version): no node_modules.
// dist/main.js is executable, and its first line starts Node.js with NODE_FLAGS: the image's
// entrypoint runs the file itself, and so does `npm run bench`. Type checking is tsc's job
// (`npm run build` runs `tsc --noEmit` first); this only bundles.
// Run with `node --import tsx scripts/build.ts`.
//
// Why a bundle: a sidecar's memory is charged to every pod that carries it. Few files spare the
// module loader's per-file work (resolution, package.json lookups, a compiled wrapper per module),
// and tree shaking leaves out what no code path reaches. What only some runs need (the YAML parser
// of --config, `hotreload inject`, `hotreload probe`, the syntax checks of --validate) is split
// into modules of its own, loaded by import() when used: the others never read, parse or hold it
// (`npm run bench`: 0.5 MiB less private memory). `npm run bench` measures the result.
import { build, type Metafile, type Plugin } from 'esbuild';
import { chmod, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';

const OUT_DIR = 'dist';
const nodeRequire = createRequire(import.meta.url);
const MAIN_FILE = `${OUT_DIR}/main.js`;
/** The program's own module, next to MAIN_FILE (which loads it). */
const APP = 'hotreload';
/** `hotreload probe` alone: an exec probe loads a few KiB instead of the program. */
const PROBE = 'probe';
const LICENSES_FILE = `${OUT_DIR}/THIRD-PARTY-LICENSES.txt`;

/**
 * V8 settings for a sidecar that is idle nearly all the time and whose memory is charged to every
 * pod that carries it. They go on the command line: the first line of dist/main.js, and the
 * banner (reexecBanner) starts the process again with them when it was started without them
 * (`node dist/main.js`); set from inside the process, Node ignores most of them. Measured with
 * `npm run bench` (Node 24, RSS after 2,000 reloads):
 * - --max-opt=1: JavaScript runs in the interpreter and Sparkplug, never Maglev or TurboFan,
 *   whose compilers, zones and code stay resident once used: 61.7 MiB instead of 76.2 (Maglev)
 *   or 82.3 (TurboFan) after 1,000 reloads, for the same CPU per reload (2.07-2.09 ms).
 * - --max-semi-space-size=1 (MiB): the young generation stays small instead of growing to 16 or
 *   32 MiB per semi-space under a burst of events, for more, shorter scavenges.
 * - --optimize-for-size: V8 grows the heap less eagerly and keeps less slack: private memory
 *   after 2,000 reloads 18.2 -> 16.2 MiB (1.33x -> 1.24x the floor program, which gets the same
 *   flags), for about 0.15 ms more CPU per reload (1.8 -> 2.0 ms; the same ratio to the floor).
 *   In a sidecar that reloads a few times a day, memory is what every pod pays for.
 * And one for safety: --disable-sigusr1. Node opens its inspector on 127.0.0.1:9229 when it gets
 * SIGUSR1 and JavaScript has no handler for it; in a pod with a shared process namespace any
 * container could send one during start-up, then run code as hotreload, with its Secrets. The
 * banner's handler covers the rest of the time, and a child's (see reexecBanner).
 */
const NODE_FLAGS = [
  '--max-opt=1',
  '--max-semi-space-size=1',
  '--optimize-for-size',
  '--disable-sigusr1',
];

/**
 * Environment for the C library, set on the first line too (`env -S NAME=VALUE node ...`) and by
 * the banner when it starts the process again. glibc raises its trim threshold after freeing a
 * large block (as start-up does once it has compiled the bundle) and then keeps that memory;
 * a threshold set explicitly stays where it is, here at glibc's default of 128 KiB: 2.2 MiB less
 * private memory (19.1 -> 16.9 MiB after start-up on Node 24; the floor program gains 0.1 MiB).
 * A value the user sets wins. Other C libraries ignore it.
 */
const RUNTIME_ENV: Readonly<Record<string, string>> = { MALLOC_TRIM_THRESHOLD_: '131072' };

/**
 * Packages whose default export is loaded on its first call instead of at start-up. string-width
 * builds an Intl.Segmenter when it loads (ICU break-iterator data, about 2.4 MiB of RSS), and
 * yargs, cliui and wrap-ansi import it, yet only --help output measures text.
 */
const DEFERRED = ['string-width'];

await rm(OUT_DIR, { recursive: true, force: true });
const result = await build({
  // The program, and `hotreload probe` on its own; dist/main.js (written below) starts one.
  entryPoints: { [APP]: 'src/main.ts', [PROBE]: 'src/probe/main.ts' },
  outdir: OUT_DIR,
  // Modules reached only through import() become files of their own (dist/NAME-HASH.js), as does
  // code they share with the program, so an error class is one class whichever module throws it.
  splitting: true,
  chunkNames: '[name]-[hash]',
  bundle: true,
  platform: 'node',
  // The oldest Node.js that package.json's "engines" allows.
  target: 'node22.15',
  format: 'esm',
  // ES module builds first: jsonc-parser's "main" is a UMD build whose relative require()s a
  // bundler cannot follow.
  mainFields: ['module', 'main'],
  // Bundled CommonJS dependencies call require() for Node's built-in modules; an ES module has
  // no require of its own, so each output file makes one.
  banner: {
    js: [
      "import { createRequire as __hotreloadCreateRequire } from 'node:module';",
      'const require = __hotreloadCreateRequire(import.meta.url);',
    ].join('\n'),
  },
  minify: true,
  // Stack traces in fatal logs still name hotreload's functions and classes.
  keepNames: true,
  // Licence texts go to LICENSES_FILE instead, whole.
  legalComments: 'none',
  plugins: [
    builtinsThroughRequire(),
    deferDefaultExports(DEFERRED),
    pinoWithoutWorkers(),
    promClientWithoutExemplars(),
  ],
  logLevel: 'warning',
  metafile: true,
});
// The entry point: the SIGUSR1 handler and the re-execution with NODE_FLAGS come first of all,
// before any module of the program is loaded (an ES module's static imports run before its body).
await writeFile(
  MAIN_FILE,
  [
    reexecBanner(NODE_FLAGS, RUNTIME_ENV),
    `await import(process.argv[2] === '${PROBE}' ? './${PROBE}.js' : './${APP}.js');`,
    '',
  ].join('\n'),
);
await setCommandLine(MAIN_FILE, NODE_FLAGS, RUNTIME_ENV);
await notExecutable(`${OUT_DIR}/${APP}.js`);
const packages = await writeLicenses(result.metafile);
const outputs = Object.entries(result.metafile.outputs);
const bytes = outputs.reduce((sum, [, o]) => sum + o.bytes, 0);
const startup = outputs
  .filter(([file]) => file === `${OUT_DIR}/${APP}.js` || staticallyImported(file))
  .reduce((sum, [, o]) => sum + o.bytes, 0);
console.log(
  `built ${MAIN_FILE} and ${outputs.length} modules (${(bytes / 1024).toFixed(0)} KiB, ${(startup / 1024).toFixed(0)} KiB loaded at start, ${packages} packages bundled)`,
);

/** Whether the program's module imports `file` statically, directly or not (loaded at every start). */
function staticallyImported(file: string): boolean {
  const seen = new Set<string>();
  const visit = (out: string) => {
    for (const i of result.metafile.outputs[out]?.imports ?? []) {
      if (i.kind !== 'import-statement' || seen.has(i.path)) continue;
      seen.add(i.path);
      visit(i.path);
    }
  };
  visit(`${OUT_DIR}/${APP}.js`);
  return seen.has(file);
}

/**
 * The bundle's first statements: a SIGUSR1 handler (see NODE_FLAGS), then, when Node runs with
 * other flags than `flags` call for, the same process (same PID: it may be PID 1) executes Node
 * again with them, its own flags and arguments after, through process.execve (Node 22.15+):
 * - `node dist/main.js`, or any command that names node, lacks them: they are added. A flag the
 *   operator gave, with any value, is left as given.
 * - With a child (`hotreload ... -- COMMAND`), --disable-sigusr1 is taken out: under it Node
 *   ignores SIGUSR1 altogether, JavaScript handlers included, and hotreload passes SIGUSR1 on to
 *   its child (nginx reopens its logs on it). The handler above keeps the inspector closed from
 *   the first statement on.
 * The new process gets RUNTIME_ENV where the environment does not set it, and a marker variable
 * that stops a second re-execution (removed before hotreload reads its environment); when execve
 * fails, hotreload runs on with the flags it has.
 */
function reexecBanner(flags: readonly string[], env: Readonly<Record<string, string>>): string {
  const marker = 'HOTRELOAD_INTERNAL_REEXEC';
  const childOnlyOff = '--disable-sigusr1';
  return [
    "process.on('SIGUSR1', () => {});",
    '{',
    "  const name = (flag) => flag.split('=')[0];",
    "  const child = process.argv.slice(2).includes('--');",
    `  const unwanted = child ? [${JSON.stringify(childOnlyOff)}] : [];`,
    `  const wanted = ${JSON.stringify(flags)}.filter((f) => !unwanted.includes(f));`,
    '  const given = new Set(process.execArgv.map(name));',
    '  const missing = wanted.filter((f) => !given.has(name(f)));',
    '  const kept = process.execArgv.filter((a) => !unwanted.includes(name(a)));',
    '  const change = missing.length > 0 || kept.length < process.execArgv.length;',
    `  if (change && process.env.${marker} === undefined && typeof process.execve === 'function') {`,
    '    try {',
    '      const argv = [process.execPath, ...missing, ...kept, ...process.argv.slice(1)];',
    `      const env = { ...${JSON.stringify(env)}, ...process.env, ${marker}: '1' };`,
    '      process.execve(process.execPath, argv, env);',
    '    } catch {}',
    '  }',
    `  delete process.env.${marker};`,
    '}',
  ].join('\n');
}

/**
 * Makes `file` executable, its first line starting Node.js with `flags` (replacing the entry
 * module's `#!/usr/bin/env node`). `env -S` splits the line into arguments (coreutils 8.30+).
 */
async function setCommandLine(
  file: string,
  flags: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<void> {
  const code = await readFile(file, 'utf8');
  const body = code.startsWith('#!') ? code.slice(code.indexOf('\n') + 1) : code;
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  await writeFile(
    file,
    `#!/usr/bin/env -S ${[...assignments, 'node', ...flags].join(' ')}\n${body}`,
  );
  await chmod(file, 0o755);
}

/**
 * The program's module is started by MAIN_FILE only: esbuild keeps the entry's
 * `#!/usr/bin/env node` and its executable bit, which would start it without NODE_FLAGS.
 */
async function notExecutable(file: string): Promise<void> {
  const code = await readFile(file, 'utf8');
  if (code.startsWith('#!')) await writeFile(file, code.slice(code.indexOf('\n') + 1));
  await chmod(file, 0o644);
}

/**
 * Loads Node's built-in modules with require(), also where the source says `import`. Node
 * answers an `import` of a built-in with a module record of all its exports, reading each one,
 * and some are loaded on first read: `import http from 'node:http'` loads Node's own copy of
 * undici on Node 22+ (for http.WebSocket), `node:util` its argument parser, `node:buffer` its File
 * class. require() hands over the module object and reads nothing.
 */
function builtinsThroughRequire(): Plugin {
  return {
    name: 'builtins-through-require',
    setup(b) {
      b.onResolve({ filter: /^[a-z:][a-z0-9_/:]*$/ }, (args) =>
        args.kind === 'import-statement' && isBuiltin(args.path)
          ? { path: args.path, namespace: 'builtin' }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => {
        const name = JSON.stringify(args.path);
        // A module object (not a function or class) is handed over behind an empty object whose
        // prototype it is: the bundle's ES-module interop copies an import's own properties, and
        // reading some of Node's (lazy data properties such as util.TextDecoder) loads whole
        // modules (util's: its argument parser, worker_threads). Through the prototype every
        // export reads the same, on first use.
        const object = typeof nodeRequire(args.path) === 'object';
        return {
          contents: object
            ? `module.exports = Object.create(require(${name}));`
            : `module.exports = require(${name});`,
          loader: 'js',
        };
      });
    },
  };
}

/**
 * pino without its worker-thread transports, which hotreload never uses (it writes to its own
 * stream, lib/log.ts): thread-stream becomes a stand-in that throws if constructed, and pino's
 * `require('worker_threads')`, read for `isMainThread` alone, becomes `{ isMainThread: true }`
 * (hotreload runs on the main thread). Node's worker_threads then stays unloaded: 2 ms of
 * start-up and its memory in every pod (`npm run bench`). A pino whose source no longer has that
 * line fails the build, so an upgrade cannot silently load it again.
 */
function pinoWithoutWorkers(): Plugin {
  const WORKERS = "const { isMainThread } = require('worker_threads')";
  return {
    name: 'pino-without-workers',
    setup(b) {
      b.onResolve({ filter: /^thread-stream$/ }, () => ({
        path: 'thread-stream',
        namespace: 'no-thread-stream',
      }));
      b.onLoad({ filter: /.*/, namespace: 'no-thread-stream' }, () => ({
        contents:
          "module.exports = function ThreadStream() { throw new Error('pino transports are not part of hotreload'); };",
        loader: 'js',
      }));
      b.onLoad({ filter: /[\\/]pino[\\/]lib[\\/]tools\.js$/ }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        if (!text.includes(WORKERS)) {
          return { errors: [{ text: `${args.path} no longer has: ${WORKERS}` }] };
        }
        return {
          contents: text.replace(WORKERS, 'const { isMainThread } = { isMainThread: true }'),
          loader: 'js',
        };
      });
    },
  };
}

/**
 * prom-client without OpenTelemetry: its process CPU counters read the active span only when
 * exemplars are enabled, which hotreload never does (metrics/hotreload.ts), yet load all of
 * @opentelemetry/api (21 KiB, a tenth of what start-up compiles besides yargs) to do it. Here it
 * is a stand-in that throws if read, so enabling exemplars one day fails loudly, not silently.
 */
function promClientWithoutExemplars(): Plugin {
  return {
    name: 'prom-client-without-exemplars',
    setup(b) {
      b.onResolve({ filter: /^@opentelemetry\/api$/ }, (args) =>
        /[\\/]prom-client[\\/]/.test(args.importer)
          ? { path: 'opentelemetry-api', namespace: 'no-opentelemetry' }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'no-opentelemetry' }, () => ({
        contents: [
          "const off = () => { throw new Error('prom-client exemplars are not part of hotreload'); };",
          'module.exports = { get trace() { return off(); }, get context() { return off(); } };',
        ].join('\n'),
        loader: 'js',
      }));
    },
  };
}

/**
 * Replaces each import of the named packages with a stand-in whose default export loads the
 * real module, the copy that importer would have got, on first call. A bundled require() of an
 * ES module is initialised lazily, which is what defers the real module's top-level code.
 */
function deferDefaultExports(names: readonly string[]): Plugin {
  const filter = new RegExp(
    `^(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`,
  );
  return {
    name: 'defer-default-exports',
    setup(b) {
      b.onResolve({ filter }, async (args) => {
        if (args.pluginData === 'real') return undefined;
        const real = await b.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: 'real',
        });
        if (real.errors.length > 0) return { errors: real.errors };
        return { path: real.path, namespace: 'deferred' };
      });
      b.onLoad({ filter: /.*/, namespace: 'deferred' }, (args) => ({
        contents: [
          'let real;',
          'export default function deferred(...args) {',
          `  real ??= require(${JSON.stringify(args.path)}).default;`,
          '  return real(...args);',
          '}',
        ].join('\n'),
        resolveDir: path.dirname(args.path),
        loader: 'js',
      }));
    },
  };
}

/**
 * Writes the licence of every package the bundle holds code from; the bundle keeps no licence
 * comments, and the image ships no node_modules. Resolves the number of packages.
 */
async function writeLicenses(metafile: Metafile): Promise<number> {
  const roots = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const input of Object.keys(output.inputs)) {
      const root = /^(?:deferred:)?(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
      if (root) roots.add(path.relative(process.cwd(), path.resolve(root)));
    }
  }
  const sections: string[] = [];
  for (const root of [...roots].sort()) {
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
      license?: string;
    };
    const file = (await readdir(root)).find((f) => /^(licen[cs]e|copying)([.-]|$)/i.test(f));
    if (!file) throw new Error(`${root} has no licence file to ship with the bundle`);
    const text = (await readFile(path.join(root, file), 'utf8')).trim();
    sections.push(`${pkg.name}@${pkg.version} (${pkg.license ?? 'see below'})\n\n${text}\n`);
  }
  const header = `Third-party software bundled in ${OUT_DIR}/, with its licence.\n`;
  await writeFile(LICENSES_FILE, [header, ...sections].join(`\n${'-'.repeat(78)}\n\n`));
  return roots.size;
}
