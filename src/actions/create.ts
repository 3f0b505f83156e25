// Builds the configured actions in their one fixed order: render, exec, http, signal, restart,
// verify, exit. --config-envsubst-file is rendered before anything is told, a command prepares
// or notifies first, the HTTP endpoints and signals reload in place, a
// restart replaces the process, --verify-url checks the result, and exiting comes last because
// nothing runs after it. The pipeline runs them in this order; each --http-url is a target of
// its own.
import type { Logger } from 'pino';
import type { Supervisor } from '../process/supervisor.js';
import type { Clock } from '../lib/clock.js';
import type { Config } from '../config/config.js';
import type { HttpOutcome } from '../metrics/configmap-reload.js';
import type { KillFn } from '../process/signals.js';
import type { Action } from './action.js';
import { createExecAction } from './exec.js';
import { createExitAction } from './exit.js';
import { createHttpAction } from './http.js';
import { createRenderAction, type RenderOptions } from './render.js';
import { createRestartAction } from './restart.js';
import { createSignalAction } from './signal.js';
import { createVerifyUrlAction } from './verify-url.js';
import { selectedProcesses, supervisedChild } from './process-targets.js';

/** Reading --config-file, at most. */
const RENDER_READ_TIMEOUT_MS = 10_000;

export interface ActionDeps {
  readonly supervisor: Supervisor | undefined;
  readonly kill: KillFn;
  readonly selfPid: number;
  readonly selfUid: number;
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
  readonly log: Logger;
  /** Told how each reload request went (--configmap-reload-metrics). */
  readonly observeHttp?: (outcome: HttpOutcome) => void;
}

/** The actions in their order, and with --exit, the exit it asks for once it has run. */
export interface BuiltActions {
  readonly actions: Action[];
  readonly exitRequested: Promise<number> | undefined;
}

export function createActions(config: Config, deps: ActionDeps): BuiltActions {
  const p = config.process;
  // Which processes the process actions work on, chosen here once.
  const where = { procRoot: p.procRoot, selfPid: deps.selfPid, clock: deps.clock };
  const child = deps.supervisor && {
    supervisor: deps.supervisor,
    targets: supervisedChild(deps.supervisor, where),
  };
  const processes = p.selector
    ? selectedProcesses(p.selector, { ...where, supervisor: deps.supervisor })
    : child?.targets;
  // The configuration guarantees one for --signal and --restart (config/process.ts).
  const targets = () => {
    if (!processes) throw new Error('a process action without a selector or a supervised child');
    return { targets: processes, procRoot: p.procRoot };
  };
  const actions: Action[] = [];
  // Rendered first: what the application is told to read must be there.
  if (config.render) {
    actions.push(createRenderAction(renderOptions(config.render, deps.env)));
  }
  if (p.exec)
    actions.push(createExecAction({ ...p.exec, env: deps.env, clock: deps.clock, log: deps.log }));
  for (const target of config.http)
    actions.push(createHttpAction({ ...target, observe: deps.observeHttp, clock: deps.clock }));
  if (p.signal) {
    actions.push(
      createSignalAction({
        ...targets(),
        signal: p.signal,
        kill: deps.kill,
        selfUid: deps.selfUid,
        verifyChildren: config.safety.verifyChildren,
        verifyTimeoutMs: config.safety.verifyTimeoutMs,
        minAgeMs: p.minProcessAgeMs,
        clock: deps.clock,
        log: deps.log,
      }),
    );
  }
  if (p.restart) {
    actions.push(
      createRestartAction({
        ...targets(),
        stopSignal: p.stopSignal,
        stopTimeoutMs: p.stopTimeoutMs,
        restartWaitMs: p.restartWaitMs,
        kill: deps.kill,
        selfUid: deps.selfUid,
        clock: deps.clock,
        log: deps.log,
      }),
    );
  }
  const { verifyUrls, verifyStatus, verifyTimeoutMs, verifyConditions } = config.safety;
  if (verifyUrls.length > 0) {
    actions.push(
      createVerifyUrlAction({
        urls: verifyUrls,
        expectStatus: verifyStatus,
        conditions: verifyConditions,
        timeoutMs: verifyTimeoutMs,
        clock: deps.clock,
        tls: config.tls,
        bearer: config.bearer,
      }),
    );
  }
  let exitRequested: Promise<number> | undefined;
  if (p.exit) {
    const exit = createExitAction({
      code: p.exit.code,
      child,
      stopSignal: p.stopSignal,
      stopTimeoutMs: p.stopTimeoutMs,
    });
    exitRequested = exit.requested;
    actions.push(exit);
  }
  return { actions, exitRequested };
}

/**
 * How --config-file is rendered into --config-envsubst-file: by the render action before each
 * delivery, and once by --watch-interval=0 (main.ts).
 */
export function renderOptions(
  render: NonNullable<Config['render']>,
  env: NodeJS.ProcessEnv,
): RenderOptions {
  return {
    input: render.input,
    output: render.output,
    env: withOrdinal(env, render.ordinalFrom),
    timeoutMs: RENDER_READ_TIMEOUT_MS,
  };
}

/**
 * prometheus-config-reloader's $(STATEFULSET_ORDINAL_NUMBER): the number the variable `from`
 * ends with (prometheus-k8s-1 -> 1), empty when it ends with none.
 */
export function withOrdinal(env: NodeJS.ProcessEnv, from: string): NodeJS.ProcessEnv {
  return { ...env, STATEFULSET_ORDINAL_NUMBER: /\d+$/.exec(env[from] ?? '')?.[0] ?? '' };
}
