// deploy/kustomize built by a real kustomize: a `kustomize` binary on the PATH (.ci/run installs
// one), else the one built into kubectl (`kubectl kustomize`). Without either the tests are
// skipped with that reason, but under CI=true they fail: CI must build the component with a real
// kustomize.
//
// Validated here by kustomize itself: the component and the example overlay build; the component
// selects workloads by the annotation hotreload.dev/inject=true (and the signal patch by the
// presence of hotreload.dev/signal) across Deployments, StatefulSets and DaemonSets, and leaves the
// others alone; kustomize writes the hashed hotreload-flags name into the sidecar's envFrom; an
// overlay's patch merges the mounts (and per-workload env) into the added container.
// Then checked on kustomize's output, by this repository's code: every object against the
// Kubernetes schemas (kubernetes-models, unknown fields as errors), and each injected workload by
// injectedWorkloadProblems() (test/harness/deploy.ts): the sidecar's shape, hotreload's own
// parser and configuration on its HOTRELOAD_* flags, the watched paths' mounts.
// Not validated: anything a cluster does (no API server admission, no pod runs).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import {
  DEPLOY_DIR,
  SIDECAR_NAME,
  injectedWorkloadProblems,
  kustomizeBuild,
  parseYamlStream,
} from '../harness/deploy.js';
import { podSpecOf, type K8sObject } from '../harness/examples.js';
import { schemaErrors } from '../harness/k8s-schema.js';

const BUILD = kustomizeBuild();
if (!BUILD && process.env.CI === 'true') {
  throw new Error(
    'CI=true: neither kustomize nor kubectl is installed (.ci/run installs kustomize)',
  );
}
const work = mkdtempSync(path.join(tmpdir(), 'hotreload-kustomize-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** `kustomize build dir`, parsed. */
function build(dir: string): K8sObject[] {
  const [command, ...args] = BUILD!;
  const out = execFileSync(command!, [...args, dir], { encoding: 'utf8', timeout: 60_000 });
  return parseYamlStream(out, `kustomize build ${dir}`) as K8sObject[];
}

/** A copy of deploy/kustomize (component/ and example/) in a fresh directory, to change. */
function copyOfKustomize(): string {
  const dir = mkdtempSync(path.join(work, 'copy-'));
  cpSync(path.join(DEPLOY_DIR, 'kustomize'), dir, { recursive: true });
  return dir;
}

/** Replaces `from` by `to` in `file`, failing if `from` is not there (the break must happen). */
function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  assert.ok(text.includes(from), `${file} has no ${JSON.stringify(from)} to change`);
  writeFileSync(file, text.replace(from, to));
}

const named = (objects: readonly K8sObject[], kind: string, name: string): K8sObject => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `no ${kind} ${name} in the output`);
  return found;
};
const podOf = (o: K8sObject): IPodSpec => podSpecOf(o)!;
const configMaps = (objects: readonly K8sObject[]) => objects.filter((o) => o.kind === 'ConfigMap');

describe(
  'deploy/kustomize built by kustomize',
  { skip: BUILD ? false : 'neither kustomize nor kubectl is installed' },
  () => {
    it('the example: every object is valid, and Prometheus gets a working sidecar', () => {
      const objects = build(path.join(DEPLOY_DIR, 'kustomize/example'));
      assert.deepEqual(
        objects.flatMap((o) => schemaErrors(o).map((e) => `${o.kind} ${o.metadata.name}: ${e}`)),
        [],
      );
      const prometheus = named(objects, 'Deployment', 'prometheus');
      assert.deepEqual(injectedWorkloadProblems(prometheus, configMaps(objects)), []);
      const pod = podOf(prometheus);
      assert.deepEqual(
        pod.containers.map((c) => c.name),
        ['prometheus', SIDECAR_NAME],
      );
      // The generated ConfigMap's hashed name, written into envFrom by kustomize.
      const sidecar = pod.containers[1]!;
      const flags = sidecar.envFrom?.[0]?.configMapRef?.name ?? '';
      assert.match(flags, /^hotreload-flags-[a-z0-9]+$/);
      assert.ok(named(objects, 'ConfigMap', flags));
      // HTTP needs no shared process namespace, and the component adds none without a signal.
      assert.equal(pod.shareProcessNamespace, undefined);
      // The watched ConfigMap keeps its name: a hashed one would roll the pods instead of a reload.
      assert.ok(named(objects, 'ConfigMap', 'prometheus-config'));
    });

    it('selects by the annotation: every kind with inject "true" gets the sidecar, others are left alone', () => {
      const dir = copyOfKustomize();
      const overlay = path.join(dir, 'selection');
      mkdirSync(overlay);
      const workload = (kind: string, name: string, annotations: Record<string, string>) => ({
        apiVersion: 'apps/v1',
        kind,
        metadata: { name, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
        spec: {
          ...(kind === 'StatefulSet' ? { serviceName: name } : {}),
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: {
              containers: [
                {
                  name: 'app',
                  image: 'app:1',
                  volumeMounts: [{ name: 'conf', mountPath: '/etc/app', readOnly: true }],
                },
              ],
              volumes: [{ name: 'conf', configMap: { name: `${name}-conf` } }],
            },
          },
        },
      });
      const inputs = [
        workload('StatefulSet', 'signalled', {
          'hotreload.dev/inject': 'true',
          'hotreload.dev/signal': 'HUP',
        }),
        workload('DaemonSet', 'called', { 'hotreload.dev/inject': 'true' }),
        workload('Deployment', 'opted-out', { 'hotreload.dev/inject': 'false' }),
        workload('Deployment', 'not-annotated', {}),
      ];
      writeFileSync(
        path.join(overlay, 'workloads.yaml'),
        inputs.map((o) => JSON.stringify(o)).join('\n---\n'),
      );
      // What several workloads with their own settings do (deploy/README.md): the shared
      // ConfigMap holds what they share; each workload's patch gives its mounts and its own env.
      const patch = (kind: string, name: string, env: Record<string, string>) =>
        JSON.stringify({
          apiVersion: 'apps/v1',
          kind,
          metadata: { name },
          spec: {
            template: {
              spec: {
                containers: [
                  { name: 'app' },
                  {
                    name: SIDECAR_NAME,
                    env: Object.entries(env).map(([name, value]) => ({ name, value })),
                    volumeMounts: [{ name: 'conf', mountPath: '/etc/app', readOnly: true }],
                  },
                ],
              },
            },
          },
        });
      writeFileSync(
        path.join(overlay, 'signalled.yaml'),
        patch('StatefulSet', 'signalled', {
          HOTRELOAD_SIGNAL: 'HUP',
          HOTRELOAD_PROCESS_MATCH: '^app ',
        }),
      );
      writeFileSync(
        path.join(overlay, 'called.yaml'),
        patch('DaemonSet', 'called', { HOTRELOAD_HTTP_URL: 'http://127.0.0.1:8080/-/reload' }),
      );
      writeFileSync(
        path.join(overlay, 'kustomization.yaml'),
        JSON.stringify({
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          resources: ['workloads.yaml'],
          components: ['../component'],
          configMapGenerator: [
            {
              name: 'hotreload-flags',
              literals: ['HOTRELOAD_WATCH=/etc/app', 'HOTRELOAD_LOG_LEVEL=info'],
            },
          ],
          patches: [{ path: 'signalled.yaml' }, { path: 'called.yaml' }],
        }),
      );
      const objects = build(overlay);
      const cms = configMaps(objects);
      const signalled = named(objects, 'StatefulSet', 'signalled');
      const called = named(objects, 'DaemonSet', 'called');
      assert.deepEqual(injectedWorkloadProblems(signalled, cms), []);
      assert.deepEqual(injectedWorkloadProblems(called, cms), []);
      assert.equal(podOf(signalled).shareProcessNamespace, true);
      assert.equal(podOf(called).shareProcessNamespace, undefined);
      for (const name of ['opted-out', 'not-annotated'])
        assert.deepEqual(
          named(objects, 'Deployment', name),
          inputs.find((o) => o.metadata.name === name),
          `${name} is changed`,
        );
    });

    describe('catches a broken copy', () => {
      const problemsOfExample = (dir: string) => {
        const objects = build(path.join(dir, 'example'));
        return injectedWorkloadProblems(
          named(objects, 'Deployment', 'prometheus'),
          configMaps(objects),
        );
      };

      it("a wrong annotation name in the selector: no sidecar, only the overlay's stub of one", () => {
        const dir = copyOfKustomize();
        edit(
          path.join(dir, 'component/kustomization.yaml'),
          'annotationSelector: hotreload.dev/inject=true\n',
          'annotationSelector: hotreload.dev/injected=true\n',
        );
        // The overlay's mounts patch still names a hotreload container, so the merge makes one
        // with nothing but the mounts: no image, no probes, no flags.
        const problems = problemsOfExample(dir);
        assert.match(problems[0] ?? '', /^sidecar: image is undefined/, problems.join('\n'));
        assert.ok(problems.some((p) => p.startsWith('hotreload refuses its flags:')));
      });

      it('a field of the sidecar missing: the readiness probe', () => {
        const dir = copyOfKustomize();
        edit(
          path.join(dir, 'component/sidecar.yaml'),
          '    readinessProbe:\n      httpGet:\n        path: /readyz\n        port: hotreload\n      periodSeconds: 10\n',
          '',
        );
        const problems = problemsOfExample(dir);
        assert.equal(problems.length, 1, problems.join('\n'));
        assert.match(problems[0]!, /^sidecar: readinessProbe is undefined/);
      });

      it("a flag hotreload does not know in the overlay's ConfigMap", () => {
        const dir = copyOfKustomize();
        edit(
          path.join(dir, 'example/kustomization.yaml'),
          'HOTRELOAD_VALIDATE=true',
          'HOTRELOAD_VALIDATES=true',
        );
        const problems = problemsOfExample(dir);
        assert.equal(problems.length, 1, problems.join('\n'));
        assert.match(problems[0]!, /^hotreload refuses its flags: .*HOTRELOAD_VALIDATES/s);
      });

      it('the watched volume mounted elsewhere in the sidecar than in the application', () => {
        const dir = copyOfKustomize();
        edit(
          path.join(dir, 'example/hotreload-mounts.yaml'),
          'mountPath: /etc/prometheus',
          'mountPath: /config',
        );
        assert.deepEqual(problemsOfExample(dir), [
          '--watch /etc/prometheus is on no volume mount of the sidecar',
        ]);
      });
    });
  },
);
