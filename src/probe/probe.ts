// One GET for an exec probe: `hotreload probe URL` in an image that has no curl or wget. It
// answers whether the URL gave a 2xx within the timeout, and the one line that says why not; it
// prints nothing and reads no argv (cli.ts does). node:http only (node:https is loaded for an
// https:// URL): a probe runs every few seconds, so it uses no part of the sidecar (no watcher,
// server, metrics or log).
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import { formatDuration } from '../lib/duration.js';

export interface ProbeResult {
  readonly ok: boolean;
  /** One line: `200 OK`, `503 Service Unavailable`, or the error (`connect ECONNREFUSED ...`). */
  readonly line: string;
}

type Get = (url: URL, options: http.RequestOptions) => http.ClientRequest;

/** The most of a body that is read before the connection is closed: a probe wants the status. */
const BODY_LIMIT = 64 * 1024;

/**
 * GETs `url` and resolves (never rejects) whether it answered 2xx. `timeoutMs` bounds the whole
 * exchange, connect to last header. The server's certificate is not checked, as the kubelet's own
 * httpGet probes do not check it: the probe asks whether the server answers, not who it is.
 */
export async function probe(url: URL, timeoutMs: number, userAgent: string): Promise<ProbeResult> {
  const get: Get = url.protocol === 'https:' ? (await import('node:https')).request : http.request;
  return new Promise((resolve) => {
    const signal = AbortSignal.timeout(timeoutMs);
    const req = get(url, {
      method: 'GET',
      agent: false,
      signal,
      headers: { 'user-agent': userAgent, accept: '*/*' },
      rejectUnauthorized: false,
    } as http.RequestOptions);
    req.once('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const line = `${status} ${res.statusMessage ?? ''}`.trim();
      drain(res);
      resolve({ ok: status >= 200 && status < 300, line });
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      const line = signal.aborted ? `no answer within ${formatDuration(timeoutMs)}` : err.message;
      resolve({ ok: false, line });
    });
    req.end();
  });
}

/** Reads the body up to BODY_LIMIT and drops it; a longer one closes the connection. */
function drain(res: IncomingMessage): void {
  let read = 0;
  res.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read > BODY_LIMIT) res.destroy();
  });
  res.on('error', () => undefined);
}
