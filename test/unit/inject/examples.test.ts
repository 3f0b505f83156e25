// `hotreload inject` against the hand-written examples: each fixture of test/fixtures/inject/ is
// an example's workload without its hotreload container, with the annotations that say what to
// inject; injecting it must give the example's sidecar, compared by meaning (hotreload's options
// as its parser reads them, aliases and defaults folded; mounts, volumes as sets; probes,
// resources, securityContext, placement and the pod-level changes as data). Where inject writes
// something else on purpose, the difference is one of DIFFERENCES, applied to the example's side
// with its reason. The fixtures are checked against their examples too, so they stay in step.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parse } from '../../../src/config/cli.js';
import { DEFAULTS } from '../../../src/config/defaults.js';
import {
  EXAMPLES_DIR,
  containersOf,
  exampleManifests,
  hotreloadInvocation,
  loadManifests,
  podSpecOf,
  type K8sObject,
} from '../../harness/examples.js';
import { fixture, injectText, objectsOf } from '../../harness/inject.js';
import { schemaErrors } from '../../harness/k8s-schema.js';

/** What a sidecar amounts to, with the pod-level parts it depends on. */
interface View {
  name: string;
  placement: string;
  image: string;
  options: Record<string, unknown>;
  ports: unknown;
  livenessProbe: unknown;
  readinessProbe: unknown;
  resources: unknown;
  securityContext: Record<string, unknown>;
  volumeMounts: Named[];
  pod: { shareProcessNamespace: boolean; volumes: Named[] };
}

interface Named {
  readonly name?: unknown;
}

const byName = (a: Named, b: Named) => String(a.name).localeCompare(String(b.name));

/** hotreload's options as its parser reads argv: aliases resolved, defaults left out, lists sorted. */
function optionsOf(c: IContainer): Record<string, unknown> {
  const parsed = parse(hotreloadInvocation(c)!.argv, {}, 'test');
  assert.equal(parsed.kind, 'run', parsed.kind === 'exit' ? parsed.output : '');
  if (parsed.kind !== 'run') return {};
  const defaults = DEFAULTS as Record<string, string>;
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed.options)) {
    const camel = key.replace(/-(\w)/g, (_, ch: string) => ch.toUpperCase());
    if (defaults[camel] === value) continue;
    options[key] = Array.isArray(value) ? [...(value as string[])].sort() : value;
  }
  return options;
}

function viewOf(c: IContainer, spec: IPodSpec): View {
  const init = (spec.initContainers ?? []).includes(c);
  return {
    name: c.name,
    placement: init ? `initContainers, restartPolicy ${String(c.restartPolicy)}` : 'containers',
    image: c.image ?? '',
    options: optionsOf(c),
    ports: c.ports,
    livenessProbe: c.livenessProbe,
    readinessProbe: c.readinessProbe,
    resources: c.resources,
    securityContext: { ...c.securityContext },
    volumeMounts: [...(c.volumeMounts ?? [])].sort(byName),
    pod: {
      shareProcessNamespace: spec.shareProcessNamespace === true,
      volumes: [...(spec.volumes ?? [])].sort(byName),
    },
  };
}

/** Something inject writes otherwise than an example, on purpose: applied to the example's view. */
interface Difference {
  readonly why: string;
  apply(v: View): void;
}

const DIFFERENCES = {
  stateFile: {
    why: 'inject always adds --state-file on an emptyDir, so a restarted hotreload tells exactly the targets that may hold other content, for every kind of action; the example relies on the process start times a process action can see (docs/GUIDE.md, At start)',
    apply(v: View) {
      v.options['state-file'] = '/var/run/hotreload/state.json';
      v.volumeMounts = [
        ...v.volumeMounts,
        { name: 'hotreload-state', mountPath: '/var/run/hotreload' },
      ].sort(byName);
      v.pod.volumes = [...v.pod.volumes, { name: 'hotreload-state', emptyDir: {} }].sort(byName);
    },
  },
  runAsNonRoot: {
    why: "inject states runAsNonRoot: true on the container itself, as the README's pod does; the example leaves it to the pod's securityContext or the image's numeric USER",
    apply(v: View) {
      v.securityContext.runAsNonRoot = true;
    },
  },
  migrationContainer: {
    why: 'a migration keeps the replaced reloader container (its name, its port name, its runAsUser) and changes only the image; inject writes a new container named hotreload with the port hotreload, as the image runs by itself',
    apply(v: View) {
      v.name = 'hotreload';
      v.ports = [{ name: 'hotreload', containerPort: 9533 }];
      const probe = (path: string) => ({ httpGet: { path, port: 'hotreload' }, periodSeconds: 10 });
      v.livenessProbe = probe('/healthz');
      v.readinessProbe = probe('/readyz');
      delete v.securityContext.runAsUser;
      delete v.options.listen;
    },
  },
} satisfies Record<string, Difference>;

interface Case {
  /** The example's manifest, relative to examples/, and the fixture that is it without hotreload. */
  readonly example: string;
  readonly fixture: string;
  /** The example's hotreload container. */
  readonly container: string;
  readonly differences: readonly Difference[];
}

const CASES: readonly Case[] = [
  {
    example: 'nginx/deployment.yaml',
    fixture: 'nginx.yaml',
    container: 'hotreload',
    differences: [DIFFERENCES.stateFile, DIFFERENCES.runAsNonRoot],
  },
  {
    example: 'nginx/deployment-native-sidecar.yaml',
    fixture: 'nginx-native-sidecar.yaml',
    container: 'hotreload',
    differences: [DIFFERENCES.stateFile, DIFFERENCES.runAsNonRoot],
  },
  {
    example: 'prometheus/deployment.yaml',
    fixture: 'prometheus.yaml',
    container: 'hotreload',
    differences: [DIFFERENCES.runAsNonRoot],
  },
  {
    example: 'prometheus/deployment-signal.yaml',
    fixture: 'prometheus-signal.yaml',
    container: 'hotreload',
    differences: [DIFFERENCES.stateFile, DIFFERENCES.runAsNonRoot],
  },
  {
    // Root: no runAsNonRoot on either side.
    example: 'filebeat/daemonset.yaml',
    fixture: 'filebeat.yaml',
    container: 'hotreload',
    differences: [DIFFERENCES.stateFile],
  },
  {
    // A rules file: --state-file is a rule's setting there, so inject adds none.
    example: 'grafana/deployment.yaml',
    fixture: 'grafana.yaml',
    container: 'hotreload',
    differences: [DIFFERENCES.runAsNonRoot],
  },
  {
    example: 'nginx-php-fpm/deployment.yaml',
    fixture: 'nginx-php-fpm.yaml',
    container: 'hotreload',
    differences: [DIFFERENCES.runAsNonRoot],
  },
  {
    example: 'configmap-reload-migration/deployment-after.yaml',
    fixture: 'configmap-reload-migration.yaml',
    container: 'configmap-reload',
    differences: [DIFFERENCES.migrationContainer, DIFFERENCES.stateFile, DIFFERENCES.runAsNonRoot],
  },
];

/** Examples whose hotreload inject cannot write, and why. */
const NOT_INJECTED: Readonly<Record<string, string>> = {
  'child/deployment.yaml':
    'hotreload runs the application as its child in the same container: no sidecar to add',
  'prometheus-config-reloader-migration/deployment-after.yaml':
    "a migration in place: hotreload's image in prometheus-config-reloader's containers, which keep their names, arguments, ports and POD_NAME variable and render the configuration into a writable emptyDir that Prometheus reads; inject writes a new read-only watcher, none of these",
};

const all = loadManifests();

function exampleObject(file: string): K8sObject {
  const [example] = file.split('/');
  const found = exampleManifests(example!, all).find(
    (m) => m.file === file && podSpecOf(m.object) !== undefined,
  );
  assert.ok(found, `no workload in examples/${file}`);
  return found.object;
}

/** The pod's containers without `sidecar`, by name. */
function appContainers(spec: IPodSpec, sidecar: string): IContainer[] {
  return containersOf(spec)
    .map((p) => p.container)
    .filter((c) => c.name !== sidecar);
}

describe('inject gives the hand-written sidecars of examples/', () => {
  for (const c of CASES) {
    it(`${c.fixture} injected is examples/${c.example}${c.differences.length > 0 ? ' (but for: ' + c.differences.map((d) => Object.keys(DIFFERENCES).find((k) => DIFFERENCES[k as keyof typeof DIFFERENCES] === d)).join(', ') + ')' : ''}`, () => {
      const result = injectText(fixture(c.fixture), {}, c.fixture);
      assert.deepEqual(result.problems, []);
      const [object, ...rest] = objectsOf(result.output);
      assert.equal(rest.length, 0);
      assert.deepEqual(schemaErrors(object), []);
      const spec = podSpecOf(object!)!;
      const sidecar = containersOf(spec).find((p) => p.container.name === 'hotreload')!.container;

      const example = exampleObject(c.example);
      const exampleSpec = podSpecOf(example)!;
      const handWritten = containersOf(exampleSpec).find((p) => p.container.name === c.container);
      assert.ok(handWritten, `examples/${c.example} has no container ${c.container}`);
      const expected = viewOf(handWritten.container, exampleSpec);
      for (const d of c.differences) d.apply(expected);
      assert.deepEqual(viewOf(sidecar, spec), expected);
      // Nothing else of the pod changed: the application's containers are the example's.
      assert.deepEqual(appContainers(spec, 'hotreload'), appContainers(exampleSpec, c.container));
    });
  }

  it('every difference says why', () => {
    for (const d of Object.values(DIFFERENCES)) assert.ok(d.why.length > 40);
  });

  it('every example that runs hotreload is either a case above or not injected for a reason', () => {
    const running = all
      .filter((m) => {
        const spec = podSpecOf(m.object);
        return spec && containersOf(spec).some((p) => hotreloadInvocation(p.container));
      })
      .map((m) => m.file)
      .sort();
    const covered = [...CASES.map((c) => c.example), ...Object.keys(NOT_INJECTED)].sort();
    assert.deepEqual(running, covered);
  });

  it('each fixture is its example without hotreload: the same application containers and annotations only added', () => {
    for (const c of CASES) {
      const [object] = objectsOf(fixture(c.fixture));
      const example = exampleObject(c.example);
      assert.deepEqual(
        appContainers(podSpecOf(object!)!, c.container),
        appContainers(podSpecOf(example)!, c.container),
        c.fixture,
      );
      assert.equal(object!.metadata.name, example.metadata.name);
      assert.deepEqual(schemaErrors(object), [], c.fixture);
    }
  });

  it('injecting an example as written changes nothing: it already has hotreload', () => {
    for (const file of [...CASES.map((c) => c.example), ...Object.keys(NOT_INJECTED)]) {
      const source = readFileSync(path.join(EXAMPLES_DIR, file), 'utf8');
      const result = injectText(source, {}, file);
      assert.deepEqual(result.problems, [], file);
      assert.equal(result.output, source, file);
      assert.ok(
        result.notes.some((n) => /already has hotreload|nothing to watch/.test(n)),
        `${file}: ${result.notes.join('; ')}`,
      );
    }
  });
});
