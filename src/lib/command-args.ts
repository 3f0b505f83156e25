// The arguments of a subcommand (`hotreload probe`, `hotreload inject`), over node:util's
// parseArgs, strict: an unknown flag, a flag without its value or a value given to a switch is a
// usage message naming the flag and the fix, never an exception. It knows no subcommand's flags.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export type CommandOptions = NonNullable<ParseArgsConfig['options']>;
export type CommandValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export type CommandArgs =
  | { readonly ok: true; readonly values: CommandValues; readonly positionals: string[] }
  | { readonly ok: false; readonly message: string };

/** Parses `argv` against `options`: flags anywhere, positionals kept in order. */
export function parseCommandArgs(argv: readonly string[], options: CommandOptions): CommandArgs {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: true,
    });
    return { ok: true, values, positionals };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (!e.code?.startsWith('ERR_PARSE_ARGS_')) throw err;
    return { ok: false, message: explain(e, options) };
  }
}

function explain(err: NodeJS.ErrnoException, options: CommandOptions): string {
  // Node writes the flag as '--timeout <value>', or '-h, --help' when it has a short form.
  const flag = /'(?:-\w, )?(-[^' ]+)/.exec(err.message)?.[1] ?? '';
  const known = Object.entries(options)
    .map(([name, o]) => `--${name}${o.type === 'string' ? ' VALUE' : ''}`)
    .join(', ');
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
    return `unknown flag ${flag}; the flags are ${known}`;
  if (/does not take an argument/.test(err.message))
    return `${flag} is a switch and takes no value; give ${flag} alone`;
  if (/ambiguous/.test(err.message))
    return `the value of ${flag} starts with a dash: write it ${flag}=VALUE`;
  if (/argument missing/.test(err.message)) return `${flag} needs a value: ${flag} VALUE`;
  return err.message;
}
