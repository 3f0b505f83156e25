// --log-format logfmt: each JSON log line pino writes, rewritten as one logfmt line
// (`ts=… level=info msg="reload succeeded" action=http attempt=1`), the format of go-kit's logger
// that prometheus-config-reloader, thanos and Loki users read. Nested fields are flattened with
// dots (err.code=E_HTTP_STATUS); a list is written as its JSON. It drops and adds nothing.
import type { LogOutput } from './log.js';

/** Fields written first, in this order; the others follow as pino wrote them. */
const FIRST = ['ts', 'level', 'msg'];

/** Rewrites one JSON line (with or without its newline) as a logfmt line ending in a newline. */
export function toLogfmt(jsonLine: string): string {
  let record: unknown;
  try {
    record = JSON.parse(jsonLine);
  } catch {
    return `msg=${quote(jsonLine.trimEnd())}\n`;
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return `msg=${quote(jsonLine.trimEnd())}\n`;
  }
  const { time, ...rest } = record as Record<string, unknown>;
  const fields = new Map<string, string>();
  if (time !== undefined) fields.set('ts', render(time));
  flatten(rest, '', fields);
  const keys = [
    ...FIRST.filter((k) => fields.has(k)),
    ...[...fields.keys()].filter((k) => !FIRST.includes(k)),
  ];
  return `${keys.map((k) => `${k}=${fields.get(k)}`).join(' ')}\n`;
}

/** A LogOutput that writes logfmt lines to `inner`. */
export function logfmtOutput(inner: LogOutput): LogOutput {
  return {
    write: (line: string) => inner.write(toLogfmt(line)),
    get dropped() {
      return inner.dropped;
    },
    drain: (ms) => inner.drain(ms),
  };
}

function flatten(value: Record<string, unknown>, prefix: string, out: Map<string, string>): void {
  for (const [k, v] of Object.entries(value)) {
    const key = prefix + safeKey(k);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      flatten(v as Record<string, unknown>, `${key}.`, out);
    } else {
      out.set(key, render(v));
    }
  }
}

function render(v: unknown): string {
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return 'null';
  return quote(JSON.stringify(v));
}

/** Bare when it is one plain word; JSON-quoted otherwise (spaces, quotes, =, control bytes). */
function quote(s: string): string {
  return s !== '' && /^[^\s"=\\\p{Cc}]+$/u.test(s) ? s : JSON.stringify(s);
}

/** A key is one word: anything else in it becomes an underscore. */
function safeKey(k: string): string {
  return k.replace(/[\s"=\p{Cc}]/gu, '_') || '_';
}
