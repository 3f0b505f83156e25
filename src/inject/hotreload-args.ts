// The sidecar's arguments: hotreload's flags built from a workload's settings and watched
// volumes, then checked by hotreload's own parser and resolution (config/: parse(), then
// resolveConfig() or, with a rules file, checkRulesFlags()), so an annotation gets exactly the
// checks the flag would. A problem names where the value came from (the annotation or the flag of
// `inject`). It builds no container (sidecar.ts does).
import { parse } from '../config/cli.js';
import { resolveConfig } from '../config/config.js';
import type { RawOptions } from '../config/options.js';
import { checkRulesFlags } from '../config/rules.js';
import { ConfigError } from '../lib/errors.js';
import { VERSION } from '../lib/version.js';
import type { Given, Settings } from './settings.js';
import type { WatchedVolume } from './volumes.js';

/** Where --state-file keeps what each target took: an emptyDir, which outlives container restarts. */
export const STATE_VOLUME = 'hotreload-state';
export const STATE_DIR = '/var/run/hotreload';
export const STATE_FILE = `${STATE_DIR}/state.json`;

/** Flags inject sets itself: in hotreload.dev/args they would contradict the sidecar it writes. */
const OWNED: Readonly<Partial<Record<keyof RawOptions, string>>> = {
  watch: 'inject sets --watch from hotreload.dev/watch',
  config: 'give the rules file in hotreload.dev/config',
  listen: 'the sidecar listens on :9533, where its probes and port point',
  'state-file': `inject sets --state-file=${STATE_FILE} on an emptyDir it adds`,
};

/** Flags that tell the application something: one of them must be there. */
const ACTIONS: readonly (keyof RawOptions)[] = [
  'http-url',
  'signal',
  'restart',
  'exec',
  'exit',
  'config',
  'config-envsubst-file',
];

export interface Argument {
  /** The option's key in RawOptions, for messages. */
  readonly key: string;
  readonly text: string;
  readonly from: string;
}

/**
 * hotreload's argv for the sidecar, in a fixed order: what to watch, whom to tell, the extra
 * flags, and --state-file (not with a rules file, where it is a rule's setting).
 */
export function sidecarArgs(settings: Settings, watched: readonly WatchedVolume[]): Argument[] {
  const args: Argument[] = [];
  const add = (key: string, given: Given | undefined, text: (v: string) => string) => {
    if (given === undefined || given.value === false) return;
    const values = Array.isArray(given.value) ? given.value : [String(given.value)];
    for (const v of values as string[]) args.push({ key, text: text(v), from: given.from });
  };
  if (!settings.config) {
    const from = settings.watch?.from ?? 'the volumes to watch';
    for (const w of watched) args.push({ key: 'watch', text: `--watch=${w.mountPath}`, from });
  }
  add('http-url', settings['http-url'], (v) => `--http-url=${v}`);
  add('signal', settings.signal, (v) => `--signal=${v}`);
  add('restart', settings.restart, () => '--restart');
  add('process-name', settings['process-name'], (v) => `--process-name=${v}`);
  add('process-match', settings['process-match'], (v) => `--process-match=${v}`);
  add('exit', settings.exit, (v) => `--exit=${v}`);
  add('config', settings.config, (v) => `--config=${v}`);
  add('args', settings.args, (v) => v);
  if (!settings.config)
    args.push({ key: 'state-file', text: `--state-file=${STATE_FILE}`, from: 'inject' });
  return args;
}

export type Checked =
  | { readonly ok: true; readonly options: RawOptions }
  | { readonly ok: false; readonly problem: string; readonly noAction?: true };

/** Checks `args` as hotreload would at start; the options they give, or the first problem. */
export function checkArgs(args: readonly Argument[], extra: Given | undefined): Checked {
  if (extra) {
    const own = args.filter((a) => a.key === 'args').map((a) => a.text);
    const alone = parse(own, {}, VERSION);
    if (alone.kind === 'exit')
      return problem(
        `${extra.from}: ${alone.code === 0 ? '--help and --version print and exit; leave them out' : firstLine(alone.output)}`,
      );
    if (alone.command.length > 0)
      return problem(
        `${extra.from}: a command after -- runs the application as hotreload's child, which a sidecar cannot; leave it out`,
      );
    for (const key of Object.keys(alone.options) as (keyof RawOptions)[]) {
      const why = OWNED[key];
      if (why) return problem(`${extra.from}: --${key} is not for hotreload.dev/args: ${why}`);
    }
  }
  const parsed = parse(
    args.map((a) => a.text),
    {},
    VERSION,
  );
  if (parsed.kind === 'exit') return problem(`hotreload's flags: ${firstLine(parsed.output)}`);
  const options = parsed.options;
  if (!ACTIONS.some((key) => options[key] !== undefined))
    return { ok: false, problem: 'nothing says how to tell the application', noAction: true };
  try {
    if (options.config !== undefined) checkRulesFlags(options);
    else resolveConfig(options, '/', []);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const from = args.find((a) => a.key === err.flag)?.from ?? extra?.from ?? 'hotreload';
    return problem(`${from}: ${err.message}`);
  }
  return { ok: true, options };
}

function problem(text: string): Checked {
  return { ok: false, problem: text };
}

/** A usage message's first line, without the `hotreload: ` it starts with. */
function firstLine(output: string): string {
  return output.split('\n')[0]!.replace(/^hotreload: /, '');
}
