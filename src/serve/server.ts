// The HTTP server of hotreload itself: /metrics (Prometheus), /healthz (liveness: watchers
// alive), /readyz (initial fingerprint taken) and /status (JSON). It serves what it is given and
// decides nothing; app.ts supplies the probes.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
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

/**
 * How long a connection may take to send a request's headers, after it opens or after the answer
 * to its previous request: a client that sends nothing, or trickles, is cut then.
 */
const REQUEST_DEADLINE_MS = 10_000;
/** Node's own check of every connection's timeouts, on a timer: never, in effect (see below). */
const NODE_CHECK_INTERVAL_MS = 2 ** 31 - 1;

export async function startServer(
  listen: ListenAddress,
  deps: ServerDeps,
  requestDeadlineMs = REQUEST_DEADLINE_MS,
): Promise<RunningServer> {
  // Node checks every connection for its headers and request timeouts on a timer that runs
  // whether or not any connection is open (every 30 s by default): a wake-up of an idle sidecar,
  // which answers a probe in microseconds. A timer per connection, armed only while it is open
  // (boundRequests), bounds a slow client instead.
  const server = http.createServer(
    { connectionsCheckingInterval: NODE_CHECK_INTERVAL_MS, requestTimeout: 0, headersTimeout: 0 },
    (req, res) => {
      handle(deps, req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    },
  );
  server.keepAliveTimeout = 5_000;
  boundRequests(server, requestDeadlineMs);
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

/**
 * Closes a connection that has not sent a whole request's headers within `ms` of opening, or of
 * the answer to its previous request. Between those, the request is being answered (no body is
 * read, so none is waited for). Nothing is armed while no connection is open.
 */
function boundRequests(server: http.Server, ms: number): void {
  const deadlines = new WeakMap<Socket, NodeJS.Timeout>();
  const arm = (socket: Socket) => {
    clearTimeout(deadlines.get(socket));
    if (socket.destroyed) return;
    const timer = setTimeout(() => socket.destroy(), ms);
    timer.unref();
    deadlines.set(socket, timer);
  };
  server.on('connection', (socket: Socket) => {
    arm(socket);
    socket.once('close', () => clearTimeout(deadlines.get(socket)));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    clearTimeout(deadlines.get(req.socket));
    res.once('finish', () => arm(req.socket));
  });
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
