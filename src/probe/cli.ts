// `hotreload probe URL [--timeout 2s]`: the command line of probe.ts. Exit codes: 0 the URL
// answered 2xx, 1 it did not (one line on stderr says what it answered, or the error), 2 a usage
// error (the message names the argument, the value and the fix). It writes through the streams
// it is given and reads nothing else of the process.
import { parseDuration } from '../lib/duration.js';
import { parseCommandArgs } from '../lib/command-args.js';
import { maskCredentials, redactUrl } from '../lib/redact.js';
import { VERSION } from '../lib/version.js';
import { probe } from './probe.js';

export interface ProbeIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

export const DEFAULT_PROBE_TIMEOUT = '2s';

const USAGE = `Usage: hotreload probe URL [--timeout DURATION]

GET the URL: exit 0 on a 2xx answer, 1 on any other answer or error (one line says which),
2 on a usage error. For exec probes: hotreload's image has no curl or wget.

  --timeout DURATION  the whole request, connect to last header (default ${DEFAULT_PROBE_TIMEOUT});
                      keep the probe's timeoutSeconds above it
  -h, --help          this text

Example (a container of hotreload's image):
  livenessProbe: { exec: { command: [hotreload, probe, 'http://127.0.0.1:8080/healthz'] }, timeoutSeconds: 3 }`;

/** Runs the subcommand on its arguments (what follows `probe`); resolves the exit code. */
export async function runProbe(argv: readonly string[], io: ProbeIo): Promise<number> {
  const args = parseCommandArgs(argv, {
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (!args.ok) return usage(io, args.message);
  if (args.values.help) {
    io.stdout.write(USAGE + '\n');
    return 0;
  }
  const [text, ...extra] = args.positionals;
  if (text === undefined)
    return usage(
      io,
      'missing URL: give the URL to GET, e.g. hotreload probe http://127.0.0.1:8080/healthz',
    );
  if (extra.length > 0)
    return usage(
      io,
      `one URL only; also given: ${extra.map((e) => JSON.stringify(maskCredentials(e))).join(' ')}`,
    );
  const url = httpUrl(text);
  if (!url)
    return usage(
      io,
      `invalid URL: ${JSON.stringify(maskCredentials(text))}; expected an http:// or https:// URL such as http://127.0.0.1:8080/healthz`,
    );
  const timeoutText = (args.values.timeout as string | undefined) ?? DEFAULT_PROBE_TIMEOUT;
  const timeoutMs = parseDuration(timeoutText);
  if (timeoutMs === undefined || timeoutMs <= 0)
    return usage(
      io,
      `invalid value for --timeout: ${JSON.stringify(timeoutText)}; expected a duration above zero such as 500ms, 2s or 1m`,
    );
  const result = await probe(url, timeoutMs, `hotreload-probe/${VERSION}`);
  if (result.ok) {
    io.stdout.write(`${result.line}\n`);
    return 0;
  }
  io.stderr.write(`hotreload probe: GET ${redactUrl(url)}: ${result.line}\n`);
  return 1;
}

function httpUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== ''
      ? url
      : undefined;
  } catch {
    return undefined;
  }
}

function usage(io: ProbeIo, message: string): number {
  io.stderr.write(`hotreload probe: ${message}\nRun 'hotreload probe --help' for usage.\n`);
  return 2;
}
