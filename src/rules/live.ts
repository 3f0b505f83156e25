// The rules running, and with --config the rules file they come from, watched: when the file
// changes, its new text is read and resolved like at start; a rule whose text did not change
// keeps running (its delivery state and retries with it), a removed or changed one is stopped
// (its in-flight reload may finish), a new or changed one is started as at start. A file that
// cannot be used changes nothing: the rules before it keep running, and the log and metrics say
// why. It does not parse rules (config/rules.ts) or build their actions (main.ts).
import type { Rule } from '../config/rules.js';
import { RecoverableError, errorFields } from '../lib/errors.js';
import { removeRule } from '../metrics/hotreload.js';
import { RunScheduler } from '../reload/scheduler.js';
import type { PathWatcher } from '../watch/watcher.js';
import { raceTimeout, startRule, type RuleDeps, type RuleEnv, type RunningRule } from './runner.js';

/** The rules file is looked at again after this quiet period, and at the latest after MAX_WAIT. */
const QUIET_MS = 200;
const MAX_WAIT_MS = 2000;
/** And read again this often, in case an event was missed. */
const RESYNC_MS = 60_000;

export interface RulesFileSource {
  readonly path: string;
  /** The text the rules at start came from. */
  readonly text: string;
  /** Reads the file: its text, and its rules resolved (throws a ConfigError naming the problem). */
  load(): Promise<{ readonly text: string; readonly rules: readonly Rule[] }>;
  /** A rule's actions, validators and state store (may throw: a state file's directory). */
  build(rule: Rule): Promise<RuleDeps>;
}

export interface RuleSetOptions {
  readonly env: RuleEnv;
  /** How long a stopped rule's in-flight reload may take (--shutdown-timeout). */
  readonly stopTimeoutMs: number;
}

export class RuleSet {
  private rules: RunningRule[] = [];
  private fileWatch: { watcher: PathWatcher; scheduler: RunScheduler } | undefined;
  private text: string | undefined;
  private lastError: { at: number; message: string } | undefined;
  private stopped = false;

  constructor(private readonly opts: RuleSetOptions) {}

  get running(): readonly RunningRule[] {
    return this.rules;
  }

  /** Starts every rule; if one fails, those started are stopped and the error thrown. */
  async start(deps: readonly RuleDeps[], stop?: AbortSignal): Promise<void> {
    const started = await Promise.allSettled(deps.map((d) => this.startOne(d, stop)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const ok = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (failed) {
      await Promise.all(ok.map((r) => r.stop(0)));
      throw failed.reason;
    }
    this.rules = ok;
  }

  /** Watches the rules file; each change is applied (see the header). */
  watchFile(source: RulesFileSource): void {
    const { env } = this.opts;
    this.text = source.text;
    const scheduler = new RunScheduler(() => this.reload(source), {
      quietMs: QUIET_MS,
      maxWaitMs: MAX_WAIT_MS,
      clock: env.clock,
      onError: (err) =>
        env.log.error({ err: errorFields(err) }, 'applying the rules file failed unexpectedly'),
      resyncIntervalMs: RESYNC_MS,
    });
    const watcher = env.watchPath(source.path, {
      clock: env.clock,
      log: env.log,
      onEvent: () => scheduler.trigger('change'),
      onError: (err) =>
        env.log.warn({ err: errorFields(err), config: source.path }, 'watching the rules file'),
    });
    this.fileWatch = { watcher, scheduler };
  }

  /** What /status shows of the rules file. */
  fileStatus(): { path: string; lastError: { at: number; message: string } | null } | undefined {
    if (!this.fileWatch) return undefined;
    return { path: this.fileWatch.watcher.watchPath, lastError: this.lastError ?? null };
  }

  resync(): void {
    for (const r of this.rules) r.resync();
    this.fileWatch?.scheduler.runNow('resync');
  }

  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    const file = this.fileWatch;
    file?.scheduler.stop();
    await file?.watcher.close();
    // A rules file being applied ends first (it stops what it started once it sees the stop).
    if (file?.scheduler.busy) {
      await raceTimeout(this.opts.env.clock, file.scheduler.settled(), timeoutMs);
    }
    await Promise.all(this.rules.map((r) => r.stop(timeoutMs)));
  }

  private startOne(deps: RuleDeps, stop?: AbortSignal): Promise<RunningRule> {
    return startRule(deps, this.opts.env, stop);
  }

  private async reload(source: RulesFileSource): Promise<void> {
    const { env } = this.opts;
    const file = env.metrics.rulesFile;
    let next: { text: string; rules: readonly Rule[] };
    let built: RuleDeps[];
    try {
      next = await source.load();
      // The text running, and nothing to clear: nothing to do. (After a refused file, the
      // text running again clears the failure.)
      if (next.text === this.text && !this.lastError) return;
      const current = new Map(this.rules.map((r) => [r.name, r.deps.source]));
      // Everything new is built before anything is stopped: a rule that cannot be built (a
      // state file's directory not writable) leaves the running rules as they are.
      built = await Promise.all(
        next.rules.filter((r) => current.get(r.name) !== r.source).map((r) => source.build(r)),
      );
    } catch (err) {
      const refused = new RecoverableError(
        'E_RULES_FILE',
        `the rules file cannot be used; the rules before it keep running: ${(err as Error).message}`,
        { cause: err },
      );
      this.lastError = { at: env.clock.now(), message: refused.message };
      file?.lastLoadSuccessful.set(0);
      file?.loads.inc({ result: 'failure' });
      env.log.error({ err: errorFields(refused), config: source.path }, 'rules file refused');
      return;
    }
    if (this.stopped) return;
    const names = new Set(next.rules.map((r) => r.name));
    const rebuilt = new Set(built.map((d) => d.name));
    const leaving = this.rules.filter((r) => !names.has(r.name) || rebuilt.has(r.name));
    const staying = this.rules.filter((r) => !leaving.includes(r));
    await Promise.all(leaving.map((r) => r.stop(this.opts.stopTimeoutMs)));
    // Their gauges go (a changed rule may have other targets); the rules started add theirs.
    for (const r of leaving) await removeRule(env.metrics, r.name);
    this.rules = staying;
    const started = await Promise.allSettled(built.map((d) => this.startOne(d)));
    if (this.stopped) {
      // Stopped meanwhile: what this reload started stops too.
      await Promise.all(
        started.flatMap((r) => (r.status === 'fulfilled' ? [r.value.stop(0)] : [])),
      );
      return;
    }
    const failures = started.flatMap((r, i) =>
      r.status === 'rejected' ? [{ rule: built[i]!.name, err: errorFields(r.reason) }] : [],
    );
    const order = new Map(next.rules.map((r, i) => [r.name, i]));
    this.rules = [
      ...staying,
      ...started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    ].sort((a, b) => order.get(a.name)! - order.get(b.name)!);
    this.text = next.text;
    for (const f of failures) env.log.error(f, 'rule could not start');
    this.lastError = failures.length
      ? {
          at: env.clock.now(),
          message: `rules that could not start: ${failures.map((f) => f.rule).join(', ')}`,
        }
      : undefined;
    file?.lastLoadSuccessful.set(failures.length ? 0 : 1);
    file?.loads.inc({ result: failures.length ? 'failure' : 'success' });
    env.log.info(
      {
        config: source.path,
        rules: this.rules.map((r) => r.name),
        started: built.map((d) => d.name),
        stopped: leaving.map((r) => r.name),
        unchanged: staying.map((r) => r.name),
      },
      'rules file applied',
    );
  }
}
