// Parses signal names and sends one signal to one selected process, guarding against PID reuse
// and turning kill(2) errors into ReloadErrors with a fix. It does not select or retry.
import { constants } from 'node:os';

import { ReloadError, messageOf, codeOf } from '../lib/errors.js';
import { isGoneCode } from './errno.js';
import { readProcess, type ProcInfo } from './table.js';

export interface SignalSpec {
  readonly name: NodeJS.Signals;
  readonly number: number;
}

/** Like process.kill: throws an errno error (ESRCH, EPERM) when the signal cannot be sent. */
export type KillFn = (pid: number, signal: NodeJS.Signals) => void;

export interface SignalDeps {
  readonly procRoot: string;
  readonly kill: KillFn;
  /** hotreload's real UID (process.getuid()), for the E_PERMISSION message. */
  readonly selfUid: number;
}

/** This platform's signals in os.constants order, aliases (SIGIOT, SIGPOLL) after the first name. */
const SIGNALS = Object.entries(constants.signals) as [NodeJS.Signals, number][];

/** Every accepted signal name, for error messages. */
export const SIGNAL_NAMES: readonly string[] = SIGNALS.map(([name]) => name);

/**
 * 'HUP', 'SIGHUP', 'hup' and '1' all give SIGHUP. A number gives the first name with that value
 * (6 is SIGABRT, not SIGIOT). Unknown names, 0 and numbers without a name give undefined.
 */
export function parseSignal(text: string): SignalSpec | undefined {
  const t = text.trim().toUpperCase();
  const found = /^\d+$/.test(t)
    ? SIGNALS.find(([, n]) => n === Number(t))
    : SIGNALS.find(([name]) => name === t || name === `SIG${t}`);
  return found && { name: found[0], number: found[1] };
}

/**
 * Sends `signal` to `target`, as selected earlier.
 * 1. Refuses pid <= 1 (the pause process, or every process) and hotreload itself: E_REFUSED.
 * 2. Re-reads the process: gone, a zombie or another start time means the pid no longer names
 *    the selected process (it may have been reused), so nothing is sent: E_PROCESS_GONE.
 * 3. Sends; ESRCH is E_PROCESS_GONE, EPERM is E_PERMISSION, anything else E_SIGNAL.
 */
export async function sendSignal(
  target: ProcInfo,
  signal: SignalSpec,
  deps: SignalDeps,
): Promise<void> {
  const { pid, comm } = target;
  const what = `${signal.name} to process ${pid} (${comm})`;
  if (!Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid) {
    // 1.
    throw new ReloadError(
      'E_REFUSED',
      `refusing to send ${what}: hotreload never signals PID 1 or itself`,
    );
  }
  if (await stillGone(deps.procRoot, target, what)) throw goneError(target); // 2.
  try {
    deps.kill(pid, signal.name); // 3.
  } catch (err) {
    throw killError(err, target, what, deps.selfUid);
  }
}

/** True when the process has exited, is a zombie, or its pid now names another process. */
export async function isGone(procRoot: string, target: ProcInfo): Promise<boolean> {
  const now = await readProcess(procRoot, target.pid);
  return !now || now.state === 'Z' || now.state === 'X' || now.startTime !== target.startTime;
}

async function stillGone(procRoot: string, target: ProcInfo, what: string): Promise<boolean> {
  try {
    return await isGone(procRoot, target);
  } catch (err) {
    throw new ReloadError('E_SIGNAL', `cannot send ${what}: ${messageOf(err)}`, { cause: err });
  }
}

function goneError(target: ProcInfo, cause?: unknown): ReloadError {
  return new ReloadError(
    'E_PROCESS_GONE',
    `process ${target.pid} (${target.comm}) exited before it could be signalled; will look again`,
    { cause },
  );
}

function killError(err: unknown, target: ProcInfo, what: string, selfUid: number): ReloadError {
  const code = codeOf(err);
  if (isGoneCode(code)) return goneError(target, err);
  if (code === 'EPERM') {
    const uid = target.uids.real;
    return new ReloadError(
      'E_PERMISSION',
      `not permitted to send ${what}: it runs as UID ${uid} and hotreload as UID ${selfUid}`,
      {
        cause: err,
        hint: `run hotreload as UID ${uid} (securityContext.runAsUser: ${uid} on the hotreload container); adding CAP_KILL does not help a container that does not run as root`,
      },
    );
  }
  return new ReloadError('E_SIGNAL', `cannot send ${what}: ${messageOf(err)}`, { cause: err });
}
