// The rules of a rules file (--config), read from its YAML: each entry of its `rules` list is
// resolved by resolveConfig over the process-wide flags, and every problem names the file, the
// rule, the key and its line. A module of its own so that the YAML parser is loaded only by
// hotreload with a rules file (scripts/build.ts).
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { parseBoolean } from './env.js';
import { ConfigError } from '../lib/errors.js';
import { resolveConfig, type Config } from './config.js';
import { OPTIONS, optionsByName, PROCESS_OPTIONS, type Def, type RawOptions } from './options.js';
import { RulesFileError, type Rule } from './rules.js';
import { closest } from './suggest.js';

/**
 * The rules of a rules file's `text` (`file` is its absolute path: relative paths in a rule are
 * resolved from its directory). Throws a RulesFileError for the first problem found.
 */
export function parseRules(
  text: string,
  file: string,
  base: RawOptions,
  command: readonly string[],
): Rule[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  const line = (node: Node | null | undefined) =>
    node?.range ? ` (line ${lines.linePos(node.range[0]).line})` : '';
  const bad = (where: string, node: Node | null | undefined, problem: string): never => {
    throw new RulesFileError(file, `${where}${line(node)}: ${problem}`);
  };
  const parseError = doc.errors[0];
  if (parseError) {
    const at = parseError.linePos?.[0];
    throw new RulesFileError(
      file,
      `not valid YAML${at ? ` (line ${at.line}, column ${at.col})` : ''}: ${parseError.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
    );
  }
  const root = doc.contents;
  const example =
    'e.g.\nrules:\n  - name: app\n    watch: /etc/app\n    http-url: http://127.0.0.1:8080/-/reload';
  if (!isMap(root))
    return bad('the file', root, `expected a mapping with a rules list; ${example}`);
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '?';
    if (key !== 'rules') {
      const meant = closest(key, ['rules']);
      bad(
        JSON.stringify(key),
        pair.key,
        `unknown key; the file holds one key, rules${meant ? ' (did you mean rules?)' : ''}`,
      );
    }
  }
  const list = root.get('rules', true) as Node | undefined;
  if (!isSeq(list) || list.items.length === 0) {
    return bad('rules', list ?? root, `expected a list of one rule or more; ${example}`);
  }
  const names = new Map<string, number>();
  const stateFiles = new Map<string, string>();
  const dir = path.dirname(file);
  return list.items.map((item, i) => {
    const node = item as Node;
    const where = `rules[${i}]`;
    if (!isMap(node)) return bad(where, node, 'expected a mapping: name, watch and its actions');
    const nameNode = node.get('name', true) as Node | undefined;
    const name: unknown = isScalar(nameNode) ? nameNode.value : nameNode?.toJSON();
    if (typeof name !== 'string' || !/^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$/.test(name)) {
      bad(
        `${where}.name`,
        nameNode ?? node,
        `${nameNode === undefined ? 'missing' : `invalid value ${JSON.stringify(name)}`}; every rule needs a name of lower-case letters, digits, - and _ (up to 63), such as nginx or app-config: metrics and /status show it`,
      );
    }
    const label = `${where} (${name as string})`;
    const earlier = names.get(name as string);
    if (earlier !== undefined) {
      bad(`${label}.name`, nameNode, `rules[${earlier}] has this name too; names must differ`);
    }
    names.set(name as string, i);
    const raw: Record<string, unknown> = { ...base };
    const keyLines = new Map<string, Node>();
    for (const pair of node.items) {
      const keyNode = pair.key as Node;
      const key = isScalar(keyNode) ? String(keyNode.value) : '?';
      if (key === 'name') continue;
      const def = ruleKey(key, `${label}.${key}`, keyNode, bad);
      raw[key] = optionValue(def, pair.value as Node | null, `${label}.${key}`, bad);
      keyLines.set(key, keyNode);
    }
    let config: Config;
    try {
      config = resolveConfig(raw, dir, command);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const accepted = err.accepted.replace(/--([a-z][a-z0-9.-]*)/g, (m, flag: string) =>
        flag in OPTIONS ? flag : m,
      );
      const key = keyLines.get(err.flag);
      if (!key) return bad(label, node, `missing ${err.flag}: ${accepted}`);
      return bad(`${label}.${err.flag}`, key, `invalid value ${shown(err.value)}; ${accepted}`);
    }
    if (config.once) {
      bad(
        `${label}.watch-interval`,
        keyLines.get('watch-interval'),
        'a rule keeps watching: 0 (render once and exit) is for the command line of an init container; give a duration such as 3m',
      );
    }
    const stateFile = config.safety.stateFile;
    if (stateFile) {
      const other = stateFiles.get(stateFile);
      if (other) {
        bad(
          `${label}.state-file`,
          keyLines.get('state-file'),
          `${other} keeps its state in this file too; give each rule its own`,
        );
      }
      stateFiles.set(stateFile, label);
    }
    return Object.freeze({ name: name as string, config, source: JSON.stringify(node.toJSON()) });
  });
}

/** The option a rule's key names; anything else is explained. */
function ruleKey(
  key: string,
  where: string,
  node: Node,
  bad: (where: string, node: Node, problem: string) => never,
): Def {
  const opt = key as keyof RawOptions;
  if (PROCESS_OPTIONS.has(opt)) {
    return bad(
      where,
      node,
      `a setting of the whole process, not of a rule: give --${key} on the command line`,
    );
  }
  const def = (OPTIONS as Record<string, Def | undefined>)[key];
  if (def) return def;
  const byName = optionsByName();
  const aliased = byName.get(key);
  if (aliased) {
    const canonical = Object.keys(OPTIONS).find(
      (k) => (OPTIONS as Record<string, Def>)[k] === aliased,
    );
    return bad(where, node, `write it as ${canonical} (${key} is its flag alias)`);
  }
  const meant = closest(
    key,
    Object.keys(OPTIONS).filter((k) => !PROCESS_OPTIONS.has(k as keyof RawOptions)),
  );
  return bad(
    where,
    node,
    `unknown key${meant ? ` (did you mean ${meant}?)` : ''}; a rule's keys are name and hotreload's long flag names (docs/FLAGS.md)`,
  );
}

/** A rule's value as the flag's: a string, true/false, or a list of strings. */
function optionValue(
  def: Def,
  node: Node | null,
  where: string,
  bad: (where: string, node: Node | null, problem: string) => never,
): string | boolean | string[] {
  const scalar = (n: Node | null): string | undefined => {
    if (!isScalar(n)) return undefined;
    const v = n.value;
    return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
  };
  if (def.type === 'boolean') {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    const text = scalar(node);
    try {
      if (text !== undefined) return parseBoolean(where, text);
    } catch {
      // explained below
    }
    return bad(where, node, 'expected true or false');
  }
  if (def.array) {
    if (isSeq(node)) {
      return node.items.map((item) => {
        const text = scalar(item as Node);
        return text ?? bad(where, item as Node, 'expected a string in the list');
      });
    }
    const text = scalar(node);
    return text !== undefined ? [text] : bad(where, node, 'expected a string or a list of strings');
  }
  const text = scalar(node);
  return text ?? bad(where, node, 'expected one value (a string or a number)');
}

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
