// The HTTP action: one request to the application's reload endpoint, judged by its status. It
// does not retry (the pipeline does) and never puts a header value or URL credentials into a
// message: the URL is shown through redactUrl and header files are named by header and path.
import type { Agent } from 'node:http';
import type { Clock } from '../lib/clock.js';
import { formatDuration } from '../lib/duration.js';
import { ReloadError, messageOf, codeOf } from '../lib/errors.js';
import { headerProblem, type HeaderSpec, type StatusSpec } from '../config/http-spec.js';
import { redactUrl } from '../lib/redact.js';
import { readSmallFile } from '../lib/small-file.js';
import { VERSION } from '../lib/version.js';
import type { HttpOutcome } from '../metrics/configmap-reload.js';
import type { HeaderFileConfig as HeaderFile, TlsConfig } from '../config/config.js';
import type { Action, ReloadContext } from './action.js';
import { request, warmUp, type ClientResponse, type TlsMaterial } from './http-client.js';

export interface HttpActionOptions {
  readonly url: URL;
  readonly method: string;
  readonly headers: readonly { name: string; value: string }[];
  /** Headers whose value is read at each request: `prefix` (e.g. "Bearer ") + the file's line. */
  readonly headerFiles: readonly HeaderFile[];
  readonly expectStatus: StatusSpec;
  /** Budget for the whole exchange: connect, response headers and body. Must be > 0. */
  readonly timeoutMs: number;
  /** Where connections come from; the process-wide keep-alive agent when absent. */
  readonly agent?: Agent;
  /** Reads a header file; a bounded read (64 KiB, --http-timeout) when absent. */
  readonly readFile?: (path: string) => Promise<string>;
  /** TLS for an https:// URL: files read at each request (a rotated certificate is used at once). */
  readonly tls?: TlsConfig;
  /** Told how each request went (configmap-reload's metrics). */
  readonly observe?: (outcome: HttpOutcome) => void;
  /** Times the deadline and the durations told to `observe`. */
  readonly clock: Clock;
}

/** A header file holds one value (a token): larger is refused. */
const HEADER_FILE_BYTES = 64 * 1024;
/** A CA bundle, a certificate or a key: larger is refused. */
const TLS_FILE_BYTES = 1024 * 1024;
/** A matching response's body is drained up to this size; past it the connection is closed. */
const DRAIN_LIMIT = 1024 * 1024;
/** Bytes of an unexpected response's body read for the error message. */
const SNIPPET_BYTES = 4096;
/** Characters of that body shown in the message. */
const SNIPPET_CHARS = 200;

/** Errors that mean no connection was made: the application is not there (yet). */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN']);
/** Everything a request needs, resolved once when the action is created. */
interface Prepared {
  readonly target: string;
  /** The URL as given, credentials redacted. */
  readonly redactedUrl: string;
  /** The URL without userinfo: credentials travel in the Authorization header instead. */
  readonly url: URL;
  readonly method: string;
  readonly headers: readonly HeaderSpec[];
  readonly headerFiles: readonly HeaderFile[];
  readonly tls: TlsConfig | undefined;
  /** Authorization (from userinfo) and User-Agent, unless the operator set them. */
  readonly defaults: readonly HeaderSpec[];
  readonly expectStatus: StatusSpec;
  readonly timeoutMs: number;
  readonly agent: Agent | undefined;
  readonly readFile: (path: string) => Promise<string>;
  readonly observe: ((outcome: HttpOutcome) => void) | undefined;
  readonly clock: Clock;
}

export function createHttpAction(opts: HttpActionOptions): Action {
  const prepared = prepare(opts);
  return Object.freeze({
    kind: 'http',
    target: prepared.target,
    run: (ctx: ReloadContext) => observed(prepared, ctx),
    // This action's own code, headers, status check and accounting, sent to the warm-up's server:
    // never to the target, and counted nowhere.
    warmUp: async () =>
      void (await warmUp((url, agent, signal) =>
        observed(
          {
            ...prepared,
            url,
            agent,
            headerFiles: [],
            tls: undefined,
            observe: prepared.observe && (() => {}),
          },
          warmUpContext(signal),
        ),
      )),
  });
}

function prepare(opts: HttpActionOptions): Prepared {
  const target = `${opts.method} ${redactUrl(opts.url)}`;
  const { url, authorization } = splitUserinfo(opts.url);
  const named = new Set([...opts.headers, ...opts.headerFiles].map((h) => h.name.toLowerCase()));
  const defaults: HeaderSpec[] = [];
  if (authorization && !named.has('authorization')) {
    defaults.push({ name: 'Authorization', value: authorization });
  }
  if (!named.has('user-agent')) {
    defaults.push({ name: 'User-Agent', value: `hotreload/${VERSION}` });
  }
  return {
    target,
    redactedUrl: redactUrl(opts.url),
    url,
    method: opts.method,
    headers: opts.headers.map(({ name, value }) => ({ name, value })),
    headerFiles: opts.headerFiles.map((h) => ({ ...h })),
    tls: opts.tls,
    defaults,
    expectStatus: opts.expectStatus,
    timeoutMs: opts.timeoutMs,
    agent: opts.agent,
    readFile:
      opts.readFile ??
      (async (path) =>
        (
          await readSmallFile(path, { maxBytes: HEADER_FILE_BYTES, timeoutMs: opts.timeoutMs })
        ).toString('utf8')),
    observe: opts.observe,
    clock: opts.clock,
  };
}

/** send(), telling `observe` how it went: the status, or why there was none. */
async function observed(p: Prepared, ctx: ReloadContext): Promise<void> {
  const { observe } = p;
  if (!observe) return send(p, ctx);
  // Sub-millisecond: a reload endpoint on localhost often answers in less than the 1 ms the
  // clock counts, and configmap-reload reports the duration in fractions of a second.
  const started = process.hrtime.bigint();
  const elapsedMs = () => Number(process.hrtime.bigint() - started) / 1e6;
  const webhook = p.redactedUrl;
  let statusCode: number | undefined;
  try {
    await send(p, ctx, (code) => (statusCode = code));
    observe({ webhook, statusCode, ok: true, durationMs: elapsedMs() });
  } catch (err) {
    const reason =
      codeOf(err) === 'E_HEADER_FILE'
        ? 'client_request_create'
        : statusCode === undefined
          ? 'client_request_do'
          : 'client_response';
    observe({ webhook, statusCode, ok: false, durationMs: elapsedMs(), reason });
    throw err;
  }
}

/**
 * One reload request:
 * (1) send it (see exchange);
 * (2) on an expected status, drain the body and resolve; otherwise read the start of the body
 *     for the message and throw E_HTTP_STATUS.
 * A body cut short by the deadline after an expected status still counts as delivered: the
 * application has answered that it took the reload.
 */
function send(
  p: Prepared,
  ctx: ReloadContext,
  onStatus?: (statusCode: number) => void,
): Promise<void> {
  return exchange(p, ctx, async (res) => {
    // (2)
    onStatus?.(res.statusCode);
    if (p.expectStatus.matches(res.statusCode)) {
      await res.dump(DRAIN_LIMIT);
      return;
    }
    const body = await readSnippet(res.body);
    const shown = body === '' ? '' : `; body: ${body}`;
    throw new ReloadError(
      'E_HTTP_STATUS',
      `${p.target} answered ${res.statusCode}, expected ${p.expectStatus.text}${shown}`,
    );
  });
}

/**
 * One exchange, `handle` reading the response:
 * (1) read the header files, so a rotated token is picked up;
 * (2) arm one deadline for connect, headers and body, which also fires when ctx.signal aborts;
 * (3) send the request and hand the response to `handle`, under the same deadline.
 * Whatever fails becomes a ReloadError naming the target (toReloadError).
 */
async function exchange<T>(
  p: Prepared,
  ctx: Pick<ReloadContext, 'signal'>,
  handle: (res: ClientResponse) => Promise<T>,
): Promise<T> {
  if (ctx.signal.aborted) throw aborted(p, ctx.signal.reason);
  // (1)
  const fromFiles = await readHeaderFiles(p);
  const tls = p.url.protocol === 'https:' ? await readTls(p) : undefined;
  // (2)
  const deadline = startDeadline(p.clock, p.timeoutMs, ctx.signal);
  try {
    // (3)
    const res = await request({
      url: p.url,
      method: p.method,
      headers: flatten([...p.headers, ...fromFiles, ...p.defaults]),
      signal: deadline.signal,
      agent: p.agent,
      tls,
    });
    return await handle(res);
  } catch (err) {
    throw toReloadError(p, err, deadline.expired(), ctx.signal);
  } finally {
    deadline.clear();
  }
}

/** A GET whose answer is read whole (up to `maxBytes`), whatever its status: for --verify-url. */
export interface HttpProbe {
  readonly target: string;
  get(ctx: Pick<ReloadContext, 'signal'>): Promise<{ status: number; body: string }>;
  warmUp(): Promise<void>;
}

export function createHttpProbe(
  opts: Omit<HttpActionOptions, 'method' | 'expectStatus' | 'observe'> & { maxBytes: number },
): HttpProbe {
  const p = prepare({ ...opts, method: 'GET', expectStatus: ANY_STATUS });
  return {
    target: p.target,
    get: (ctx) =>
      exchange(p, ctx, async (res) => ({
        status: res.statusCode,
        body: await readText(p, res.body, opts.maxBytes),
      })),
    warmUp: async () =>
      void (await warmUp(async (url, agent, signal) => {
        await exchange({ ...p, url, agent, headerFiles: [], tls: undefined }, { signal }, (res) =>
          readText(p, res.body, opts.maxBytes),
        );
      })),
  };
}

/** A reload context for the warm-up's exchange. */
function warmUpContext(signal: AbortSignal): ReloadContext {
  return { fingerprint: '', writtenAt: 0, changed: [], attempt: 1, signal, superseded: signal };
}

const ANY_STATUS: StatusSpec = { text: '100-599', matches: () => true };

/** The whole body as UTF-8; past `maxBytes` the connection is closed and E_HTTP thrown. */
async function readText(
  p: Prepared,
  body: AsyncIterable<Uint8Array>,
  maxBytes: number,
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      throw new ReloadError('E_HTTP', `${p.target} answered more than ${maxBytes} bytes`, {
        hint: 'point --verify-url at a smaller answer, e.g. /api/v1/status/runtimeinfo',
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Values are read at each request and trimmed; they never appear in a message. */
async function readHeaderFiles(p: Prepared): Promise<HeaderSpec[]> {
  return Promise.all(
    p.headerFiles.map(async ({ name, path, prefix = '' }) => {
      let raw: string;
      try {
        raw = await p.readFile(path);
      } catch (err) {
        const code = errorCode(err);
        throw new ReloadError(
          'E_HEADER_FILE',
          `cannot read the file for header ${name} at ${path}${code ? `: ${code}` : ''}`,
          { cause: err, hint: `check that the secret holding ${path} is mounted and readable` },
        );
      }
      const value = prefix + raw.trim();
      const problem = headerProblem(name, value);
      if (problem) {
        throw new ReloadError(
          'E_HEADER_FILE',
          `the file for header ${name} at ${path} cannot be sent: ${problem}`,
          { hint: 'the file must hold the value on a single line, in Latin-1' },
        );
      }
      return { name, value };
    }),
  );
}

/** The TLS files, read now (so a rotated certificate is used at the next request). */
async function readTls(p: Prepared): Promise<TlsMaterial | undefined> {
  const { tls } = p;
  if (!tls) return undefined;
  const read = async (flag: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return await readSmallFile(file, { maxBytes: TLS_FILE_BYTES, timeoutMs: p.timeoutMs });
    } catch (err) {
      const code = errorCode(err);
      throw new ReloadError(
        'E_TLS_FILE',
        `cannot read --${flag} ${file}${code ? `: ${code}` : ''}`,
        {
          cause: err,
          hint: `check that the secret holding ${file} is mounted and readable`,
        },
      );
    }
  };
  const [ca, cert, key] = await Promise.all([
    read('http-ca-file', tls.caFile),
    read('http-client-cert', tls.certFile),
    read('http-client-key', tls.keyFile),
  ]);
  return {
    ...(ca && { ca }),
    ...(cert && { cert }),
    ...(key && { key }),
    rejectUnauthorized: !tls.insecure,
  };
}

interface Deadline {
  readonly signal: AbortSignal;
  /** True when the time ran out (as opposed to a shutdown abort). */
  expired(): boolean;
  /** Cancels the timer and the shutdown listener; leaves nothing behind. */
  clear(): void;
}

function startDeadline(clock: Clock, ms: number, shutdown: AbortSignal): Deadline {
  const controller = new AbortController();
  let expired = false;
  const timer = clock.setTimeout(() => {
    expired = true;
    controller.abort(new DOMException(`no complete response within ${ms}ms`, 'TimeoutError'));
  }, ms);
  const onShutdown = () => controller.abort(shutdown.reason);
  // An abort event has already fired if shutdown began while the header files were read.
  if (shutdown.aborted) onShutdown();
  else shutdown.addEventListener('abort', onShutdown, { once: true });
  return {
    signal: controller.signal,
    expired: () => expired,
    clear() {
      timer.cancel();
      shutdown.removeEventListener('abort', onShutdown);
    },
  };
}

/** Maps whatever the request threw onto the action's error codes; a ReloadError passes as is. */
function toReloadError(
  p: Prepared,
  err: unknown,
  expired: boolean,
  shutdown: AbortSignal,
): ReloadError {
  if (err instanceof ReloadError) return err;
  if (shutdown.aborted) return aborted(p, err);
  const code = errorCode(err);
  if (expired) {
    const budget = formatDuration(p.timeoutMs);
    const hint = `raise --http-timeout (now ${budget}) if the application takes longer to reload`;
    const message = `${p.target} got no complete response within ${budget}`;
    return new ReloadError('E_HTTP_TIMEOUT', message, { cause: err, hint });
  }
  if (code && CONNECT_CODES.has(code)) {
    return new ReloadError('E_HTTP_CONNECT', `${p.target} could not connect: ${code}`, {
      cause: err,
      hint: connectHint(p.url, code),
    });
  }
  if (code && isTlsCode(code)) {
    // OpenSSL's errors carry a short `reason`; their message is a dump of its internals.
    const reason = (err as { reason?: unknown }).reason;
    const why = typeof reason === 'string' && reason !== '' ? reason : messageOf(err);
    return new ReloadError('E_HTTP_TLS', `${p.target}: TLS failed: ${why} (${code})`, {
      cause: err,
      hint: tlsHint(code),
    });
  }
  const message = `${p.target} failed: ${messageOf(err)}${code ? ` (${code})` : ''}`;
  return new ReloadError('E_HTTP', message, { cause: err });
}

/** OpenSSL's certificate verdicts and Node's TLS errors. */
function isTlsCode(code: string): boolean {
  return (
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|^ERR_TLS_|^ERR_SSL_|^ERR_OSSL_/.test(code) &&
    !CONNECT_CODES.has(code)
  );
}

function tlsHint(code: string): string {
  if (/ALERT_CERTIFICATE_REQUIRED|ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA/.test(code)) {
    return 'the server wants a client certificate it trusts: give --http-client-cert and --http-client-key';
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return "the server's certificate does not name the URL's host: use a host it names";
  }
  if (/ERR_OSSL_|ERR_SSL_/.test(code) && !/ALERT/.test(code)) {
    return 'check that --http-ca-file, --http-client-cert and --http-client-key hold PEM data, and that the key matches the certificate';
  }
  return "give the CA that signed the server's certificate with --http-ca-file (--http-insecure-skip-verify skips the check, for tests only)";
}

function aborted(p: Prepared, cause: unknown): ReloadError {
  return new ReloadError('E_ABORTED', `${p.target} aborted: hotreload is shutting down`, { cause });
}

function connectHint(url: URL, code: string): string {
  if (DNS_CODES.has(code)) return `does ${url.hostname} resolve from this pod?`;
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `is the application listening on ${url.hostname}:${port}?`;
}

/** The first string `code` on the error, its AggregateError members or its causes. */
function errorCode(err: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof err !== 'object' || err === null) return undefined;
  const own = codeOf(err);
  if (own) return own;
  if (err instanceof AggregateError) {
    for (const inner of err.errors as unknown[]) {
      const code = errorCode(inner, depth + 1);
      if (code) return code;
    }
  }
  return 'cause' in err ? errorCode(err.cause, depth + 1) : undefined;
}

/**
 * The start of an unexpected response's body, printable: reload endpoints answer with error
 * messages, which are worth logging. Leaving the loop early destroys the body, which releases
 * the connection; a body cut short by the deadline or the peer shows what arrived.
 */
async function readSnippet(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size >= SNIPPET_BYTES) break;
    }
  } catch {
    // Keeps what arrived before the failure.
  }
  const text = printable(Buffer.concat(chunks).toString('utf8'));
  const chars = Array.from(text);
  return chars.length > SNIPPET_CHARS ? `${chars.slice(0, SNIPPET_CHARS).join('')}…` : text;
}

/** Runs of whitespace and control characters become one space, so a body stays on one line. */
function printable(text: string): string {
  return text.replace(/[\s\p{Cc}]+/gu, ' ').trim();
}

/**
 * Userinfo moved into a Basic Authorization header, explicitly: a URL with credentials must not
 * reach logs through the client's own errors.
 */
function splitUserinfo(url: URL): { url: URL; authorization: string | undefined } {
  const bare = new URL(url.href);
  if (bare.username === '' && bare.password === '') return { url: bare, authorization: undefined };
  const credentials = `${decode(bare.username)}:${decode(bare.password)}`;
  bare.username = '';
  bare.password = '';
  return { url: bare, authorization: `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/** URL userinfo is percent-encoded; a malformed escape is sent as written. */
function decode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

/** A flat header list keeps repeated names and their order. */
function flatten(headers: readonly HeaderSpec[]): string[] {
  return headers.flatMap(({ name, value }) => [name, value]);
}
