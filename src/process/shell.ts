// Runs a user's shell command (--exec, --validate-cmd) through /bin/sh -c in its own process
// group, with the change in its environment, logging its output line by line (bounded), and
// stopping the whole group (TERM, then KILL) on timeout or abort. It reports how the command
// ended; the callers decide what that means.
import type { ChildProcess } from 'node:child_process';
import { childProcessModule } from '../lib/builtins.js';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { sleep, type Clock } from '../lib/clock.js';

export interface ShellOptions {
  readonly command: string;
  readonly timeoutMs: number;
  /** The environment the command starts from (hotreload's own). */
  readonly env: NodeJS.ProcessEnv;
  /** Paths added, changed or removed: HOTRELOAD_CHANGED, one per line. */
  readonly changed: readonly string[];
  /** HOTRELOAD_FINGERPRINT. */
  readonly fingerprint: string;
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly log: Logger;
  /** Prefix of each logged output line, e.g. "exec". */
  readonly label: string;
}

export type ShellResult =
  | {
      readonly kind: 'exited';
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
    }
  | { readonly kind: 'timeout' | 'aborted' }
  | { readonly kind: 'spawn-error'; readonly error: Error };

/** After a timeout's SIGTERM, how long the command gets before SIGKILL. */
const TERM_GRACE_MS = 2000;
/**
 * After an abort's SIGTERM (the shutdown timeout has passed): well within the second app.stop
 * waits after aborting, so the SIGKILL is sent before hotreload exits.
 */
const ABORT_GRACE_MS = 300;
/** After the shell exited, how long output still in the pipes is read before they are closed. */
const DRAIN_MS = 100;
/** Characters of one output line that are logged; the rest of the line is dropped. */
export const MAX_LINE_CHARS = 4096;
/** Output lines logged per run; later ones are counted, not logged. */
export const MAX_LINES = 1000;
/**
 * Bytes of HOTRELOAD_CHANGED: Linux refuses a single environment string over 128 KiB (E2BIG).
 * A longer list is cut at a line end and HOTRELOAD_CHANGED_TRUNCATED=true is set.
 */
export const MAX_CHANGED_BYTES = 64 * 1024;

export async function runShell(opts: ShellOptions): Promise<ShellResult> {
  let child: ChildProcess;
  try {
    child = childProcessModule().spawn('/bin/sh', ['-c', opts.command], {
      env: { ...opts.env, ...changeEnv(opts.changed, opts.fingerprint) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
  } catch (error) {
    // spawn throws (rather than emitting 'error') for E2BIG and invalid arguments.
    return { kind: 'spawn-error', error: error as Error };
  }
  const output = new OutputLog(opts, child.pid);
  output.follow(child.stdout!, 'stdout');
  output.follow(child.stderr!, 'stderr');
  // 'exit', not 'close': a process the command left in the background (`cmd &`, `setsid`) can
  // hold the pipes open for ever. What is still in them is read for DRAIN_MS, then dropped.
  const exited = new Promise<ShellResult>((resolve) => {
    child.once('error', (error) => resolve({ kind: 'spawn-error', error }));
    child.once('exit', (code, signal) => resolve({ kind: 'exited', code, signal }));
  });
  let stoppedFor: 'timeout' | 'aborted' | undefined;
  const stopGroup = (reason: 'timeout' | 'aborted', graceMs: number) => {
    stoppedFor ??= reason;
    killGroup(child.pid, 'SIGTERM');
    void sleep(opts.clock, graceMs).then(() => killGroup(child.pid, 'SIGKILL'));
  };
  const timer = opts.clock.setTimeout(() => stopGroup('timeout', TERM_GRACE_MS), opts.timeoutMs);
  const onAbort = () => stopGroup('aborted', ABORT_GRACE_MS);
  opts.signal.addEventListener('abort', onAbort, { once: true });
  const result = await exited.finally(() => {
    timer.cancel();
    opts.signal.removeEventListener('abort', onAbort);
  });
  await output.drain(child, DRAIN_MS);
  return stoppedFor && result.kind === 'exited' ? { kind: stoppedFor } : result;
}

/** HOTRELOAD_CHANGED (cut to MAX_CHANGED_BYTES at a line end) and HOTRELOAD_FINGERPRINT. */
function changeEnv(changed: readonly string[], fingerprint: string): Record<string, string> {
  const kept: string[] = [];
  let bytes = 0;
  for (const p of changed) {
    bytes += Buffer.byteLength(p) + 1;
    if (bytes > MAX_CHANGED_BYTES) break;
    kept.push(p);
  }
  return {
    HOTRELOAD_CHANGED: kept.join('\n'),
    HOTRELOAD_FINGERPRINT: fingerprint,
    ...(kept.length < changed.length && { HOTRELOAD_CHANGED_TRUNCATED: 'true' }),
  };
}

/** "code 3" or "signal SIGTERM", for messages. */
export function describeExit(r: { code: number | null; signal: NodeJS.Signals | null }): string {
  return r.code === null ? `signal ${r.signal}` : `code ${r.code}`;
}

/**
 * Logs a command's output one line at a time: at most MAX_LINE_CHARS of a line (a line without
 * an end is never held whole in memory) and MAX_LINES lines in all, then one line saying how many
 * more there were.
 */
class OutputLog {
  private logged = 0;
  private dropped = 0;
  private readonly streams: Readable[] = [];

  constructor(
    private readonly opts: ShellOptions,
    private readonly pid: number | undefined,
  ) {}

  follow(input: Readable, stream: 'stdout' | 'stderr'): void {
    this.streams.push(input);
    input.setEncoding('utf8');
    let line = '';
    let cut = false;
    input.on('data', (chunk: string) => {
      let start = 0;
      for (let nl = chunk.indexOf('\n'); ; nl = chunk.indexOf('\n', start)) {
        const piece = chunk.slice(start, nl === -1 ? undefined : nl);
        if (!cut) {
          const room = MAX_LINE_CHARS - line.length;
          cut = piece.length > room;
          line += cut ? piece.slice(0, room) : piece;
        }
        if (nl === -1) break;
        this.line(stream, line, cut);
        line = '';
        cut = false;
        start = nl + 1;
      }
    });
    input.once('end', () => {
      if (line !== '' || cut) this.line(stream, line, cut);
    });
  }

  /** Reads what is left for up to `ms` after the exit, then closes the pipes. */
  async drain(child: ChildProcess, ms: number): Promise<void> {
    const ended = this.streams.map(
      (s) =>
        new Promise<void>((resolve) => (s.readableEnded ? resolve() : s.once('close', resolve))),
    );
    await Promise.race([Promise.all(ended), sleep(this.opts.clock, ms)]);
    for (const s of this.streams) s.destroy();
    if (this.dropped > 0) {
      this.opts.log.info(
        { pid: child.pid, dropped: this.dropped },
        `${this.opts.label}: ${this.dropped} more output lines not logged`,
      );
    }
  }

  private line(stream: string, text: string, cut: boolean): void {
    if (this.logged >= MAX_LINES) {
      this.dropped++;
      return;
    }
    this.logged++;
    const shown = cut ? `${text}… (line cut at ${MAX_LINE_CHARS} characters)` : text;
    this.opts.log.info({ stream, pid: this.pid }, `${this.opts.label}: ${shown}`);
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}
