// `hotreload inject` through the built CLI (dist/main.js), as a user pipes it: manifests on stdin
// or as files, the injected manifests on stdout (valid under the Kubernetes schemas, and the same
// when injected again), exit 1 with nothing written on a refusal, exit 2 on a usage error.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { K8sObject } from '../harness/examples.js';
import { runHotreload } from '../harness/hotreload-process.js';
import { FIXTURES_DIR, containerOf, fixture, objectsOf } from '../harness/inject.js';
import { schemaErrors } from '../harness/k8s-schema.js';

const BOUND = { timeout: 20_000 };

/** Runs `hotreload inject ARGS` with `stdin`, within 10 s. */
function inject(args: string[], stdin = ''): ReturnType<typeof runHotreload> {
  return runHotreload(['inject', ...args], {}, 10_000, stdin);
}

const FIXTURES = [
  'nginx.yaml',
  'nginx-native-sidecar.yaml',
  'prometheus.yaml',
  'prometheus-signal.yaml',
  'filebeat.yaml',
  'grafana.yaml',
  'nginx-php-fpm.yaml',
  'configmap-reload-migration.yaml',
  'chart-deployment.yaml',
  'chart-statefulset.yaml',
  'chart-cronjob.yaml',
  'list.yaml',
];

describe('hotreload inject, the built CLI', () => {
  it(
    'injects every fixture from files at once: valid objects, each workload with hotreload',
    BOUND,
    async () => {
      const r = await inject(FIXTURES.map((f) => path.join(FIXTURES_DIR, f)));
      assert.equal(r.code, 0, r.stderr);
      const objects: K8sObject[] = objectsOf(r.stdout).flatMap((o) =>
        o.kind === 'List' ? (o as unknown as { items: K8sObject[] }).items : [o],
      );
      const workloads = objects.filter((o) => o.kind !== 'Service' && o.kind !== 'ConfigMap');
      assert.equal(workloads.length, FIXTURES.length);
      for (const o of workloads)
        assert.ok(containerOf(o, 'hotreload'), `${o.kind}/${o.metadata.name}`);
      for (const o of objects)
        assert.deepEqual(schemaErrors(o), [], `${o.kind}/${o.metadata.name}`);
    },
  );

  it('reads stdin, and its output piped in again comes out unchanged', BOUND, async () => {
    const once = await inject([], fixture('chart-deployment.yaml'));
    assert.equal(once.code, 0, once.stderr);
    assert.match(once.stdout, /^# Source: app\/templates\/deployment\.yaml$/m);
    const twice = await inject(['-'], once.stdout);
    assert.equal(twice.code, 0, twice.stderr);
    assert.equal(twice.stdout, once.stdout);
    assert.match(twice.stderr, /already has hotreload \(container hotreload\); left as it is/);
  });

  it('a refusal: exit 1, nothing on stdout, the problem named on stderr', BOUND, async () => {
    const bad = fixture('prometheus.yaml').replace(
      'hotreload.dev/http-url:',
      'hotreload.dev/http-uri:',
    );
    const r = await inject([], bad);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /<stdin>: Deployment\/prometheus: unknown annotation hotreload\.dev\/http-uri \(did you mean hotreload\.dev\/http-url\?\)/,
    );
  });

  it('an unknown flag: exit 2', BOUND, async () => {
    const r = await inject(['--dry-run'], fixture('nginx.yaml'));
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^hotreload inject: unknown flag --dry-run; /);
  });
});
