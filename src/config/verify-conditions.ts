// What --verify-metric and --verify-json require of a --verify-url answer: a value read from the
// Prometheus text format (`prometheus_config_last_reload_successful == 1`) or from JSON
// (`.data.reloadConfigSuccess == true`), compared with a literal, or required to have `changed`
// since before the reload. It parses and judges answers; it makes no request (verify-url.ts does).

export type Operator = '==' | '!=' | '>' | '>=' | '<' | '<=';

export interface Condition {
  /** As the operator wrote it, for messages. */
  readonly text: string;
  readonly format: 'metric' | 'json';
  /** Reads the condition's value from an answer's body; undefined when it is not there. */
  readonly read: (body: string) => unknown;
  /** A comparison, or 'changed': the value differs from the one read before the reload. */
  readonly test: { readonly op: Operator; readonly value: unknown } | 'changed';
}

const METRIC = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{.*\})?\s*(?:(==|!=|>=|<=|>|<)\s*(\S+)|(changed))$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
const JSON_CONDITION = /^(\.\S*?)\s*(?:(==|!=|>=|<=|>|<)\s*(.+)|(changed))$/;
const JSON_STEP = /\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/y;

export const METRIC_HELP =
  "expected 'NAME OP VALUE' or 'NAME changed', e.g. 'prometheus_config_last_reload_successful == 1' or 'prometheus_config_last_reload_success_timestamp_seconds changed' (OP: ==, !=, >, >=, <, <=; labels as NAME{job=\"x\"})";
export const JSON_HELP =
  "expected '.PATH OP VALUE' or '.PATH changed', e.g. '.data.reloadConfigSuccess == true' or '.data.lastConfigTime changed' (OP: ==, !=, >, >=, <, <=; VALUE: JSON, or a bare word as a string)";

/** A --verify-metric condition; undefined when it does not parse. */
export function parseMetricCondition(text: string): Condition | undefined {
  const m = METRIC.exec(text.trim());
  if (!m) return undefined;
  const [, name, rawLabels, op, rawValue, changed] = m;
  const labels = rawLabels === undefined ? {} : parseLabels(rawLabels.slice(1, -1));
  if (!labels) return undefined;
  const value = changed ? undefined : parseSampleValue(rawValue!);
  if (!changed && value === undefined) return undefined;
  return {
    text: text.trim(),
    format: 'metric',
    read: (body) => readSamples(body, name!, labels),
    test: changed ? 'changed' : { op: op as Operator, value },
  };
}

/** A --verify-json condition; undefined when it does not parse. */
export function parseJsonCondition(text: string): Condition | undefined {
  const m = JSON_CONDITION.exec(text.trim());
  if (!m) return undefined;
  const [, rawPath, op, rawValue, changed] = m;
  const steps = parsePath(rawPath!);
  if (!steps) return undefined;
  return {
    text: text.trim(),
    format: 'json',
    read: (body) => readJson(body, steps),
    test: changed ? 'changed' : { op: op as Operator, value: jsonLiteral(rawValue!.trim()) },
  };
}

/**
 * True when `value` (read now) meets the condition; `before` is what was read before the reload
 * (undefined when nothing could be read then: any value read now counts as changed).
 */
export function holds(c: Condition, value: unknown, before: unknown): boolean {
  if (value === undefined) return false;
  if (c.test === 'changed') return before === undefined || !sameValue(value, before);
  const { op, value: expected } = c.test;
  // A metric reads as the values of every matching series: each must meet the comparison.
  const values = c.format === 'metric' ? (value as number[]) : [value];
  return values.length > 0 && values.every((v) => compare(v, op, expected));
}

function compare(actual: unknown, op: Operator, expected: unknown): boolean {
  if (op === '==') return sameValue(actual, expected);
  if (op === '!=') return !sameValue(actual, expected);
  if (typeof actual !== 'number' || typeof expected !== 'number') return false;
  switch (op) {
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (isNaN(a) && isNaN(b));
  return JSON.stringify(a) === JSON.stringify(b);
}

function parseLabels(text: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  if (text.trim() === '') return labels;
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    if (!m) return undefined;
    labels[m[1]!] = unescapeLabel(m[2]!);
    if (m[3] === '') break;
  }
  return LABEL.lastIndex >= text.length ? labels : undefined;
}

function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** A sample value of the text format: a float, NaN, +Inf or -Inf. */
function parseSampleValue(text: string): number | undefined {
  if (/^[+-]?Inf$/.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/**
 * The values of the samples named `name` whose labels include `labels`, in the order of the
 * answer (Prometheus text exposition format 0.0.4); undefined when none matches.
 */
function readSamples(body: string, name: string, labels: Record<string, string>): unknown {
  const values: number[] = [];
  for (const line of body.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{' && rest[0] !== '\t') continue;
    const sample = parseSample(rest);
    if (!sample) continue;
    if (Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) values.push(sample.value);
  }
  return values.length > 0 ? values : undefined;
}

function parseSample(rest: string): { labels: Record<string, string>; value: number } | undefined {
  let labels: Record<string, string> = {};
  let tail = rest;
  if (rest.startsWith('{')) {
    const end = closingBrace(rest);
    if (end < 0) return undefined;
    const parsed = parseLabels(rest.slice(1, end));
    if (!parsed) return undefined;
    labels = parsed;
    tail = rest.slice(end + 1);
  }
  const value = parseSampleValue(tail.trim().split(/\s+/)[0] ?? '');
  return value === undefined ? undefined : { labels, value };
}

/** The index of the `}` that closes the label set, skipping quoted values. */
function closingBrace(text: string): number {
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === '}' && !quoted) return i;
  }
  return -1;
}

type Step = string | number;

/** `.data.items[0]["a.b"]` as steps; `.` alone is the whole document. */
function parsePath(text: string): Step[] | undefined {
  if (text === '.') return [];
  const steps: Step[] = [];
  JSON_STEP.lastIndex = 0;
  while (JSON_STEP.lastIndex < text.length) {
    const m = JSON_STEP.exec(text);
    if (!m) return undefined;
    steps.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(`"${m[3]}"`) as string)));
  }
  return steps;
}

function readJson(body: string, steps: readonly Step[]): unknown {
  let node: unknown;
  try {
    node = JSON.parse(body);
  } catch {
    return undefined;
  }
  for (const step of steps) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[step];
  }
  return node;
}

/** A JSON literal (true, 1.5, "x", null), or a bare word taken as a string. */
function jsonLiteral(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** For messages: a value as the operator would write it. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value) && value.length === 1) return showValue(value[0]);
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value); // NaN, ±Inf
  return JSON.stringify(value) ?? 'nothing';
}
