// What to inject into one workload: the settings table (each is a flag of `hotreload inject` and
// a hotreload.dev/ annotation of the same name), annotations read and checked, and the flags
// merged over them. It reads no manifest beyond the annotations it is given and knows nothing of
// the sidecar; sidecar.ts turns the settings into one, config/ checks the flags they become.
import { closest } from '../config/suggest.js';

export const ANNOTATION_PREFIX = 'hotreload.dev/';

export type SettingKey =
  | 'inject'
  | 'watch'
  | 'http-url'
  | 'signal'
  | 'process-name'
  | 'process-match'
  | 'restart'
  | 'exit'
  | 'config'
  | 'container'
  | 'native-sidecar'
  | 'args'
  | 'image';

export interface SettingDef {
  /** boolean: "true" or "false"; list: items separated by `separator`. */
  readonly type: 'boolean' | 'string' | 'list';
  readonly separator?: ',' | '\n';
  /** How the application is told: flags that give one of these replace every annotation of them. */
  readonly action?: true;
  /** Only an annotation: no flag of `hotreload inject` sets it. */
  readonly annotationOnly?: true;
  /** The value, for --help and docs/INJECT.md. */
  readonly value: string;
  readonly describe: string;
}

/** Every setting; the order is --help's. */
export const SETTINGS: Readonly<Record<SettingKey, SettingDef>> = {
  inject: {
    type: 'boolean',
    annotationOnly: true,
    value: '"false"',
    describe: 'leave this workload as it is',
  },
  watch: {
    type: 'list',
    separator: ',',
    value: 'VOLUME[=PATH],...',
    describe:
      'the pod volumes to watch (default: every configMap, secret and projected volume a container mounts), mounted read-only where a container mounts them, or at PATH',
  },
  'http-url': {
    type: 'list',
    separator: ',',
    action: true,
    value: 'URL,...',
    describe: 'call these reload endpoints (--http-url)',
  },
  signal: {
    type: 'string',
    action: true,
    value: 'SIGNAL',
    describe: 'send this signal (--signal) to the process named by process-name or process-match',
  },
  'process-name': {
    type: 'string',
    action: true,
    value: 'NAME',
    describe: 'the process to signal or restart, by name (--process-name)',
  },
  'process-match': {
    type: 'string',
    action: true,
    value: 'REGEX',
    describe: 'the process to signal or restart, by command line (--process-match)',
  },
  restart: {
    type: 'boolean',
    action: true,
    value: '"true"',
    describe: 'stop the process (--restart) so the kubelet restarts its container',
  },
  exit: {
    type: 'string',
    action: true,
    value: 'CODE',
    describe: 'exit with this code on a change (--exit)',
  },
  config: {
    type: 'string',
    action: true,
    value: 'PATH',
    describe:
      'a rules file (--config) that says what to watch and whom to tell; its volume goes in watch with its path',
  },
  container: {
    type: 'string',
    value: 'NAME',
    describe:
      'the container whose process is signalled or restarted, whose UID hotreload takes (default: kubectl.kubernetes.io/default-container, else the first)',
  },
  'native-sidecar': {
    type: 'boolean',
    value: '"true"',
    describe:
      'add hotreload to initContainers with restartPolicy: Always (Kubernetes 1.29+); always so for a pod that runs to completion',
  },
  args: {
    type: 'list',
    separator: '\n',
    value: 'FLAG',
    describe:
      'more flags of hotreload, e.g. --validate: the annotation one per line, the flag once per flag (--args=--validate)',
  },
  image: {
    type: 'string',
    value: 'IMAGE',
    describe: "hotreload's image",
  },
};

/** A setting's value and where it came from, for messages: `--signal` or `annotation hotreload.dev/signal`. */
export interface Given {
  readonly value: string | boolean | readonly string[];
  readonly from: string;
}

export type Settings = Partial<Record<SettingKey, Given>>;

const KEYS = Object.keys(SETTINGS) as SettingKey[];

/**
 * The settings of a workload from its annotations (`own`, then its pod template's for a key it
 * does not set) and the flags, which win: a flag of how the application is told replaces every
 * annotation of it, so flags never mix with a workload's own action. Problems (an unknown
 * hotreload.dev/ annotation, a value that is not a string, a boolean that is not "true" or
 * "false") are returned, one line each.
 */
export function resolveSettings(
  flags: Settings,
  own: Readonly<Record<string, unknown>>,
  template: Readonly<Record<string, unknown>>,
): { settings: Settings; problems: string[] } {
  const problems: string[] = [];
  const annotated: Settings = {};
  for (const [name, value] of [...Object.entries(template), ...Object.entries(own)]) {
    if (!name.startsWith(ANNOTATION_PREFIX)) continue;
    const key = name.slice(ANNOTATION_PREFIX.length);
    if (!(KEYS as string[]).includes(key)) {
      const meant = closest(key, KEYS);
      problems.push(
        `unknown annotation ${name}${meant ? ` (did you mean ${ANNOTATION_PREFIX}${meant}?)` : ''}; the annotations are ${KEYS.map((k) => ANNOTATION_PREFIX + k).join(', ')}`,
      );
      continue;
    }
    const given = fromAnnotation(key as SettingKey, name, value);
    if (typeof given === 'string') problems.push(given);
    else annotated[key as SettingKey] = given;
  }
  const flagsTellHow = KEYS.some((k) => SETTINGS[k].action && flags[k] !== undefined);
  const settings: Settings = {};
  for (const key of KEYS) {
    const given =
      SETTINGS[key].action && flagsTellHow ? flags[key] : (flags[key] ?? annotated[key]);
    if (given !== undefined) settings[key] = given;
  }
  return { settings, problems };
}

/** The setting an annotation gives, or the problem with its value. */
function fromAnnotation(key: SettingKey, name: string, value: unknown): Given | string {
  const from = `annotation ${name}`;
  const def = SETTINGS[key];
  if (typeof value !== 'string') {
    return `${from}: ${JSON.stringify(value)} is not a string; annotation values are strings: quote it (${name}: "${String(value)}")`;
  }
  if (def.type === 'boolean') {
    if (value !== 'true' && value !== 'false')
      return `${from}: ${JSON.stringify(value)}; expected "true" or "false"`;
    return { value: value === 'true', from };
  }
  if (def.type === 'list') return { value: splitList(value, def.separator!), from };
  return { value: value.trim(), from };
}

/** A list as an annotation or a flag writes it: items between separators, trimmed, none empty. */
export function splitList(text: string, separator: ',' | '\n'): string[] {
  return text
    .split(separator)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Whether any hotreload.dev/ annotation asks for this workload (beyond inject: "true"). */
export function asksForHotreload(settings: Settings): boolean {
  return KEYS.some((k) => k !== 'inject' && settings[k]?.from.startsWith('annotation '));
}
