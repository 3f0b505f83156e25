// The rules of one hotreload. From the flags: one rule, named "default". From --config FILE (YAML):
// each entry of its `rules` list, whose keys are the flags' long names. A rule is resolved by
// resolveConfig exactly as the flags are (over the process-wide flags), so every value gets the
// same checks; the messages name the file, the rule, the key and its line instead of a flag. It
// reads no file itself: the caller hands it the text (at start, and each time the file changes).
// The YAML is read by rules-file.ts, loaded (with its parser) only when there is a rules file.
import path from 'node:path';
import { ConfigError } from '../lib/errors.js';
import { parseSignal, type SignalSpec } from '../process/signals.js';
import { resolveConfig, resolveServerConfig, type Config, type ServerConfig } from './config.js';
import { DEFAULTS } from './defaults.js';
import { INHERITED_OPTIONS, PROCESS_OPTIONS, type RawOptions } from './options.js';
import { duration, fail } from './values.js';

/** The one rule of the flags form. */
export const DEFAULT_RULE = 'default';
/** A rules file larger than this is refused (a ConfigMap holds 1 MiB in all). */
export const MAX_RULES_FILE_BYTES = 1 << 20;

export interface Rule {
  readonly name: string;
  readonly config: Config;
  /** The rule as written, canonical: a rule whose source did not change keeps running. */
  readonly source: string;
}

/** What hotreload runs: the server, the supervised child, and the rules. */
export interface Setup {
  readonly server: ServerConfig;
  readonly child: {
    readonly command: readonly string[];
    readonly stopSignal: SignalSpec;
    readonly stopTimeoutMs: number;
  };
  readonly rules: readonly Rule[];
  /** With --config: the file, its text, and what its rules are resolved over (the flags given). */
  readonly rulesFile?: { readonly path: string; readonly text: string; readonly base: RawOptions };
}

/** A rules file that cannot be used: the message names the file, the rule and the key. */
export class RulesFileError extends ConfigError {
  constructor(file: string, problem: string) {
    super('config', file, problem);
    this.message = `${file}: ${problem}`;
  }
}

/**
 * A rules file's content, and the parser of rules-file.ts (parseRules), loaded only when there is
 * a file. Its signature is written here: rules-file.ts imports this module, not the other way.
 */
export interface RulesText {
  readonly text: string;
  readonly parse: (
    text: string,
    file: string,
    base: RawOptions,
    command: readonly string[],
  ) => readonly Rule[];
}

/**
 * The Setup of the flags: one rule from them, or with --config only the process-wide ones (a rule
 * setting given as a flag is a usage error) and the rules `rulesText` holds, the file's content.
 */
export function resolveSetup(
  raw: RawOptions,
  cwd: string,
  command: readonly string[],
  rulesText?: RulesText,
): Setup {
  const file = raw.config;
  if (file === undefined) {
    const config = resolveConfig(raw, cwd, command);
    return Object.freeze({
      server: resolveServerConfig(raw),
      child: {
        command: config.process.command,
        stopSignal: config.process.stopSignal,
        stopTimeoutMs: config.process.stopTimeoutMs,
      },
      rules: Object.freeze([{ name: DEFAULT_RULE, config, source: '' }]),
    });
  }
  checkRulesFlags(raw);
  if (!rulesText) throw new Error(`resolveSetup: --config ${file} given without its text`);
  const absolute = path.resolve(cwd, file);
  const base = processOptions(raw);
  return Object.freeze({
    server: resolveServerConfig(raw),
    child: {
      command: Object.freeze([...command]),
      stopSignal:
        parseSignal(raw['stop-signal'] ?? DEFAULTS.stopSignal) ??
        fail('stop-signal', raw['stop-signal'], 'expected a signal name or number such as TERM'),
      stopTimeoutMs: duration('stop-timeout', raw['stop-timeout'] ?? DEFAULTS.stopTimeout),
    },
    rules: rulesText.parse(rulesText.text, absolute, base, command),
    rulesFile: Object.freeze({ path: absolute, text: rulesText.text, base }),
  });
}

/**
 * With --config, a rule setting given as a flag (or HOTRELOAD_* variable) is a usage error: it
 * belongs in a rule of the file. Checked before the file is read.
 */
export function checkRulesFlags(raw: RawOptions): void {
  const file = raw.config;
  if (file === undefined) return;
  if (file.trim() === '') fail('config', file, 'expected the path of a YAML file of rules');
  for (const key of Object.keys(raw) as (keyof RawOptions)[]) {
    if (PROCESS_OPTIONS.has(key) || INHERITED_OPTIONS.has(key)) continue;
    fail(
      key,
      raw[key],
      `with --config, rule settings go in the file: set ${key} in a rule of ${file} (the flags that stay flags: --${[...PROCESS_OPTIONS, ...INHERITED_OPTIONS].filter((k) => k !== 'config').join(', --')})`,
    );
  }
}

/** The flags a rule of the file is resolved over. */
function processOptions(raw: RawOptions): RawOptions {
  const base = { ...raw };
  delete base.config;
  return base;
}
