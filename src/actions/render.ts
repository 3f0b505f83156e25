// --config-file with --config-envsubst-file (prometheus-config-reloader's): renders the watched
// configuration file into the output file before the application is told: gunzipped when it is
// gzip (a .gz name or its magic bytes), every $(NAME) replaced by the environment variable NAME,
// written to a temporary file beside the output and renamed over it (the application never reads
// half a file). It runs first, before every other action, and at start too (the output may be
// missing or stale). A reference to an unset variable fails the attempt (E_RENDER): the previous
// output stays, and the attempt is retried.
import path from 'node:path';
import { zlibModule } from '../lib/builtins.js';
import { writeFileAtomically } from '../lib/atomic-file.js';
import { ReloadError, codeOf } from '../lib/errors.js';
import { readSmallFile } from '../lib/small-file.js';
import type { Action } from './action.js';

export interface RenderOptions {
  readonly input: string;
  readonly output: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reading the input, at most. */
  readonly timeoutMs: number;
}

/** Compressed input and rendered output, at most (a Prometheus configuration is far smaller). */
const MAX_BYTES = 32 * 1024 * 1024;
const REFERENCE = /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g;

export function createRenderAction(opts: RenderOptions): Action {
  return {
    kind: 'render',
    target: `${opts.input} -> ${opts.output}`,
    // Rendered at start whatever was rendered before: the output may be missing or stale.
    holderSince: () => Promise.resolve(0),
    run: () => render(opts),
  };
}

/** Renders the input into the output once (the action's run, and --watch-interval=0). */
export async function render(opts: RenderOptions): Promise<void> {
  const raw = await readInput(opts);
  const text = substitute(unzipped(raw, opts.input).toString('utf8'), opts);
  await writeOutput(opts.output, text);
}

async function readInput(opts: RenderOptions): Promise<Buffer> {
  try {
    return await readSmallFile(opts.input, { maxBytes: MAX_BYTES, timeoutMs: opts.timeoutMs });
  } catch (err) {
    throw new ReloadError(
      'E_RENDER',
      `cannot read --config-file ${opts.input}: ${codeOf(err) ?? String(err)}`,
      {
        cause: err,
        hint: 'check that the volume holding it is mounted',
      },
    );
  }
}

function unzipped(raw: Buffer, input: string): Buffer {
  const gzip = input.endsWith('.gz') || (raw[0] === 0x1f && raw[1] === 0x8b);
  if (!gzip) return raw;
  try {
    return zlibModule().gunzipSync(raw, { maxOutputLength: MAX_BYTES });
  } catch (err) {
    throw new ReloadError(
      'E_RENDER',
      `--config-file ${input} is not valid gzip: ${(err as Error).message}`,
      {
        cause: err,
        hint: 'a .gz file must hold gzip data',
      },
    );
  }
}

/** Every $(NAME) replaced by the variable's value; unset ones are named in the error. */
export function substitute(text: string, opts: Pick<RenderOptions, 'env' | 'input'>): string {
  const unset = new Set<string>();
  const out = text.replace(REFERENCE, (ref, name: string) => {
    const value = opts.env[name];
    if (value === undefined) {
      unset.add(name);
      return ref;
    }
    return value;
  });
  if (unset.size > 0) {
    const names = [...unset].sort().join(', ');
    throw new ReloadError(
      'E_RENDER',
      `--config-file ${opts.input} refers to unset environment variables: ${names}`,
      {
        hint: `set them in the hotreload container (env: with valueFrom.fieldRef for $(POD_NAME)), or remove the references`,
      },
    );
  }
  return out;
}

async function writeOutput(output: string, text: string): Promise<void> {
  try {
    await writeFileAtomically(output, text);
  } catch (err) {
    throw new ReloadError(
      'E_RENDER',
      `cannot write --config-envsubst-file ${output}: ${codeOf(err) ?? String(err)}`,
      {
        cause: err,
        hint: `mount a writable volume (an emptyDir shared with the application) at ${path.dirname(output)}`,
      },
    );
  }
}
