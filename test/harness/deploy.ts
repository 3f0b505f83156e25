// What the tests of deploy/ (the kustomize component and the Kyverno policy that add the hotreload
// sidecar by annotation) share: the annotation contract, the sidecar's shape (the hotreload
// container of examples/prometheus, which examples/nginx repeats), and one check of a workload
// after injection, whoever injected it: schema-valid, one sidecar of that shape after the
// application, flags that hotreload's own parser and configuration accept, and every watched path
// mounted read-only where the application mounts the same volume. It checks nothing by itself and
// never talks to a cluster.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parseAllDocuments } from 'yaml';
import { parse } from '../../src/config/cli.js';
import { resolveConfig } from '../../src/config/config.js';
import { VERSION } from '../../src/lib/version.js';
import { loadManifests, mountHolding, podSpecOf, type K8sObject } from './examples.js';
import { schemaErrors } from './k8s-schema.js';

export const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/', import.meta.url));

/** The annotations of the contract, on the workload's metadata (shared with `hotreload inject`). */
export const ANNOTATIONS = {
  inject: 'hotreload.dev/inject',
  watch: 'hotreload.dev/watch',
  httpUrl: 'hotreload.dev/http-url',
  signal: 'hotreload.dev/signal',
  processMatch: 'hotreload.dev/process-match',
} as const;
export const CONTRACT: ReadonlySet<string> = new Set(Object.values(ANNOTATIONS));

/** The kinds that get the sidecar. */
export const WORKLOAD_KINDS: readonly string[] = ['Deployment', 'StatefulSet', 'DaemonSet'];

export const SIDECAR_NAME = 'hotreload';

/** The fields of the sidecar that every injector must give exactly as the examples do. */
const SHAPE_FIELDS = [
  'image',
  'ports',
  'livenessProbe',
  'readinessProbe',
  'resources',
  'securityContext',
] as const;

/** The hotreload container of an example's workload. */
function exampleSidecar(file: string): IContainer {
  const m = loadManifests().find((m) => m.file === file && podSpecOf(m.object));
  const c = m && podSpecOf(m.object)!.containers.find((c) => c.name === SIDECAR_NAME);
  if (!c) throw new Error(`no ${SIDECAR_NAME} container in examples/${file}`);
  return c;
}

/**
 * The sidecar's shape: those fields of the hotreload container of examples/prometheus. Throws if
 * examples/nginx's hotreload container disagrees on any of them (then the shape is not "the
 * examples'" and this must be decided).
 */
export function sidecarShape(): Pick<IContainer, (typeof SHAPE_FIELDS)[number]> {
  shape ??= readSidecarShape();
  return shape;
}
let shape: Pick<IContainer, (typeof SHAPE_FIELDS)[number]> | undefined;

function readSidecarShape(): Pick<IContainer, (typeof SHAPE_FIELDS)[number]> {
  const prometheus = exampleSidecar('prometheus/deployment.yaml');
  const nginx = exampleSidecar('nginx/deployment.yaml');
  for (const field of SHAPE_FIELDS) {
    if (!isDeepStrictEqual(prometheus[field], nginx[field]))
      throw new Error(`examples/nginx and examples/prometheus differ in the sidecar's ${field}`);
  }
  return Object.fromEntries(SHAPE_FIELDS.map((f) => [f, prometheus[f]]));
}

/** A minimal Deployment around `containers`, for the schema check of a lone container. */
export function deploymentOf(containers: unknown[]): K8sObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'schema-check' },
    spec: {
      selector: { matchLabels: { app: 'a' } },
      template: { metadata: { labels: { app: 'a' } }, spec: { containers } },
    },
  };
}

/**
 * What is wrong with `c` as the injected sidecar: its name, a field that is not the examples'
 * shape, a volume mount that is not read-only, and (inside a minimal Deployment) every schema
 * error of the Kubernetes Container, unknown fields included. Empty when it is right.
 */
export function sidecarProblems(c: unknown): string[] {
  if (typeof c !== 'object' || c === null) return ['the sidecar is not a mapping'];
  const container = c as IContainer & Record<string, unknown>;
  const problems: string[] = [];
  if (container.name !== SIDECAR_NAME)
    problems.push(`name is ${JSON.stringify(container.name)}, not ${SIDECAR_NAME}`);
  const expected = sidecarShape();
  for (const field of SHAPE_FIELDS) {
    if (!isDeepStrictEqual(container[field], expected[field]))
      problems.push(
        `${field} is ${JSON.stringify(container[field])}, not the examples' ${JSON.stringify(expected[field])}`,
      );
  }
  for (const m of container.volumeMounts ?? []) {
    if (m.readOnly !== true) problems.push(`volumeMount ${m.name} is not readOnly`);
  }
  problems.push(
    ...schemaErrors(deploymentOf([{ name: 'app', image: 'app:1' }, c])).map(
      (e) => `Container schema: ${e}`,
    ),
  );
  return problems;
}

/** The HOTRELOAD_* environment the sidecar gets: its envFrom ConfigMaps, then its literal env. */
function sidecarEnv(
  sidecar: IContainer,
  configMaps: readonly K8sObject[],
  problems: string[],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of sidecar.envFrom ?? []) {
    const name = from.configMapRef?.name;
    if (name === undefined) {
      problems.push(`envFrom ${JSON.stringify(from)}: only configMapRef is read here`);
      continue;
    }
    const cm = configMaps.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
    if (!cm) {
      problems.push(`envFrom names ConfigMap ${name}, which is not among the objects`);
      continue;
    }
    Object.assign(env, (cm.data ?? {}) as Record<string, string>);
  }
  for (const e of sidecar.env ?? []) {
    if (e.valueFrom) problems.push(`env ${e.name} has a valueFrom, which no test can know`);
    else env[e.name] = e.value ?? '';
  }
  return Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('HOTRELOAD_')));
}

/**
 * Everything wrong with `workload` as a workload after injection (empty when it is right): schema
 * errors, not exactly one sidecar, the sidecar first, sidecarProblems(), flags that hotreload's
 * parser or configuration refuse (args, and HOTRELOAD_* from env and from envFrom ConfigMaps found
 * in `configMaps`), a watched path on no read-only mount of the volume where the first container
 * mounts it, and a --signal without shareProcessNamespace.
 */
export function injectedWorkloadProblems(
  workload: K8sObject,
  configMaps: readonly K8sObject[] = [],
): string[] {
  const problems = schemaErrors(workload).map((e) => `schema: ${e}`);
  const pod: IPodSpec | undefined = podSpecOf(workload);
  if (!pod) return [...problems, `${workload.kind} has no pod template`];
  const sidecars = pod.containers.filter((c) => c.name === SIDECAR_NAME);
  if (sidecars.length !== 1) return [...problems, `${sidecars.length} ${SIDECAR_NAME} containers`];
  const sidecar = sidecars[0]!;
  const app = pod.containers[0]!;
  if (app === sidecar) problems.push('the sidecar is the first container, not the application');
  problems.push(...sidecarProblems(sidecar).map((p) => `sidecar: ${p}`));
  const env = sidecarEnv(sidecar, configMaps, problems);
  const parsed = parse(sidecar.args ?? [], env, VERSION);
  if (parsed.kind === 'exit')
    return [...problems, `hotreload refuses its flags: exit ${parsed.code}: ${parsed.output}`];
  let watch: readonly string[];
  try {
    watch = resolveConfig(parsed.options, '/', parsed.command).watch;
  } catch (err) {
    return [...problems, `hotreload refuses its flags: ${(err as Error).message}`];
  }
  for (const p of watch) {
    const mount = mountHolding(sidecar.volumeMounts ?? [], p);
    if (!mount) {
      problems.push(`--watch ${p} is on no volume mount of the sidecar`);
      continue;
    }
    const appMount = (app.volumeMounts ?? []).find((m) => m.name === mount.name);
    if (appMount?.mountPath !== mount.mountPath)
      problems.push(
        `volume ${mount.name} is at ${mount.mountPath} in the sidecar but at ${appMount?.mountPath ?? 'no path'} in ${app.name}`,
      );
  }
  if (parsed.options.signal !== undefined && pod.shareProcessNamespace !== true)
    problems.push('--signal without shareProcessNamespace: true');
  return problems;
}

/** Parses a YAML stream as kubectl does (YAML 1.1, duplicate keys are errors); throws on a problem. */
export function parseYamlStream(text: string, name: string): unknown[] {
  const documents: unknown[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1', uniqueKeys: true })) {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0)
      throw new Error(`${name}: ${problems.map((p) => p.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) documents.push(value);
  }
  return documents;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` on the PATH, or undefined. */
export function onPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return (env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, name))
    .find(executable);
}

/**
 * How to run `kustomize build DIR` here: a kustomize binary on the PATH, else the one built into
 * kubectl (`kubectl kustomize DIR`); undefined when neither is installed.
 */
export function kustomizeBuild(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const kustomize = onPath('kustomize', env);
  if (kustomize) return [kustomize, 'build'];
  const kubectl = onPath('kubectl', env);
  if (kubectl) return [kubectl, 'kustomize'];
  return undefined;
}
