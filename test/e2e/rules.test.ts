// End to end: one hotreload serving several rules from a rules file (--config), with the built
// CLI: a real nginx told by SIGHUP and a real HTTP application told by its reload endpoint, each
// only for its own files; a rule whose files are all excluded never reloads; the rules file,
// itself in a kubelet-style volume, changes the rules live, and a broken one keeps the old rules.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { cleanupTempDirs } from '../harness/atomic-writer.js';
import { TIMEOUT, hotreload, killProcesses, sentTo, volume } from '../harness/e2e.js';
import { startTarget, type Target } from '../harness/http-target.js';
import { request, waitForBody } from '../harness/net.js';
import { masterOf, startNginx } from '../harness/nginx.js';
import { NGINX, requireProgram } from '../harness/programs.js';
import { metric } from '../harness/reliability.js';
import { waitFor } from '../harness/wait.js';

const targets: Target[] = [];
afterEach(async () => {
  await killProcesses();
  for (const t of targets.splice(0)) await t.close();
});
after(cleanupTempDirs);

/** Quick timing for every rule: no quiet period, quick retries. */
const FAST_RULE = { debounce: '0', 'retry-initial': '100ms', 'retry-max': '300ms' };

/** A real HTTP application: its reload endpoint reads its configuration file, as an app would. */
async function httpApp(file: () => string) {
  const { readFile } = await import('node:fs/promises');
  const took: string[] = [];
  const target = await startTarget(async (req) => {
    took.push(`${req.url} ${await readFile(file(), 'utf8')}`);
    return {};
  });
  targets.push(target);
  return { url: target.url, took };
}

describe('one hotreload, several rules (--config)', () => {
  const skip = requireProgram(NGINX);

  it(
    'tells nginx and an HTTP app each for their own files; an excluded rule never reloads; the rules change live; a broken file keeps them',
    { ...TIMEOUT, skip },
    async () => {
      const n = await startNginx();
      const appVol = await volume('app', { 'app.yaml': 'a1', 'README.md': 'r1' });
      const app = await httpApp(() => path.join(appVol.dir, 'app.yaml'));
      const docs = await httpApp(() => path.join(appVol.dir, 'README.md'));
      const rules = (appPath: string) => ({
        rules: [
          {
            name: 'nginx',
            watch: n.dir,
            signal: 'HUP',
            'process-match': masterOf(n),
            ...FAST_RULE,
          },
          {
            name: 'app',
            watch: appVol.dir,
            include: ['*.yaml'],
            'http-url': `${app.url}${appPath}`,
            ...FAST_RULE,
          },
          // Watches the same volume but counts no file there: it never reloads.
          {
            name: 'docs',
            watch: appVol.dir,
            exclude: ['*.md', '*.yaml'],
            'http-url': `${docs.url}/docs`,
            ...FAST_RULE,
          },
        ],
      });
      const config = await volume('rules', { 'rules.yaml': stringify(rules('/reload')) });
      const hr = hotreload([
        '--config',
        path.join(config.dir, 'rules.yaml'),
        '--listen',
        '127.0.0.1:0',
      ]);
      const base = await hr.ready();

      // 1. nginx's file changes: nginx is signalled, the app is not told.
      await n.writer.write({ 'nginx.conf': n.conf('v2') });
      await hr.waitForLog((r) => sentTo(n.master.pid)(r) && r.rule === 'nginx');
      await waitForBody(n.url, (b) => b === 'v2\n', 10_000, 'nginx to serve v2');
      // 2. The app's file changes: its endpoint is called, nginx is not signalled again.
      await appVol.writer.write({ 'app.yaml': 'a2', 'README.md': 'r1' });
      await waitFor(
        () => Promise.resolve(app.took.includes('/reload a2') || undefined),
        10_000,
        'app told a2',
      );
      // 3. Only README.md changes: no rule counts it (app includes *.yaml, docs excludes it).
      await appVol.writer.write({ 'app.yaml': 'a2', 'README.md': 'r2' });
      // Nothing to wait for when nothing happens: give it well over what a change takes.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(hr.logs.filter(sentTo(n.master.pid)).length, 1, 'nginx signalled once');
      assert.deepEqual(app.took, ['/reload a2']);
      assert.deepEqual(docs.took, [], 'the rule whose files are all excluded was told');

      // Each rule has its metrics and its /status entry.
      const text = (await request(`${base}/metrics`)).body;
      assert.match(text, /^hotreload_changes_total\{rule="nginx"\} 1$/m);
      assert.match(text, /^hotreload_changes_total\{rule="app"\} 1$/m);
      assert.match(text, /^hotreload_changes_total\{rule="docs"\} 0$/m);
      assert.match(
        text,
        /^hotreload_reloads_total\{rule="app",action="http",.*result="success"\} 1$/m,
      );
      const status = JSON.parse((await request(`${base}/status`)).body) as {
        rules: { rule: string; watched: unknown[] }[];
        config: { path: string; lastError: unknown };
      };
      assert.deepEqual(
        status.rules.map((r) => r.rule),
        ['nginx', 'app', 'docs'],
      );
      assert.equal(status.config.lastError, null);

      // 4. The rules file changes (kubelet-style): the app rule now calls /reload-v2; nginx's
      //    rule, unchanged, keeps running.
      await config.writer.write({ 'rules.yaml': stringify(rules('/reload-v2')) });
      const applied = await hr.waitForLog((r) => r.msg === 'rules file applied');
      assert.deepEqual(applied.started, ['app']);
      assert.deepEqual(applied.stopped, ['app']);
      assert.deepEqual(applied.unchanged, ['nginx', 'docs']);
      await appVol.writer.write({ 'app.yaml': 'a3', 'README.md': 'r2' });
      await waitFor(
        () => Promise.resolve(app.took.includes('/reload-v2 a3') || undefined),
        10_000,
        'app told a3 at its new URL',
      );

      // 5. A broken rules file: refused, said why, and the rules before it keep working.
      await config.writer.write({ 'rules.yaml': 'rules:\n  - name: app\n    debounce: soon\n' });
      const refused = await hr.waitForLog((r) => r.msg === 'rules file refused');
      assert.match(JSON.stringify(refused.err), /E_RULES_FILE/);
      assert.match(JSON.stringify(refused.err), /rules\[0\] \(app\)\.debounce \(line 3\)/);
      assert.equal(await metric(base, 'hotreload_config_last_load_successful'), 0);
      const broken = JSON.parse((await request(`${base}/status`)).body) as {
        config: { lastError: { message: string } | null };
      };
      assert.match(broken.config.lastError?.message ?? '', /debounce/);
      await appVol.writer.write({ 'app.yaml': 'a4', 'README.md': 'r2' });
      await waitFor(
        () => Promise.resolve(app.took.includes('/reload-v2 a4') || undefined),
        10_000,
        'app told a4 with the old rules',
      );
      await n.writer.write({ 'nginx.conf': n.conf('v3') });
      await waitForBody(n.url, (b) => b === 'v3\n', 10_000, 'nginx to serve v3');

      // 6. A good file again: applied, the failure cleared; a removed rule's gauges go.
      const good = rules('/reload-v2');
      good.rules = good.rules.filter((r) => r.name !== 'docs');
      await config.writer.write({ 'rules.yaml': stringify(good) });
      const again = await hr.waitForLog(
        (r) => r.msg === 'rules file applied' && hr.logs.indexOf(r) > hr.logs.indexOf(applied),
      );
      assert.deepEqual(again.stopped, ['docs']);
      assert.equal(await metric(base, 'hotreload_config_last_load_successful'), 1);
      const after = (await request(`${base}/metrics`)).body;
      assert.doesNotMatch(after, /hotreload_pending_reload\{rule="docs"\}/);
      assert.deepEqual(docs.took, []);
      assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    },
  );
});
