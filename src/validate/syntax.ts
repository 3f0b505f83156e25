// Syntax checks for configuration files, chosen by extension (.yaml/.yml, .json, .toml). A problem
// says where (line, column) and what kind of error, in words that never quote the file: Secret
// values must not reach the logs. It does not read files (the caller passes the text).
import path from 'node:path';
import { parse as parseJson, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { TomlError, parse as parseToml } from 'smol-toml';
import { parseAllDocuments } from 'yaml';

export interface SyntaxProblem {
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly message: string;
}

type Check = (text: string) => SyntaxProblem | undefined;

const CHECKS: Record<string, { format: string; check: Check }> = {
  '.yaml': { format: 'YAML', check: checkYaml },
  '.yml': { format: 'YAML', check: checkYaml },
  '.json': { format: 'JSON', check: checkJson },
  '.toml': { format: 'TOML', check: checkToml },
};

/** The format name and check for a path, or undefined when its extension has none. */
export function checkerFor(file: string): { format: string; check: Check } | undefined {
  return CHECKS[path.extname(file).toLowerCase()];
}

function checkYaml(text: string): SyntaxProblem | undefined {
  for (const doc of parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true })) {
    const err = doc.errors[0];
    if (!err) {
      const unresolved = resolveAliases(doc);
      if (unresolved) return unresolved;
      continue;
    }
    const pos = err.linePos?.[0] ?? positionOf(text, err.pos[0]);
    return { line: pos.line, column: pos.col, message: `${yamlWords(err.message)} (${err.code})` };
  }
  return undefined;
}

/** Aliases are resolved only when the document is read; an unknown one is an error then. */
function resolveAliases(
  doc: ReturnType<typeof parseAllDocuments>[number],
): SyntaxProblem | undefined {
  if (!('toJS' in doc)) return undefined;
  try {
    doc.toJS({ maxAliasCount: 10_000 });
    return undefined;
  } catch (err) {
    const words = /alias|anchor/i.test((err as Error).message)
      ? 'unresolved or excessive alias'
      : 'invalid document';
    return { line: undefined, column: undefined, message: words };
  }
}

/** yaml's message up to its position suffix, with any quoted text dropped. */
function yamlWords(message: string): string {
  const head = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return dropQuoted(head);
}

function checkJson(text: string): SyntaxProblem | undefined {
  const errors: ParseError[] = [];
  try {
    parseJson(text, errors, {
      disallowComments: true,
      allowTrailingComma: false,
      allowEmptyContent: false,
    });
  } catch (err) {
    // The parser recurses: nesting deep enough to exhaust the stack (Go's encoding/json gives up
    // at 10000 levels) is refused like a syntax error, not retried as a failed check.
    if (!(err instanceof RangeError)) throw err;
    return { line: undefined, column: undefined, message: 'nested too deeply to check in JSON' };
  }
  const err = errors[0];
  if (!err) return undefined;
  const pos = positionOf(text, err.offset);
  return {
    line: pos.line,
    column: pos.col,
    message: `${words(printParseErrorCode(err.error))} in JSON`,
  };
}

function checkToml(text: string): SyntaxProblem | undefined {
  try {
    parseToml(text);
    return undefined;
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const head = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    return { line: err.line, column: err.column, message: dropQuoted(head) };
  }
}

/** "CloseBraceExpected" -> "close brace expected". */
function words(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

function positionOf(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, col: offset - before.lastIndexOf('\n') };
}

function dropQuoted(s: string): string {
  return s.replace(/"[^"]{2,}"|'[^']{2,}'/g, '…');
}
