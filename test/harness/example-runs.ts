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
// - filebeat is not installed here: a stand-in process named `filebeat` (FILEBEAT_STAND_IN) reads
//   the example's filebeat.yml, and a kubelet-like loop restarts it when it exits. It shows what
//   hotreload does with the manifest's arguments (--restart --process-name filebeat
//   --restart-wait), not what filebeat does; --process-match narrows the target to it.
// - hotreload: paths map to the local volumes, --listen 127.0.0.1:0, --debounce 0.
// Used by test/examples/examples.test.ts and scripts/demo-example.ts.
import { readFile, symlink, writeFile } from 'node:fs/promises';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parse } from 'yaml';
import { makeTempDir } from './atomic-writer.js';
import { escapeRegExp, hotreload, reloaded } from './e2e.js';
import {
  containersOf,
  exampleManifests,
  hotreloadInvocation,
  podSpecOf,
  type Manifest,
} from './examples.js';
import { LocalPod, localArgv, localUrl, type Transform } from './example-pod.js';
import type { HotreloadProcess } from './hotreload-process.js';
import type { LogRecord } from '../doubles/log-sink.js';
import { freePort, request, waitForBody } from './net.js';
import { RestartLoop, startProcess } from './processes.js';
import { NGINX, PROMETHEUS } from './programs.js';
import { waitFor } from './wait.js';

export interface ExampleRun {
  /** 'nginx/deployment.yaml' */
  readonly workload: string;
  /** The hotreload argv that runs: the manifest's, adapted as the header says. */
  readonly argv: readonly string[];
  readonly hr: HotreloadProcess;
  /** The process hotreload acts on (nginx master, prometheus). */
  readonly appPid: number;
  /** What the application runs now: nginx's answer to GET /, Prometheus's scrape_interval. */
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
  readonly argv: readonly string[];
}

async function loadWorkload(file: string, transform?: Transform): Promise<Workload> {
  const example = file.split('/')[0]!;
  const manifests = exampleManifests(example);
  const object = manifests.find((m) => m.file === file)?.object;
  const spec = object && podSpecOf(object);
  if (!spec) throw new Error(`${file} holds no pod template`);
  const containers = containersOf(spec).map((c) => c.container);
  const reloader = containers.find((c) => hotreloadInvocation(c));
  if (!reloader) throw new Error(`${file} runs no hotreload`);
  const app = containers.find((c) => c !== reloader) ?? reloader;
  const pod = await LocalPod.create(manifests, spec, transform);
  return { manifests, spec, pod, app, reloader, argv: hotreloadInvocation(reloader)!.argv };
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

/** ExampleRun.edit for the configuration file `key` of the ConfigMap at `mountPath`. */
function editor(
  w: Workload,
  mountPath: string,
  key: string,
): (change: (content: string) => string) => Promise<void> {
  const name = configMapOf(w, w.app, mountPath);
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

/** nginx as its own container, hotreload beside it (regular or native sidecar). */
async function runNginx(file: string): Promise<ExampleRun> {
  const n = await localNginx();
  const w = await loadWorkload(file, n.transform);
  const tmp = w.pod.localPath(w.app, '/tmp');
  const confDir = w.pod.localPath(w.app, '/etc/nginx/conf.d');
  await writeFile(`${n.home}/nginx.conf`, imageNginxConf(tmp, confDir));
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
  const hr = hotreload(argv);
  await hr.ready();
  return {
    workload: file,
    argv,
    hr,
    appPid: nginx.pid,
    observe: async () => (await request(n.url)).body,
    expected: nginxExpected(w.pod, configMapOf(w, w.app, '/etc/nginx/conf.d')),
    update: () => w.pod.update(),
    edit: editor(w, '/etc/nginx/conf.d', 'default.conf'),
  };
}

/** nginx as hotreload's child, in one container whose command is hotreload's. */
async function runNginxChild(file: string): Promise<ExampleRun> {
  const n = await localNginx();
  const w = await loadWorkload(file, n.transform);
  const tmp = w.pod.localPath(w.app, '/tmp');
  const confDir = w.pod.localPath(w.app, '/etc/nginx/conf.d');
  await writeFile(`${n.home}/nginx.conf`, imageNginxConf(tmp, confDir));
  const argv = localArgv(w.argv, {
    path: (p) => w.pod.localPath(w.reloader, p),
    // `nginx -t` and the child: the local nginx with this run's configuration.
    shell: (cmd) => cmd.replace(/^nginx(?= |$)/, n.command(['nginx']).join(' ')),
    command: (command) => n.command(command),
  });
  const hr = hotreload(argv);
  const child = await hr.waitForLog((r) => r.msg === 'child started', 10_000, "'child started'");
  await waitForBody(n.url, () => true, 10_000, 'nginx to serve');
  await hr.ready();
  return {
    workload: file,
    argv,
    hr,
    appPid: child.pid as number,
    observe: async () => (await request(n.url)).body,
    expected: nginxExpected(w.pod, configMapOf(w, w.app, '/etc/nginx/conf.d')),
    update: () => w.pod.update(),
    edit: editor(w, '/etc/nginx/conf.d', 'default.conf'),
  };
}

// ---- Prometheus -----------------------------------------------------------------------------

/** Prometheus with hotreload beside it, calling /-/reload or sending SIGHUP. */
async function runPrometheus(file: string): Promise<ExampleRun> {
  const w = await loadWorkload(file);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const args = (w.app.args ?? []).map((a) => w.pod.localArg(w.app, a));
  const server = startProcess(PROMETHEUS, [...args, `--web.listen-address=127.0.0.1:${port}`]);
  await waitForBody(`${base}/-/ready`, () => true, 30_000, 'Prometheus to be ready').catch(
    (err: Error) => {
      throw new Error(`${err.message}; its output: ${server.output().slice(-2000)}`);
    },
  );
  const dataDir = w.pod.localPath(w.app, '/prometheus');
  const argv = localArgv(w.argv, {
    path: (p) => w.pod.localPath(w.reloader, p),
    url: localUrl(new Map([[9090, port]])),
    // Only this run's Prometheus (its data directory is on its command line).
    extra: w.argv.some((a) => /^--?(signal|restart)\b/.test(a))
      ? [`--process-match=${escapeRegExp(dataDir)}`]
      : [],
  });
  const hr = hotreload(argv);
  await hr.ready();
  const configMap = configMapOf(w, w.app, '/etc/prometheus');
  const interval = (which: 'initial' | 'update') =>
    scrapeInterval(w.pod.content(configMap, 'prometheus.yml', which));
  return {
    workload: file,
    argv,
    hr,
    appPid: server.pid,
    async observe() {
      const res = await request(`${base}/api/v1/status/config`);
      return scrapeInterval((JSON.parse(res.body) as { data: { yaml: string } }).data.yaml);
    },
    expected: { before: interval('initial'), after: interval('update') },
    update: () => w.pod.update(),
    edit: editor(w, '/etc/prometheus', 'prometheus.yml'),
  };
}

function scrapeInterval(yamlText: string): string {
  const config = parse(yamlText) as { global?: { scrape_interval?: string } };
  return `scrape_interval ${config.global?.scrape_interval ?? '1m'}`;
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
  const hr = hotreload(argv);
  await hr.ready();
  const configMap = configMapOf(w, w.app, '/etc/filebeat');
  return {
    workload: file,
    argv,
    hr,
    appPid: loop.current.pid,
    observe,
    expected: {
      before: configVersion(w.pod.content(configMap, 'filebeat.yml', 'initial')),
      after: configVersion(w.pod.content(configMap, 'filebeat.yml', 'update')),
    },
    update: () => w.pod.update(),
    edit: editor(w, '/etc/filebeat', 'filebeat.yml'),
  };
}
