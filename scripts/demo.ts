// A self-contained demo: a kubelet-style ConfigMap volume in a temp dir, a tiny application with
// a reload endpoint, and hotreload between them. One kubelet-style update, and the reload shows.
// Run with `npm run demo`; exits 0 when the application reloaded the new content.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AtomicWriter, cleanupTempDirs, makeTempDir } from '../test/harness/atomic-writer.js';
import { startHotreload } from '../test/harness/hotreload-process.js';
import { startTarget } from '../test/harness/http-target.js';

const say = (who: string, text: string) => console.log(`${`[${who}]`.padEnd(12)} ${text}`);

async function main(): Promise<number> {
  const volume = await makeTempDir('demo');
  const file = path.join(volume, 'app.conf');
  const kubelet = new AtomicWriter(volume);
  await kubelet.write({ 'app.conf': 'greeting = hello\n' });
  say('kubelet', `mounted a ConfigMap volume at ${volume} (app.conf -> ..data/app.conf)`);

  let reloaded: (content: string) => void = () => {};
  const reloadedWith = new Promise<string>((r) => (reloaded = r));
  const app = await startTarget(async (req) => {
    const content = (await readFile(file, 'utf8')).trim();
    say('app', `${req.method} ${req.url}: reloaded configuration: "${content}"`);
    reloaded(content);
    return { body: 'reloaded\n' };
  });
  say('app', `listening on ${app.url}, reload endpoint POST /-/reload`);

  const hr = startHotreload([
    '--watch',
    volume,
    '--http-url',
    `${app.url}/-/reload`,
    '--debounce',
    '200ms',
    '--listen',
    '127.0.0.1:0',
  ]);
  let shown = 0;
  const echo = setInterval(() => {
    for (; shown < hr.logs.length; shown++) {
      const { msg, level, time, name, pid, hostname, ...rest } = hr.logs[shown]!;
      void [time, name, pid, hostname];
      const fields = Object.entries(rest).filter(
        ([k]) => !['version', 'node', 'http', 'retry'].includes(k),
      );
      say(
        'hotreload',
        `${level} ${msg} ${fields.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`,
      );
    }
  }, 20);
  try {
    const base = await hr.ready();
    say('kubelet', 'the ConfigMap changed: writing ..<timestamp>/, swapping ..data');
    await kubelet.write({ 'app.conf': 'greeting = hello, hot reload\n' });
    const timeout = new Promise<string>((_, reject) =>
      setTimeout(() => reject(new Error('no reload within 10s')), 10_000).unref(),
    );
    const content = await Promise.race([reloadedWith, timeout]);
    await hr.waitForLog((r) => r.msg === 'reload succeeded', 5000);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    say(
      'demo',
      `metrics: ${metrics.split('\n').find((l) => l.startsWith('hotreload_reloads_total'))}`,
    );
    const exit = await hr.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
    say('demo', `the application now runs "${content}"; hotreload exited with code ${exit.code}`);
    return content.endsWith('hot reload') && exit.code === 0 ? 0 : 1;
  } finally {
    clearInterval(echo);
    await hr.stop('SIGKILL', 1000);
    await app.close();
    await cleanupTempDirs();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo failed: ${String(err)}`);
    process.exit(1);
  },
);
