// Resolves the options of the process actions (--signal, --restart, --exec, --exit, the target
// selectors and the supervised child) into their part of the Config. Like config.ts, every bad
// value is a ConfigError naming the flag; it does not touch processes.
import path from 'node:path';
import type { RawOptions } from './options.js';
import { DEFAULTS } from './defaults.js';
import { duration, fail } from './values.js';
import { parseDuration } from '../lib/duration.js';
import type { ProcessSelector } from '../process/select.js';
import { SIGNAL_NAMES, parseSignal, type SignalSpec } from '../process/signals.js';

export interface ProcessConfig {
  /** The selectors given, or undefined (then a supervised child is the target). */
  readonly selector: ProcessSelector | undefined;
  readonly procRoot: string;
  readonly signal: SignalSpec | undefined;
  readonly restart: boolean;
  readonly stopSignal: SignalSpec;
  readonly stopTimeoutMs: number;
  /** 0: do not wait for the new process after --restart. */
  readonly restartWaitMs: number;
  /** A target process younger than this is not signalled yet (0: no wait). */
  readonly minProcessAgeMs: number;
  readonly exec: { readonly command: string; readonly timeoutMs: number } | undefined;
  readonly exit: { readonly code: number } | undefined;
  /** The application to run as a child (what follows `--`), or empty. */
  readonly command: readonly string[];
}

const SIGNAL_HELP = `expected a signal name or number such as HUP, SIGUSR1 or 1 (one of ${SIGNAL_NAMES.join(', ')})`;

function signal(flag: string, text: string): SignalSpec {
  return parseSignal(text) ?? fail(flag, text, SIGNAL_HELP);
}

function selector(raw: RawOptions, cwd: string): ProcessSelector | undefined {
  const { 'process-name': name, 'process-match': matchText, 'pid-file': pidFile } = raw;
  if (name === undefined && matchText === undefined && pidFile === undefined) {
    if (raw['all-matches'])
      fail(
        'all-matches',
        'true',
        'it applies to --process-name, --process-match or --pid-file; give one of them',
      );
    return undefined;
  }
  if (name !== undefined && (name === '' || name.includes('/'))) {
    fail(
      'process-name',
      name,
      'expected a process name such as nginx (no path; use --process-match for the command line)',
    );
  }
  if (pidFile === '')
    fail('pid-file', pidFile, 'expected the path of a file holding a PID, e.g. /run/nginx.pid');
  return Object.freeze({
    ...(name !== undefined && { name }),
    ...(matchText !== undefined && { match: regex(matchText) }),
    ...(pidFile !== undefined && { pidFile: path.resolve(cwd, pidFile) }),
    all: raw['all-matches'] ?? false,
  });
}

function regex(text: string): RegExp {
  if (text === '')
    fail('process-match', text, "expected a regular expression such as '^nginx: master'");
  try {
    return new RegExp(text);
  } catch (err) {
    return fail(
      'process-match',
      text,
      `not a valid regular expression (${(err as Error).message})`,
    );
  }
}

function exitCode(text: string | undefined): { code: number } | undefined {
  if (text === undefined) return undefined;
  if (text.trim() === '' || /^true$/i.test(text)) return { code: 0 };
  if (!/^\d{1,3}$/.test(text.trim()) || Number(text) > 255) {
    fail('exit', text, 'expected an exit code from 0 to 255, or no value for 0');
  }
  return { code: Number(text) };
}

export function resolveProcessConfig(
  raw: RawOptions,
  command: readonly string[],
  cwd: string,
): ProcessConfig {
  const sel = selector(raw, cwd);
  const sig = raw.signal === undefined ? undefined : signal('signal', raw.signal);
  const restart = raw.restart ?? false;
  const needsTarget = sig ? 'signal' : restart ? 'restart' : undefined;
  if (needsTarget && !sel && command.length === 0) {
    fail(
      needsTarget,
      needsTarget === 'signal' ? raw.signal : 'true',
      'it needs a target process: give --process-name, --process-match or --pid-file (the pod needs shareProcessNamespace: true), or run the application as a child after --',
    );
  }
  if (sel && !needsTarget) {
    const flag =
      raw['process-name'] !== undefined
        ? 'process-name'
        : raw['process-match'] !== undefined
          ? 'process-match'
          : 'pid-file';
    fail(
      flag,
      raw[flag],
      'a target process is only used by --signal or --restart; add one of them',
    );
  }
  // Actions that undo each other: exiting restarts the container anyway, and a restart makes a
  // reload by signal moot. One change, one way of telling the application.
  const exitText = raw.exit;
  if (exitText !== undefined && (restart || sig)) {
    fail(
      'exit',
      exitText === '' ? 'true' : exitText,
      `it restarts the container itself; --${restart ? 'restart' : 'signal'} would act on the application first: give one of them`,
    );
  }
  if (restart && sig) {
    fail(
      'restart',
      'true',
      'a restart makes the reload by --signal moot; give --signal to reload in place, or --restart',
    );
  }
  const procRoot = raw['proc-root'] ?? DEFAULTS.procRoot;
  if (procRoot === '') fail('proc-root', procRoot, 'expected the directory where /proc is mounted');
  const exec = raw.exec;
  if (exec !== undefined && exec.trim() === '')
    fail('exec', exec, "expected a shell command, e.g. --exec 'nginx -s reload'");
  // Checked even when unused: a bad value is a mistake the user wants to hear about.
  const execTimeoutMs = duration('exec-timeout', raw['exec-timeout'] ?? DEFAULTS.execTimeout);
  const minAge = raw['min-process-age'];
  if (minAge !== undefined && !sig)
    fail('min-process-age', minAge, 'it applies to --signal; add --signal');
  const minProcessAgeMs = parseDuration(minAge ?? DEFAULTS.minProcessAge);
  if (minProcessAgeMs === undefined)
    fail(
      'min-process-age',
      minAge,
      'expected a duration such as 500ms, 1s or 5s, or 0 to signal at once',
    );
  const restartWait = raw['restart-wait'];
  if (restartWait !== undefined && !restart)
    fail('restart-wait', restartWait, 'it applies to --restart; add --restart');
  return Object.freeze({
    selector: sel,
    procRoot: path.resolve(cwd, procRoot),
    signal: sig,
    restart,
    stopSignal: signal('stop-signal', raw['stop-signal'] ?? DEFAULTS.stopSignal),
    stopTimeoutMs: duration('stop-timeout', raw['stop-timeout'] ?? DEFAULTS.stopTimeout),
    restartWaitMs: restartWait === undefined ? 0 : duration('restart-wait', restartWait),
    minProcessAgeMs,
    exec: exec === undefined ? undefined : { command: exec, timeoutMs: execTimeoutMs },
    exit: exitCode(raw.exit),
    command: Object.freeze([...command]),
  });
}
