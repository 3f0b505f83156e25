// A fake /proc tree in a temporary directory (stat, status and cmdline in the kernel's formats,
// and an uptime file) and a recording kill double. It simulates no kernel behaviour beyond those
// files. Its uptime stands still: a start time is placed against it when /proc is read.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KillFn } from '../../src/process/signals.js';

export interface FakeProcess {
  pid: number;
  ppid: number;
  comm: string;
  /** Arguments (written NUL-terminated), or a raw cmdline written as is (nginx's rewritten title). */
  argv: string[] | string;
  /** stat field 3; 'S' by default. */
  state?: string;
  /** stat field 22; a value derived from the pid by default. */
  startTime?: string;
  /** One UID for real, effective, saved and filesystem, or each of the first three. */
  uid?: number | { real: number; effective: number; saved: number };
}

/** The fake machine's uptime, in seconds; default start times are 10 s after boot. */
export const UPTIME_S = 100_000;
/** A start time (stat field 22) equal to the fake uptime: the process starts as /proc is read. */
export const STARTING_NOW = String(UPTIME_S * 100);
/**
 * A start time 10 s after the fake uptime: whenever /proc is read, the process looks as if it
 * started after any content a test has written (it runs the newest content).
 */
export const STARTED_AFTER_CONTENT = String(UPTIME_S * 100 + 1000);

export interface FakeProc {
  readonly root: string;
  add(p: FakeProcess): void;
  remove(pid: number): void;
  setState(pid: number, state: string): void;
  cleanup(): void;
}

export function fakeProc(): FakeProc {
  const root = mkdtempSync(path.join(tmpdir(), 'hotreload-proc-'));
  writeFileSync(path.join(root, 'uptime'), `${UPTIME_S}.00 ${UPTIME_S * 2}.00\n`);
  const procs = new Map<number, FakeProcess>();
  const write = (p: FakeProcess) => {
    const dir = path.join(root, String(p.pid));
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'stat'), statLine(p));
    writeFileSync(path.join(dir, 'status'), statusText(p));
    writeFileSync(path.join(dir, 'cmdline'), cmdline(p.argv));
  };
  return {
    root,
    add(p) {
      procs.set(p.pid, p);
      write(p);
    },
    remove(pid) {
      procs.delete(pid);
      rmSync(path.join(root, String(pid)), { recursive: true, force: true });
    },
    setState(pid, state) {
      const p = procs.get(pid);
      if (!p) throw new Error(`fake process ${pid} does not exist`);
      procs.set(pid, { ...p, state });
      write({ ...p, state });
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export type RecordingKill = KillFn & { readonly calls: { pid: number; signal: NodeJS.Signals }[] };

/** Records every call, then runs `behaviour` (which may throw, as process.kill does). */
export function recordingKill(
  behaviour?: (pid: number, signal: NodeJS.Signals) => void,
): RecordingKill {
  const calls: { pid: number; signal: NodeJS.Signals }[] = [];
  const kill: KillFn = (pid, signal) => {
    calls.push({ pid, signal });
    behaviour?.(pid, signal);
  };
  return Object.assign(kill, { calls });
}

/** An error shaped like the one process.kill throws for `code`. */
export function errnoError(code: string, syscall = 'kill'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
}

/** All 52 fields of /proc/<pid>/stat (proc(5)), the comm unescaped in parentheses. */
function statLine(p: FakeProcess): string {
  const startTime = p.startTime ?? String(1000 + p.pid);
  // Fields 3-9: state, ppid, pgrp, session, tty_nr, tpgid, flags.
  const fields: (string | number)[] = [p.state ?? 'S', p.ppid, p.pid, p.pid, 0, -1, 4194560];
  // Fields 10-24: minflt ... priority, nice, num_threads, itrealvalue, starttime, vsize, rss.
  fields.push(120, 0, 0, 0, 1, 2, 0, 0, 20, 0, 1, 0, startTime, 5_000_000, 300);
  // Fields 25-52: rsslim, then addresses, signal masks, ... exit_code.
  fields.push('18446744073709551615', ...Array<number>(27).fill(0));
  return `${p.pid} (${p.comm}) ${fields.join(' ')}\n`;
}

function statusText(p: FakeProcess): string {
  const u =
    typeof p.uid === 'object'
      ? p.uid
      : { real: p.uid ?? 0, effective: p.uid ?? 0, saved: p.uid ?? 0 };
  const name = p.comm.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return [
    `Name:\t${name}`,
    'Umask:\t0022',
    `State:\t${p.state ?? 'S'} (sleeping)`,
    `Tgid:\t${p.pid}`,
    'Ngid:\t0',
    `Pid:\t${p.pid}`,
    `PPid:\t${p.ppid}`,
    'TracerPid:\t0',
    `Uid:\t${u.real}\t${u.effective}\t${u.saved}\t${u.effective}`,
    `Gid:\t${u.real}\t${u.effective}\t${u.saved}\t${u.effective}`,
    'Threads:\t1',
    '',
  ].join('\n');
}

function cmdline(argv: string[] | string): string {
  if (typeof argv === 'string') return argv;
  return argv.map((a) => `${a}\0`).join('');
}
