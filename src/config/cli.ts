// The command line: yargs over the options table (options.ts), and a pure
// parse(argv, env) -> RawOptions. It reads no process state and applies no defaults (config.ts
// owns them), so an unset flag can be filled from HOTRELOAD_<FLAG> (env.ts) and --help still
// shows the default; an unknown flag is explained by suggest.ts.
import yargs from 'yargs';
import { ConfigError } from '../lib/errors.js';
import { envName, fromEnv, parseBoolean, unknownEnv } from './env.js';
import { EXAMPLES, OPTIONS, optionsByName, type Def, type RawOptions } from './options.js';
import { explainUnknown } from './suggest.js';

export type ParseResult =
  | {
      readonly kind: 'run';
      readonly options: RawOptions;
      /** The application to supervise as a child: what follows `--`. */
      readonly command: readonly string[];
      /** The options whose value came from HOTRELOAD_<FLAG>, for error messages. */
      readonly fromEnv: readonly string[];
    }
  | { readonly kind: 'exit'; readonly code: number; readonly output: string };

/**
 * Rewrites argv for yargs: configmap-reload parses flags with Go's flag package, which accepts
 * -flag as well as --flag; and a boolean given a value (--dry-run=false) must say true or false,
 * where yargs would silently read anything else as false.
 */
function normalizeArgv(argv: readonly string[]): string[] {
  const defs = optionsByName();
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return out.concat(argv.slice(i));
    // Go's -flag for every long name; an unknown one (a typo, -volume-dri) is read as one long
    // flag too, so it is reported once by its name instead of as a cluster of short flags.
    const go = /^-([a-zA-Z][a-zA-Z0-9._-]+)(=.*)?$/.exec(arg);
    const long = go ? `-${arg}` : arg;
    const withValue = /^--([a-z][a-z0-9.-]+)=(.*)$/s.exec(long);
    const def = withValue && defs.get(withValue[1]!);
    const bare = /^--([a-z][a-z0-9.-]+)$/.exec(long);
    const next = argv[i + 1];
    if (withValue && def?.type === 'boolean') {
      out.push(
        parseBoolean(withValue[1]!, withValue[2]!) ? `--${withValue[1]}` : `--no-${withValue[1]}`,
      );
    } else if (
      bare &&
      defs.get(bare[1]!)?.type === 'string' &&
      next !== undefined &&
      /^-\d/.test(next)
    ) {
      // "--debounce -1s": a value that starts like a flag; keep it the flag's value, so the
      // message names the flag instead of unknown flags -1 and -s.
      out.push(`${long}=${next}`);
      i++;
    } else {
      out.push(long);
    }
  }
  return out;
}

function build(version: string, columns: number) {
  return yargs()
    .scriptName('hotreload')
    .usage(
      '$0 [options] [-- COMMAND ARGS...]\n\nWatch mounted ConfigMaps and Secrets; when their content really changes, tell the application to reload.\nEvery flag can also be set as HOTRELOAD_<FLAG> (e.g. HOTRELOAD_HTTP_URL); flags win over the environment.\nDurations: 500ms, 10s, 1m30s.',
    )
    .parserConfiguration({
      'dot-notation': false,
      'populate--': true,
      'halt-at-non-option': false,
      'greedy-arrays': false,
      'duplicate-arguments-array': true,
      'flatten-duplicate-arrays': true,
      'camel-case-expansion': false,
      'strip-aliased': true,
      'boolean-negation': true,
    })
    .options(OPTIONS)
    .example(EXAMPLES)
    .strict()
    .help()
    .alias('help', 'h')
    .version(version)
    .wrap(Math.min(110, columns))
    .exitProcess(false);
}

/**
 * Parses argv and the environment; never exits and never prints (the caller does). `columns`:
 * the terminal's width, for --help.
 */
export function parse(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  version: string,
  columns = 110,
): ParseResult {
  try {
    return parseOrThrow(argv, env, version, columns);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return usageError(err.message);
  }
}

function parseOrThrow(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  version: string,
  columns: number,
): ParseResult {
  let failure: string | undefined;
  let output = '';
  let parsed: Record<string, unknown> = {};
  const parser = build(version, columns).fail((msg, err) => {
    failure = msg || (err ? err.message : 'invalid arguments');
  });
  // With a callback, yargs parses synchronously and hands over what it would have printed.
  void parser.parse(normalizeArgv(argv), {}, (err, args, out) => {
    if (err && !failure) failure = err.message;
    parsed = args;
    output = out;
  });
  if (failure) return usageError(explainUnknown(failure, argv));
  if (parsed.help || parsed.version) return { kind: 'exit', code: 0, output };
  const unknownVariable = unknownEnv(env);
  if (unknownVariable) return usageError(unknownVariable);
  const options: Record<string, unknown> = {};
  const fromEnvironment: string[] = [];
  for (const [key, def] of Object.entries(OPTIONS)) {
    let value = parsed[key];
    checkGiven(key, def, value);
    const text = env[envName(key)];
    if (value === undefined && text !== undefined) {
      value = fromEnv(key, def, text);
      fromEnvironment.push(key);
    }
    if (value !== undefined) options[key] = lastIfScalar(def, value);
  }
  const command = ((parsed['--'] as unknown[] | undefined) ?? []).map(String);
  return { kind: 'run', options, command, fromEnv: fromEnvironment };
}

/** A flag that takes a value must get one, and cannot be negated (--no-watch). */
function checkGiven(key: string, def: Def, value: unknown): void {
  if (value === undefined || def.type === 'boolean') return;
  const values = Array.isArray(value) ? (value as unknown[]) : [value];
  if (values.includes(false)) {
    throw new ConfigError(
      key,
      `--no-${key}`,
      `only true/false switches can be negated; give --${key} a value, or leave it out`,
    );
  }
  if (values.length === 0) throw new ConfigError(key, '', `--${key} needs a value`);
}

function usageError(message: string): ParseResult {
  return {
    kind: 'exit',
    code: 2,
    output: `hotreload: ${message}\nRun 'hotreload --help' for usage.`,
  };
}

/** A single-valued flag given twice takes the last value, as Go's flag package does. */
function lastIfScalar(def: Def, value: unknown): unknown {
  if (def.array || !Array.isArray(value)) return value;
  return value[value.length - 1];
}
