// Small Node.js applications for end-to-end tests of the process actions, written to a temp
// directory as .mjs files and run with process.execPath. Each one tells the test what happened to
// it (what it serves, or lines appended to an events file); none of them reloads by itself.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir } from './atomic-writer.js';
import { startProcess, type Started } from './processes.js';

/**
 * `node config-server.mjs CONFIG PORT [--ignore-term] [MARKER...]`: reads CONFIG once at start
 * and serves it on 127.0.0.1:PORT (0: any port) to every request, then prints 'listening'. TERM
 * exits 0, unless --ignore-term (then only SIGKILL stops it). Extra arguments are only there to
 * be matched by --process-match.
 */
const CONFIG_SERVER = `
import { readFileSync } from 'node:fs';
import http from 'node:http';
const [configPath, port, ...flags] = process.argv.slice(2);
const config = readFileSync(configPath, 'utf8');
process.on('SIGTERM', () => {
  if (!flags.includes('--ignore-term')) process.exit(0);
});
http
  .createServer((req, res) => res.end(config))
  .listen(Number(port), '127.0.0.1', () => console.log('listening'));
`;

/**
 * `node events-child.mjs EVENTS CONFIG TERM`: appends '<pid> <event>' lines to EVENTS: 'ready
 * <first line of CONFIG>' once its handlers are in place, then each SIGHUP, SIGQUIT, SIGUSR1 and
 * SIGUSR2 it gets. SIGALRM (which hotreload does not pass on) makes it exit 3, on its own. TERM:
 * 'exit0' notes SIGTERM and exits 0; 'default' keeps the default action (killed by the signal);
 * 'ignore' notes it and goes on.
 */
const EVENTS_CHILD = `
import { appendFileSync, readFileSync } from 'node:fs';
const [events, configPath, onTerm] = process.argv.slice(2);
const note = (event) => appendFileSync(events, process.pid + ' ' + event + '\\n');
for (const s of ['SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']) process.on(s, () => note(s));
process.on('SIGALRM', () => process.exit(3));
if (onTerm !== 'default') {
  process.on('SIGTERM', () => {
    note('SIGTERM');
    if (onTerm === 'exit0') process.exit(0);
  });
}
setInterval(() => {}, 1 << 30);
note('ready ' + readFileSync(configPath, 'utf8').split('\\n')[0]);
`;

const SOURCES = { 'config-server.mjs': CONFIG_SERVER, 'events-child.mjs': EVENTS_CHILD };

/** Writes the application to `dir` and returns its path. */
export async function writeApp(dir: string, name: keyof typeof SOURCES): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, SOURCES[name].trimStart(), { mode: 0o644 });
  return file;
}

/** config-server.mjs serving `config`, ignoring SIGTERM, `marker` on its command line: listening. */
export async function startStubbornServer(config: string, marker: string): Promise<Started> {
  const app = await writeApp(await makeTempDir('stubborn-app'), 'config-server.mjs');
  const server = startProcess(process.execPath, [app, config, '0', '--ignore-term', marker]);
  await server.waitForOutput('listening');
  return server;
}

export interface ChildEvent {
  readonly pid: number;
  /** 'ready v1', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGTERM'. */
  readonly event: string;
}

/** The events an events-child appended to `file` so far (none before it started). */
export async function readEvents(file: string): Promise<ChildEvent[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const space = line.indexOf(' ');
      return { pid: Number(line.slice(0, space)), event: line.slice(space + 1) };
    });
}
