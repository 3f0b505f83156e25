// deploy/: the kustomize component and the Kyverno policy that add the hotreload sidecar to
// workloads by annotation, checked without kustomize, Kyverno or a cluster
// (test/integration/deploy-kustomize.test.ts builds the component with a real kustomize).
//
// What this file validates:
// - every file parses as kubectl reads YAML (YAML 1.1, duplicate keys are errors);
// - the component: its kind, that every patch selects Deployments, StatefulSets and DaemonSets by
//   annotations of the contract only, and that the container it adds has the examples' sidecar
//   shape and is a valid Kubernetes Container (kubernetes-models' schema, unknown fields as errors);
// - the policy's structure against a hand-written subset of Kyverno's ClusterPolicy schema (the
//   fields this policy may use, the condition operators; not Kyverno's CRD itself): unknown
//   fields, one action per rule, unique rule names, no variable in `match`, balanced `{{ }}`;
// - that every annotation the policy reads is one of the contract's and that it reads them all;
// - what the rules do to sample workloads, by substituting each `{{ variable }}` with a sample
//   value: simple lookups (an annotation, the first container's name, the container names) are
//   read from the sample; every other expression is looked up by its exact text in
//   SAMPLE_RESULTS, which states in TypeScript what that expression computes. Then the matching
//   rules are applied in order (match, preconditions, a minimal strategic merge: containers by
//   name, `+(key)` only when absent), and the result is checked like any injected workload
//   (injectedWorkloadProblems: schema, sidecar shape, hotreload's own parser on the args, mounts).
// What it does NOT validate: no JMESPath is evaluated here (the expressions of SAMPLE_RESULTS were
// checked by hand with a JMESPath implementation, not by this test: a changed expression fails
// here until its entry is updated), nor Kyverno's substitution, merge or webhook; where Kyverno
// puts the added container in the list is not known here (the default-container annotation
// covers `kubectl logs`); nothing is applied to a cluster.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { parse } from '../../src/config/cli.js';
import { resolveConfig } from '../../src/config/config.js';
import { VERSION } from '../../src/lib/version.js';
import {
  ANNOTATIONS,
  CONTRACT,
  DEPLOY_DIR,
  SIDECAR_NAME,
  WORKLOAD_KINDS,
  injectedWorkloadProblems,
  parseYamlStream,
  sidecarProblems,
} from '../harness/deploy.js';
import { podSpecOf, type K8sObject } from '../harness/examples.js';
import { schemaErrors } from '../harness/k8s-schema.js';

const read = (file: string) => readFileSync(path.join(DEPLOY_DIR, file), 'utf8');
const readOne = (file: string, text = read(file)): unknown => {
  const docs = parseYamlStream(text, file);
  assert.equal(docs.length, 1, `${file}: one document`);
  return docs[0];
};
const clone = <T>(v: T): T => structuredClone(v);
type Json = Record<string, unknown>;

/** Kinds a selector might pick by mistake, besides the workload kinds. */
const OTHER_KINDS = ['Pod', 'ReplicaSet', 'Job', 'CronJob', 'ConfigMap', 'Service'];

// ---------------------------------------------------------------- the kustomize component

interface KustomizePatch {
  path: string;
  target?: { kind?: string; annotationSelector?: string; [k: string]: unknown };
}

/** Problems of a kustomize target: the kinds its regex selects, the annotations it reads. */
function targetProblems(target: KustomizePatch['target']): string[] {
  if (!target?.kind || !target.annotationSelector)
    return ['a target needs a kind and an annotationSelector'];
  const problems: string[] = [];
  // kustomize anchors the selector's kind as a regular expression.
  const re = new RegExp(`^(?:${target.kind})$`);
  const selected = [...WORKLOAD_KINDS, ...OTHER_KINDS].filter((k) => re.test(k));
  if (!isDeepStrictEqual(selected, WORKLOAD_KINDS))
    problems.push(`kind ${target.kind} selects ${selected.join(', ') || 'nothing'}`);
  const terms = target.annotationSelector.split(',').map((t) => t.trim());
  for (const term of terms) {
    const key = term.split(/!=|==|=/)[0]!.replace(/^!/, '');
    if (!CONTRACT.has(key)) problems.push(`annotationSelector reads ${key}, not in the contract`);
  }
  if (!terms.includes(`${ANNOTATIONS.inject}=true`))
    problems.push(
      `annotationSelector ${target.annotationSelector} lacks ${ANNOTATIONS.inject}=true`,
    );
  return problems;
}

describe('deploy/kustomize/component', () => {
  const component = readOne('kustomize/component/kustomization.yaml') as Json & {
    patches: KustomizePatch[];
  };
  const jsonPatch = (file: string) =>
    readOne(`kustomize/component/${file}`) as { op: string; path: string; value: unknown }[];

  it('is a Component whose patches select the three workload kinds by the inject annotation', () => {
    assert.equal(component.apiVersion, 'kustomize.config.k8s.io/v1alpha1');
    assert.equal(component.kind, 'Component');
    assert.deepEqual(
      component.patches.map((p) => p.path),
      ['sidecar.yaml', 'share-process-namespace.yaml'],
    );
    assert.deepEqual(
      component.patches.flatMap((p) => targetProblems(p.target)),
      [],
    );
    // shareProcessNamespace only where a signal is asked for.
    assert.equal(
      component.patches[1]!.target!.annotationSelector,
      `${ANNOTATIONS.inject}=true,${ANNOTATIONS.signal}`,
    );
  });

  it('appends the sidecar, of the examples’ shape, with its flags from the hotreload-flags ConfigMap', () => {
    const ops = jsonPatch('sidecar.yaml');
    assert.equal(ops.length, 1);
    assert.equal(ops[0]!.op, 'add');
    assert.equal(ops[0]!.path, '/spec/template/spec/containers/-');
    const container = ops[0]!.value as IContainer;
    assert.deepEqual(sidecarProblems(container), []);
    assert.deepEqual(container.envFrom, [{ configMapRef: { name: 'hotreload-flags' } }]);
    assert.equal(container.args, undefined, 'the flags come from the ConfigMap');
  });

  it('sets shareProcessNamespace: true in its signal patch', () => {
    assert.deepEqual(jsonPatch('share-process-namespace.yaml'), [
      { op: 'add', path: '/spec/template/spec/shareProcessNamespace', value: true },
    ]);
  });

  it('its example overlay uses it, with flags hotreload accepts, on an annotated valid workload', () => {
    const overlay = readOne('kustomize/example/kustomization.yaml') as {
      components: string[];
      configMapGenerator: { name: string; literals?: string[] }[];
    };
    assert.deepEqual(overlay.components, ['../component']);
    const flags = overlay.configMapGenerator.find((g) => g.name === 'hotreload-flags');
    assert.ok(flags?.literals, 'a hotreload-flags ConfigMap of literals');
    const env = Object.fromEntries(
      flags.literals.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const parsed = parse([], env, VERSION);
    assert.equal(parsed.kind, 'run', parsed.kind === 'exit' ? parsed.output : '');
    if (parsed.kind === 'run') resolveConfig(parsed.options, '/', parsed.command);
    const workload = readOne('kustomize/example/deployment.yaml') as K8sObject & {
      metadata: { annotations?: Record<string, string> };
    };
    assert.deepEqual(schemaErrors(workload), []);
    assert.equal(workload.metadata.annotations?.[ANNOTATIONS.inject], 'true');
  });

  it('catches a broken copy: a selector that reads another annotation, a selector of all kinds', () => {
    assert.deepEqual(
      targetProblems({
        kind: 'Deployment|StatefulSet|DaemonSet',
        annotationSelector: 'hotreload.dev/injct=true',
      }),
      [
        'annotationSelector reads hotreload.dev/injct, not in the contract',
        'annotationSelector hotreload.dev/injct=true lacks hotreload.dev/inject=true',
      ],
    );
    assert.deepEqual(
      targetProblems({ kind: '.*', annotationSelector: 'hotreload.dev/inject=true' }),
      [`kind .* selects ${[...WORKLOAD_KINDS, ...OTHER_KINDS].join(', ')}`],
    );
  });

  it('catches a broken copy: the sidecar without its memory limit', () => {
    const container = clone(jsonPatch('sidecar.yaml')[0]!.value) as IContainer;
    delete container.resources!.limits;
    assert.deepEqual(sidecarProblems(container), [
      `resources is {"requests":{"cpu":"10m","memory":"32Mi"}}, not the examples' {"requests":{"cpu":"10m","memory":"32Mi"},"limits":{"memory":"64Mi"}}`,
    ]);
  });
});

// ---------------------------------------------------------------- the Kyverno policy

const POLICY_FILE = 'kyverno/hotreload-inject.yaml';

/**
 * The part of Kyverno's ClusterPolicy schema (kyverno.io/v1) that this policy may use: for each
 * place, its allowed fields. A place not listed here (a patch, a variable's value) is not checked
 * by this table. Taken from Kyverno's API types; not the CRD itself.
 */
const KYVERNO_FIELDS: Record<string, readonly string[]> = {
  policy: ['apiVersion', 'kind', 'metadata', 'spec'],
  metadata: ['name', 'annotations', 'labels'],
  spec: [
    'rules',
    'applyRules',
    'admission',
    'background',
    'failurePolicy',
    'webhookConfiguration',
    'webhookTimeoutSeconds',
    'validationFailureAction',
    'useServerSideApply',
  ],
  rule: [
    'name',
    'context',
    'match',
    'exclude',
    'preconditions',
    'mutate',
    'validate',
    'generate',
    'verifyImages',
    'skipBackgroundRequests',
  ],
  match: ['any', 'all', 'resources'],
  filter: ['resources', 'subjects', 'roles', 'clusterRoles'],
  resources: [
    'kinds',
    'name',
    'names',
    'namespaces',
    'annotations',
    'selector',
    'namespaceSelector',
    'operations',
  ],
  context: ['name', 'variable', 'configMap', 'apiCall', 'imageRegistry', 'globalReference'],
  variable: ['value', 'jmesPath', 'default'],
  preconditions: ['all', 'any'],
  condition: ['key', 'operator', 'value', 'message'],
  mutate: [
    'patchStrategicMerge',
    'patchesJson6902',
    'foreach',
    'targets',
    'mutateExistingOnPolicyUpdate',
  ],
};
const OPERATORS = new Set([
  'Equals',
  'NotEquals',
  'In',
  'AnyIn',
  'AllIn',
  'NotIn',
  'AnyNotIn',
  'AllNotIn',
  'GreaterThanOrEquals',
  'GreaterThan',
  'LessThanOrEquals',
  'LessThan',
  'DurationGreaterThanOrEquals',
  'DurationGreaterThan',
  'DurationLessThanOrEquals',
  'DurationLessThan',
]);
const RULE_ACTIONS = ['mutate', 'validate', 'generate', 'verifyImages'];

interface Condition {
  key: unknown;
  operator: string;
  value: unknown;
}
interface Rule {
  name: string;
  match: { any?: { resources: { kinds: string[]; annotations?: Record<string, string> } }[] };
  context?: { name: string; variable: { jmesPath: string; default?: unknown } }[];
  preconditions?: { all?: Condition[]; any?: Condition[] };
  mutate?: { patchStrategicMerge?: Json };
}
interface Policy {
  apiVersion: string;
  kind: string;
  spec: { rules: Rule[]; background?: boolean };
}

/** Every string in `v` (keys too), with its JSON pointer. */
function stringsOf(v: unknown, at = ''): { at: string; text: string }[] {
  if (typeof v === 'string') return [{ at, text: v }];
  if (Array.isArray(v)) return v.flatMap((x, i) => stringsOf(x, `${at}/${i}`));
  if (typeof v === 'object' && v !== null)
    return Object.entries(v).flatMap(([k, x]) => [
      { at: `${at}/${k}`, text: k },
      ...stringsOf(x, `${at}/${k}`),
    ]);
  return [];
}

/** The outermost `{{ ... }}` of `text` (their inner text, trimmed), nested ones kept inside. */
function outerVariables(text: string): { whole: string; expr: string }[] {
  const found: { whole: string; expr: string }[] = [];
  let depth = 0;
  let start = -1;
  for (let i = 0; i < text.length - 1; i++) {
    if (text.startsWith('{{', i)) {
      if (depth++ === 0) start = i;
      i++;
    } else if (text.startsWith('}}', i) && depth > 0) {
      if (--depth === 0) {
        const whole = text.slice(start, i + 2);
        found.push({ whole, expr: whole.slice(2, -2).trim().replace(/\s+/g, ' ') });
      }
      i++;
    }
  }
  return found;
}

/** Whether every `{{` of `text` is closed by a `}}` and no `}}` is left unopened. */
function balanced(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length - 1; i++) {
    if (text.startsWith('{{', i)) {
      depth++;
      i++;
    } else if (text.startsWith('}}', i)) {
      if (--depth < 0) return false;
      i++;
    }
  }
  return depth === 0;
}

/** Problems of the policy's structure against KYVERNO_FIELDS and Kyverno's rule constraints. */
function structureProblems(policy: unknown): string[] {
  const problems: string[] = [];
  const fields = (place: string, v: unknown, at: string) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      problems.push(`${at}: a mapping expected`);
      return {} as Json;
    }
    for (const key of Object.keys(v))
      if (!KYVERNO_FIELDS[place]!.includes(key)) problems.push(`${at}/${key}: unknown field`);
    return v as Json;
  };
  const p = fields('policy', policy, '');
  if (p.apiVersion !== 'kyverno.io/v1') problems.push(`/apiVersion: ${String(p.apiVersion)}`);
  if (p.kind !== 'ClusterPolicy') problems.push(`/kind: ${String(p.kind)}`);
  const metadata = fields('metadata', p.metadata, '/metadata');
  if (typeof metadata.name !== 'string') problems.push('/metadata/name: missing');
  const spec = fields('spec', p.spec, '/spec');
  const rules = Array.isArray(spec.rules) ? (spec.rules as unknown[]) : [];
  if (rules.length === 0) problems.push('/spec/rules: no rule');
  const names = new Set<string>();
  rules.forEach((r, i) => {
    const at = `/spec/rules/${i}`;
    const rule = fields('rule', r, at);
    const name = rule.name;
    if (typeof name !== 'string' || name.length === 0 || name.length > 63)
      problems.push(`${at}/name: 1 to 63 characters`);
    else if (names.has(name)) problems.push(`${at}/name: ${name} twice`);
    else names.add(name);
    const actions = RULE_ACTIONS.filter((a) => a in rule);
    if (actions.length !== 1) problems.push(`${at}: ${actions.length} actions, one expected`);
    const match = fields('match', rule.match, `${at}/match`);
    const filters = [...((match.any as unknown[]) ?? []), ...((match.all as unknown[]) ?? [])];
    if (filters.length === 0 && !match.resources) problems.push(`${at}/match: selects nothing`);
    filters.forEach((f, j) => {
      const filter = fields('filter', f, `${at}/match/${j}`);
      const resources = fields('resources', filter.resources, `${at}/match/${j}/resources`);
      if (!Array.isArray(resources.kinds) || resources.kinds.length === 0)
        problems.push(`${at}/match/${j}/resources/kinds: none`);
    });
    if (stringsOf(rule.match).some((s) => s.text.includes('{{')))
      problems.push(`${at}/match: Kyverno allows no variable in match`);
    ((rule.context as unknown[]) ?? []).forEach((c, j) => {
      const entry = fields('context', c, `${at}/context/${j}`);
      fields('variable', entry.variable, `${at}/context/${j}/variable`);
    });
    if (rule.preconditions !== undefined) {
      const pre = fields('preconditions', rule.preconditions, `${at}/preconditions`);
      for (const kind of ['all', 'any'] as const)
        ((pre[kind] as unknown[]) ?? []).forEach((c, j) => {
          const cond = fields('condition', c, `${at}/preconditions/${kind}/${j}`);
          if (!OPERATORS.has(String(cond.operator)))
            problems.push(`${at}/preconditions/${kind}/${j}/operator: ${String(cond.operator)}`);
        });
    }
    if (rule.mutate !== undefined) fields('mutate', rule.mutate, `${at}/mutate`);
  });
  for (const s of stringsOf(policy))
    if (!balanced(s.text)) problems.push(`${s.at}: unbalanced {{ }} in ${s.text}`);
  return problems;
}

/** The annotations a text reads: `annotations."KEY"` in variables. */
const annotationReads = (text: string) =>
  [...text.matchAll(/annotations\.("([^"]*)"|[A-Za-z_][\w-]*)/g)].map((m) => m[2] ?? m[1]!);

/**
 * Problems of the annotations the policy reads: one outside the contract, a contract annotation
 * it never reads, a `request.` that is not `request.object.`, a context variable used in a rule
 * that does not define it.
 */
function annotationProblems(policy: Policy): string[] {
  const problems: string[] = [];
  const read = new Set<string>();
  const contextNames = new Set(
    policy.spec.rules.flatMap((r) => (r.context ?? []).map((c) => c.name)),
  );
  for (const [i, rule] of policy.spec.rules.entries()) {
    for (const f of rule.match.any ?? [])
      for (const key of Object.keys(f.resources.annotations ?? {})) read.add(key);
    const own = new Set((rule.context ?? []).map((c) => c.name));
    for (const s of stringsOf(rule)) {
      for (const key of annotationReads(s.text)) read.add(key);
      if (/\brequest\.(?!object\.)/.test(s.text))
        problems.push(`/spec/rules/${i}${s.at}: request. other than request.object.`);
      for (const name of contextNames)
        if (!own.has(name) && new RegExp(`\\b${name}\\b`).test(s.text))
          problems.push(`/spec/rules/${i}${s.at}: ${name} is not in this rule's context`);
    }
  }
  for (const key of read)
    if (!CONTRACT.has(key)) problems.push(`reads annotation ${key}, which is not in the contract`);
  for (const key of CONTRACT)
    if (!read.has(key)) problems.push(`never reads annotation ${key} of the contract`);
  return problems;
}

// -- substituting sample values

interface Sample {
  readonly annotations: Record<string, string>;
  readonly containers: IContainer[];
}
interface Context {
  [name: string]: unknown;
}
class MissingVariable extends Error {}

const annotation = (s: Sample, key: string) => s.annotations[key];
const firstContainerMounts = (s: Sample): IVolumeMount[] => s.containers[0]?.volumeMounts ?? [];
const watched = (s: Sample) => (annotation(s, ANNOTATIONS.watch) ?? '').split(',');
const watchedMounts = (c: Context) => c.watchedMounts as IVolumeMount[];
const watchArgs = (c: Context) => watchedMounts(c).map((m) => `--watch=${m.mountPath}`);
const DNS_LABEL_LIST = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(,[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * What each expression of the policy that is not a simple lookup computes, by its exact text
 * (whitespace collapsed): the test's stand-in for JMESPath. Each was checked by hand against a
 * JMESPath implementation with Kyverno's split() and regex_match(); this test only trusts it.
 */
const SAMPLE_RESULTS: Record<string, (s: Sample, c: Context) => unknown> = {
  // The first container's mounts of the volumes hotreload.dev/watch names.
  [`request.object.spec.template.spec.containers[0].volumeMounts[?contains(split('{{ request.object.metadata.annotations."hotreload.dev/watch" || '' }}', ','), name)]`]:
    (s) => firstContainerMounts(s).filter((m) => watched(s).includes(m.name)),
  [`regex_match('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(,[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$', request.object.metadata.annotations."hotreload.dev/watch" || '')`]:
    (s) => DNS_LABEL_LIST.test(annotation(s, ANNOTATIONS.watch) ?? ''),
  [`length(watchedMounts)`]: (_s, c) => watchedMounts(c).length,
  [`length(split(request.object.metadata.annotations."hotreload.dev/watch" || '', ','))`]: (s) =>
    watched(s).length,
  [`[map(&join('', ['--watch=', @]), watchedMounts[].mountPath), map(&join('', ['--http-url=', @]), split(request.object.metadata.annotations."hotreload.dev/http-url", ','))][]`]:
    (s, c) => [
      ...watchArgs(c),
      ...needed(s, ANNOTATIONS.httpUrl)
        .split(',')
        .map((url) => `--http-url=${url}`),
    ],
  [`[map(&join('', ['--watch=', @]), watchedMounts[].mountPath), [join('', ['--signal=', request.object.metadata.annotations."hotreload.dev/signal"]), join('', ['--process-match=', request.object.metadata.annotations."hotreload.dev/process-match"])]][]`]:
    (s, c) => [
      ...watchArgs(c),
      `--signal=${needed(s, ANNOTATIONS.signal)}`,
      `--process-match=${needed(s, ANNOTATIONS.processMatch)}`,
    ],
  ['watchedMounts[].{name: name, mountPath: mountPath, readOnly: `true`}']: (_s, c) =>
    watchedMounts(c).map((m) => ({ name: m.name, mountPath: m.mountPath, readOnly: true })),
};

function needed(s: Sample, key: string): string {
  const v = annotation(s, key);
  if (v === undefined) throw new MissingVariable(`annotation ${key} is not set`);
  return v;
}

/** The value of one expression for the sample: a simple lookup, else SAMPLE_RESULTS. */
function evaluate(expr: string, s: Sample, c: Context): unknown {
  const lookup = /^request\.object\.metadata\.annotations\."([^"]+)"( \|\| '')?$/.exec(expr);
  if (lookup) return lookup[2] ? (annotation(s, lookup[1]!) ?? '') : needed(s, lookup[1]!);
  if (expr === 'request.object.spec.template.spec.containers[0].name') return s.containers[0]!.name;
  if (expr === 'request.object.spec.template.spec.containers[].name')
    return s.containers.map((x) => x.name);
  const known = SAMPLE_RESULTS[expr];
  if (!known)
    throw new Error(
      `no sample result for the expression ${expr}: this test evaluates no JMESPath; add what it computes to SAMPLE_RESULTS`,
    );
  return known(s, c);
}

/** `v` with its variables substituted, as Kyverno does: a string that is one variable takes its value's type. */
function substitute(v: unknown, s: Sample, c: Context): unknown {
  if (Array.isArray(v)) return v.map((x) => substitute(x, s, c));
  if (typeof v === 'object' && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, s, c)]));
  if (typeof v !== 'string') return v;
  const vars = outerVariables(v);
  if (vars.length === 1 && vars[0]!.whole === v.trim()) return evaluate(vars[0]!.expr, s, c);
  return vars.reduce((text, x) => {
    const value = evaluate(x.expr, s, c);
    return text.replace(x.whole, typeof value === 'string' ? value : JSON.stringify(value));
  }, v);
}

/** Kyverno's strategic merge, as far as this policy needs it: containers by name, `+(key)` when absent. */
function merge(target: Json, patch: Json): void {
  for (const [key, value] of Object.entries(patch)) {
    const add = /^\+\((.*)\)$/.exec(key);
    if (add) {
      if (target[add[1]!] === undefined) target[add[1]!] = clone(value);
    } else if (key === 'containers' && Array.isArray(value)) {
      const list = (target[key] ??= []) as Json[];
      for (const item of value as Json[]) {
        const same = list.find((x) => x.name === item.name);
        if (same) merge(same, item);
        else list.push(clone(item));
      }
    } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const into = target[key];
      if (typeof into !== 'object' || into === null) target[key] = {};
      merge(target[key] as Json, value as Json);
    } else {
      target[key] = clone(value);
    }
  }
}

function conditionHolds(cond: Condition, s: Sample, c: Context): boolean {
  let key: unknown;
  let value: unknown;
  try {
    key = substitute(cond.key, s, c);
    value = substitute(cond.value, s, c);
  } catch (err) {
    // Kyverno gives a variable it cannot resolve in a precondition no value: the condition fails.
    if (err instanceof MissingVariable) return false;
    throw err;
  }
  switch (cond.operator) {
    case 'Equals':
      return isDeepStrictEqual(key, value);
    case 'NotEquals':
      return !isDeepStrictEqual(key, value);
    case 'AnyNotIn': {
      const keys = Array.isArray(key) ? key : [key];
      return keys.some((k) => !(value as unknown[]).some((x) => isDeepStrictEqual(x, k)));
    }
    default:
      throw new Error(`operator ${cond.operator} is not modelled by this test`);
  }
}

/** The sample's annotations and containers, read from the workload as it is now. */
function sampleOf(workload: K8sObject): Sample {
  return {
    annotations: (workload.metadata as { annotations?: Record<string, string> }).annotations ?? {},
    containers: podSpecOf(workload)!.containers,
  };
}

/**
 * The policy's rules applied to `workload` in order, each seeing what the rules before it made:
 * the result and the names of the rules that applied.
 */
function applyPolicy(
  policy: Policy,
  workload: K8sObject,
): { result: K8sObject; applied: string[] } {
  const result = clone(workload);
  const applied: string[] = [];
  for (const rule of policy.spec.rules) {
    const s = sampleOf(result);
    const matches = (rule.match.any ?? []).some(
      (f) =>
        f.resources.kinds.includes(result.kind) &&
        Object.entries(f.resources.annotations ?? {}).every(([k, v]) => s.annotations[k] === v),
    );
    if (!matches) continue;
    const c: Context = {};
    for (const entry of rule.context ?? []) {
      c[entry.name] =
        evaluate(entry.variable.jmesPath.trim().replace(/\s+/g, ' '), s, c) ??
        entry.variable.default;
    }
    const all = rule.preconditions?.all ?? [];
    const any = rule.preconditions?.any ?? [];
    if (!all.every((x) => conditionHolds(x, s, c))) continue;
    if (any.length > 0 && !any.some((x) => conditionHolds(x, s, c))) continue;
    merge(result, substitute(rule.mutate!.patchStrategicMerge!, s, c) as Json);
    applied.push(rule.name);
  }
  return { result, applied };
}

/** A workload whose first container mounts `mounts`, with `annotations`. */
function sampleWorkload(
  kind: string,
  annotations: Record<string, string>,
  mounts: IVolumeMount[],
  extra: Json = {},
): K8sObject {
  const metadata = { name: 'app', annotations };
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata,
    spec: {
      ...(kind === 'StatefulSet' ? { serviceName: 'app' } : {}),
      selector: { matchLabels: { app: 'app' } },
      template: {
        metadata: { labels: { app: 'app' } },
        spec: {
          ...extra,
          containers: [{ name: 'app', image: 'app:1', volumeMounts: mounts }],
          volumes: mounts.map((m) => ({ name: m.name, configMap: { name: `app-${m.name}` } })),
        },
      },
    },
  };
}

const MOUNTS: IVolumeMount[] = [
  { name: 'data', mountPath: '/data' },
  { name: 'config', mountPath: '/etc/app' },
  { name: 'certs', mountPath: '/etc/app/tls', readOnly: true },
];
const HTTP = {
  [ANNOTATIONS.inject]: 'true',
  [ANNOTATIONS.watch]: 'config,certs',
  [ANNOTATIONS.httpUrl]: 'http://127.0.0.1:8080/-/reload',
};
const SIGNAL = {
  [ANNOTATIONS.inject]: 'true',
  [ANNOTATIONS.watch]: 'config',
  [ANNOTATIONS.signal]: 'HUP',
  [ANNOTATIONS.processMatch]: '^nginx: master',
};
const podOf = (o: K8sObject) => podSpecOf(o)!;
const sidecarOf = (o: K8sObject) => podOf(o).containers.find((c) => c.name === SIDECAR_NAME);

describe('deploy/kyverno/hotreload-inject.yaml', () => {
  const text = read(POLICY_FILE);
  const policy = readOne(POLICY_FILE, text) as Policy;
  const mutateRules = () => policy.spec.rules.filter((r) => r.mutate);

  it("parses, and its structure fits Kyverno's ClusterPolicy (the subset KYVERNO_FIELDS)", () => {
    assert.deepEqual(structureProblems(policy), []);
    assert.equal(policy.spec.background, false, 'admission only: the rules read the request');
  });

  it('reads the annotations of the contract, all of them, and no other', () => {
    assert.deepEqual(annotationProblems(policy), []);
  });

  it('has a rule for HTTP and one for a signal, each matching the three kinds by hotreload.dev/inject "true"', () => {
    assert.deepEqual(
      mutateRules().map((r) => r.name),
      ['inject-http', 'inject-signal'],
    );
    for (const rule of mutateRules()) {
      assert.deepEqual(rule.match, {
        any: [
          { resources: { kinds: WORKLOAD_KINDS, annotations: { [ANNOTATIONS.inject]: 'true' } } },
        ],
      });
      // Once only: the precondition that skips a workload that already has the sidecar.
      assert.ok(
        rule.preconditions?.all?.some((c) =>
          isDeepStrictEqual(c, {
            key: SIDECAR_NAME,
            operator: 'AnyNotIn',
            value: '{{ request.object.spec.template.spec.containers[].name }}',
          }),
        ),
        `${rule.name}: no idempotence precondition`,
      );
    }
  });

  const cases: {
    name: string;
    workload: K8sObject;
    applied: string[];
    args?: string[];
  }[] = [
    {
      name: 'a Deployment with an HTTP endpoint',
      workload: sampleWorkload('Deployment', HTTP, MOUNTS),
      applied: ['inject-http'],
      args: [
        '--watch=/etc/app',
        '--watch=/etc/app/tls',
        '--http-url=http://127.0.0.1:8080/-/reload',
      ],
    },
    {
      name: 'a DaemonSet with two HTTP endpoints',
      workload: sampleWorkload(
        'DaemonSet',
        { ...HTTP, [ANNOTATIONS.httpUrl]: 'http://127.0.0.1:8080/a,http://127.0.0.1:9090/b' },
        MOUNTS,
      ),
      applied: ['inject-http'],
      args: [
        '--watch=/etc/app',
        '--watch=/etc/app/tls',
        '--http-url=http://127.0.0.1:8080/a',
        '--http-url=http://127.0.0.1:9090/b',
      ],
    },
    {
      name: 'a StatefulSet with a signal (nginx)',
      workload: sampleWorkload(
        'StatefulSet',
        SIGNAL,
        [{ name: 'config', mountPath: '/etc/nginx/conf.d' }],
        {
          securityContext: { runAsUser: 101, runAsGroup: 101 },
        },
      ),
      applied: ['inject-signal'],
      args: ['--watch=/etc/nginx/conf.d', '--signal=HUP', '--process-match=^nginx: master'],
    },
    {
      name: 'both an HTTP endpoint and a signal (one action per workload)',
      workload: sampleWorkload(
        'Deployment',
        { ...HTTP, ...SIGNAL, [ANNOTATIONS.watch]: 'config' },
        MOUNTS,
      ),
      applied: [],
    },
    {
      name: 'neither an HTTP endpoint nor a signal',
      workload: sampleWorkload(
        'Deployment',
        { [ANNOTATIONS.inject]: 'true', [ANNOTATIONS.watch]: 'config' },
        MOUNTS,
      ),
      applied: [],
    },
    {
      name: 'a signal without hotreload.dev/process-match',
      workload: sampleWorkload('Deployment', { ...SIGNAL, [ANNOTATIONS.processMatch]: '' }, MOUNTS),
      applied: [],
    },
    {
      name: 'a watched volume the first container does not mount',
      workload: sampleWorkload(
        'Deployment',
        { ...HTTP, [ANNOTATIONS.watch]: 'config,missing' },
        MOUNTS,
      ),
      applied: [],
    },
    {
      name: 'hotreload.dev/watch with a space',
      workload: sampleWorkload(
        'Deployment',
        { ...HTTP, [ANNOTATIONS.watch]: 'config, certs' },
        MOUNTS,
      ),
      applied: [],
    },
    {
      name: 'no hotreload.dev/watch',
      workload: sampleWorkload(
        'Deployment',
        { [ANNOTATIONS.inject]: 'true', [ANNOTATIONS.httpUrl]: 'http://127.0.0.1/' },
        MOUNTS,
      ),
      applied: [],
    },
    {
      name: 'hotreload.dev/inject "false"',
      workload: sampleWorkload('Deployment', { ...HTTP, [ANNOTATIONS.inject]: 'false' }, MOUNTS),
      applied: [],
    },
    {
      name: 'a Job (not a kind it injects)',
      workload: {
        ...sampleWorkload('Deployment', HTTP, MOUNTS),
        apiVersion: 'batch/v1',
        kind: 'Job',
      },
      applied: [],
    },
  ];

  describe('applied to sample workloads (variables substituted with sample values, not by Kyverno)', () => {
    for (const c of cases) {
      it(`${c.name}: ${c.applied.length > 0 ? c.applied.join(', ') : 'left alone'}`, () => {
        const { result, applied } = applyPolicy(policy, c.workload);
        assert.deepEqual(applied, c.applied);
        if (applied.length === 0) {
          assert.deepEqual(result, c.workload);
          return;
        }
        assert.deepEqual(injectedWorkloadProblems(result), []);
        if (c.args) assert.deepEqual(sidecarOf(result)!.args, c.args);
        const pod = podOf(result);
        assert.equal(pod.shareProcessNamespace, applied[0] === 'inject-signal' ? true : undefined);
        const template = (result.spec as { template: { metadata: { annotations?: Json } } })
          .template;
        assert.equal(
          template.metadata.annotations?.['kubectl.kubernetes.io/default-container'],
          'app',
        );
        // Applying it again changes nothing: the sidecar is there now.
        const again = applyPolicy(policy, result);
        assert.deepEqual(again.applied, []);
        assert.deepEqual(again.result, result);
      });
    }

    it('a workload that already has a container named hotreload is left alone', () => {
      const workload = sampleWorkload('Deployment', HTTP, MOUNTS);
      podOf(workload).containers.push({
        name: SIDECAR_NAME,
        image: 'ghcr.io/hotreload/hotreload:0.1.0',
        args: ['--watch=/x', '--exit'],
      });
      assert.deepEqual(applyPolicy(policy, workload), { result: workload, applied: [] });
    });

    it('keeps a default-container annotation the workload already has', () => {
      const workload = sampleWorkload('Deployment', HTTP, MOUNTS);
      (workload.spec as { template: { metadata: Json } }).template.metadata.annotations = {
        'kubectl.kubernetes.io/default-container': 'other',
      };
      const { result } = applyPolicy(policy, workload);
      const template = (result.spec as { template: { metadata: { annotations: Json } } }).template;
      assert.equal(
        template.metadata.annotations['kubectl.kubernetes.io/default-container'],
        'other',
      );
    });
  });

  describe('catches a broken copy', () => {
    const broken = (from: string | RegExp, to: string): Policy => {
      const changed = text.replace(from, to);
      assert.notEqual(changed, text, `no ${String(from)} to change`);
      return readOne(POLICY_FILE, changed) as Policy;
    };

    it('a wrong annotation name (hotreload.dev/httpurl)', () => {
      assert.deepEqual(
        annotationProblems(broken(/"hotreload\.dev\/http-url"/g, '"hotreload.dev/httpurl"')),
        [
          'reads annotation hotreload.dev/httpurl, which is not in the contract',
          'never reads annotation hotreload.dev/http-url of the contract',
        ],
      );
    });

    it('a field of the sidecar missing: the signal rule without its readiness probe', () => {
      const policy = broken(
        /(name: inject-signal[\s\S]*?)\n {20}readinessProbe:\n(?: {22}.*\n)+/,
        '$1\n',
      );
      const { result, applied } = applyPolicy(policy, cases[2]!.workload);
      assert.deepEqual(applied, ['inject-signal']);
      const problems = injectedWorkloadProblems(result);
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, /^sidecar: readinessProbe is undefined/);
    });

    it('no idempotence precondition: the existing hotreload container is overwritten', () => {
      const policy = broken(
        /(name: inject-http[\s\S]*?all:\n)(?: {10}#.*\n)?( {10}- key: hotreload\n(?: {12}.*\n)+)/,
        '$1',
      );
      const workload = sampleWorkload('Deployment', HTTP, MOUNTS);
      podOf(workload).containers.push({
        name: SIDECAR_NAME,
        image: 'mine:1',
        args: ['--watch=/x', '--exit'],
      });
      const { result, applied } = applyPolicy(policy, workload);
      assert.deepEqual(applied, ['inject-http']);
      assert.notDeepEqual(result, workload);
    });

    it('a misspelled field of a rule, and a variable in match', () => {
      assert.deepEqual(structureProblems(broken('patchStrategicMerge:', 'patchStrategicMerg:')), [
        '/spec/rules/0/mutate/patchStrategicMerg: unknown field',
      ]);
      assert.deepEqual(
        structureProblems(
          broken("hotreload.dev/inject: 'true'", "hotreload.dev/inject: '{{ x }}'"),
        ),
        ['/spec/rules/0/match: Kyverno allows no variable in match'],
      );
    });

    it('an expression this test does not know: a failure that names it, not a pass', () => {
      const policy = broken('length(watchedMounts)', 'length(watchedMount)');
      assert.throws(
        () => applyPolicy(policy, cases[0]!.workload),
        /no sample result for the expression length\(watchedMount\)/,
      );
    });
  });
});

// ---------------------------------------------------------------- deploy/README.md

describe('deploy/README.md', () => {
  it('links only to files that exist (docs/INJECT.md excepted until `hotreload inject` lands)', () => {
    const readme = read('README.md');
    const broken: string[] = [];
    for (const m of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1]!.split('#')[0]!;
      if (link === '' || /^[a-z]+:/.test(link)) continue;
      const target = path.join(DEPLOY_DIR, link);
      if (!existsSync(target) && link !== '../docs/INJECT.md') broken.push(link);
    }
    assert.deepEqual(broken, []);
    assert.match(readme, /\]\(\.\.\/docs\/INJECT\.md\)/, 'links docs/INJECT.md');
  });
});
