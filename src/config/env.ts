// The environment: HOTRELOAD_<FLAG> for every flag, how a variable's text becomes the option's
// value (a boolean, a comma- or newline-separated list), and the variables that name no option.
import { ConfigError } from '../lib/errors.js';
import { OPTIONS, type Def } from './options.js';
import { closest } from './suggest.js';

/** true/false, yes/no, on/off, 1/0, as Go and most tools read them. */
export function parseBoolean(flag: string, text: string): boolean {
  if (/^(1|t|true|yes|on)$/i.test(text.trim())) return true;
  if (/^(0|f|false|no|off)$/i.test(text.trim())) return false;
  throw new ConfigError(flag, text, 'expected true or false');
}

/** The HOTRELOAD_<FLAG> variable of an option. */
export function envName(key: string): string {
  return `HOTRELOAD_${key.toUpperCase().replace(/[-.]/g, '_')}`;
}

export function fromEnv(key: string, def: Def, text: string): string | boolean | string[] {
  if (def.type === 'boolean') return parseBoolean(`${key} (from ${envName(key)})`, text);
  if (!def.array) return text;
  const sep = def.env === 'newline' ? /\r?\n/ : ',';
  return text
    .split(sep)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** What hotreload itself sets for --exec and --validate-cmd; not options, never refused. */
const OWN_VARIABLES = new Set([
  'HOTRELOAD_CHANGED',
  'HOTRELOAD_CHANGED_TRUNCATED',
  'HOTRELOAD_FINGERPRINT',
]);

/**
 * A HOTRELOAD_* variable that names no option (a typo would otherwise be ignored in silence):
 * the message, with the variable meant; undefined when every one is known.
 */
export function unknownEnv(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const known = Object.keys(OPTIONS).map(envName);
  const unknown = Object.keys(env).filter(
    (k) => k.startsWith('HOTRELOAD_') && !known.includes(k) && !OWN_VARIABLES.has(k),
  );
  if (unknown.length === 0) return undefined;
  return unknown
    .sort()
    .map((k) => {
      const meant = closest(k, known);
      return `unknown environment variable ${k}${meant ? ` (did you mean ${meant}?)` : '; every flag --name is HOTRELOAD_NAME'}`;
    })
    .join('; ');
}
