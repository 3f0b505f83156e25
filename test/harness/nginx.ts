// A real nginx for end-to-end tests: its nginx.conf in a kubelet-style volume, a master with two
// workers run by the test as the application container would run it, and the /proc reads that
// tell a reload happened (new workers). It does not start hotreload.
import { makeTempDir } from './atomic-writer.js';
import { escapeRegExp, volume, type Volume } from './e2e.js';
import { freePort, waitForBody } from './net.js';
import { childPids, startProcess, type Started } from './processes.js';
import { NGINX } from './programs.js';
import { waitFor } from './wait.js';

export interface NginxSetup extends Volume {
  readonly url: string;
  /** The prefix directory (-p): pid file, error log, temp paths. */
  readonly prefix: string;
  /** nginx and its arguments, to run in the foreground. */
  readonly command: string[];
  /** nginx.conf whose one location answers `body` and a newline; `extra` goes into `http {}`. */
  conf(body: string, extra?: string): string;
}

export interface Nginx extends NginxSetup {
  readonly master: Started;
}

/** A prefix directory, a free port and a volume with nginx.conf serving "v1\n". */
export async function setupNginx(): Promise<NginxSetup> {
  const prefix = await makeTempDir('nginx');
  const port = await freePort();
  const conf = (body: string, extra = '') => `
worker_processes 2;
daemon off;
master_process on;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  ${extra}
  server {
    listen 127.0.0.1:${port};
    location / { return 200 "${body}\\n"; }
  }
}
`;
  const vol = await volume('nginx-conf', { 'nginx.conf': conf('v1') });
  // -e: the error log before nginx.conf is read (the compiled-in one may not be writable).
  const command = [
    NGINX,
    '-p',
    `${prefix}/`,
    '-e',
    `${prefix}/error.log`,
    '-c',
    `${vol.dir}/nginx.conf`,
  ];
  return { ...vol, url: `http://127.0.0.1:${port}/`, prefix, command, conf };
}

/** Waits until nginx serves `body` and its master `pid` has two workers. */
export async function serving(n: NginxSetup, pid: number, body = 'v1'): Promise<void> {
  await waitForBody(n.url, (b) => b === `${body}\n`, 10_000, `nginx to serve ${body}`);
  await workers(pid);
}

/** Starts nginx as the application container would (not as hotreload's child). */
export async function startNginx(setup?: NginxSetup): Promise<Nginx> {
  const n = setup ?? (await setupNginx());
  const [file, ...args] = n.command;
  const master = startProcess(file!, args);
  await serving(n, master.pid).catch((err: Error) => {
    throw new Error(`${err.message}; nginx output: ${master.output()}`);
  });
  return { ...n, master };
}

/** The master's two workers (its children), once there are exactly two and none is `old`. */
export function workers(masterPid: number, old: readonly number[] = []): Promise<number[]> {
  return waitFor(
    async () => {
      const pids = await childPids(masterPid);
      return pids.length === 2 && pids.every((p) => !old.includes(p)) ? pids : undefined;
    },
    10_000,
    `two new workers of nginx master ${masterPid} (old: ${old.join(', ')})`,
  );
}

/**
 * '^nginx: master' as the README has it, narrowed to this test's nginx by its -p argument, so a
 * second nginx on the machine (another test run) is never signalled.
 */
export function masterOf(n: NginxSetup): string {
  return `^nginx: master process ${escapeRegExp(NGINX)} -p ${escapeRegExp(n.prefix)}/`;
}
