// Runs an example's OWN configuration end to end on this machine, with the real program (nginx,
// Prometheus) and the built hotreload started with the manifest's arguments: the ConfigMap data
// goes into kubelet-style volumes, and update/ is applied the way the kubelet applies it.
//
// What changes for a local run, and nothing else:
// - nginx: `listen 8080` in the ConfigMap becomes `listen 127.0.0.1:<free port>`; the image's
//   /etc/nginx/nginx.conf (not in the example) is stood in for by imageNginxConf(), whose /tmp
//   paths (pid file, temp paths) lie on the pod's tmp emptyDir; every nginx command (the image's
//   CMD, the child example's child and its `nginx -t`) gets `-p/-e/-c` to use it. --pid-file
//   narrows hotreload's target to this run's master (all selectors must match), so another nginx
//   on the machine is never signalled.
// - Prometheus: --web.listen-address=127.0.0.1:<free port>; hotreload's URLs follow that port;
//   in the signal variant, --process-match on this run's data directory narrows the target.
//   Paths on Prometheus's volumes inside its configuration (rule_files) name the local volumes.
// - Regular init containers (prometheus-config-reloader-migration's init-config-reloader:
//   hotreload with --watch-interval=0) run first, one after the other, each to completion, as the
//   kubelet runs them; a run fails unless each exits 0. Then the application starts, then the
//   hotreload beside it.
// - The environment of hotreload's container is the manifest's, resolved as the kubelet does
//   (POD_NAME from the downward API is this local pod's made-up name).
// - filebeat is not installed here: a stand-in process named `filebeat` (FILEBEAT_STAND_IN) reads
//   the example's filebeat.yml, and a kubelet-like loop restarts it when it exits. It shows what
//   hotreload does with the manifest's arguments (--restart --process-name filebeat
//   --restart-wait), not what filebeat does; --process-match narrows the target to it.
// - hotreload (in init containers too): paths map to the local volumes, --listen 127.0.0.1:0,
//   --debounce 0.
// Used by test/examples/examples.test.ts and scripts/demo-example.ts.
import { randomBytes } from 'node:crypto';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parse } from 'yaml';
import { makeTempDir } from './atomic-writer.js';
import { escapeRegExp, hotreload, reloaded } from './e2e.js';
import {
  containersOf,
  exampleManifests,
  hotreloadInvocation,
  isUnder,
  mountHolding,
  podSpecOf,
  type Manifest,
} from './examples.js';
import {
  LocalPod,
  localArgv,
  localUrl,
  splitArgv,
  type Adaptation,
  type Transform,
} from './example-pod.js';
import type { Exit, HotreloadProcess } from './hotreload-process.js';
import type { LogRecord } from '../doubles/log-sink.js';
import { freePort, request, waitForBody } from './net.js';
import { RestartLoop, startProcess } from './processes.js';
import { NGINX, PROMETHEUS } from './programs.js';
import { waitFor } from './wait.js';

/** A regular init container that ran hotreload to completion before the pod's containers. */
export interface InitRun {
  readonly name: string;
  /** The hotreload argv that ran: the manifest's, adapted as the header says. */
  readonly argv: readonly string[];
  readonly exit: Exit;
  readonly logs: readonly LogRecord[];
  /**
   * With --config-envsubst-file: the rendered file's content, read as soon as hotreload exited
   * (undefined if there was none), and what the manifest's --config-file gives with the
   * container's environment (written independently of hotreload).
   */
  readonly rendered?: { readonly content: string | undefined; readonly expected: string };
}

export interface ExampleRun {
  /** 'nginx/deployment.yaml' */
  readonly workload: string;
  /** The pod's regular init containers, in their order, each run to completion (exit 0). */
  readonly inits: readonly InitRun[];
  /** The hotreload argv that runs: the manifest's, adapted as the header says. */
  readonly argv: readonly string[];
  readonly hr: HotreloadProcess;
  /** hotreload's environment: its container's, resolved as the kubelet does (POD_NAME, ...). */
  readonly env: Readonly<Record<string, string>>;
  /** The pod's volumes here, for a test's own change of a ConfigMap (LocalPod.write). */
  readonly pod: LocalPod;
  /** The process hotreload acts on (nginx master, prometheus). */
  readonly appPid: number;
  /**
   * What the application runs now: nginx's answer to GET /, Prometheus's scrape_interval (and
   * its external_labels, when it has any).
   */
  observe(): Promise<string>;
  /** What observe() shows with the initial ConfigMap and with update/'s. */
  readonly expected: { readonly before: string; readonly after: string };
  /** Applies update/'s ConfigMaps to the volumes, as the kubelet would. */
  update(): Promise<void>;
  /** Projects the initial ConfigMap with its configuration file changed by `change`. */
  edit(change: (content: string) => string): Promise<void>;
}

/** Prints what happens (the demo); the tests pass nothing. */
export type Say = (who: string, text: string) => void;

/** How a workload runs locally: the program it needs, the process hotreload acts on, the run. */
export interface LocalRun {
  readonly program: string;
  /** The target's process name, as hotreload's log lines name it. */
  readonly process: string;
  readonly run: () => Promise<ExampleRun>;
}

/** The examples that run locally, by workload file. */
export const LOCAL_RUNS: Readonly<Record<string, LocalRun>> = {
  'nginx/deployment.yaml': {
    program: NGINX,
    process: 'nginx',
    run: () => runNginx('nginx/deployment.yaml'),
  },
  'nginx/deployment-native-sidecar.yaml': {
    program: NGINX,
    process: 'nginx',
    run: () => runNginx('nginx/deployment-native-sidecar.yaml'),
  },
  'child/deployment.yaml': {
    program: NGINX,
    process: 'nginx',
    run: () => runNginxChild('child/deployment.yaml'),
  },
  'prometheus/deployment.yaml': {
    program: PROMETHEUS,
    process: 'prometheus',
    run: () => runPrometheus('prometheus/deployment.yaml'),
  },
  'prometheus/deployment-signal.yaml': {
    program: PROMETHEUS,
    process: 'prometheus',
    run: () => runPrometheus('prometheus/deployment-signal.yaml'),
  },
  'configmap-reload-migration/deployment-after.yaml': {
    program: PROMETHEUS,
    process: 'prometheus',
    run: () => runPrometheus('configmap-reload-migration/deployment-after.yaml'),
  },
  'prometheus-config-reloader-migration/deployment-after.yaml': {
    program: PROMETHEUS,
    process: 'prometheus',
    run: () => runPrometheus('prometheus-config-reloader-migration/deployment-after.yaml'),
  },
  // filebeat is not installed here: a stand-in (see the header).
  'filebeat/daemonset.yaml': {
    program: process.execPath,
    process: 'filebeat',
    run: () => runFilebeatStandIn('filebeat/daemonset.yaml'),
  },
};

/**
 * Applies the example's update and waits until hotreload reports the reload and the application
 * runs the new configuration. Returns what it saw, for assertions.
 */
export async function playUpdate(
  run: ExampleRun,
  say: Say = () => undefined,
): Promise<{ before: string; after: string; logs: LogRecord[] }> {
  const before = await run.observe();
  say('app', `runs: ${before.trim()}`);
  const from = run.hr.logs.length;
  say('kubelet', 'projects update/ into the volume (..data swap)');
  await run.update();
  await run.hr.waitForLog(
    (r) => run.hr.logs.indexOf(r) >= from && reloaded(r),
    30_000,
    "'reload succeeded' after the update",
  );
  const after = await waitFor(
    async () => {
      const now = await run.observe().catch(() => undefined);
      return now === run.expected.after ? now : undefined;
    },
    20_000,
    `the application to run ${JSON.stringify(run.expected.after)}`,
  );
  say('app', `runs: ${after.trim()}`);
  return { before, after, logs: run.hr.logs.slice(from) };
}

interface Workload {
  readonly manifests: Manifest[];
  readonly spec: IPodSpec;
  readonly pod: LocalPod;
  readonly app: IContainer;
  /** The container that runs hotreload (the app's own in the child example). */
  readonly reloader: IContainer;
  /** The regular init containers (not restartPolicy: Always), in their order. */
  readonly inits: readonly IContainer[];
  readonly argv: readonly string[];
  /** hotreload's environment (its container's, resolved). */
  readonly env: Record<string, string>;
}

/** The containers of a workload, for a transform that depends on them. */
type TransformFor = (containers: { app: IContainer; reloader: IContainer }) => Transform;

async function loadWorkload(file: string, transformFor?: TransformFor): Promise<Workload> {
  const example = file.split('/')[0]!;
  const manifests = exampleManifests(example);
  const object = manifests.find((m) => m.file === file)?.object;
  const spec = object && podSpecOf(object);
  if (!spec) throw new Error(`${file} holds no pod template`);
  // Regular init containers run to completion first (runInits); the others run beside each other.
  const inits = (spec.initContainers ?? []).filter((c) => c.restartPolicy !== 'Always');
  const containers = containersOf(spec)
    .map((c) => c.container)
    .filter((c) => !inits.includes(c));
  const reloader = containers.find((c) => hotreloadInvocation(c));
  if (!reloader) throw new Error(`${file} runs no hotreload beside its application`);
  const app = containers.find((c) => c !== reloader) ?? reloader;
  // A made-up pod name, as a Deployment's pods have one: what $(POD_NAME) becomes.
  const identity = {
    name: `${object.metadata.name}-local-${randomBytes(3).toString('hex')}`,
    namespace: object.metadata.namespace ?? 'default',
  };
  const pod = await LocalPod.create(manifests, spec, transformFor?.({ app, reloader }), identity);
  const argv = hotreloadInvocation(reloader)!.argv;
  return { manifests, spec, pod, app, reloader, inits, argv, env: pod.env(reloader) };
}

/** Paths mapped to the local volumes of the container, and nothing else. */
function onVolumes(w: Workload): (c: IContainer) => Adaptation {
  return (c) => ({ path: (p) => w.pod.localPath(c, p) });
}

/**
 * Runs the workload's regular init containers as the kubelet does: one after the other, each to
 * completion, before any other container starts. Only hotreload runs here; its argv is the
 * manifest's adapted by `adapt`. Throws unless each exits 0 (the pod would not start).
 */
async function runInits(w: Workload, adapt: (c: IContainer) => Adaptation): Promise<InitRun[]> {
  const runs: InitRun[] = [];
  for (const c of w.inits) {
    const invocation = hotreloadInvocation(c);
    if (!invocation) throw new Error(`init container ${c.name}: only hotreload runs locally`);
    const argv = localArgv(invocation.argv, adapt(c));
    const env = w.pod.env(c);
    const hr = hotreload(argv, env);
    let exited: Exit | undefined;
    void hr.exited.then((e) => (exited = e));
    const exit = await waitFor(() => exited, 20_000, `init container ${c.name} to exit`).catch(
      async (err: Error) => {
        await hr.stop('SIGKILL');
        throw err;
      },
    );
    if (exit.code !== 0) {
      throw new Error(
        `init container ${c.name} exited ${exit.code ?? exit.signal}, so the pod would not start; stderr: ${hr.stderr()}; logs: ${JSON.stringify(hr.logs)}`,
      );
    }
    const flags = splitArgv(invocation.argv).flags;
    const input = flags.find((f) => f.key === 'config-file')?.value;
    const output = flags.find((f) => f.key === 'config-envsubst-file')?.value;
    let rendered: InitRun['rendered'];
    if (input && output) {
      const source = configMapFileOf(w, c, input);
      rendered = {
        content: await readFile(w.pod.localPath(c, output), 'utf8').catch(() => undefined),
        expected: substituted(w.pod.content(source.configMap, source.key, 'initial'), env),
      };
    }
    runs.push({ name: c.name, argv, exit, logs: hr.logs, rendered });
  }
  return runs;
}

/** ExampleRun.edit for the configuration file `key` of ConfigMap `name`. */
function editor(
  w: Workload,
  name: string,
  key: string,
): (change: (content: string) => string) => Promise<void> {
  return (change) => {
    const data = w.pod.data(name, 'initial');
    return w.pod.write(name, { ...data, [key]: change(data[key] ?? '') });
  };
}

/** The ConfigMap mounted at `mountPath` in `container`. */
function configMapOf(w: Workload, container: IContainer, mountPath: string): string {
  const mount = container.volumeMounts?.find((m) => m.mountPath === mountPath);
  const volume = w.spec.volumes?.find((v) => v.name === mount?.name);
  const name = volume?.configMap?.name;
  if (!name) throw new Error(`no configMap volume at ${mountPath} in ${container.name}`);
  return name;
}

/** The ConfigMap and key that file `p` of `container` projects (through the volume's items). */
function configMapFileOf(
  w: Workload,
  container: IContainer,
  p: string,
): { configMap: string; key: string } {
  const mount = mountHolding(container.volumeMounts ?? [], p);
  const source = w.spec.volumes?.find((v) => v.name === mount?.name)?.configMap;
  if (!mount || !source?.name)
    throw new Error(`${p} is on no configMap volume of ${container.name}`);
  const rel = path.posix.relative(mount.mountPath, p);
  const key = source.items?.find((i) => i.path === rel)?.key ?? rel;
  return { configMap: source.name, key };
}

// ---- nginx ----------------------------------------------------------------------------------

/** The nginx-unprivileged image's CMD (the examples' nginx container has no command or args). */
const NGINX_IMAGE_CMD = ['nginx', '-g', 'daemon off;'];

/**
 * Stands in for nginx-unprivileged's /etc/nginx/nginx.conf, which the example does not contain:
 * its /tmp paths (pid, temp) on the pod's tmp volume, its include of conf.d/*.conf; two workers
 * instead of `auto`, and logs to files here instead of /dev/stdout.
 */
function imageNginxConf(tmp: string, confDir: string): string {
  return `worker_processes 2;
error_log ${tmp}/error.log notice;
pid ${tmp}/nginx.pid;
events { worker_connections 64; }
http {
  proxy_temp_path ${tmp}/proxy_temp;
  client_body_temp_path ${tmp}/client_temp;
  fastcgi_temp_path ${tmp}/fastcgi_temp;
  uwsgi_temp_path ${tmp}/uwsgi_temp;
  scgi_temp_path ${tmp}/scgi_temp;
  access_log off;
  include ${confDir}/*.conf;
}
`;
}

interface LocalNginx {
  readonly url: string;
  /** -p prefix; holds the stand-in nginx.conf and the error log. */
  readonly home: string;
  readonly transform: Transform;
  /** `nginx ARGS` from the image, as this machine runs it: the local binary with -p/-e/-c. */
  command(argv: readonly string[]): string[];
}

async function localNginx(): Promise<LocalNginx> {
  const port = await freePort();
  const home = await makeTempDir('example-nginx');
  return {
    url: `http://127.0.0.1:${port}/`,
    home,
    transform: (key, content) =>
      key.endsWith('.conf')
        ? content.replace(/\blisten\s+8080;/g, `listen 127.0.0.1:${port};`)
        : content,
    command(argv) {
      if (argv[0] !== 'nginx') throw new Error(`expected an nginx command, got ${argv.join(' ')}`);
      const conf = `${home}/nginx.conf`;
      return [NGINX, '-p', `${home}/`, '-e', `${home}/error.log`, '-c', conf, ...argv.slice(1)];
    },
  };
}

/** The text `location / { ... return 200 "TEXT"; }` answers, with its escapes resolved. */
function nginxAnswer(conf: string): string {
  const m = /location \/ \{[^}]*?return 200 "((?:[^"\\]|\\.)*)";/.exec(conf);
  if (!m) throw new Error('no `location / { return 200 "..."; }` in the nginx configuration');
  return m[1]!.replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
}

function nginxExpected(pod: LocalPod, configMap: string): ExampleRun['expected'] {
  return {
    before: nginxAnswer(pod.content(configMap, 'default.conf', 'initial')),
    after: nginxAnswer(pod.content(configMap, 'default.conf', 'update')),
  };
}

/** nginx as its own container, hotreload beside it (regular or native sidecar). */
async function runNginx(file: string): Promise<ExampleRun> {
  const n = await localNginx();
  const w = await loadWorkload(file, () => n.transform);
  const tmp = w.pod.localPath(w.app, '/tmp');
  const confDir = w.pod.localPath(w.app, '/etc/nginx/conf.d');
  await writeFile(`${n.home}/nginx.conf`, imageNginxConf(tmp, confDir));
  const inits = await runInits(w, onVolumes(w));
  const given = [...(w.app.command ?? []), ...(w.app.args ?? [])];
  const [bin, ...args] = n.command(given.length > 0 ? given : NGINX_IMAGE_CMD);
  const nginx = startProcess(bin!, args);
  await waitForBody(n.url, () => true, 10_000, 'nginx to serve').catch((err: Error) => {
    throw new Error(`${err.message}; nginx output: ${nginx.output()}`);
  });
  const argv = localArgv(w.argv, {
    path: (p) => w.pod.localPath(w.reloader, p),
    extra: [`--pid-file=${tmp}/nginx.pid`],
  });
  const hr = hotreload(argv, w.env);
  await hr.ready();
  const configMap = configMapOf(w, w.app, '/etc/nginx/conf.d');
  return {
    workload: file,
    inits,
    argv,
    hr,
    env: w.env,
    pod: w.pod,
    appPid: nginx.pid,
    observe: async () => (await request(n.url)).body,
    expected: nginxExpected(w.pod, configMap),
    update: () => w.pod.update(),
    edit: editor(w, configMap, 'default.conf'),
  };
}

/** nginx as hotreload's child, in one container whose command is hotreload's. */
async function runNginxChild(file: string): Promise<ExampleRun> {
  const n = await localNginx();
  const w = await loadWorkload(file, () => n.transform);
  const tmp = w.pod.localPath(w.app, '/tmp');
  const confDir = w.pod.localPath(w.app, '/etc/nginx/conf.d');
  await writeFile(`${n.home}/nginx.conf`, imageNginxConf(tmp, confDir));
  const inits = await runInits(w, onVolumes(w));
  const argv = localArgv(w.argv, {
    path: (p) => w.pod.localPath(w.reloader, p),
    // `nginx -t` and the child: the local nginx with this run's configuration.
    shell: (cmd) => cmd.replace(/^nginx(?= |$)/, n.command(['nginx']).join(' ')),
    command: (command) => n.command(command),
  });
  const hr = hotreload(argv, w.env);
  const child = await hr.waitForLog((r) => r.msg === 'child started', 10_000, "'child started'");
  await waitForBody(n.url, () => true, 10_000, 'nginx to serve');
  await hr.ready();
  const configMap = configMapOf(w, w.app, '/etc/nginx/conf.d');
  return {
    workload: file,
    inits,
    argv,
    hr,
    env: w.env,
    pod: w.pod,
    appPid: child.pid as number,
    observe: async () => (await request(n.url)).body,
    expected: nginxExpected(w.pod, configMap),
    update: () => w.pod.update(),
    edit: editor(w, configMap, 'default.conf'),
  };
}

// ---- Prometheus -----------------------------------------------------------------------------

/**
 * Prometheus with hotreload beside it, calling /-/reload or sending SIGHUP; with
 * --config-envsubst-file, hotreload renders the configuration Prometheus reads.
 */
async function runPrometheus(file: string): Promise<ExampleRun> {
  const w = await loadWorkload(file, ({ app }) => onLocalVolumes(app));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = w.pod.localPath(w.app, '/prometheus');
  const argv = localArgv(w.argv, {
    path: (p) => w.pod.localPath(w.reloader, p),
    url: localUrl(new Map([[9090, port]])),
    // Only this run's Prometheus (its data directory is on its command line).
    extra: w.argv.some((a) => /^--?(signal|restart)\b/.test(a))
      ? [`--process-match=${escapeRegExp(dataDir)}`]
      : [],
  });
  const startPrometheus = async () => {
    const args = (w.app.args ?? []).map((a) => w.pod.localArg(w.app, a));
    const server = startProcess(PROMETHEUS, [...args, `--web.listen-address=127.0.0.1:${port}`]);
    await waitForBody(`${base}/-/ready`, () => true, 30_000, 'Prometheus to be ready').catch(
      (err: Error) => {
        throw new Error(`${err.message}; its output: ${server.output().slice(-2000)}`);
      },
    );
    return server;
  };
  const inits = await runInits(w, (c) => ({
    path: (p) => w.pod.localPath(c, p),
    url: localUrl(new Map([[9090, port]])),
  }));
  const server = await startPrometheus();
  const hr = hotreload(argv, w.env);
  await hr.ready();
  // The file Prometheus's configuration comes from: --config-file when hotreload renders it,
  // else Prometheus's own --config.file.
  const flags = splitArgv(w.argv).flags;
  const rendered = flags.some((f) => f.key === 'config-envsubst-file');
  const configFile = flags.find((f) => f.key === 'config-file')?.value;
  const source = configFile
    ? configMapFileOf(w, w.reloader, configFile)
    : configMapFileOf(w, w.app, flagValue(w.app.args ?? [], '--config.file'));
  const runs = (which: 'initial' | 'update') => {
    const text = w.pod.content(source.configMap, source.key, which);
    return prometheusRuns(rendered ? substituted(text, w.env) : text);
  };
  return {
    workload: file,
    inits,
    argv,
    hr,
    env: w.env,
    pod: w.pod,
    appPid: server.pid,
    async observe() {
      const res = await request(`${base}/api/v1/status/config`);
      return prometheusRuns((JSON.parse(res.body) as { data: { yaml: string } }).data.yaml);
    },
    expected: { before: runs('initial'), after: runs('update') },
    update: () => w.pod.update(),
    edit: editor(w, source.configMap, source.key),
  };
}

/** The value of `--name=value` in `args`. */
function flagValue(args: readonly string[], name: string): string {
  const arg = args.find((a) => a.startsWith(`${name}=`));
  if (!arg) throw new Error(`no ${name}= argument`);
  return arg.slice(name.length + 1);
}

/**
 * Absolute paths in a configuration that lie on a volume of `app` (rule_files globs, say) become
 * their local paths; every other text stays.
 */
function onLocalVolumes(app: IContainer): Transform {
  return (_key, content, pod) =>
    content.replace(/(?<![^\s"'[,])\/[^\s"',\]]+/g, (p) =>
      (app.volumeMounts ?? []).some((m) => isUnder(p, m.mountPath)) ? pod.localPath(app, p) : p,
    );
}

/**
 * What --config-envsubst-file makes of `text`, written independently of hotreload: every
 * $(NAME) is the variable's value; an unset one is an error of the example.
 */
function substituted(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_ref, name: string) => {
    const value = env[name];
    if (value === undefined) throw new Error(`$(${name}) is not set in hotreload's container`);
    return value;
  });
}

/** `scrape_interval 30s`, and `, external_labels a=b,c=d` when the configuration has any. */
function prometheusRuns(yamlText: string): string {
  const config = parse(yamlText) as {
    global?: { scrape_interval?: string; external_labels?: Record<string, string> };
  };
  const labels = Object.entries(config.global?.external_labels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}=${value}`);
  const interval = `scrape_interval ${config.global?.scrape_interval ?? '1m'}`;
  return labels.length > 0 ? `${interval}, external_labels ${labels.join(',')}` : interval;
}

// ---- filebeat (a stand-in) ------------------------------------------------------------------

/**
 * `filebeat CONFIG EVENTS`, run through a link named `filebeat` so that its process name is:
 * appends '<pid> <config_version of CONFIG>' to EVENTS at start, and exits 0 on SIGTERM and on
 * SIGHUP (as filebeat does). It reads its configuration once, like filebeat.
 */
const FILEBEAT_STAND_IN = `
import { appendFileSync, readFileSync } from 'node:fs';
const [config, events] = process.argv.slice(2);
const version = /config_version: *(\\S+)/.exec(readFileSync(config, 'utf8'))?.[1] ?? 'none';
for (const s of ['SIGTERM', 'SIGHUP']) process.on(s, () => process.exit(0));
setInterval(() => {}, 1 << 30);
appendFileSync(events, process.pid + ' ' + version + '\\n');
`;

function configVersion(filebeatYml: string): string {
  return `config_version ${/config_version: *(\S+)/.exec(filebeatYml)?.[1] ?? 'none'}`;
}

async function runFilebeatStandIn(file: string): Promise<ExampleRun> {
  const w = await loadWorkload(file);
  const inits = await runInits(w, onVolumes(w));
  const home = await makeTempDir('example-filebeat');
  const bin = `${home}/filebeat`;
  await symlink(process.execPath, bin);
  await writeFile(`${home}/stand-in.mjs`, FILEBEAT_STAND_IN);
  const events = `${home}/events`;
  const config = w.pod.localPath(w.app, '/etc/filebeat/filebeat.yml');
  const loop = new RestartLoop(bin, [`${home}/stand-in.mjs`, config, events], {
    maxRestarts: 5,
    delayMs: 200,
  });
  const observe = async () => {
    const lines = (await readFile(events, 'utf8').catch(() => '')).trim().split('\n');
    return `config_version ${lines[lines.length - 1]?.split(' ')[1] ?? 'none'}`;
  };
  await waitFor(async () => (await observe()) !== 'config_version none', 10_000, 'the stand-in');
  const argv = localArgv(w.argv, {
    path: (p) => w.pod.localPath(w.reloader, p),
    extra: [`--process-match=^${escapeRegExp(bin)} `],
  });
  const hr = hotreload(argv, w.env);
  await hr.ready();
  const configMap = configMapOf(w, w.app, '/etc/filebeat');
  return {
    workload: file,
    inits,
    argv,
    hr,
    env: w.env,
    pod: w.pod,
    appPid: loop.current.pid,
    observe,
    expected: {
      before: configVersion(w.pod.content(configMap, 'filebeat.yml', 'initial')),
      after: configVersion(w.pod.content(configMap, 'filebeat.yml', 'update')),
    },
    update: () => w.pod.update(),
    edit: editor(w, configMap, 'filebeat.yml'),
  };
}
