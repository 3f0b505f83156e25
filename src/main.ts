#!/usr/bin/env node
// Entry point: argv/env -> Config -> real dependencies -> run until SIGTERM/SIGINT -> exit code.
// Exit codes: 0 clean stop (or --help/--version), 1 fatal runtime error, 2 usage error. This is
// the only module that reads process.argv/env or calls process.exit.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { dryRunActions } from './actions/dry-run.js';
import { createActions, renderOptions } from './actions/create.js';
import { render as renderFile } from './actions/render.js';
import { fileStore, type AppliedStore } from './reload/applied-store.js';
import { startApp, type RuleDeps } from './app.js';
import { Supervisor, exitCodeOf, type ChildExit } from './process/supervisor.js';
import { parse } from './config/cli.js';
import { envName } from './config/env.js';
import { realClock } from './lib/clock.js';
import type { Config } from './config/config.js';
import {
  checkRulesFlags,
  MAX_RULES_FILE_BYTES,
  resolveSetup,
  type Rule,
  type RulesText,
  type Setup,
} from './config/rules.js';
import { readSmallFile } from './lib/small-file.js';
import { ConfigError, errorFields, FatalError, HotreloadError } from './lib/errors.js';
import { takeSnapshot } from './volume/fingerprint.js';
import { stalledCalls } from './volume/fingerprint-fs.js';
import { lateReads } from './lib/small-file.js';
import { changedDuringPod } from './volume/pod-start.js';
import { createLogger, stdoutOutput, type LogOutput, type Logger } from './lib/log.js';
import { logfmtOutput } from './lib/logfmt.js';
import { createMetrics } from './metrics/hotreload.js';
import { readMounts, subPathMounts } from './volume/mountinfo.js';
import { parseSignal } from './process/signals.js';
import { redactUrl } from './lib/redact.js';
import { createValidators } from './validate/validators.js';
import { VERSION } from './lib/version.js';
import { watchPath } from './watch/watcher.js';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
/** Passed on to a supervised child; without one, SIGHUP asks for a resync and the rest are ignored. */
const FORWARDED_SIGNALS = ['SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  // Subcommands, before the flags: a child command only ever comes after `--`.
  if (argv[0] === 'probe') return (await import('./probe/cli.js')).runProbe(argv.slice(1), process);
  if (argv[0] === 'inject')
    return (await import('./inject/cli.js')).runInject(argv.slice(1), process);
  const parsed = parse(argv, env, VERSION, process.stdout.columns || 110);
  if (parsed.kind === 'exit') {
    (parsed.code === 0 ? process.stdout : process.stderr).write(parsed.output + '\n');
    return parsed.code;
  }
  let setup: Setup;
  try {
    checkRulesFlags(parsed.options);
    setup = resolveSetup(
      parsed.options,
      process.cwd(),
      parsed.command,
      parsed.options.config === undefined
        ? undefined
        : {
            text: await readRulesFile(path.resolve(parsed.options.config)),
            parse: await rulesParser(),
          },
    );
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const source = parsed.fromEnv.includes(err.flag) ? ` (set by ${envName(err.flag)})` : '';
    process.stderr.write(`hotreload: ${err.message}${source}\nRun 'hotreload --help' for usage.\n`);
    return 2;
  }
  const { server } = setup;
  const output = server.logFormat === 'logfmt' ? logfmtOutput(stdoutOutput()) : stdoutOutput();
  const log = createLogger(server.logLevel, output);
  try {
    const once = setup.rulesFile ? undefined : setup.rules[0]?.config;
    if (once?.once && once.render) return await renderOnce(once.render, log, env);
    return await run(setup, log, output, env);
  } catch (err) {
    log.fatal(
      {
        err: errorFields(err),
        ...(err instanceof HotreloadError ? {} : { stack: (err as Error).stack }),
      },
      'fatal error; exiting',
    );
    return 1;
  } finally {
    // What a slow reader has not taken yet, within a bound: an exit never waits for the log.
    await output.drain(LOG_DRAIN_MS);
  }
}

/**
 * --watch-interval=0, as prometheus-config-reloader's init container uses it: renders
 * --config-file into --config-envsubst-file once and exits (0, or 1 if it cannot), telling
 * nothing: the application has not started yet.
 */
async function renderOnce(
  render: NonNullable<Config['render']>,
  log: Logger,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  try {
    await renderFile(renderOptions(render, env));
  } catch (err) {
    log.error({ err: errorFields(err) }, 'rendering failed');
    return 1;
  }
  log.info({ input: render.input, output: render.output }, 'rendered once (--watch-interval=0)');
  return 0;
}

/** How long reading the rules file may take. */
const RULES_READ_TIMEOUT_MS = 10_000;

/** The rules file's parser, with the YAML parser it needs: loaded only when there is a rules file. */
async function rulesParser(): Promise<RulesText['parse']> {
  return (await import('./config/rules-file.js')).parseRules;
}

/** The rules file's text; one that cannot be read is a ConfigError naming it. */
async function readRulesFile(file: string): Promise<string> {
  try {
    const bytes = await readSmallFile(file, {
      maxBytes: MAX_RULES_FILE_BYTES,
      timeoutMs: RULES_READ_TIMEOUT_MS,
    });
    return bytes.toString('utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(
      'config',
      file,
      `cannot read it (${e.code ?? e.message}); give the path of a YAML file of rules (at most ${MAX_RULES_FILE_BYTES} bytes)`,
    );
  }
}

type Ending =
  | { readonly kind: 'signal'; readonly signal: NodeJS.Signals }
  | { readonly kind: 'exit-action'; readonly code: number }
  | { readonly kind: 'child-exited'; readonly exit: ChildExit };

async function run(
  setup: Setup,
  log: Logger,
  output: LogOutput,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const startedAt = realClock.now() - process.uptime() * 1000;
  const { server, child } = setup;
  const supervisor =
    child.command.length > 0
      ? new Supervisor(child.command, { env, log, clock: realClock })
      : undefined;
  // --exit's request, once the actions exist and it has run.
  let exitRequested!: (code: number) => void;
  const resync = { now: (): void => undefined };
  // Signals are handled before anything starts, so one arriving during start-up is not fatal. A
  // second stop signal is only logged: Node's default action would end hotreload at once and
  // leave a supervised child running; the shutdown in progress is bounded by its timeouts.
  let stopping = false;
  const ending = Promise.race<Ending>([
    new Promise((resolve) => {
      for (const s of STOP_SIGNALS) {
        process.on(s, () => {
          if (stopping) log.info({ signal: s }, 'already stopping');
          stopping = true;
          resolve({ kind: 'signal', signal: s });
        });
      }
    }),
    new Promise((resolve) => (exitRequested = (code) => resolve({ kind: 'exit-action', code }))),
    ...(supervisor
      ? [supervisor.exitedOnItsOwn.then((exit): Ending => ({ kind: 'child-exited', exit }))]
      : []),
  ]);
  for (const s of FORWARDED_SIGNALS) {
    process.on(s, () =>
      supervisor ? supervisor.forward(s) : s === 'SIGHUP' ? resync.now() : undefined,
    );
  }
  // Whatever ends hotreload also ends a start-up in progress, and arms the watchdog that bounds
  // the shutdown: nothing (a hung mount, a peer that never answers) keeps it running past that.
  const startup = new AbortController();
  void ending.then((end) => {
    startup.abort(new Error(`stopping during start-up (${end.kind})`));
    armWatchdog(setup, supervisor !== undefined, log);
  });
  supervisor?.start();
  try {
    const metrics = createMetrics(VERSION, {
      configmapReload: server.configmapReloadMetrics,
      rulesFile: setup.rulesFile !== undefined,
      logDropped: () => output.dropped,
    });
    const labelled = setup.rulesFile !== undefined;
    // A rule's actions, validators and state store: at start, and for each rule a changed rules
    // file starts.
    const build = async (rule: Rule): Promise<RuleDeps> => {
      const { config } = rule;
      const ruleLog = labelled ? log.child({ rule: rule.name }) : log;
      const { actions, exitRequested: exitAsked } = createActions(config, {
        supervisor,
        kill: (pid, signal) => process.kill(pid, signal),
        selfPid: process.pid,
        selfUid: process.getuid?.() ?? -1,
        env,
        clock: realClock,
        log: ruleLog,
        observeHttp: metrics.configmapReload?.request,
      });
      void exitAsked?.then(exitRequested);
      if (config.tls?.insecure) {
        ruleLog.warn(
          { flag: '--http-insecure-skip-verify' },
          "https:// servers' certificates are not checked: anyone on the path can answer the reload and verify requests; give --http-ca-file instead",
        );
      }
      ruleLog.info(
        {
          version: VERSION,
          node: process.versions.node,
          ...summary(config),
          actions: actions.map(({ kind, target }) => ({ kind, target })),
        },
        'starting',
      );
      return {
        name: rule.name,
        source: rule.source,
        config,
        log: ruleLog,
        actions: config.dryRun ? dryRunActions(actions, ruleLog) : actions,
        validators: createValidators(config.safety, { env, clock: realClock, log: ruleLog }),
        store: await stateStore(config, ruleLog),
        changedDuringPod: (snapshot) =>
          changedDuringPod(snapshot, {
            procRoot: config.process.procRoot,
            selfPid: process.pid,
            selfStartedAt: startedAt,
            clock: realClock,
          }),
      };
    };
    const rulesFile = setup.rulesFile;
    const app = await startApp(
      {
        server,
        rules: await Promise.all(setup.rules.map(build)),
        rulesFile: rulesFile && {
          path: rulesFile.path,
          text: rulesFile.text,
          async load() {
            const text = await readRulesFile(rulesFile.path);
            const parse = await rulesParser();
            return { text, rules: parse(text, rulesFile.path, rulesFile.base, child.command) };
          },
          build,
        },
        clock: realClock,
        random: Math.random,
        log,
        metrics,
        version: VERSION,
        takeSnapshot,
        watchPath,
        findSubPathMounts: async (watched) => subPathMounts(await readMounts(), watched),
      },
      startup.signal,
    ).catch((err: unknown) => {
      if (startup.signal.aborted) return undefined;
      throw err;
    });
    if (app) resync.now = () => app.resync('SIGHUP');
    const end = await ending;
    // From here on a restart in progress (--restart of the child) does not start it again.
    supervisor?.close();
    log.info(
      { ...end, shutdownTimeoutMs: server.shutdownTimeoutMs, ...(!app && { during: 'start-up' }) },
      'stopping',
    );
    await app?.stop(server.shutdownTimeoutMs);
    const code = await finish(end, supervisor, setup);
    log.info({ code }, 'stopped');
    return code;
  } catch (err) {
    // A fatal error (the port taken, the state file's directory read-only) must not leave the
    // child running without its supervisor.
    supervisor?.close();
    await supervisor?.stop(child.stopSignal, child.stopTimeoutMs);
    throw err;
  }
}

/** How long an exit waits for log lines a slow reader has not taken. */
const LOG_DRAIN_MS = 1000;
/** The longest a shutdown may take past --shutdown-timeout (plus stopping a child). */
const SHUTDOWN_GRACE_MS = 1000;
/** How long a child gets after SIGKILL (process/supervisor.ts waits as long). */
const CHILD_KILL_WAIT_MS = 5000;

/**
 * Ends hotreload if its shutdown overruns --shutdown-timeout by SHUTDOWN_GRACE_MS (plus
 * --stop-timeout and the SIGKILL wait when it stops a child): with SIGKILL of itself, since a
 * normal exit would wait for a thread stuck in a call to a mount that does not answer.
 */
function armWatchdog(setup: Setup, child: boolean, log: Logger): void {
  const ms =
    setup.server.shutdownTimeoutMs +
    SHUTDOWN_GRACE_MS +
    (child ? setup.child.stopTimeoutMs + CHILD_KILL_WAIT_MS : 0);
  const timer = setTimeout(() => {
    log.error({ boundMs: ms }, 'shutdown did not end in time; hotreload kills itself');
    process.kill(process.pid, 'SIGKILL');
  }, ms);
  timer.unref();
}

/** The --state-file store; its directory must exist and be writable (an emptyDir). */
async function stateStore(config: Config, log: Logger): Promise<AppliedStore | undefined> {
  const file = config.safety.stateFile;
  if (!file) return undefined;
  const dir = path.dirname(file);
  await access(dir, constants.W_OK).catch((err: NodeJS.ErrnoException) => {
    throw new FatalError(
      'E_STATE_FILE',
      `cannot write --state-file in ${dir}: ${err.code ?? err.message}`,
      {
        cause: err,
        hint: `mount a writable volume (an emptyDir) at ${dir}`,
      },
    );
  });
  return fileStore(file, realClock, log);
}

/** Stops a child still running and chooses the exit code. */
async function finish(
  end: Ending,
  supervisor: Supervisor | undefined,
  setup: Setup,
): Promise<number> {
  switch (end.kind) {
    case 'exit-action':
      return end.code;
    case 'child-exited':
      return exitCodeOf(end.exit);
    case 'signal': {
      if (!supervisor) return 0;
      // The child gets the signal hotreload received; its exit code becomes hotreload's.
      const exit = await supervisor.stop(parseSignal(end.signal)!, setup.child.stopTimeoutMs);
      return exit ? exitCodeOf(exit) : 0;
    }
  }
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

// Every timer of hotreload is unref'd (realClock), and with --listen '' and a path still missing
// nothing else may hold the event loop: this keeps the process alive until main decides the exit.
const keepAlive = setInterval(() => {}, 1 << 30);
main(process.argv.slice(2), process.env).then(
  (code) => {
    clearInterval(keepAlive);
    // A call stuck in the thread pool (a mount that does not answer) would hold a normal exit
    // for ever: Node waits for the pool's threads. It has been logged; end without waiting.
    if (stalledCalls() + lateReads() > 0) process.kill(process.pid, 'SIGKILL');
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`hotreload: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
