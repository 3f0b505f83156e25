// End to end: the built CLI against a real local HTTP server and a kubelet-style volume.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, afterEach, describe, it } from 'node:test';
import { AtomicWriter, cleanupTempDirs, makeTempDir } from '../harness/atomic-writer.js';
import {
  killAll,
  runHotreload,
  startHotreload,
  type Exit,
  type HotreloadProcess,
} from '../harness/hotreload-process.js';
import { startTarget, type Target } from '../harness/http-target.js';
import { OPENSSL, makePki } from '../harness/pki.js';
import { requireProgram } from '../harness/programs.js';
import { waitFor } from '../harness/wait.js';

const FAST = [
  '--debounce',
  '0',
  '--retry-initial',
  '100ms',
  '--retry-max',
  '200ms',
  '--listen',
  '127.0.0.1:0',
];
const targets: Target[] = [];

interface Status {
  watched: { path: string; kind: string; state: string }[];
  applied: string;
  current: string;
  lastReload: { ok: boolean };
  lastChange: { changed: string[] };
}

async function volume(content = 'v1'): Promise<{ dir: string; writer: AtomicWriter }> {
  const dir = await makeTempDir('e2e');
  const writer = new AtomicWriter(dir);
  await writer.write({ 'app.conf': content });
  return { dir, writer };
}

async function target(...args: Parameters<typeof startTarget>): Promise<Target> {
  const t = await startTarget(...args);
  targets.push(t);
  return t;
}

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const reloaded = (r: { msg: string }) => r.msg === 'reload succeeded';
const failed = (r: { msg: string }) => r.msg === 'reload failed; retrying';

afterEach(async () => {
  killAll();
  await Promise.all(targets.splice(0).map((t) => t.close()));
});
after(cleanupTempDirs);

describe('hotreload CLI end to end', () => {
  it('calls the reload endpoint once per change, and the target reads the new content', async () => {
    const { dir, writer } = await volume();
    const seen: string[] = [];
    const t = await target(async () => {
      seen.push(await readFile(path.join(dir, 'app.conf'), 'utf8'));
      return {};
    });
    const hr = startHotreload(['--watch', dir, '--http-url', `${t.url}/-/reload`, ...FAST]);
    await hr.ready();
    await writer.write({ 'app.conf': 'v2' });
    await hr.waitForLog(reloaded);
    assert.deepEqual(seen, ['v2']);
    assert.equal(t.requests[0]!.method, 'POST');
    assert.equal(t.requests[0]!.url, '/-/reload');
    assert.deepEqual(await hr.stop(), { code: 0, signal: null });
  });

  it('retries a 500 until the target answers 200', async () => {
    const { dir, writer } = await volume();
    let n = 0;
    const t = await target(() => ({ status: ++n === 1 ? 500 : 200, body: 'config error: bad' }));
    const hr = startHotreload(['--watch', dir, '--http-url', t.url, ...FAST]);
    await hr.ready();
    await writer.write({ 'app.conf': 'v2' });
    const failure = await hr.waitForLog(failed);
    assert.equal((failure.err as { code: string }).code, 'E_HTTP_STATUS');
    const ok = await hr.waitForLog(reloaded);
    assert.equal(ok.attempt, 2);
    assert.equal(t.requests.length, 2);
    await hr.stop();
  });

  it('lands once a target that refused connections at start comes up', async () => {
    const { dir, writer } = await volume();
    const port = await freePort();
    const hr = startHotreload([
      '--watch',
      dir,
      '--http-url',
      `http://127.0.0.1:${port}/reload`,
      ...FAST,
    ]);
    await hr.ready();
    await writer.write({ 'app.conf': 'v2' });
    const failure = await hr.waitForLog(failed);
    assert.equal((failure.err as { code: string }).code, 'E_HTTP_CONNECT');
    const t = await target(() => ({}), { port });
    await hr.waitForLog(reloaded);
    assert.equal(t.requests.length, 1);
    await hr.stop();
  });

  it('times out a hanging target and retries', async () => {
    const { dir, writer } = await volume();
    let n = 0;
    const t = await target(() => (++n === 1 ? { hang: true } : {}));
    const hr = startHotreload([
      '--watch',
      dir,
      '--http-url',
      t.url,
      '--http-timeout',
      '300ms',
      ...FAST,
    ]);
    await hr.ready();
    await writer.write({ 'app.conf': 'v2' });
    const failure = await hr.waitForLog(failed);
    assert.equal((failure.err as { code: string }).code, 'E_HTTP_TIMEOUT');
    assert.ok(
      (failure.durationMs as number) >= 250 && (failure.durationMs as number) < 3000,
      `took ${String(failure.durationMs)}ms`,
    );
    await hr.waitForLog(reloaded);
    await hr.stop();
  });

  it('exits 0 on SIGTERM, letting an in-flight reload run up to --shutdown-timeout', async () => {
    const { dir, writer } = await volume();
    const t = await target(() => ({ hang: true }));
    const hr = startHotreload([
      '--watch',
      dir,
      '--http-url',
      t.url,
      '--http-timeout',
      '1m',
      '--shutdown-timeout',
      '1s',
      ...FAST,
    ]);
    await hr.ready();
    await writer.write({ 'app.conf': 'v2' });
    await hr.waitForLog((r) => r.msg === 'change detected');
    const start = Date.now();
    const exit = await hr.stop('SIGTERM');
    const elapsed = Date.now() - start;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(elapsed >= 900 && elapsed < 4000, `exit took ${elapsed}ms`);
    assert.ok(
      hr.logs.some((r) => r.msg === 'in-flight reload did not finish in time; aborting it'),
    );
  });

  it('exits 0 at once on SIGINT when idle', async () => {
    const { dir } = await volume();
    const hr = startHotreload(['--watch', dir, '--dry-run', '--listen', '']);
    await hr.ready();
    assert.deepEqual(await hr.stop('SIGINT'), { code: 0, signal: null });
    assert.ok(hr.logs.some((r) => r.msg === 'stopped'));
  });

  it('serves /metrics, /healthz, /readyz and /status', async () => {
    const { dir, writer } = await volume();
    const t = await target();
    const hr = startHotreload([
      '--watch',
      dir,
      '--http-url',
      `http://user:s3cret@127.0.0.1:${new URL(t.url).port}/r`,
      ...FAST,
    ]);
    const base = (await hr.ready())!;
    await writer.write({ 'app.conf': 'v2' });
    await hr.waitForLog(reloaded);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const line of [
      // One series per target, the password masked in its label.
      /^hotreload_reloads_total\{rule="default",action="http",target="POST http:\/\/user:xxxxx@127\.0\.0\.1:\d+\/r",result="success"\} 1$/m,
      /^hotreload_target_in_sync\{rule="default",action="http",target="POST http:\/\/user:xxxxx@127\.0\.0\.1:\d+\/r"\} 1$/m,
      /^hotreload_last_reload_successful\{rule="default"\} 1$/m,
      /^hotreload_pending_reload\{rule="default"\} 0$/m,
      /^hotreload_watch_events_total\{rule="default",path=".*"\} [1-9]/m,
      /^hotreload_reload_duration_seconds_count\{rule="default"\} 1$/m,
      /^hotreload_applied_config_info\{rule="default",fingerprint="[0-9a-f]{64}"\} 1$/m,
      /^hotreload_last_reload_success_timestamp_seconds\{rule="default"\} \d/m,
      /^hotreload_watch_errors_total/m,
      /^process_resident_memory_bytes \d/m,
    ]) {
      assert.match(metrics, line);
    }
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const status = (await (await fetch(`${base}/status`)).json()) as Status;
    assert.equal(status.watched[0]!.path, dir);
    assert.equal(status.watched[0]!.kind, 'kubelet');
    assert.equal(status.watched[0]!.state, 'watching');
    assert.equal(status.lastReload.ok, true);
    assert.equal(status.applied, status.current);
    assert.deepEqual(status.lastChange.changed, [path.join(dir, 'app.conf')]);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal(
      t.requests[0]!.headers.authorization,
      `Basic ${Buffer.from('user:s3cret').toString('base64')}`,
    );
    assert.doesNotMatch(JSON.stringify(hr.logs) + hr.stderr(), /s3cret/);
    await hr.stop();
  });

  it('--log-format logfmt writes every line as logfmt, a reload included', async () => {
    const { dir, writer } = await volume();
    const t = await target();
    const hr = startHotreload([
      '--watch',
      dir,
      '--http-url',
      `${t.url}/-/reload`,
      '--debounce',
      '50ms',
      '--listen',
      '',
      '--log-format',
      'logfmt',
    ]);
    await hr.waitForLog((r) => r.msg.includes('msg="hotreload started"'), 10_000);
    await writer.write({ 'app.conf': 'v2' });
    await hr.waitForLog((r) => r.msg.includes('msg="reload succeeded"'), 10_000);
    assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    // Not one JSON line: each is `ts=… level=… msg=…` and key=value pairs.
    assert.ok(hr.logs.length >= 4, `${hr.logs.length} lines`);
    for (const r of hr.logs) {
      assert.equal(r.level, 'raw', `a JSON line: ${JSON.stringify(r)}`);
      assert.match(r.msg, /^ts=\S+ level=(trace|debug|info|warn|error|fatal) msg=/);
    }
    const ok = hr.logs.find((r) => r.msg.includes('msg="reload succeeded"'))!;
    assert.match(ok.msg, / action=http /);
    assert.match(ok.msg, / attempt=1 /);
  });

  it('reloads over https with --http-ca-file and --http-bearer-token-file; warns about --http-insecure-skip-verify', async (t) => {
    const skip = requireProgram(OPENSSL, process.env, 'apt-get install openssl');
    if (skip) return t.skip(skip);
    const pki = await makePki();
    const { dir, writer } = await volume();
    const tokenFile = path.join(pki.dir, 'token');
    await writeFile(tokenFile, 's3cret-token\n');
    const app = await target(() => ({}), {
      tls: { key: pki.pem.serverKey, cert: pki.pem.serverCert },
    });
    const hr = startHotreload([
      '--watch',
      dir,
      '--http-url',
      `${app.url}/-/reload`,
      '--http-ca-file',
      pki.files.ca,
      '--http-bearer-token-file',
      tokenFile,
      '--debounce',
      '50ms',
      '--listen',
      '',
    ]);
    await hr.ready();
    await writer.write({ 'app.conf': 'v2' });
    await hr.waitForLog(reloaded, 10_000);
    assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    assert.deepEqual(
      app.requests.map((r) => r.headers.authorization),
      ['Bearer s3cret-token'],
    );
    assert.ok(!JSON.stringify(hr.logs).includes('s3cret-token'), 'the token in the logs');

    const insecure = startHotreload([
      '--watch',
      dir,
      '--http-url',
      `${app.url}/-/reload`,
      '--http-insecure-skip-verify',
      '--listen',
      '',
    ]);
    await insecure.ready();
    const warned = insecure.logs.find(
      (r) => r.level === 'warn' && r.flag === '--http-insecure-skip-verify',
    );
    assert.ok(warned, 'no warning about --http-insecure-skip-verify');
    assert.deepEqual(await insecure.stop(), { code: 0, signal: null });
  });

  it('--exclude: a change of an excluded file never reloads; one of a counted file does, once', async () => {
    const dir = await makeTempDir('e2e-select');
    const writer = new AtomicWriter(dir);
    await writer.write({ 'app.conf': 'v1', 'notes.txt': 'n1' });
    const t = await target();
    const hr = startHotreload([
      '--watch',
      dir,
      '--http-url',
      `${t.url}/-/reload`,
      '--exclude',
      '*.txt',
      '--debounce',
      '50ms',
      '--resync-interval',
      '200ms',
      '--listen',
      '',
    ]);
    await hr.ready();
    await writer.write({ 'app.conf': 'v1', 'notes.txt': 'n2' });
    await writer.write({ 'app.conf': 'v1', 'notes.txt': 'n3' });
    // Past the quiet period and two resyncs: nothing to tell.
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(t.requests.length, 0);
    assert.ok(!hr.logs.some((r) => r.msg === 'change detected'), 'a change logged');
    await writer.write({ 'app.conf': 'v2', 'notes.txt': 'n3' });
    const change = await hr.waitForLog((r) => r.msg === 'change detected', 10_000);
    assert.deepEqual(change.changed, [path.join(dir, 'app.conf')]);
    await hr.waitForLog(reloaded, 10_000);
    assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    assert.equal(t.requests.length, 1);
  });

  it("prometheus-config-reloader's --config-file/--config-envsubst-file: rendered at start, and again before each reload", async () => {
    const dir = await makeTempDir('e2e-render');
    const writer = new AtomicWriter(dir);
    const config = (v: string) => ({
      'prometheus.yaml.gz': {
        content: gzipSync(`global:\n  external_labels:\n    replica: $(POD_NAME)\n    v: ${v}\n`),
      },
    });
    await writer.write(config('1'));
    const out = path.join(await makeTempDir('e2e-render-out'), 'prometheus.env.yaml');
    const seen: string[] = [];
    const t = await target(async () => {
      seen.push(await readFile(out, 'utf8'));
      return {};
    });
    const hr = startHotreload(
      [
        `--config-file=${path.join(dir, 'prometheus.yaml.gz')}`,
        `--config-envsubst-file=${out}`,
        `--reload-url=${t.url}/-/reload`,
        '--debounce',
        '50ms',
        '--listen',
        '',
      ],
      { POD_NAME: 'prometheus-k8s-0' },
    );
    await hr.ready();
    const rendered = (v: string) =>
      `global:\n  external_labels:\n    replica: prometheus-k8s-0\n    v: ${v}\n`;
    await hr.waitForLog((r) => r.msg === 'reload succeeded' && r.action === 'render', 10_000);
    assert.equal(await readFile(out, 'utf8'), rendered('1'));
    await writer.write(config('2'));
    await hr.waitForLog((r) => r.msg === 'reload succeeded' && r.action === 'http', 10_000);
    assert.deepEqual(await hr.stop(), { code: 0, signal: null });
    // The application, told, read the new rendering.
    assert.deepEqual(seen, [rendered('2')]);
  });

  it("prometheus-config-reloader's init container (--watch-interval=0): renders once, with $(STATEFULSET_ORDINAL_NUMBER), tells nothing and exits 0", async () => {
    const dir = await makeTempDir('e2e-once');
    const writer = new AtomicWriter(dir);
    await writer.write({
      'prometheus.yaml.gz': {
        content: gzipSync(
          'global:\n  external_labels:\n    replica: $(POD_NAME)\n    shard: $(STATEFULSET_ORDINAL_NUMBER)\n',
        ),
      },
    });
    const out = path.join(await makeTempDir('e2e-once-out'), 'prometheus.env.yaml');
    const t = await target();
    const hr = startHotreload(
      [
        '--watch-interval=0',
        '--listen-address=:8081',
        `--reload-url=${t.url}/-/reload`,
        `--config-file=${path.join(dir, 'prometheus.yaml.gz')}`,
        `--config-envsubst-file=${out}`,
      ],
      { POD_NAME: 'prometheus-k8s-2' },
    );
    assert.deepEqual(await exitOf(hr), { code: 0, signal: null });
    assert.equal(
      await readFile(out, 'utf8'),
      'global:\n  external_labels:\n    replica: prometheus-k8s-2\n    shard: 2\n',
    );
    assert.equal(t.requests.length, 0, 'the application was told');
    // A configuration it cannot render: exit 1, the reason logged.
    const bad = startHotreload([
      '--watch-interval=0',
      `--config-file=${path.join(dir, 'missing.yaml')}`,
      `--config-envsubst-file=${out}`,
    ]);
    assert.deepEqual(await exitOf(bad), { code: 1, signal: null });
    assert.ok(bad.logs.some((r) => r.msg === 'rendering failed'));
  });

  it("works with configmap-reload's flags unchanged", async () => {
    const { dir, writer } = await volume();
    const t = await target();
    const hr = startHotreload([
      `-volume-dir=${dir}`,
      `--webhook-url=${t.url}/-/reload`,
      '--webhook-method=GET',
      '--webhook-status-code=200',
      '--webhook-retries=3',
      '--web.listen-address=127.0.0.1:0',
      '--web.telemetry-path=/m',
    ]);
    const base = (await hr.ready())!;
    await writer.write({ 'app.conf': 'v2' });
    await hr.waitForLog(reloaded);
    assert.equal(t.requests[0]!.method, 'GET');
    assert.match(await (await fetch(`${base}/m`)).text(), /hotreload_reloads_total/);
    await hr.stop();
  });

  it('waits for a watched path that does not exist yet', async () => {
    const parent = await makeTempDir('e2e-late');
    const dir = path.join(parent, 'config');
    const t = await target();
    const hr = startHotreload(['--watch', dir, '--http-url', t.url, ...FAST]);
    await hr.ready();
    await hr.waitForLog((r) => r.msg === 'waiting for watched path to appear');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir);
    await new AtomicWriter(dir).write({ 'app.conf': 'v1' });
    await hr.waitForLog(reloaded);
    assert.equal(t.requests.length, 1);
    await hr.stop();
  });

  it('--reload-on-start reloads once at start; --dry-run reloads nothing', async () => {
    const { dir, writer } = await volume();
    const t = await target();
    const hr = startHotreload(['--watch', dir, '--http-url', t.url, '--reload-on-start', ...FAST]);
    await hr.ready();
    await hr.waitForLog(reloaded);
    assert.equal(t.requests.length, 1);
    await hr.stop();
    const dry = startHotreload(['--watch', dir, '--http-url', t.url, '--dry-run', ...FAST]);
    await dry.ready();
    await writer.write({ 'app.conf': 'v2' });
    const rec = await dry.waitForLog((r) => r.msg === 'dry run: would reload');
    assert.deepEqual(rec.changed, [path.join(dir, 'app.conf')]);
    assert.equal(t.requests.length, 1);
    await dry.stop();
  });
});

describe('hotreload CLI usage', () => {
  it('exits 2 naming the flag, the value and what is accepted', async () => {
    const r = await runHotreload([
      '--watch',
      '/tmp',
      '--http-url',
      'http://x/',
      '--debounce',
      'soon',
    ]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /invalid value for --debounce: "soon"; expected a duration such as 500ms/,
    );
    assert.equal(r.stdout, '');
  });

  it('says when a bad value came from the environment', async () => {
    const r = await runHotreload(['--watch', '/tmp', '--http-url', 'http://x/'], {
      HOTRELOAD_HTTP_TIMEOUT: '10',
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--http-timeout: "10".*\(set by HOTRELOAD_HTTP_TIMEOUT\)/);
  });

  it('exits 2 on an unknown flag', async () => {
    const r = await runHotreload(['--wathc', '/tmp']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown flag --wathc \(did you mean --watch\?\)/);
  });

  it('exits 2 when no action is configured', async () => {
    const r = await runHotreload(['--watch', '/tmp']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--http-url/);
  });

  it('prints --version and --help, exit 0', async () => {
    const pkg = JSON.parse(
      await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    const v = await runHotreload(['--version']);
    assert.deepEqual([v.code, v.stdout.trim()], [0, pkg.version]);
    const h = await runHotreload(['--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /--http-url/);
  });

  it('exits 1 with a hint when the server port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as net.AddressInfo;
    const dir = await makeTempDir('e2e-port');
    const hr = startHotreload(['--watch', dir, '--dry-run', '--listen', `127.0.0.1:${port}`]);
    const exit = await hr.exited;
    blocker.close();
    assert.equal(exit.code, 1);
    const fatal = hr.logs.find((r) => r.level === 'fatal');
    assert.match(JSON.stringify(fatal), /EADDRINUSE/);
    assert.match(JSON.stringify(fatal), /--listen/);
  });
});

/** How `hr` exited, within 10 s. */
async function exitOf(hr: HotreloadProcess): Promise<Exit> {
  let exit: Exit | undefined;
  void hr.exited.then((e) => (exit = e));
  return waitFor(() => exit, 10_000, 'hotreload to exit');
}
