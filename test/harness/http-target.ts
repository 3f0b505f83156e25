// A real HTTP server on 127.0.0.1 standing in for the application's reload endpoint. It records
// every request and answers as the test's handler says: a status, after a delay, never, or by
// resetting the connection. close() tears down every socket, hung ones included. With `tls` it
// serves https (and with requestCert, asks for a client certificate signed by `ca`).
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface TargetRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** Date.now() when the request body had arrived. */
  readonly at: number;
  /** Over https with a client certificate: its subject's CN. */
  readonly clientCn?: string;
}

/** PEM material of an https target. */
export interface TargetTls {
  readonly key: Buffer;
  readonly cert: Buffer;
  /** With requestCert: the CA a client certificate must be signed by (others are refused). */
  readonly ca?: Buffer;
  readonly requestCert?: boolean;
}

export interface Reply {
  /** 200 when absent. */
  readonly status?: number;
  readonly body?: string | Buffer;
  /** Answers after this many milliseconds. */
  readonly delayMs?: number;
  /** Never answers; the request stays open until the client gives up or close() runs. */
  readonly hang?: boolean;
  /** Sends the status and `body` but never ends the response. */
  readonly stallBody?: boolean;
  /** Resets the connection (TCP RST) instead of answering. */
  readonly reset?: boolean;
}

export type Handler = (req: TargetRequest) => Reply | Promise<Reply>;

export interface Target {
  /** Base URL, e.g. http://127.0.0.1:34567 (no trailing slash). */
  readonly url: string;
  readonly requests: TargetRequest[];
  setHandler(fn: Handler): void;
  close(): Promise<void>;
}

export async function startTarget(
  handler: Handler = () => ({}),
  options: { port?: number; tls?: TargetTls } = {},
): Promise<Target> {
  let current = handler;
  const requests: TargetRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: TargetRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
        ...clientCnOf(req),
      };
      requests.push(recorded);
      // A handler that throws answers 500 with its message, so the test sees it.
      Promise.resolve()
        .then(() => current(recorded))
        .then(
          (reply) => answer(reply, res),
          (err: unknown) => answer({ status: 500, body: String(err) }, res),
        );
    });
  };
  const { tls } = options;
  const server = tls
    ? https.createServer(
        {
          key: tls.key,
          cert: tls.cert,
          ...(tls.requestCert && { requestCert: true, rejectUnauthorized: true, ca: tls.ca }),
        },
        onRequest,
      )
    : http.createServer(onRequest);
  // 'connection' gives the TCP socket for http and https alike (https: before the handshake).
  (server as http.Server).on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function answer(reply: Reply, res: http.ServerResponse): void {
    if (reply.hang) return;
    const respond = () => {
      if (reply.reset) {
        res.socket?.resetAndDestroy();
        return;
      }
      res.statusCode = reply.status ?? 200;
      if (reply.stallBody) {
        res.flushHeaders();
        res.write(reply.body ?? '');
        return;
      }
      res.end(reply.body ?? '');
    };
    if (!reply.delayMs) return respond();
    const timer = setTimeout(() => {
      timers.delete(timer);
      respond();
    }, reply.delayMs);
    timers.add(timer);
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    setHandler(fn) {
      current = fn;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function clientCnOf(req: http.IncomingMessage): { clientCn?: string } {
  const socket = req.socket as Partial<TLSSocket>;
  const cn = socket.getPeerCertificate?.()?.subject?.CN;
  return typeof cn === 'string' ? { clientCn: cn } : {};
}
