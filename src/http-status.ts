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

/** True when `value` can be sent as a field value: no control characters except tab. */
export function isHeaderValue(value: string): boolean {
  return !/\p{Cc}/u.test(value.replaceAll('\t', ''));
}
