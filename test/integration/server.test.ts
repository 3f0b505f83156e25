// hotreload's own HTTP server on 127.0.0.1, with real sockets: probes and keep-alive requests are
// answered, and a client that sends nothing, or trickles its headers, is cut after the request
// deadline (a timer per open connection, instead of Node's check of every connection on a timer
// that runs while the sidecar is idle). Every wait is bounded.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { startServer, type RunningServer } from '../../src/serve/server.js';

const BOUND = { timeout: 10_000 };
const DEADLINE_MS = 300;
/** Far longer than the deadline, far shorter than the test's bound. */
const CUT_WITHIN_MS = 5000;

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with how long `s` stayed open, or undefined if it was still open after `ms`. */
function closedWithin(s: Socket, ms: number): Promise<number | undefined> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    s.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
    });
    s.resume();
  });
}

/** Sends one request on `s` and resolves with the head of the answer. */
function ask(s: Socket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(got)?.[1] ?? 0);
      if (got.length < end + 4 + length) return;
      s.off('data', onData);
      resolve(got.slice(0, end));
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`);
  });
}

describe("hotreload's server bounds slow clients without a timer while idle", () => {
  let server: RunningServer;
  const sockets: Socket[] = [];
  const client = async () => {
    const s = await open(server.address.port);
    sockets.push(s);
    return s;
  };

  before(async () => {
    const ok = { ok: true, detail: {} };
    server = await startServer(
      { host: '127.0.0.1', port: 0 },
      {
        registry: new Registry(),
        metricsPath: '/metrics',
        health: () => ok,
        ready: () => ok,
        status: () => ({}),
      },
      DEADLINE_MS,
    );
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await server.close();
  });

  it('answers requests in a row on one keep-alive connection', BOUND, async () => {
    const s = await client();
    for (let i = 0; i < 3; i++) {
      assert.match(await ask(s, '/healthz'), /^HTTP\/1\.1 200/);
      await delay(DEADLINE_MS / 3);
    }
    assert.equal(s.destroyed, false);
  });

  it('cuts a connection that sends nothing', BOUND, async () => {
    const open = await closedWithin(await client(), CUT_WITHIN_MS);
    assert.ok(open !== undefined, 'still open');
    assert.ok(open >= DEADLINE_MS - 50, `cut after ${open} ms, before the deadline`);
  });

  /** Resolves once `s` is closed while a request's headers trickle in on it, a line at a time. */
  async function cutWhileTrickling(s: Socket): Promise<void> {
    const closed = closedWithin(s, CUT_WITHIN_MS);
    s.write('GET /healthz HTTP/1.1\r\n');
    const trickle = setInterval(() => s.writable && s.write('X-A: b\r\n'), DEADLINE_MS / 6);
    try {
      assert.ok((await closed) !== undefined, 'still open');
    } finally {
      clearInterval(trickle);
    }
  }

  it('cuts a connection that trickles its headers, though bytes keep coming', BOUND, async () => {
    await cutWhileTrickling(await client());
  });

  it('cuts a connection that trickles its next request after an answer', BOUND, async () => {
    const s = await client();
    assert.match(await ask(s, '/readyz'), /^HTTP\/1\.1 200/);
    await cutWhileTrickling(s);
  });
});
