// `hotreload inject [FILE...]`: the command line of inject.ts. Reads the manifests (files, or
// stdin for `-` or none), writes them with the sidecar added to stdout, notes to stderr. Exit
// codes: 0 written; 1 refused (nothing is written: every problem is listed, each naming the
// file, the workload and the fix); 2 a usage error. It touches the process only through `io`.
import { createReadStream } from 'node:fs';
import { parseCommandArgs, type CommandOptions } from '../lib/command-args.js';
import { VERSION } from '../lib/version.js';
import { inject, type Input } from './inject.js';
import {
  ANNOTATION_PREFIX,
  SETTINGS,
  splitList,
  type SettingKey,
  type Settings,
} from './settings.js';

export interface InjectIo {
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly stdout: { write(text: string, done: (err?: Error | null) => void): unknown };
  readonly stderr: { write(text: string): unknown };
}

/** The sidecar's image when neither --image nor hotreload.dev/image names one. */
export const DEFAULT_IMAGE = `ghcr.io/hotreload/hotreload:${VERSION}`;

/** The most of one input that is read: far above any chart's rendering. */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

const FLAG_KEYS = (Object.keys(SETTINGS) as SettingKey[]).filter(
  (k) => !SETTINGS[k].annotationOnly,
);

const OPTIONS: CommandOptions = {
  ...Object.fromEntries(
    FLAG_KEYS.map((k) => [
      k,
      SETTINGS[k].type === 'boolean'
        ? { type: 'boolean' as const }
        : { type: 'string' as const, multiple: SETTINGS[k].type === 'list' },
    ]),
  ),
  help: { type: 'boolean', short: 'h' },
};

/** --help's width: the lines of a flag's description wrap at it. */
const HELP_COLUMNS = 100;

function usageText(defaultImage: string): string {
  const left = (k: SettingKey) =>
    `--${k}${SETTINGS[k].type === 'boolean' ? '' : ` ${SETTINGS[k].value}`}`;
  const width = Math.max(...FLAG_KEYS.map((k) => left(k).length)) + 4;
  const flags = FLAG_KEYS.flatMap((k) => {
    const more = k === 'image' ? ` (default ${defaultImage})` : '';
    const lines = wrap(`${SETTINGS[k].describe}${more}`, HELP_COLUMNS - width);
    return lines.map(
      (line, i) => `${i === 0 ? `  ${left(k)}`.padEnd(width) : ' '.repeat(width)}${line}`,
    );
  });
  return [
    'Usage: hotreload inject [FLAGS] [FILE...]    (no FILE, or -: stdin)',
    '',
    'Adds the hotreload sidecar to the Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs,',
    'CronJobs and Pods of Kubernetes manifests (and to those among the items of a List); anything',
    'else passes through unchanged. What to add comes from the flags, else from the annotations',
    `of the same names on the workload (${ANNOTATION_PREFIX}watch, ...) or its pod template.`,
    `${ANNOTATION_PREFIX}inject: "false" leaves a workload out; one that has hotreload already is left`,
    'as it is. Any problem refuses the whole run: nothing is written, every problem is listed.',
    'Exit codes: 0 written, 1 refused, 2 a usage error.',
    '',
    ...flags,
    `${'  -h, --help'.padEnd(width)}this text`,
    '',
    'Example:',
    "  hotreload inject deployment.yaml --signal HUP --process-match '^nginx: master' | kubectl apply -f -",
    '',
    'docs/INJECT.md has the annotations, the refusals and examples.',
  ].join('\n');
}

/** `text` in lines of at most `columns` characters, broken at spaces. */
function wrap(text: string, columns: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > columns) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

/** Runs the subcommand on its arguments (what follows `inject`); resolves the exit code. */
export async function runInject(
  argv: readonly string[],
  io: InjectIo,
  defaultImage = DEFAULT_IMAGE,
): Promise<number> {
  const args = parseCommandArgs(argv, OPTIONS);
  if (!args.ok) return usage(io, args.message);
  if (args.values.help) {
    await write(io, usageText(defaultImage) + '\n');
    return 0;
  }
  const flags = settingsOfFlags(args.values);
  if (typeof flags === 'string') return usage(io, flags);
  const files = args.positionals.length === 0 ? ['-'] : args.positionals;
  if (files.filter((f) => f === '-').length > 1) return usage(io, 'stdin (-) can be read once');
  if (files.includes('-') && io.stdin.isTTY)
    return usage(io, 'give manifest files, or pipe them in: helm template . | hotreload inject');
  const inputs: Input[] = [];
  for (const file of files) {
    try {
      inputs.push({ name: file === '-' ? '<stdin>' : file, text: await readInput(file, io) });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      io.stderr.write(`hotreload inject: cannot read ${file}: ${e.code ?? e.message}\n`);
      return 1;
    }
  }
  const result = inject(inputs, { flags, defaultImage });
  for (const note of result.notes) io.stderr.write(`hotreload inject: ${note}\n`);
  if (result.problems.length > 0) {
    for (const p of result.problems) io.stderr.write(`hotreload inject: ${p}\n`);
    io.stderr.write(
      `hotreload inject: refused (${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}); nothing written\n`,
    );
    return 1;
  }
  await write(io, result.output);
  return 0;
}

/** The settings the flags give; a flag given an empty value is a usage error. */
function settingsOfFlags(values: Record<string, unknown>): Settings | string {
  const settings: Settings = {};
  for (const key of FLAG_KEYS) {
    const value = values[key];
    if (value === undefined) continue;
    const from = `--${key}`;
    const def = SETTINGS[key];
    if (def.type === 'boolean') {
      settings[key] = { value: value as boolean, from };
      continue;
    }
    const given = def.type === 'list' ? (value as string[]) : [value as string];
    const items = key === 'args' ? given : given.flatMap((v) => splitList(v, def.separator ?? ','));
    if (items.length === 0 || items.some((v) => v.trim() === ''))
      return `${from} needs a value: ${from} ${def.value}`;
    settings[key] = { value: def.type === 'list' ? items : items[0]!.trim(), from };
  }
  return settings;
}

/** A file's text (or stdin's, for `-`), at most MAX_INPUT_BYTES. */
async function readInput(file: string, io: InjectIo): Promise<string> {
  const stream = file === '-' ? io.stdin : createReadStream(file);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += bytes.length;
    if (size > MAX_INPUT_BYTES)
      throw Object.assign(new Error(`larger than ${MAX_INPUT_BYTES} bytes`), { code: 'E2BIG' });
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function write(io: InjectIo, text: string): Promise<void> {
  return new Promise((resolve, reject) =>
    io.stdout.write(text, (err) => (err ? reject(err) : resolve())),
  );
}

function usage(io: InjectIo, message: string): number {
  io.stderr.write(`hotreload inject: ${message}\nRun 'hotreload inject --help' for usage.\n`);
  return 2;
}
