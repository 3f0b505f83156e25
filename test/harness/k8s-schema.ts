// Checks Kubernetes objects against the API's schemas without a cluster, as `kubectl apply
// --validate=strict` would: types, enums and required fields by the validators kubernetes-models
// generates from the Kubernetes OpenAPI definitions, and unknown fields as errors. It knows only
// the kinds in VALIDATORS (the ones examples/ and `hotreload inject` use); it does not run the API
// server's semantic validation beyond the few name rules in nameErrors().
import { validate as clusterRole } from 'kubernetes-models/_schemas/IoK8sApiRbacV1ClusterRole';
import { validate as clusterRoleBinding } from 'kubernetes-models/_schemas/IoK8sApiRbacV1ClusterRoleBinding';
import { validate as configMap } from 'kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap';
import { validate as cronJob } from 'kubernetes-models/_schemas/IoK8sApiBatchV1CronJob';
import { validate as daemonSet } from 'kubernetes-models/_schemas/IoK8sApiAppsV1DaemonSet';
import { validate as deployment } from 'kubernetes-models/_schemas/IoK8sApiAppsV1Deployment';
import { validate as job } from 'kubernetes-models/_schemas/IoK8sApiBatchV1Job';
import { validate as pod } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Pod';
import { validate as replicaSet } from 'kubernetes-models/_schemas/IoK8sApiAppsV1ReplicaSet';
import { validate as role } from 'kubernetes-models/_schemas/IoK8sApiRbacV1Role';
import { validate as roleBinding } from 'kubernetes-models/_schemas/IoK8sApiRbacV1RoleBinding';
import { validate as secret } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Secret';
import { validate as service } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Service';
import { validate as serviceAccount } from 'kubernetes-models/_schemas/IoK8sApiCoreV1ServiceAccount';
import { validate as statefulSet } from 'kubernetes-models/_schemas/IoK8sApiAppsV1StatefulSet';

/** What ajv reports (the generated validators attach it as `validate.errors`). */
interface AjvError {
  readonly instancePath: string;
  readonly keyword: string;
  readonly params: Record<string, unknown>;
}
type Validator = ((data: unknown) => boolean) & { errors?: AjvError[] | null };

/** `apiVersion kind` -> the generated validator of that kind. Add a kind here to use it. */
export const VALIDATORS: ReadonlyMap<string, Validator> = new Map<string, Validator>([
  ['v1 ConfigMap', configMap],
  ['v1 Pod', pod],
  ['v1 Secret', secret],
  ['v1 Service', service],
  ['v1 ServiceAccount', serviceAccount],
  ['apps/v1 DaemonSet', daemonSet],
  ['apps/v1 Deployment', deployment],
  ['apps/v1 StatefulSet', statefulSet],
  ['apps/v1 ReplicaSet', replicaSet],
  ['batch/v1 Job', job],
  ['batch/v1 CronJob', cronJob],
  ['rbac.authorization.k8s.io/v1 ClusterRole', clusterRole],
  ['rbac.authorization.k8s.io/v1 ClusterRoleBinding', clusterRoleBinding],
  ['rbac.authorization.k8s.io/v1 Role', role],
  ['rbac.authorization.k8s.io/v1 RoleBinding', roleBinding],
]);

/**
 * Every schema violation of `object`, as 'JSON pointer: problem' lines; empty when it is valid.
 * Unknown fields are errors ("unknown field"), as with `kubectl apply --validate=strict`.
 */
export function schemaErrors(object: unknown): string[] {
  if (typeof object !== 'object' || object === null || Array.isArray(object))
    return ['/: a Kubernetes object must be a mapping'];
  const { apiVersion, kind } = object as { apiVersion?: unknown; kind?: unknown };
  const validate = VALIDATORS.get(`${String(apiVersion)} ${String(kind)}`);
  if (!validate)
    return [
      `/: no schema for apiVersion ${String(apiVersion)} kind ${String(kind)} (known: ${[...VALIDATORS.keys()].join(', ')})`,
    ];
  const { valid, unread } = validateRecording(validate, object);
  const errors = valid ? [] : (validate.errors ?? []).map(formatAjvError);
  return [...errors, ...unread.map((p) => `${p}: unknown field`), ...nameErrors(object)];
}

function formatAjvError(e: AjvError): string {
  return `${e.instancePath || '/'}: ${e.keyword} ${JSON.stringify(e.params)}`;
}

/**
 * Runs `validate` on `value` through recording proxies and returns, besides the verdict, the
 * paths of the fields the validator never read. The generated validators are not strict (the
 * Kubernetes OpenAPI schemas do not say `additionalProperties: false`), but they read every
 * property their schema defines (`void 0 !== data.name && ...`), and they enumerate the keys only
 * of objects whose schema is a map (labels, ConfigMap data). So a key that was never read, on an
 * object that was never enumerated, is a field the schema does not have.
 */
export function validateRecording(
  validate: Validator,
  value: unknown,
): { valid: boolean; unread: string[] } {
  const seen = new Map<object, { read: Set<string>; enumerated: boolean }>();
  const proxies = new WeakMap<object, object>();
  const wrap = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    let proxy = proxies.get(v);
    if (!proxy) {
      const rec = { read: new Set<string>(), enumerated: false };
      seen.set(v, rec);
      proxy = new Proxy(v, {
        get(target, key, receiver) {
          if (typeof key === 'string') rec.read.add(key);
          return wrap(Reflect.get(target, key, receiver));
        },
        has(target, key) {
          if (typeof key === 'string') rec.read.add(key);
          return Reflect.has(target, key);
        },
        ownKeys(target) {
          rec.enumerated = true;
          return Reflect.ownKeys(target);
        },
      });
      proxies.set(v, proxy);
    }
    return proxy;
  };
  const valid = validate(wrap(value));
  const unread: string[] = [];
  const walk = (v: unknown, at: string): void => {
    if (typeof v !== 'object' || v === null) return;
    const rec = seen.get(v);
    // Never reached: it sits under an unknown field (reported there) or a failed branch.
    if (!rec) return;
    if (Array.isArray(v)) return v.forEach((item, i) => walk(item, `${at}/${i}`));
    for (const [key, child] of Object.entries(v)) {
      if (!rec.enumerated && !rec.read.has(key)) unread.push(`${at}/${key}`);
      else walk(child, `${at}/${key}`);
    }
  };
  walk(value, '');
  return { valid, unread };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** IANA_SVC_NAME, what a container port's name must be. */
const PORT_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$/;

interface Named {
  readonly name?: unknown;
}

/** The API server's name rules that the OpenAPI schemas do not carry, for the fields we use. */
function nameErrors(object: object): string[] {
  const errors: string[] = [];
  const check = (at: string, value: unknown, re: RegExp, what: string) => {
    if (typeof value !== 'string' || !re.test(value))
      errors.push(`${at}: ${JSON.stringify(value)} is not a valid ${what}`);
  };
  const o = object as {
    kind?: unknown;
    metadata?: Named;
    spec?: {
      template?: { spec?: unknown };
      jobTemplate?: { spec?: { template?: { spec?: unknown } } };
    };
  };
  check('/metadata/name', o.metadata?.name, DNS_SUBDOMAIN, 'object name (DNS-1123 subdomain)');
  const [podSpec, at] =
    o.kind === 'Pod'
      ? [o.spec, '/spec']
      : o.kind === 'CronJob'
        ? [o.spec?.jobTemplate?.spec?.template?.spec, '/spec/jobTemplate/spec/template/spec']
        : [o.spec?.template?.spec, '/spec/template/spec'];
  const p = (podSpec ?? {}) as Record<string, unknown>;
  for (const field of ['containers', 'initContainers'] as const) {
    const list = (p[field] ?? []) as { name?: unknown; ports?: Named[] }[];
    list.forEach((c, i) => {
      check(`${at}/${field}/${i}/name`, c.name, DNS_LABEL, 'container name (DNS-1123 label)');
      (c.ports ?? []).forEach((port, j) => {
        if (port.name !== undefined)
          check(`${at}/${field}/${i}/ports/${j}/name`, port.name, PORT_NAME, 'port name');
      });
    });
  }
  ((p.volumes ?? []) as Named[]).forEach((v, i) =>
    check(`${at}/volumes/${i}/name`, v.name, DNS_LABEL, 'volume name (DNS-1123 label)'),
  );
  return errors;
}
