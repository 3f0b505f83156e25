// The HTTP server of hotreload itself: /metrics (Prometheus), /healthz (liveness: watchers
// alive), /readyz (initial fingerprint taken) and /status (JSON). It serves what it is given and
// decides nothing; app.ts supplies the probes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../config/config.js';
import { FatalError, HotreloadError } from '../lib/errors.js';

export interface Probe {
  readonly ok: boolean;
  readonly detail: Record<string, unknown>;
}

export interface ServerDeps {
  readonly registry: Registry;
  readonly metricsPath: string;
  readonly health: () => Probe;
  readonly ready: () => Probe;
  readonly status: () => unknown;
}

export interface RunningServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

export async function startServer(listen: ListenAddress, deps: ServerDeps): Promise<RunningServer> {
  // Node checks every connection for its headers and request timeouts on a timer, every 30 s by
  // default: a wake-up of an idle sidecar for a server that answers probes in microseconds. Every
  // two minutes bounds a slow client just the same (it is cut after at most the timeout plus the
  // interval).
  const server = http.createServer({ connectionsCheckingInterval: 120_000 }, (req, res) => {
    handle(deps, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(listen, err)));
    server.listen(listen.port, listen.host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  deps: ServerDeps,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  let pathname: string;
  try {
    pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
  } catch {
    return send(res, 400, 'text/plain', 'bad request target\n');
  }
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return send(res, 405, 'text/plain', 'method not allowed\n');
  switch (pathname) {
    case deps.metricsPath:
      return send(res, 200, deps.registry.contentType, await deps.registry.metrics());
    case '/healthz':
      return sendProbe(res, deps.health());
    case '/readyz':
      return sendProbe(res, deps.ready());
    case '/status':
      return send(res, 200, 'application/json', JSON.stringify(deps.status(), null, 2) + '\n');
    default:
      return send(
        res,
        404,
        'text/plain',
        `not found; try ${deps.metricsPath}, /healthz, /readyz or /status\n`,
      );
  }
}

function sendProbe(res: http.ServerResponse, probe: Probe): void {
  send(
    res,
    probe.ok ? 200 : 503,
    'application/json',
    JSON.stringify({ ok: probe.ok, ...probe.detail }) + '\n',
  );
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function listenError(listen: ListenAddress, err: NodeJS.ErrnoException): HotreloadError {
  const where = `${listen.host ?? ''}:${listen.port}`;
  const hint =
    err.code === 'EADDRINUSE'
      ? `another process listens on ${where}; choose a free port with --listen, or --listen '' to disable the server`
      : err.code === 'EACCES'
        ? `ports below 1024 need privileges; use a higher port with --listen`
        : `check --listen ${where}`;
  return new FatalError('E_LISTEN', `cannot listen on ${where}: ${err.code ?? err.message}`, {
    cause: err,
    hint,
  });
}
