// Runs the BUILT command line (dist/main.js) as a child process, the way a container would, and
// reads its JSON log lines back. Every wait is bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { LogRecord } from '../doubles/log-sink.js';

/** The CLI under test: the repository's build, or another copy (CI's production install). */
export const MAIN =
  process.env.HOTRELOAD_MAIN ?? fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface HotreloadProcess {
  readonly proc: ChildProcess;
  readonly logs: LogRecord[];
  stderr(): string;
  /** Resolves with the first record (already seen or future) that matches, or rejects after timeoutMs. */
  waitForLog(
    pred: (r: LogRecord) => boolean,
    timeoutMs?: number,
    what?: string,
  ): Promise<LogRecord>;
  /** Waits for 'hotreload started' and returns the server's base URL (when --listen was given). */
  ready(timeoutMs?: number): Promise<string | undefined>;
  readonly exited: Promise<Exit>;
  /** Sends `signal` and waits for the exit (SIGKILL after timeoutMs). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

/** Who runs the CLI, and which copy: by default the test's user, node and MAIN. */
export interface RunAs {
  readonly uid?: number;
  readonly gid?: number;
  /** A node binary and a copy of the CLI that this user can read (see run-as.ts). */
  readonly node?: string;
  readonly main?: string;
  /**
   * A command that runs the rest of the command line (`node MAIN args`) in the conditions it sets
   * up, switching user itself: uid and gid are then not applied to it.
   */
  readonly wrap?: readonly string[];
  /** Node's own flags, before the CLI (the bundle's first line gives them when it is executed). */
  readonly nodeFlags?: readonly string[];
}

const running = new Set<ChildProcess>();

/** Appends each JSON log line of `stream` to `logs` (a line that is not JSON as 'raw'). */
function readLogLines(stream: Readable, logs: LogRecord[], onLines: () => void): void {
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!;
    for (const line of lines.filter(Boolean)) {
      try {
        logs.push(JSON.parse(line) as LogRecord);
      } catch {
        logs.push({ level: 'raw', msg: line });
      }
    }
    onLines();
  });
}

export function startHotreload(
  args: readonly string[],
  env: Record<string, string> = {},
  as: RunAs = {},
): HotreloadProcess {
  const command = [as.node ?? process.execPath, ...(as.nodeFlags ?? []), as.main ?? MAIN, ...args];
  const [file, ...rest] = as.wrap ? [...as.wrap, ...command] : command;
  return spawnHotreload(file!, rest, {
    env: { PATH: process.env.PATH ?? '', ...env },
    uid: as.wrap ? undefined : as.uid,
    gid: as.wrap ? undefined : as.gid,
  });
}

/**
 * Starts `file args` as a hotreload: its JSON log lines collected, killAll() able to stop it.
 * startHotreload runs the CLI under node; the bench executes the bundle itself, as the image does.
 */
export function spawnHotreload(
  file: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; uid?: number; gid?: number },
): HotreloadProcess {
  const proc = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  const logs: LogRecord[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  readLogLines(proc.stdout, logs, () => {
    for (const w of waiters) w();
  });
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<Exit>((resolve) =>
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      resolve({ code, signal });
      for (const w of waiters) w();
    }),
  );

  const waitForLog: HotreloadProcess['waitForLog'] = (
    pred,
    timeoutMs = 10_000,
    what = 'log line',
  ) =>
    new Promise((resolve, reject) => {
      let seen = 0;
      const check = () => {
        for (; seen < logs.length; seen++) {
          if (pred(logs[seen]!)) return done(() => resolve(logs[seen]!));
        }
        if (proc.exitCode !== null || proc.signalCode !== null)
          done(() =>
            reject(
              new Error(`hotreload exited before ${what}; stderr: ${stderr}; logs: ${tail(logs)}`),
            ),
          );
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(
              new Error(`timed out after ${timeoutMs}ms waiting for ${what}; logs: ${tail(logs)}`),
            ),
          ),
        timeoutMs,
      );
      const done = (fn: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        fn();
      };
      waiters.add(check);
      check();
    });

  return {
    proc,
    logs,
    stderr: () => stderr,
    waitForLog,
    exited,
    async ready(timeoutMs = 10_000) {
      const rec = await waitForLog(
        (r) => r.msg === 'hotreload started',
        timeoutMs,
        "'hotreload started'",
      );
      const listen = rec.listen as string | undefined;
      if (!listen) return undefined;
      const port = listen.slice(listen.lastIndexOf(':') + 1);
      return `http://127.0.0.1:${port}`;
    },
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Kills every process a test left running (for an after() hook). */
export function killAll(): void {
  for (const p of running) p.kill('SIGKILL');
}

function tail(logs: LogRecord[]): string {
  return JSON.stringify(
    logs.slice(-8).map((r) => ({ msg: r.msg, ...(r.err ? { err: r.err } : {}) })),
  );
}

/** Runs the CLI to completion (usage errors, --help, --version, subcommands), `stdin` given. */
export function runHotreload(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 10_000,
  stdin?: string,
): Promise<Exit & { stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [MAIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    // No input: an empty stdin, ended at once.
    proc.stdin.end(stdin ?? '');
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`hotreload ${args.join(' ')} did not exit within ${timeoutMs}ms`));
    }, timeoutMs);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
