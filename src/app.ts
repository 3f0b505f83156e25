// Wires one running hotreload: its rules (rules/: each a watcher per path, a scheduler and a
// pipeline; with --config, the rules file watched too) and one server for them all. It owns
// start-up and shutdown order; it does not parse options or choose exit codes (main.ts does).
import type { ServerConfig } from './config/config.js';
import { rehearse } from './reload/rehearsal.js';
import { short } from './reload/observer.js';
import { liveness, readiness } from './serve/health.js';
import { startServer, type RunningServer } from './serve/server.js';
import { RuleSet, type RulesFileSource } from './rules/live.js';
import type { RuleDeps, RuleEnv } from './rules/runner.js';

export type { RuleDeps } from './rules/runner.js';

export interface AppDeps extends RuleEnv {
  readonly server: ServerConfig;
  readonly rules: readonly RuleDeps[];
  /** --config: the rules file, watched; each rule is named in logs and has its /status entry. */
  readonly rulesFile?: RulesFileSource;
  readonly version: string;
}

export interface App {
  /** The server, when --listen is not ''. */
  readonly server: RunningServer | undefined;
  /** Re-fingerprints now, as the periodic resync does (and reads the rules file again). */
  resync(reason: string): void;
  /** Stops watching, lets an in-flight reload finish for up to `timeoutMs`, closes the server. */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * Starts every rule (watching, the initial fingerprint) and then the server. When `stop` aborts
 * meanwhile (SIGTERM during a slow start), what was started is closed and the abort reason is
 * thrown: start-up never holds up a stop.
 */
export async function startApp(deps: AppDeps, stop?: AbortSignal): Promise<App> {
  const { server: settings, log } = deps;
  const labelled = deps.rulesFile !== undefined;
  const rules = new RuleSet({
    env: deps,
    stopTimeoutMs: settings.shutdownTimeoutMs,
  });
  await rules.start(deps.rules, stop);
  if (deps.rulesFile) rules.watchFile(deps.rulesFile);

  // The flags form keeps the one rule's status at the top; with --config, one entry per rule.
  const status = () => {
    const list = rules.running.map((r) => ({ rule: r.name, ...r.status() }));
    return labelled
      ? { version: deps.version, config: rules.fileStatus() ?? null, rules: list }
      : { version: deps.version, ...list[0] };
  };
  const ready = () => {
    const list = rules.running;
    const probes = list.map((r) => readiness(r.ready, r.status()));
    if (!labelled && probes[0]) return probes[0];
    return {
      ok: list.every((r) => r.ready),
      detail: Object.fromEntries(list.map((r, i) => [r.name, probes[i]!.detail])),
    };
  };
  let server: RunningServer | undefined;
  try {
    server =
      settings.listen &&
      (await startServer(settings.listen, {
        registry: deps.metrics.registry,
        metricsPath: settings.metricsPath,
        health: () => liveness(rules.running.flatMap((r) => r.watchers)),
        ready,
        status,
      }));
  } catch (err) {
    await rules.stop(0);
    throw err;
  }
  const first = rules.running[0]?.status();
  log.info(
    {
      watch: [...new Set(rules.running.flatMap((r) => r.deps.config.watch))],
      ...(labelled
        ? { rules: rules.running.map((r) => r.name), config: deps.rulesFile.path }
        : { fingerprint: first?.current && short(first.current) }),
      listen: server && `${server.address.address}:${server.address.port}`,
    },
    'hotreload started',
  );
  // Ready: what the first reload would compile is compiled now, in the background.
  for (const r of rules.running) for (const action of r.deps.actions) void action.warmUp?.();
  void rehearse(deps.clock, deps.version);

  return {
    server,
    resync(reason) {
      log.info({ reason }, 'resync requested');
      rules.resync();
    },
    async stop(timeoutMs) {
      await rules.stop(timeoutMs);
      await server?.close();
    },
  };
}
