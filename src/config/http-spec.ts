// Parses the HTTP-related flag values: the expected status (`200,204`, `200-299`, `2xx`), a
// header (`Name: value`) and a header read from a file (`Name=/path`). Parsers return undefined
// on bad input; the config layer turns that into a ConfigError naming the flag.

/** A set of accepted status codes, as the operator wrote it. */
export interface StatusSpec {
  /** The spec in canonical form (no whitespace), for messages: "200-204,3xx". */
  readonly text: string;
  matches(status: number): boolean;
}

export interface HeaderSpec {
  readonly name: string;
  readonly value: string;
}

export interface HeaderFileSpec {
  readonly name: string;
  readonly path: string;
}

const MIN_STATUS = 100;
const MAX_STATUS = 599;
const CODE = /^\d{3}$/;
const RANGE = /^(\d{3})\s*-\s*(\d{3})$/;
const CLASS = /^([1-5])xx$/i;
/** RFC 9110 §5.6.2: token = 1*tchar. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

type Range = readonly [low: number, high: number];

/** The accepted statuses for `200`, `200,204`, `200-299`, `2xx` or a comma list of them. */
export function parseStatusSpec(text: string): StatusSpec | undefined {
  const ranges: Range[] = [];
  const parts: string[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const range = parseStatusPart(part);
    if (!range) return undefined;
    ranges.push(range);
    parts.push(part.replace(/\s+/g, '').toLowerCase());
  }
  return Object.freeze({
    text: parts.join(','),
    matches: (status: number) => ranges.some(([low, high]) => status >= low && status <= high),
  });
}

function parseStatusPart(part: string): Range | undefined {
  if (CODE.test(part)) return validRange(Number(part), Number(part));
  const range = RANGE.exec(part);
  if (range) return validRange(Number(range[1]), Number(range[2]));
  const cls = CLASS.exec(part);
  if (cls) return [Number(cls[1]) * 100, Number(cls[1]) * 100 + 99];
  return undefined;
}

function validRange(low: number, high: number): Range | undefined {
  if (low < MIN_STATUS || high > MAX_STATUS || low > high) return undefined;
  return [low, high];
}

/**
 * A header from `Name: value`. The value may be empty and may contain colons; surrounding
 * whitespace is dropped (RFC 9110 §5.5). Control characters other than tab are rejected, so a
 * value can never smuggle in a second header.
 */
export function parseHeader(text: string): HeaderSpec | undefined {
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const name = text.slice(0, colon).trim();
  const value = text.slice(colon + 1).trim();
  if (!isHeaderName(name) || !isHeaderValue(value)) return undefined;
  return { name, value };
}

/** The name of `Name: value` when the name is valid (whatever the value), for messages. */
export function headerNameOf(text: string): string | undefined {
  const colon = text.indexOf(':');
  const name = colon < 0 ? '' : text.slice(0, colon).trim();
  return isHeaderName(name) ? name : undefined;
}

/** A header whose value is read from a file at each request, from `Name=/path`. */
export function parseHeaderFile(text: string): HeaderFileSpec | undefined {
  const eq = text.indexOf('=');
  if (eq < 0) return undefined;
  const name = text.slice(0, eq).trim();
  const path = text.slice(eq + 1).trim();
  if (!isHeaderName(name) || path === '') return undefined;
  return { name, path };
}

function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/**
 * True when `value` can be sent as a field value: tab, visible ASCII, space and the Latin-1
 * range (RFC 9110 §5.5 obs-text), which is what the HTTP client (node:http, _http_common)
 * accepts. No control character, so a value cannot smuggle in a second header.
 */
export function isHeaderValue(value: string): boolean {
  return !/[^\t\x20-\x7e\x80-\xff]/.test(value);
}

/**
 * Headers hotreload refuses to send: framing and connection headers, which the HTTP client
 * manages itself (set by hand they break the exchange: a Content-Length with no body leaves the
 * server waiting for it), and Expect. hotreload sends no body.
 */
const REFUSED_HEADERS: Readonly<Record<string, string>> = {
  'transfer-encoding': 'hotreload sends no body, so there is nothing to frame',
  'content-length': 'hotreload sends no body; the HTTP client sets it',
  'keep-alive': 'the HTTP client manages its connections',
  upgrade: 'a reload request cannot switch protocols',
  expect: 'the HTTP client does not support Expect',
};

/**
 * Why a header of this name (and value, when known) cannot be sent, or undefined when it can.
 * Checked at start, so a header the client would refuse fails the flag instead of every request.
 */
export function headerProblem(name: string, value?: string): string | undefined {
  const lower = name.toLowerCase();
  const refused = REFUSED_HEADERS[lower];
  if (refused) return `${name} cannot be set: ${refused}`;
  if (value === undefined) return undefined;
  if (!isHeaderValue(value)) {
    return 'the value holds a character outside Latin-1 or a control character, which HTTP cannot carry';
  }
  if (lower === 'connection' && !value.split(',').every((t) => TOKEN.test(t.trim()))) {
    return 'Connection takes a comma-separated list of tokens, e.g. close';
  }
  return undefined;
}
