// Reads processes from a /proc tree (stat, status, cmdline) at each call; it does not select,
// cache or signal them. The proc root is a parameter so tests can pass a fake tree.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

import { codeOf } from '../lib/errors.js';
import { isGoneCode } from './errno.js';

export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  /** The kernel's name for the process, truncated to 15 bytes (`/proc/<pid>/comm`). */
  readonly comm: string;
  /** The NUL-separated `/proc/<pid>/cmdline`; one element when the process rewrote its title. */
  readonly argv: readonly string[];
  /** argv joined by ' '; '' for kernel threads and zombies. */
  readonly cmdline: string;
  /** Field 3 of stat: 'R', 'S', 'D', 'Z' (zombie), 'X' (dead), ... */
  readonly state: string;
  /** Field 22 of stat, clock ticks after boot; with the pid it identifies one process. */
  readonly startTime: string;
  readonly uids: { readonly real: number; readonly effective: number; readonly saved: number };
}

/** Index of starttime (stat field 22) among the fields that follow the comm (field 3 is 0). */
const START_TIME_INDEX = 22 - 3;
const UID_LINE = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m;
const DIGITS = /^\d+$/;

/**
 * Reads one process. Resolves undefined when it is gone (ENOENT/ESRCH) or its files do not
 * parse; other read errors (EACCES under a hidepid mount, EMFILE) are thrown.
 */
export async function readProcess(procRoot: string, pid: number): Promise<ProcInfo | undefined> {
  const dir = path.join(procRoot, String(pid));
  let files: [string, string, Buffer];
  try {
    files = await Promise.all([
      readFile(path.join(dir, 'stat'), 'utf8'),
      readFile(path.join(dir, 'status'), 'utf8'),
      readFile(path.join(dir, 'cmdline')),
    ]);
  } catch (err) {
    if (isGoneCode(codeOf(err))) return undefined;
    throw err;
  }
  const [statText, statusText, cmdlineBytes] = files;
  const stat = parseStat(statText);
  const uids = parseUids(statusText);
  if (!stat || !uids) return undefined;
  const argv = parseCmdline(cmdlineBytes.toString('utf8'));
  return { pid, ...stat, argv, cmdline: argv.join(' '), uids };
}

/**
 * Reads every numeric entry of the proc root. Processes that vanish during the scan, or that
 * this user may not read (hidepid), are skipped; failing to list the root itself is thrown.
 */
export async function listProcesses(procRoot: string): Promise<ProcInfo[]> {
  const pids = (await readdir(procRoot)).filter((name) => DIGITS.test(name)).map(Number);
  const read = await Promise.all(pids.map((pid) => readSkippingUnreadable(procRoot, pid)));
  return read.filter((p): p is ProcInfo => p !== undefined).sort((a, b) => a.pid - b.pid);
}

async function readSkippingUnreadable(procRoot: string, pid: number) {
  try {
    return await readProcess(procRoot, pid);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'EACCES' || code === 'EPERM') return undefined;
    throw err;
  }
}

/**
 * Parses `pid (comm) state ppid ... starttime ...`. The comm may hold spaces, '(' and ')', so it
 * runs from the first '(' to the LAST ')' (see proc(5), /proc/pid/stat).
 */
function parseStat(text: string) {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const fields = text
    .slice(close + 2)
    .trimEnd()
    .split(' ');
  const [state, ppid] = fields;
  const startTime = fields[START_TIME_INDEX];
  if (state?.length !== 1 || !ppid || !DIGITS.test(ppid)) return undefined;
  if (!startTime || !DIGITS.test(startTime)) return undefined;
  return { comm: text.slice(open + 1, close), state, ppid: Number(ppid), startTime };
}

/** Real, effective and saved UID from the `Uid:` line of /proc/<pid>/status. */
function parseUids(text: string) {
  const m = UID_LINE.exec(text);
  if (!m) return undefined;
  return { real: Number(m[1]), effective: Number(m[2]), saved: Number(m[3]) };
}

/**
 * Splits a cmdline on NULs. Trailing NULs are dropped first: the kernel ends each argument with
 * one, and a process that rewrote its title (nginx: "nginx: master process ...") pads with them.
 * A kernel thread's (and a zombie's) cmdline is empty: no arguments.
 */
function parseCmdline(raw: string): string[] {
  const trimmed = raw.replace(/\0+$/, '');
  return trimmed === '' ? [] : trimmed.split('\0');
}

/**
 * Clock ticks per second of the times in /proc/<pid>/stat: USER_HZ, which is 100 on every
 * architecture Kubernetes nodes run (x86, arm64, ppc64le, s390x).
 */
const USER_HZ = 100;

/**
 * A function giving when a process started, in ms since the epoch: its start time (ticks after
 * boot) placed against /proc/uptime read now. The result is as exact as a tick (10 ms).
 */
export async function startClock(
  procRoot: string,
  now: () => number,
): Promise<(p: ProcInfo) => number> {
  const text = await readFile(path.join(procRoot, 'uptime'), 'utf8');
  const uptimeMs = Number(text.split(/\s+/)[0]) * 1000;
  const at = now();
  if (!Number.isFinite(uptimeMs))
    throw new Error(`cannot read ${procRoot}/uptime: ${text.slice(0, 40)}`);
  return (p) => at - uptimeMs + (Number(p.startTime) * 1000) / USER_HZ;
}

/**
 * A process reads its configuration after it starts. File times come from the kernel's coarse
 * clock (a tick behind at most) and a process's start time is kept in 10 ms ticks, so the two
 * can be off by about 15 ms: a holder that started less than this after the content was written
 * is counted as not having it (an extra reload, never a lost one).
 */
export const START_MARGIN_MS = 20;

/** True when something that started at `startedAt` read content written at `writtenAt`. */
export function hasContent(startedAt: number, writtenAt: number): boolean {
  return startedAt > writtenAt + START_MARGIN_MS;
}
