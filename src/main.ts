#!/usr/bin/env node
// Entry point: argv/env -> Config -> real dependencies -> run until SIGTERM/SIGINT -> exit code.
// Exit codes: 0 clean stop (or --help/--version), 1 fatal runtime error, 2 usage error. This is
// the only module that reads process.argv/env or calls process.exit.
import { createHttpAction } from './actions/http.js';
import { dryRunActions } from './actions/dry-run.js';
import { startApp } from './app.js';
import { envName, parse } from './cli.js';
import { realClock } from './clock.js';
import { resolveConfig, type Config } from './config.js';
import { ConfigError, HotreloadError } from './errors.js';
import { takeSnapshot } from './fingerprint.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics } from './metrics.js';
import { errorFields } from './pipeline.js';
import { redactUrl } from './redact.js';
import { VERSION } from './version.js';
import { watchPath } from './watch/watcher.js';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const parsed = parse(argv, env, VERSION);
  if (parsed.kind === 'exit') {
    (parsed.code === 0 ? process.stdout : process.stderr).write(parsed.output + '\n');
    return parsed.code;
  }
  let config: Config;
  try {
    config = resolveConfig(parsed.options, process.cwd());
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const source = parsed.fromEnv.includes(err.flag) ? ` (set by ${envName(err.flag)})` : '';
    process.stderr.write(`hotreload: ${err.message}${source}\nRun 'hotreload --help' for usage.\n`);
    return 2;
  }
  const log = createLogger(config.logLevel);
  try {
    return await run(config, log);
  } catch (err) {
    log.fatal(
      {
        err: errorFields(err),
        ...(err instanceof HotreloadError ? {} : { stack: (err as Error).stack }),
      },
      'fatal error; exiting',
    );
    return 1;
  }
}

async function run(config: Config, log: Logger): Promise<number> {
  log.info({ version: VERSION, node: process.versions.node, ...summary(config) }, 'starting');
  // Listen for stop signals before anything starts, so a signal during start-up is not fatal.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    for (const s of STOP_SIGNALS) process.once(s, () => resolve(s));
  });
  const actions = config.http.map((t) => createHttpAction(t));
  const app = await startApp({
    config,
    actions: config.dryRun ? dryRunActions(actions, log) : actions,
    clock: realClock,
    random: Math.random,
    log,
    metrics: createMetrics(VERSION),
    version: VERSION,
    takeSnapshot,
    watchPath,
  });
  const signal = await stopSignal;
  log.info({ signal, shutdownTimeoutMs: config.shutdownTimeoutMs }, 'stopping');
  await app.stop(config.shutdownTimeoutMs);
  log.info({}, 'stopped');
  return 0;
}

/** The effective configuration for the start-up log: no header values, no URL credentials. */
function summary(config: Config): Record<string, unknown> {
  return {
    watch: config.watch,
    http: config.http.map((t) => ({
      method: t.method,
      url: redactUrl(t.url),
      expectStatus: t.expectStatus.text,
      headers: t.headers.map((h) => h.name),
      headerFiles: t.headerFiles.map((h) => h.name),
    })),
    debounceMs: config.debounceMs,
    maxWaitMs: config.maxWaitMs,
    resyncIntervalMs: config.resyncIntervalMs,
    retry: config.retry,
    dryRun: config.dryRun,
    reloadOnStart: config.reloadOnStart,
  };
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`hotreload: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
