// The HTTP client of the http action and --verify-url: Node's own http and https modules, one
// keep-alive agent per protocol for the whole process. Node's, not undici's: measured with
// `npm run bench` (Node 24, 2,000 reloads), undici loaded and warmed at start left hotreload at
// 1.22x the floor program's RSS and 1.47x its private memory (its WebAssembly HTTP parser and
// modules), and cost 0.5 ms of CPU per reload; node:http is part of every Node process already.
// It sends one request, hands back the status and the body as a stream, and knows nothing about
// reloads; src/actions/http.ts judges the answer.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';

export interface ClientRequest {
  readonly url: URL;
  readonly method: string;
  /** Name, value, name, value...: repeated names and their order are kept. */
  readonly headers: readonly string[];
  /** Aborts the exchange: connect, headers and body. */
  readonly signal: AbortSignal;
  /** Where connections come from; the process-wide keep-alive agent of the URL's protocol by default. */
  readonly agent?: http.Agent;
  /** For an https:// URL: the CA, client certificate and key (PEM), and whether to check the server. */
  readonly tls?: TlsMaterial;
}

export interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** False for --http-insecure-skip-verify. */
  readonly rejectUnauthorized: boolean;
}

export interface ClientResponse {
  readonly statusCode: number;
  /** The body; leaving a `for await` over it early closes the connection. */
  readonly body: AsyncIterable<Uint8Array>;
  /** Reads and drops the body, up to `limit` bytes (then closes the connection); never throws. */
  dump(limit: number): Promise<void>;
}

/** Errors of a kept-alive connection the server had closed before the request reached it. */
const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE']);

type HttpModule = Pick<typeof http, 'request'> & {
  Agent: new (opts: http.AgentOptions & Partial<TlsMaterial>) => http.Agent;
};

/** node:https (and with it node:tls) is loaded at the first https URL only. */
let https: Promise<HttpModule> | undefined;
/**
 * One keep-alive agent per protocol, for the whole process; for https with TLS material, one per
 * material: a rotated certificate (cert-manager) gets a new agent, and the previous one is closed.
 */
const agents = new Map<string, http.Agent>();

function moduleFor(url: URL): HttpModule | Promise<HttpModule> {
  if (url.protocol !== 'https:') return http;
  https ??= import('node:https');
  return https;
}

function agentFor(module: HttpModule, protocol: string, tls: TlsMaterial | undefined): http.Agent {
  const key = protocol === 'https:' && tls ? `https:${fingerprintOf(tls)}` : protocol;
  let agent = agents.get(key);
  if (!agent) {
    if (key !== protocol) {
      // The material changed: the agent of the previous one is closed (its connections too).
      for (const [k, a] of agents) {
        if (k.startsWith('https:') && k !== 'https:') {
          a.destroy();
          agents.delete(k);
        }
      }
    }
    agent = new module.Agent({ keepAlive: true, ...(key !== protocol && tls) });
    agents.set(key, agent);
  }
  return agent;
}

function fingerprintOf(tls: TlsMaterial): string {
  const h = createHash('sha256');
  for (const part of [tls.ca, tls.cert, tls.key]) h.update(part ?? '').update('\0');
  return h.update(String(tls.rejectUnauthorized)).digest('hex');
}

/**
 * Sends the request (no body) and resolves once the response headers arrived. A request that
 * fails on a kept-alive connection before any response is sent again once, on a new connection:
 * the server closed the idle connection as the request went out (Node's agent honours a
 * `Keep-Alive: timeout` hint, but not every server gives one), so the request never reached it.
 */
export async function request(req: ClientRequest): Promise<ClientResponse> {
  const module = await moduleFor(req.url);
  const agent = req.agent ?? agentFor(module, req.url.protocol, req.tls);
  try {
    return await attempt(module, req, agent);
  } catch (err) {
    if (!(err instanceof StaleConnectionError)) throw err;
    return attempt(module, req, agent);
  }
}

class StaleConnectionError extends Error {}

function attempt(
  module: HttpModule,
  req: ClientRequest,
  agent: http.Agent,
): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = module.request(req.url, {
      method: req.method,
      headers: headerObject(req.headers),
      agent,
      signal: req.signal,
    });
    outgoing.once('response', (res: IncomingMessage) => resolve(response(res)));
    outgoing.once('error', (err: NodeJS.ErrnoException) => {
      const stale =
        outgoing.reusedSocket && !req.signal.aborted && STALE_CONNECTION_CODES.has(err.code ?? '');
      reject(stale ? new StaleConnectionError(err.message, { cause: err }) : err);
    });
    outgoing.end();
  });
}

/**
 * The flat list as node:http takes it: an object, names matched without regard to case, repeated
 * names as an array (sent as one line each, in order). Node adds Host only to an object.
 */
function headerObject(flat: readonly string[]): Record<string, string | string[]> {
  const byName = new Map<string, { name: string; values: string[] }>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    const key = name.toLowerCase();
    const entry = byName.get(key) ?? { name, values: [] };
    entry.values.push(flat[i + 1]!);
    byName.set(key, entry);
  }
  const headers: Record<string, string | string[]> = {};
  for (const { name, values } of byName.values()) {
    headers[name] = values.length === 1 ? values[0]! : values;
  }
  return headers;
}

function response(res: IncomingMessage): ClientResponse {
  return {
    statusCode: res.statusCode ?? 0,
    body: res,
    // Events rather than an async iterator: this runs once per reload, and the iterator's
    // machinery cost more than the rest of the response's handling (`npm run bench`, CPU).
    dump(limit) {
      return new Promise<void>((resolve) => {
        let size = 0;
        const done = () => {
          res.off('data', onData);
          resolve();
        };
        const onData = (chunk: Buffer) => {
          size += chunk.byteLength;
          // Past the limit the response and its connection are destroyed.
          if (size > limit) res.destroy();
        };
        res.on('data', onData);
        // 'close' follows the end, the deadline or the peer cutting it short, and a destroy: the
        // status has arrived, which is what counts.
        res.once('close', done);
        res.once('error', () => undefined);
      });
    },
  };
}

/**
 * `exchange` once against a server of its own on 127.0.0.1 (a plain request when not given), then
 * both are closed: the code a request runs (the caller's, and Node's HTTP client and parser,
 * compiled when first called) is compiled at start instead of during the first reload, which is
 * then as fast as the next ones. Once per process, whoever asks; resolves false when it could not
 * be done (nothing depends on it).
 */
export function warmUp(exchange: WarmUpExchange = plainRequest): Promise<boolean> {
  warmed ??= warmUpOnce(exchange, WARM_UP_TIMEOUT_MS);
  return warmed;
}

/** One exchange with `url` through `agent` (a keep-alive agent of the warm-up's own). */
export type WarmUpExchange = (url: URL, agent: http.Agent, signal: AbortSignal) => Promise<void>;

const WARM_UP_TIMEOUT_MS = 2000;
let warmed: Promise<boolean> | undefined;

async function plainRequest(url: URL, agent: http.Agent, signal: AbortSignal): Promise<void> {
  const res = await request({ url, method: 'POST', headers: [], signal, agent });
  await res.dump(0);
}

async function warmUpOnce(exchange: WarmUpExchange, timeoutMs: number): Promise<boolean> {
  const server = http.createServer((_req, res) => res.end());
  const agent = new http.Agent({ keepAlive: true });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as { port: number };

    await exchange(new URL(`http://127.0.0.1:${port}/`), agent, AbortSignal.timeout(timeoutMs));
    return true;
  } catch {
    return false;
  } finally {
    agent.destroy();
    server.closeAllConnections();
    server.close();
  }
}
