// Small HTTP client helpers for end-to-end tests against real peers on 127.0.0.1: a free port,
// and a GET that never reuses a connection (a kept-alive socket would keep an old nginx worker
// alive after a reload) and always has a deadline.
import http from 'node:http';
import net from 'node:net';
import { waitFor } from './wait.js';

/** A port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Response {
  readonly status: number;
  readonly body: string;
}

/** A GET on a fresh connection; rejects on a connection error or after `timeoutMs`. */
export function request(url: string, timeoutMs = 2000): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { agent: false, headers: { connection: 'close' }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in ${timeoutMs}ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Polls `url` until it answers 200 with a body that `accept` accepts; returns that body. */
export async function waitForBody(
  url: string,
  accept: (body: string) => boolean,
  timeoutMs: number,
  what: string,
): Promise<string> {
  const res = await waitFor(
    async () => {
      // Undefined while the server is not up (connection refused, reset, timeout).
      const r = await request(url).catch(() => undefined);
      return r?.status === 200 && accept(r.body) ? r : undefined;
    },
    timeoutMs,
    what,
  );
  return res.body;
}
