// Reads the manifests under examples/ the way kubectl does (YAML 1.1: `0640` is octal, `yes` a
// boolean), and answers what the example tests ask of them: the pods, their containers and
// volumes, which containers run hotreload and with which argv and HOTRELOAD_* environment. It
// checks nothing itself (examples.test.ts does) and never talks to a cluster.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { parseAllDocuments } from 'yaml';

export const EXAMPLES_DIR = fileURLToPath(new URL('../../examples/', import.meta.url));

/** hotreload's image (any tag or digest) and its ENTRYPOINT (the Dockerfile's). */
export const HOTRELOAD_IMAGE = /^ghcr\.io\/hotreload\/hotreload([:@]|$)/;
export const HOTRELOAD_ENTRYPOINT: readonly string[] = ['node', '/app/dist/main.js'];

export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly [field: string]: unknown;
}

export interface Manifest {
  /** The example's directory name: 'nginx', 'filebeat', ... */
  readonly example: string;
  /** The file, relative to examples/: 'nginx/update/configmap.yaml'. */
  readonly file: string;
  /** The document's position in its file (0-based). */
  readonly index: number;
  readonly object: K8sObject;
}

export interface ParsedFile {
  readonly file: string;
  readonly documents: unknown[];
  /** YAML errors and warnings, with line and column. */
  readonly problems: string[];
}

/** Every .yaml/.yml file under examples/, relative to it, sorted. */
export function manifestFiles(dir = EXAMPLES_DIR): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => f.split(path.sep).join('/'))
    .sort();
}

/** Parses one file as kubectl would: YAML 1.1, duplicate keys are errors, empty documents skipped. */
export function parseManifestFile(file: string, dir = EXAMPLES_DIR): ParsedFile {
  const text = readFileSync(path.join(dir, file), 'utf8');
  const problems: string[] = [];
  const documents: unknown[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1', uniqueKeys: true })) {
    for (const e of [...doc.errors, ...doc.warnings]) problems.push(`${file}: ${e.message}`);
    if (doc.errors.length > 0) continue;
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) documents.push(value);
  }
  return { file, documents, problems };
}

/** The objects of every example file that parses; unparsable files are examples.test.ts's to report. */
export function loadManifests(dir = EXAMPLES_DIR): Manifest[] {
  return manifestFiles(dir).flatMap((file) =>
    parseManifestFile(file, dir).documents.map((object, index) => ({
      example: file.split('/')[0]!,
      file,
      index,
      object: object as K8sObject,
    })),
  );
}

/** The manifests of one example; `update/` holds the changed ConfigMaps the README applies. */
export function exampleManifests(example: string, all = loadManifests()): Manifest[] {
  return all.filter((m) => m.example === example);
}

export const isUpdate = (m: Manifest): boolean => m.file.split('/')[1] === 'update';

/** The ConfigMap `name` of an example: the initial one, or the one in update/. */
export function configMapData(
  manifests: readonly Manifest[],
  name: string,
  which: 'initial' | 'update',
): Record<string, string> {
  const found = manifests.find(
    (m) =>
      m.object.kind === 'ConfigMap' &&
      m.object.metadata.name === name &&
      isUpdate(m) === (which === 'update'),
  );
  if (!found) throw new Error(`no ${which} ConfigMap ${name} in ${manifests[0]?.example}`);
  return (found.object.data ?? {}) as Record<string, string>;
}

/** The pod template of a workload (or the spec of a Pod); undefined for other kinds. */
export function podSpecOf(object: K8sObject): IPodSpec | undefined {
  const spec = object.spec as
    | {
        template?: { spec?: IPodSpec };
        jobTemplate?: { spec?: { template?: { spec?: IPodSpec } } };
      }
    | undefined;
  if (object.kind === 'Pod') return object.spec as IPodSpec;
  if (object.kind === 'CronJob') return spec?.jobTemplate?.spec?.template?.spec;
  return spec?.template?.spec;
}

export interface PodContainer {
  readonly container: IContainer;
  readonly init: boolean;
}

export function containersOf(spec: IPodSpec): PodContainer[] {
  return [
    ...(spec.initContainers ?? []).map((container) => ({ container, init: true })),
    ...spec.containers.map((container) => ({ container, init: false })),
  ];
}

export interface Invocation {
  /** hotreload's arguments, as its main() gets them (after `node main.js` or `hotreload`). */
  readonly argv: string[];
  /** HOTRELOAD_* variables with a literal value. */
  readonly env: Record<string, string>;
  /** HOTRELOAD_* variables whose value comes from elsewhere (valueFrom), which no test can know. */
  readonly unresolved: string[];
}

/**
 * How a container runs hotreload, or undefined when it does not: hotreload's image (with its
 * ENTRYPOINT, or a command that repeats it), or any image whose command is `hotreload` (the
 * child mode, hotreload installed in the application's image). `$(VAR)` references in command
 * and args are expanded from the container's env, as the kubelet does.
 */
export function hotreloadInvocation(c: IContainer): Invocation | undefined {
  const literal: Record<string, string> = {};
  const unresolved: string[] = [];
  for (const e of c.env ?? []) {
    if (e.valueFrom) unresolved.push(e.name);
    else literal[e.name] = expand(e.value ?? '', literal);
  }
  const command = (c.command ?? []).map((s) => expand(s, literal));
  const args = (c.args ?? []).map((s) => expand(s, literal));
  let argv: string[];
  if (c.image && HOTRELOAD_IMAGE.test(c.image)) {
    if (command.length === 0) argv = args;
    else if (HOTRELOAD_ENTRYPOINT.every((part, i) => command[i] === part))
      argv = [...command.slice(HOTRELOAD_ENTRYPOINT.length), ...args];
    else
      throw new Error(
        `container ${c.name}: a command in hotreload's image must start with its entrypoint ${HOTRELOAD_ENTRYPOINT.join(' ')}`,
      );
  } else if (command[0] !== undefined && path.posix.basename(command[0]) === 'hotreload') {
    argv = [...command.slice(1), ...args];
  } else {
    return undefined;
  }
  const env = Object.fromEntries(
    Object.entries(literal).filter(([name]) => name.startsWith('HOTRELOAD_')),
  );
  return { argv, env, unresolved: unresolved.filter((n) => n.startsWith('HOTRELOAD_')) };
}

/** The kubelet's $(VAR) expansion: `$$` is a literal `$`; an unknown variable stays as written. */
export function expand(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name?: string) =>
    name === undefined ? '$' : (env[name] ?? whole),
  );
}

/** The mount whose mountPath holds `p` (the longest such), or undefined. */
export function mountHolding(mounts: readonly IVolumeMount[], p: string): IVolumeMount | undefined {
  const holding = mounts.filter((m) => isUnder(p, m.mountPath));
  return holding.sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
}

/** True when `p` is `dir` or inside it (both absolute POSIX paths). */
export function isUnder(p: string, dir: string): boolean {
  const rel = path.posix.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.posix.isAbsolute(rel));
}
