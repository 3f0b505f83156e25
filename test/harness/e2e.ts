// What the end-to-end tests of the process actions share: fast timing flags, a kubelet-style
// volume, a hotreload whose children are killed with it, the log predicates, and the cleanup
// for afterEach.
import { AtomicWriter, makeTempDir, type Payload } from './atomic-writer.js';
import { killAll, startHotreload, type HotreloadProcess, type RunAs } from './hotreload-process.js';
import type { LogRecord } from '../doubles/log-sink.js';
import { killTracked, trackTree } from './processes.js';
import { request } from './net.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** No quiet period, quick retries, the server on a free port. */
export const FAST: readonly string[] = [
  '--debounce',
  '0',
  '--retry-initial',
  '100ms',
  '--retry-max',
  '300ms',
  '--listen',
  '127.0.0.1:0',
];

/** A per-test deadline, so a hang fails the test instead of the run. */
export const TIMEOUT = { timeout: 60_000 };

export interface Volume {
  readonly dir: string;
  readonly writer: AtomicWriter;
}

/**
 * How long after a volume's first write the pod's containers start. The kubelet writes volumes
 * before it starts any container; hotreload tells a process that started less than 20 ms after
 * the content was written (START_MARGIN_MS) about it again, so a process a test starts at once
 * would get an extra reload it would not get in a pod.
 */
export const POD_START_GAP_MS = 50;

/**
 * A temp directory holding `payload` as the kubelet projects a configMap volume, resolved once
 * containers would start (POD_START_GAP_MS later).
 */
export async function volume(prefix: string, payload: Payload): Promise<Volume> {
  const dir = await makeTempDir(prefix);
  const writer = new AtomicWriter(dir);
  await writer.write(payload);
  await sleep(POD_START_GAP_MS);
  return { dir, writer };
}

/** startHotreload, and killTracked() kills the processes it started along with it. */
export function hotreload(
  args: readonly string[],
  env: Record<string, string> = {},
  as: RunAs = {},
): HotreloadProcess {
  const hr = startHotreload(args, env, as);
  trackTree(hr.proc);
  return hr;
}

/** For afterEach: every process the test started, hotreload's children included, is killed. */
export async function killProcesses(): Promise<void> {
  await killTracked();
  killAll();
}

export const reloaded = (r: LogRecord): boolean => r.msg === 'reload succeeded';
export const failed = (r: LogRecord): boolean => r.msg === 'reload failed; retrying';
/** The record that says a signal was sent to `pid`: "sent SIGHUP to nginx (pid 12)". */
export const sentTo =
  (pid: number) =>
  (r: LogRecord): boolean =>
    r.msg.startsWith('sent ') && r.pid === pid;

/** When the record was logged, in ms since the epoch (pino writes an ISO time). */
export function timeOf(r: LogRecord): number {
  return Date.parse(r.time as string);
}

export interface ErrorFields {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
}

/** The `err` of a 'reload failed' record. */
export function errOf(r: LogRecord): ErrorFields {
  return r.err as ErrorFields;
}

/** The status of GET <base>/healthz (hotreload still serving). */
export async function healthz(base: string | undefined): Promise<number> {
  return (await request(`${base}/healthz`)).status;
}

/** `text` as a regular expression matching it literally. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
