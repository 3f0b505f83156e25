// The parts of a Kubernetes pod spec that injection reads, as plain data (a manifest's YAML turned
// into JavaScript), and the workload kinds that carry one. Every field is optional and untrusted:
// a manifest may be half written. It changes nothing.

export interface VolumeMount {
  readonly name?: unknown;
  readonly mountPath?: unknown;
  readonly subPath?: unknown;
  readonly subPathExpr?: unknown;
}

export interface SecurityContext {
  readonly runAsUser?: unknown;
  readonly runAsGroup?: unknown;
  readonly runAsNonRoot?: unknown;
}

export interface Container {
  readonly name?: unknown;
  readonly image?: unknown;
  readonly command?: unknown;
  readonly ports?: readonly { readonly name?: unknown; readonly containerPort?: unknown }[];
  readonly volumeMounts?: readonly VolumeMount[];
  readonly securityContext?: SecurityContext;
  readonly restartPolicy?: unknown;
}

export interface Volume {
  readonly name?: unknown;
  readonly [source: string]: unknown;
}

export interface PodSpec {
  readonly containers?: readonly Container[];
  readonly initContainers?: readonly Container[];
  readonly volumes?: readonly Volume[];
  readonly securityContext?: SecurityContext;
  readonly restartPolicy?: unknown;
  readonly shareProcessNamespace?: unknown;
}

/**
 * Where each kind keeps its pod spec, from the object's root. Only these kinds of the built-in API
 * groups are injected; any other object passes through unchanged.
 */
export const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

/** API groups of the kinds above (core is ''); a CRD may reuse a kind's name in its own group. */
const GROUPS = new Set(['', 'apps', 'batch', 'extensions']);

/** The path of the object's pod spec, or undefined when it is not a workload this injects. */
export function podSpecPath(
  object: Readonly<Record<string, unknown>>,
): readonly string[] | undefined {
  const { kind, apiVersion } = object;
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') return undefined;
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  return GROUPS.has(group) ? POD_SPEC_PATHS[kind] : undefined;
}

/** The value at `path` of plain data, or undefined. */
export function at(value: unknown, path: readonly (string | number)[]): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

/** A mapping's entries, or none: an absent or malformed field reads as empty. */
export function record(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** A list, or none. */
export function list<T>(value: unknown): readonly T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

/** Whether the pod runs to completion (a Job's, or restartPolicy Never/OnFailure). */
export function runsToCompletion(kind: string, spec: PodSpec): boolean {
  return kind === 'Job' || kind === 'CronJob' || (spec.restartPolicy ?? 'Always') !== 'Always';
}
