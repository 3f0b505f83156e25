// `hotreload inject` as a function of manifests and flags: which documents it changes and how
// (kinds, List items, several documents, comments kept, the rest byte for byte), idempotence, the
// annotations and the flags over them, placement (container or native sidecar), the shared
// process namespace and the UID of process actions, and every output valid under the Kubernetes
// schemas. Refusals are refusals.test.ts's; the command line is cli.test.ts's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { podSpecOf, type K8sObject } from '../../harness/examples.js';
import { containerOf, fixture, IMAGE, injectText, objectsOf } from '../../harness/inject.js';
import { schemaErrors } from '../../harness/k8s-schema.js';

interface PodOptions {
  annotations?: Record<string, unknown>;
  podAnnotations?: Record<string, unknown>;
  securityContext?: Record<string, unknown>;
  containers?: Record<string, unknown>[];
  volumes?: Record<string, unknown>[];
  extra?: Record<string, unknown>;
}

const APP = {
  name: 'app',
  image: 'registry.example.com/app:1',
  volumeMounts: [{ name: 'config', mountPath: '/etc/app', readOnly: true }],
};
const CONFIG = { name: 'config', configMap: { name: 'app-config' } };

/** A Deployment's YAML: one app container mounting a ConfigMap at /etc/app, unless told otherwise. */
function deployment(o: PodOptions = {}): string {
  return stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'app', ...(o.annotations && { annotations: o.annotations }) },
    spec: {
      selector: { matchLabels: { app: 'app' } },
      template: {
        metadata: {
          labels: { app: 'app' },
          ...(o.podAnnotations && { annotations: o.podAnnotations }),
        },
        spec: {
          ...(o.securityContext && { securityContext: o.securityContext }),
          containers: o.containers ?? [APP],
          volumes: o.volumes ?? [CONFIG],
          ...o.extra,
        },
      },
    },
  });
}

const HTTP = { 'hotreload.dev/http-url': 'http://127.0.0.1:8080/-/reload' };

/** Injects `text`, expects no problem, and checks every object against the schemas. */
function injected(text: string, flags: Record<string, string | boolean | string[]> = {}) {
  const result = injectText(text, flags);
  assert.deepEqual(result.problems, []);
  const objects = objectsOf(result.output);
  for (const o of objects) {
    const each = o.kind === 'List' ? (o as unknown as { items: K8sObject[] }).items : [o];
    for (const x of each) assert.deepEqual(schemaErrors(x), [], `${x.kind}/${x.metadata.name}`);
  }
  return { ...result, objects };
}

function sidecarOf(o: K8sObject) {
  const c = containerOf(o, 'hotreload');
  assert.ok(c, `${o.kind}/${o.metadata.name} has no hotreload`);
  return c;
}

describe('inject: the sidecar it adds', () => {
  it('adds the sidecar the README describes: image, args, port, probes, resources, securityContext, mounts and the state emptyDir', () => {
    const { objects } = injected(deployment({ annotations: HTTP }));
    const spec = podSpecOf(objects[0]!)!;
    assert.deepEqual(spec.containers.at(-1), {
      name: 'hotreload',
      image: IMAGE,
      args: [
        '--watch=/etc/app',
        '--http-url=http://127.0.0.1:8080/-/reload',
        '--state-file=/var/run/hotreload/state.json',
      ],
      ports: [{ name: 'hotreload', containerPort: 9533 }],
      livenessProbe: { httpGet: { path: '/healthz', port: 'hotreload' }, periodSeconds: 10 },
      readinessProbe: { httpGet: { path: '/readyz', port: 'hotreload' }, periodSeconds: 10 },
      resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '64Mi' } },
      securityContext: {
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      },
      volumeMounts: [
        { name: 'config', mountPath: '/etc/app', readOnly: true },
        { name: 'hotreload-state', mountPath: '/var/run/hotreload' },
      ],
    });
    assert.deepEqual(spec.volumes, [CONFIG, { name: 'hotreload-state', emptyDir: {} }]);
    // An HTTP action needs no shared process namespace.
    assert.equal(spec.shareProcessNamespace, undefined);
  });

  it('watches every configMap, secret and projected volume a container mounts by default, where it mounts it', () => {
    const { objects } = injected(
      deployment({
        annotations: HTTP,
        containers: [
          {
            ...APP,
            volumeMounts: [
              { name: 'config', mountPath: '/etc/app' },
              { name: 'scratch', mountPath: '/tmp' },
            ],
          },
          {
            name: 'proxy',
            image: 'envoyproxy/envoy:v1.31',
            volumeMounts: [
              { name: 'certs', mountPath: '/etc/envoy/certs' },
              { name: 'bundle', mountPath: '/etc/envoy/bundle' },
            ],
          },
        ],
        volumes: [
          CONFIG,
          { name: 'scratch', emptyDir: {} },
          { name: 'certs', secret: { secretName: 'tls' } },
          { name: 'bundle', projected: { sources: [{ configMap: { name: 'ca' } }] } },
          { name: 'unused', configMap: { name: 'nobody-mounts-it' } },
        ],
      }),
    );
    const c = sidecarOf(objects[0]!);
    assert.deepEqual(
      c.args!.filter((a) => a.startsWith('--watch=')),
      ['--watch=/etc/app', '--watch=/etc/envoy/certs', '--watch=/etc/envoy/bundle'],
    );
    assert.deepEqual(
      c.volumeMounts!.map((m) => [m.name, m.mountPath, m.readOnly]),
      [
        ['config', '/etc/app', true],
        ['certs', '/etc/envoy/certs', true],
        ['bundle', '/etc/envoy/bundle', true],
        ['hotreload-state', '/var/run/hotreload', undefined],
      ],
    );
  });

  it('hotreload.dev/watch names the volumes, also one no container mounts, at the path it gives', () => {
    const { objects } = injected(
      deployment({
        annotations: { ...HTTP, 'hotreload.dev/watch': 'extra=/etc/extra, config' },
        volumes: [CONFIG, { name: 'extra', secret: { secretName: 's' } }],
      }),
    );
    const c = sidecarOf(objects[0]!);
    assert.deepEqual(
      c.args!.filter((a) => a.startsWith('--watch=')),
      ['--watch=/etc/extra', '--watch=/etc/app'],
    );
  });

  it('signals by process: shareProcessNamespace: true, and the UID of the target container when it has one', () => {
    const { objects } = injected(
      deployment({
        annotations: { 'hotreload.dev/signal': 'HUP', 'hotreload.dev/process-name': 'app' },
        containers: [{ ...APP, securityContext: { runAsUser: 1001, runAsGroup: 1002 } }],
      }),
    );
    const spec = podSpecOf(objects[0]!)!;
    assert.equal(spec.shareProcessNamespace, true);
    const c = sidecarOf(objects[0]!);
    assert.deepEqual(c.args!.slice(1, 3), ['--signal=HUP', '--process-name=app']);
    assert.deepEqual(c.securityContext, {
      runAsUser: 1001,
      runAsGroup: 1002,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('a UID set on the pod applies to hotreload already: none is repeated on the container', () => {
    const { objects, notes } = injected(
      deployment({
        annotations: { 'hotreload.dev/restart': 'true', 'hotreload.dev/process-name': 'app' },
        securityContext: { runAsUser: 101 },
      }),
    );
    assert.equal(sidecarOf(objects[0]!).securityContext!.runAsUser, undefined);
    assert.deepEqual(notes, []);
  });

  it('a root target (UID 0) makes hotreload root too, without runAsNonRoot', () => {
    const { objects } = injected(
      deployment({
        annotations: { 'hotreload.dev/restart': 'true', 'hotreload.dev/process-name': 'app' },
        containers: [{ ...APP, securityContext: { runAsUser: 0 } }],
      }),
    );
    const sc = sidecarOf(objects[0]!).securityContext!;
    assert.equal(sc.runAsUser, 0);
    assert.equal(sc.runAsNonRoot, undefined);
  });

  it('says why it cannot take the UID of a target that sets none, and goes on', () => {
    const { objects, notes } = injected(
      deployment({
        annotations: { 'hotreload.dev/signal': 'HUP', 'hotreload.dev/process-name': 'app' },
      }),
    );
    assert.equal(notes.length, 1);
    assert.match(
      notes[0]!,
      /^test\.yaml: Deployment\/app: hotreload cannot take the UID of container app: no runAsUser is set for it or the pod, so its image's USER decides.*kill\(2\) needs the same UID: set securityContext\.runAsUser on app/,
    );
    assert.equal(sidecarOf(objects[0]!).securityContext!.runAsNonRoot, true);
  });

  it('the target container: hotreload.dev/container, else kubectl.kubernetes.io/default-container, else the first', () => {
    const containers = [
      { ...APP, securityContext: { runAsUser: 1 } },
      { name: 'worker', image: 'w:1', securityContext: { runAsUser: 2 } },
      { name: 'sidecar', image: 's:1', securityContext: { runAsUser: 3 } },
    ];
    const uidWith = (annotations: Record<string, string>, podAnnotations = {}) =>
      sidecarOf(
        injected(
          deployment({
            annotations: {
              'hotreload.dev/signal': 'HUP',
              'hotreload.dev/process-name': 'x',
              ...annotations,
            },
            podAnnotations,
            containers,
          }),
        ).objects[0]!,
      ).securityContext!.runAsUser;
    assert.equal(uidWith({}), 1);
    assert.equal(uidWith({}, { 'kubectl.kubernetes.io/default-container': 'sidecar' }), 3);
    assert.equal(
      uidWith(
        { 'hotreload.dev/container': 'worker' },
        { 'kubectl.kubernetes.io/default-container': 'sidecar' },
      ),
      2,
    );
  });

  it('an HTTP action in a pod that runs as root runs hotreload as its image user instead', () => {
    const { objects } = injected(
      deployment({ annotations: HTTP, securityContext: { runAsUser: 0 } }),
    );
    const sc = sidecarOf(objects[0]!).securityContext!;
    assert.equal(sc.runAsUser, 65532);
    assert.equal(sc.runAsNonRoot, true);
  });

  it('hotreload.dev/native-sidecar: "true" puts it last in initContainers with restartPolicy: Always', () => {
    const { objects } = injected(
      deployment({
        annotations: { ...HTTP, 'hotreload.dev/native-sidecar': 'true' },
        extra: { initContainers: [{ name: 'init', image: 'busybox' }] },
      }),
    );
    const spec = podSpecOf(objects[0]!)!;
    assert.deepEqual(
      spec.initContainers!.map((c) => [c.name, c.restartPolicy]),
      [
        ['init', undefined],
        ['hotreload', 'Always'],
      ],
    );
    assert.deepEqual(
      spec.containers.map((c) => c.name),
      ['app'],
    );
  });

  it('a pod that runs to completion (a Job) gets a native sidecar, which the kubelet stops with it', () => {
    const job = stringify({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'once', annotations: HTTP },
      spec: {
        template: { spec: { restartPolicy: 'Never', containers: [APP], volumes: [CONFIG] } },
      },
    });
    const spec = podSpecOf(injected(job).objects[0]!)!;
    assert.equal(spec.initContainers?.[0]?.name, 'hotreload');
    assert.equal(spec.initContainers?.[0]?.restartPolicy, 'Always');
  });

  it('--image, and hotreload.dev/image, name the image', () => {
    const annotated = deployment({
      annotations: { ...HTTP, 'hotreload.dev/image': 'r.example/hr:1' },
    });
    assert.equal(sidecarOf(injected(annotated).objects[0]!).image, 'r.example/hr:1');
    assert.equal(
      sidecarOf(injected(annotated, { image: 'mirror.example/hr:2' }).objects[0]!).image,
      'mirror.example/hr:2',
    );
  });

  it('hotreload.dev/args adds hotreload flags, one per line, in order', () => {
    const { objects } = injected(
      deployment({
        annotations: {
          ...HTTP,
          'hotreload.dev/args':
            '--validate\n--verify-url=http://127.0.0.1:8080/ready\n--verify-json=.ok == true\n',
        },
      }),
    );
    assert.deepEqual(sidecarOf(objects[0]!).args, [
      '--watch=/etc/app',
      '--http-url=http://127.0.0.1:8080/-/reload',
      '--validate',
      '--verify-url=http://127.0.0.1:8080/ready',
      '--verify-json=.ok == true',
      '--state-file=/var/run/hotreload/state.json',
    ]);
  });

  it('a rules file (hotreload.dev/config) gets only --config: the file says what to watch and has its own state-file', () => {
    const { objects } = injected(
      deployment({
        annotations: {
          'hotreload.dev/config': '/etc/hotreload/rules.yaml',
          'hotreload.dev/watch': 'rules=/etc/hotreload,config',
        },
        volumes: [CONFIG, { name: 'rules', configMap: { name: 'rules' } }],
      }),
    );
    const c = sidecarOf(objects[0]!);
    assert.deepEqual(c.args, ['--config=/etc/hotreload/rules.yaml']);
    assert.deepEqual(
      c.volumeMounts!.map((m) => m.name),
      ['rules', 'config'],
    );
    assert.equal(
      podSpecOf(objects[0]!)!.volumes!.some((v) => v.name === 'hotreload-state'),
      false,
    );
  });

  it('reuses an emptyDir named hotreload-state the pod already has', () => {
    const { objects } = injected(
      deployment({
        annotations: HTTP,
        volumes: [CONFIG, { name: 'hotreload-state', emptyDir: {} }],
      }),
    );
    assert.equal(
      podSpecOf(objects[0]!)!.volumes!.filter((v) => v.name === 'hotreload-state').length,
      1,
    );
  });
});

describe('inject: annotations and flags', () => {
  it("reads the pod template's annotations where the workload has none, the workload's first", () => {
    const { objects } = injected(
      deployment({
        annotations: { 'hotreload.dev/http-url': 'http://127.0.0.1:1/own' },
        podAnnotations: {
          'hotreload.dev/http-url': 'http://127.0.0.1:1/template',
          'hotreload.dev/args': '--validate',
        },
      }),
    );
    const args = sidecarOf(objects[0]!).args!;
    assert.ok(args.includes('--http-url=http://127.0.0.1:1/own'));
    assert.ok(!args.includes('--http-url=http://127.0.0.1:1/template'));
    assert.ok(args.includes('--validate'));
  });

  it('hotreload.dev/http-url takes several URLs, comma-separated', () => {
    const { objects } = injected(
      deployment({
        annotations: { 'hotreload.dev/http-url': 'http://127.0.0.1:1/a, http://127.0.0.1:2/b' },
      }),
    );
    const urls = sidecarOf(objects[0]!).args!.filter((a) => a.startsWith('--http-url='));
    assert.deepEqual(urls, ['--http-url=http://127.0.0.1:1/a', '--http-url=http://127.0.0.1:2/b']);
  });

  it('flags win; an action flag replaces every action annotation (they never mix)', () => {
    const text = deployment({
      annotations: {
        'hotreload.dev/signal': 'HUP',
        'hotreload.dev/process-name': 'app',
        'hotreload.dev/watch': 'config',
      },
    });
    const { objects } = injected(text, {
      'http-url': ['http://127.0.0.1:9/r'],
      watch: ['config=/cfg'],
    });
    const c = sidecarOf(objects[0]!);
    assert.deepEqual(c.args, [
      '--watch=/cfg',
      '--http-url=http://127.0.0.1:9/r',
      '--state-file=/var/run/hotreload/state.json',
    ]);
    assert.equal(podSpecOf(objects[0]!)!.shareProcessNamespace, undefined);
  });

  it('flags alone inject a workload that has no annotation', () => {
    const { objects } = injected(deployment(), { signal: 'HUP', 'process-name': 'app' });
    assert.ok(sidecarOf(objects[0]!).args!.includes('--signal=HUP'));
  });

  it('hotreload.dev/inject: "false" leaves a workload as it is, with a note', () => {
    const text = deployment({ annotations: { ...HTTP, 'hotreload.dev/inject': 'false' } });
    const result = injectText(text, { 'http-url': ['http://127.0.0.1:1/'] });
    assert.deepEqual(result.problems, []);
    assert.equal(result.output, text);
    assert.deepEqual(result.notes, [
      'test.yaml: Deployment/app: annotation hotreload.dev/inject: "false"; left as it is',
    ]);
  });

  it('a workload without containers and no hotreload annotation (a patch) is left as it is, with a note', () => {
    const patch =
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec: {replicas: 3}\n';
    const result = injectText(patch, { 'http-url': ['http://127.0.0.1:1/'] });
    assert.deepEqual(result.problems, []);
    assert.equal(result.output, patch);
    assert.deepEqual(result.notes, [
      'test.yaml: Deployment/app: its pod spec has no containers; left as it is',
    ]);
  });

  it('a workload with nothing to watch and no hotreload annotation is left as it is, with a note', () => {
    const text = deployment({ containers: [{ name: 'db', image: 'postgres' }], volumes: [] });
    const result = injectText(text, { 'http-url': ['http://127.0.0.1:1/'] });
    assert.deepEqual(result.problems, []);
    assert.equal(result.output, text);
    assert.match(result.notes[0]!, /nothing to watch, left as it is$/);
  });
});

describe('inject: documents', () => {
  it('is idempotent: injecting its output again gives it back byte for byte', () => {
    const fixtures = [
      'nginx.yaml',
      'prometheus.yaml',
      'filebeat.yaml',
      'grafana.yaml',
      'chart-deployment.yaml',
      'chart-statefulset.yaml',
      'chart-cronjob.yaml',
      'list.yaml',
    ];
    for (const name of fixtures) {
      const once = injectText(fixture(name));
      assert.deepEqual(once.problems, [], name);
      assert.notEqual(once.output, fixture(name), `${name}: nothing injected`);
      const twice = injectText(once.output);
      assert.deepEqual(twice.problems, [], name);
      assert.equal(twice.output, once.output, name);
      assert.ok(twice.notes.every((n) => /already has hotreload \(container hotreload\)/.test(n)));
    }
  });

  it('a chart-shaped Deployment: several containers, init containers, a projected volume, annotations on the pod template', () => {
    const { objects, output } = injected(fixture('chart-deployment.yaml'));
    assert.deepEqual(
      objects.map((o) => o.kind),
      ['Service', 'ConfigMap', 'Deployment'],
    );
    const deploymentObject = objects[2]!;
    const spec = podSpecOf(deploymentObject)!;
    assert.deepEqual(
      spec.containers.map((c) => c.name),
      ['app', 'exporter', 'hotreload'],
    );
    assert.deepEqual(
      spec.initContainers!.map((c) => c.name),
      ['migrate', 'wait-for-db'],
    );
    assert.deepEqual(
      sidecarOf(deploymentObject).volumeMounts!.map((m) => `${m.name}:${m.mountPath}`),
      ['config:/etc/app', 'tls:/etc/app/tls', 'hotreload-state:/var/run/hotreload'],
    );
    // Comments and the documents around it are kept; the yaml package writes the flow collections
    // of a document it changed without padding, as the examples write `drop: [ALL]`.
    assert.match(output, /^# Source: app\/templates\/service\.yaml$/m);
    assert.match(output, /# a comment inside a block scalar stays as it is/);
    assert.match(output, /rollingUpdate: \{maxSurge: 25%, maxUnavailable: 0\}/);
  });

  it('a StatefulSet with volumeClaimTemplates: the claims stay, the Secret is not watched unless named', () => {
    const { objects } = injected(fixture('chart-statefulset.yaml'));
    const o = objects[0]!;
    assert.equal((o.spec as { volumeClaimTemplates: unknown[] }).volumeClaimTemplates.length, 1);
    const c = sidecarOf(o);
    assert.deepEqual(
      c.args!.filter((a) => a.startsWith('--watch=')),
      ['--watch=/etc/postgresql/conf.d'],
    );
    assert.equal(c.securityContext!.runAsUser, 999);
    assert.equal(podSpecOf(o)!.shareProcessNamespace, true);
  });

  it("a CronJob: its job template's pod gets a native sidecar", () => {
    const { objects } = injected(fixture('chart-cronjob.yaml'));
    const spec = podSpecOf(objects[0]!)!;
    assert.equal(spec.initContainers![0]!.name, 'hotreload');
    assert.equal(spec.initContainers![0]!.restartPolicy, 'Always');
  });

  it('kind: List: the workloads among its items are injected, the other items are kept', () => {
    const { objects } = injected(fixture('list.yaml'));
    const items = (objects[0] as unknown as { items: K8sObject[] }).items;
    assert.deepEqual(
      items.map((i) => i.kind),
      ['ConfigMap', 'Deployment', 'Service'],
    );
    assert.equal(sidecarOf(items[1]!).securityContext!.runAsUser, undefined);
    assert.equal(podSpecOf(items[1]!)!.shareProcessNamespace, true);
  });

  it('several documents: only workloads change; the others, comments and markers, come out as given', () => {
    const service =
      '# the service\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}  # keep\nspec: {ports: [{port: 80}]}\n';
    const configMap =
      '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  mode: \'0640\'   # quoted\n  flag: "yes"\n';
    const text = `${service}${configMap}---\n${deployment({ annotations: HTTP })}...\n`;
    const { output, objects } = injected(text);
    assert.ok(output.startsWith(service + configMap), output);
    assert.deepEqual(
      objects.map((o) => o.kind),
      ['Service', 'ConfigMap', 'Deployment'],
    );
    assert.equal(sidecarOf(objects[2]!).name, 'hotreload');
  });

  it('kinds it does not inject pass through unchanged, as do workloads of other API groups', () => {
    const text = [
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n',
      'apiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: custom}\nspec: {template: {spec: {containers: [{name: a, volumeMounts: [{name: v, mountPath: /v}]}], volumes: [{name: v, configMap: {name: v}}]}}}\n',
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n',
    ].join('---\n');
    const result = injectText(text, { 'http-url': ['http://127.0.0.1:1/'] });
    assert.deepEqual(result.problems, []);
    assert.equal(result.output, text);
  });

  it('a Pod, a DaemonSet and a ReplicaSet are injected too', () => {
    const pod = stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', annotations: HTTP },
      spec: { containers: [APP], volumes: [CONFIG] },
    });
    const workload = (kind: string) =>
      stringify({
        apiVersion: 'apps/v1',
        kind,
        metadata: { name: kind.toLowerCase(), annotations: HTTP },
        spec: {
          selector: { matchLabels: { a: 'b' } },
          template: {
            metadata: { labels: { a: 'b' } },
            spec: { containers: [APP], volumes: [CONFIG] },
          },
        },
      });
    const { objects } = injected(
      [pod, workload('DaemonSet'), workload('ReplicaSet')].join('---\n'),
    );
    assert.deepEqual(
      objects.map((o) => [o.kind, sidecarOf(o).name]),
      [
        ['Pod', 'hotreload'],
        ['DaemonSet', 'hotreload'],
        ['ReplicaSet', 'hotreload'],
      ],
    );
  });

  it('several inputs come out as one stream, each document on its own', () => {
    const result = injectText('');
    assert.equal(result.output, '');
    const both = objectsOf(
      injectText(fixture('list.yaml')).output + '---\n' + injectText(fixture('nginx.yaml')).output,
    );
    assert.equal(both.length, 2);
  });

  it('long arguments are written on one line each, never folded', () => {
    const long = `--verify-metric=${'a'.repeat(120)} == 1`;
    const { output } = injected(
      deployment({
        annotations: {
          ...HTTP,
          'hotreload.dev/args': `--verify-url=http://127.0.0.1:1/m\n${long}`,
        },
      }),
    );
    assert.ok(
      output.split('\n').some((l) => l.trim() === `- ${long}`),
      output,
    );
  });
});
