// Supervises the application as hotreload's child (`hotreload [options] -- COMMAND ARGS...`):
// starts it, passes signals on, stops it (stop signal, timeout, SIGKILL) and restarts it in
// place. It reports when the child exits on its own, so main can exit with the child's code; it
// does not decide when to restart (the actions do).
import type { ChildProcess } from 'node:child_process';
import { childProcessModule } from '../lib/builtins.js';
import { constants } from 'node:os';
import type { Logger } from 'pino';
import { sleep, type Clock } from '../lib/clock.js';
import type { SignalSpec } from './signals.js';

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The exit code a shell would report: the child's code, or 128 + the signal that ended it. */
export function exitCodeOf(exit: ChildExit): number {
  if (exit.code !== null) return exit.code;
  return 128 + (exit.signal ? (constants.signals[exit.signal] ?? 0) : 0);
}

/** What the child inherits. */
export interface SupervisorDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
  readonly clock: Clock;
}

/** SIGKILL cannot be ignored; this only bounds the wait for the kernel to reap. */
const KILL_WAIT_MS = 5000;

export class Supervisor {
  private child: ChildProcess | undefined;
  private exited: Promise<ChildExit> | undefined;
  private stopping = false;
  /** Set when hotreload shuts down: the child is never started again. */
  private closing = false;
  private reportOwnExit!: (exit: ChildExit) => void;
  /** Resolves when the child exits without hotreload having asked it to. */
  readonly exitedOnItsOwn = new Promise<ChildExit>((resolve) => (this.reportOwnExit = resolve));

  constructor(
    readonly command: readonly string[],
    private readonly deps: SupervisorDeps,
  ) {}

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null
      ? this.child.pid
      : undefined;
  }

  start(): void {
    if (this.closing) return;
    const [file, ...args] = this.command;
    const child = childProcessModule().spawn(file!, args, { stdio: 'inherit', env: this.deps.env });
    this.child = child;
    this.stopping = false;
    this.exited = new Promise<ChildExit>((resolve) => {
      child.once('error', (err: NodeJS.ErrnoException) => {
        this.deps.log.error(
          { command: this.command, err: { code: err.code, message: err.message } },
          'cannot start the child; check the command after --',
        );
        resolve({ code: err.code === 'ENOENT' ? 127 : 126, signal: null });
      });
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    void this.exited.then((exit) => {
      if (this.child !== child || this.stopping) return;
      this.deps.log.info({ pid: child.pid, ...exit }, 'child exited on its own');
      this.reportOwnExit(exit);
    });
    if (child.pid)
      this.deps.log.info({ pid: child.pid, command: this.command[0] }, 'child started');
  }

  /** Passes a signal hotreload received on to the child. */
  forward(signal: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    this.deps.log.info({ signal, pid: this.pid }, 'passing signal to the child');
    this.child?.kill(signal);
  }

  /** Sends `signal` to the running child (the --signal action). False when none is running. */
  signal(signal: SignalSpec): boolean {
    if (this.pid === undefined) return false;
    return this.child!.kill(signal.name);
  }

  /** Stops the child: `stopSignal`, then SIGKILL after `timeoutMs`. Resolves with how it ended. */
  async stop(stopSignal: SignalSpec, timeoutMs: number): Promise<ChildExit | undefined> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) return undefined;
    this.stopping = true;
    if (this.pid === undefined) return exited;
    child.kill(stopSignal.name);
    const exit = await this.within(exited, timeoutMs);
    if (exit) return exit;
    this.deps.log.warn(
      { pid: child.pid, timeoutMs },
      'child did not stop in time; sending SIGKILL',
    );
    child.kill('SIGKILL');
    return this.within(exited, KILL_WAIT_MS);
  }

  /** Stops the child and starts it again with the same command (unless hotreload is closing). */
  async restart(stopSignal: SignalSpec, timeoutMs: number): Promise<void> {
    const exit = await this.stop(stopSignal, timeoutMs);
    if (this.closing) {
      this.deps.log.info({ ...exit }, 'child stopped; not started again, hotreload is stopping');
      return;
    }
    this.deps.log.info({ ...exit }, 'child stopped; starting it again');
    this.start();
  }

  /** hotreload is shutting down: from now on the child is not started (again). */
  close(): void {
    this.closing = true;
  }

  private async within(p: Promise<ChildExit>, ms: number): Promise<ChildExit | undefined> {
    return Promise.race([p, sleep(this.deps.clock, ms).then(() => undefined)]);
  }
}
