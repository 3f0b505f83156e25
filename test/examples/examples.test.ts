// The examples users start from (examples/): every manifest is a valid Kubernetes object under a
// strict schema check (no cluster), hotreload's real CLI parser accepts the arguments each one
// gives it, each pod is wired the way hotreload needs (volumes, watched paths, UIDs, probes), and
// where the program is installed here, the example's own configuration runs end to end through a
// kubelet-style update (test/harness/example-runs.ts says what a local run changes).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { parse } from '../../src/config/cli.js';
import { resolveConfig, type Config } from '../../src/config/config.js';
import { parseRules } from '../../src/config/rules-file.js';
import { resolveSetup } from '../../src/config/rules.js';
import { VERSION } from '../../src/lib/version.js';
import type { LogRecord } from '../doubles/log-sink.js';
import { cleanupTempDirs } from '../harness/atomic-writer.js';
import { TIMEOUT, errOf, failed, killProcesses, reloaded } from '../harness/e2e.js';
import { localArgv, localUrl } from '../harness/example-pod.js';
import { LOCAL_RUNS, playUpdate } from '../harness/example-runs.js';
import {
  EXAMPLES_DIR,
  containersOf,
  expand,
  hotreloadInvocation,
  isUpdate,
  loadManifests,
  manifestFiles,
  mountHolding,
  parseManifestFile,
  podSpecOf,
  type Manifest,
} from '../harness/examples.js';
import { schemaErrors } from '../harness/k8s-schema.js';
import { request } from '../harness/net.js';
import { requireProgram } from '../harness/programs.js';
import { waitFor } from '../harness/wait.js';

afterEach(killProcesses);
after(cleanupTempDirs);

const EXAMPLES = [
  'nginx',
  'filebeat',
  'prometheus',
  'configmap-reload-migration',
  'prometheus-config-reloader-migration',
  'child',
  'nginx-php-fpm',
  'grafana',
];
/**
 * Examples that replace another reloader (deployment-before.yaml, deployment-after.yaml), and the
 * image they replace.
 */
const MIGRATIONS: Readonly<Record<string, RegExp>> = {
  'configmap-reload-migration': /^ghcr\.io\/jimmidyson\/configmap-reload[:@]/,
  'prometheus-config-reloader-migration':
    /^quay\.io\/prometheus-operator\/prometheus-config-reloader[:@]/,
};
const manifests = loadManifests();
const workloads = manifests.filter((m) => podSpecOf(m.object));

/**
 * The Config of each rule of a container's invocation (throws what main() would report): one for
 * the flags; with --config, the rules of the rules file, read from the ConfigMap of the example
 * that the container mounts at the file's directory.
 */
function configsOf(c: IContainer, m: Manifest): Config[] {
  const inv = hotreloadInvocation(c)!;
  const parsed = parse(inv.argv, inv.env, VERSION);
  if (parsed.kind === 'exit') throw new Error(`exit ${parsed.code}: ${parsed.output}`);
  const file = parsed.options.config;
  const text = file === undefined ? undefined : rulesText(c, m, file);
  const rules = text === undefined ? undefined : { text, parse: parseRules };
  return resolveSetup(parsed.options, '/', parsed.command, rules).rules.map((r) => r.config);
}

/** The rules file `file` as the container sees it: a key of a ConfigMap of the example. */
function rulesText(c: IContainer, m: Manifest, file: string): string {
  const mount = mountHolding(c.volumeMounts ?? [], file);
  assert.ok(mount, `--config ${file} is on no volume of ${c.name}`);
  const volume = podOf(m).volumes?.find((v) => v.name === mount.name);
  const name = volume?.configMap?.name;
  const dir = path.dirname(m.file);
  const cm = manifests.find(
    (o) =>
      path.dirname(o.file) === dir &&
      o.object.kind === 'ConfigMap' &&
      o.object.metadata.name === name,
  );
  const key = path.posix.relative(mount.mountPath, file);
  const text = (cm?.object as { data?: Record<string, string> } | undefined)?.data?.[key];
  assert.ok(text !== undefined, `--config ${file}: no key ${key} in a ConfigMap ${name} of ${dir}`);
  return text;
}

/**
 * Whether hotreload in `c` renders once and exits (--watch-interval=0, no rules file), as main()
 * decides it.
 */
function runsOnce(c: IContainer, m: Manifest): boolean {
  const inv = hotreloadInvocation(c)!;
  const parsed = parse(inv.argv, inv.env, VERSION);
  if (parsed.kind === 'exit' || parsed.options.config !== undefined) return false;
  const config = configsOf(c, m)[0]!;
  return config.once && config.render !== undefined;
}

const podOf = (m: Manifest): IPodSpec => podSpecOf(m.object)!;

describe('the strict schema check', () => {
  const deployment = () => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'app', labels: { 'example.com/any-key': 'x' } },
    spec: {
      selector: { matchLabels: { app: 'a' } },
      template: {
        metadata: { labels: { app: 'a' } },
        spec: {
          containers: [
            {
              name: 'app',
              image: 'app:1',
              ports: [{ name: 'http', containerPort: 80 }],
              securityContext: { runAsNonRoot: true },
            },
          ],
        },
      },
    },
  });

  it('accepts a valid Deployment, whatever keys its labels have', () => {
    assert.deepEqual(schemaErrors(deployment()), []);
  });

  it('reports an unknown field (a typo) with its path, and nothing else', () => {
    const d = deployment();
    const c = d.spec.template.spec.containers[0]! as Record<string, unknown>;
    c.securityContext = { runAsNonroot: true };
    c.imagePullPolicyy = 'Always';
    assert.deepEqual(schemaErrors(d).sort(), [
      '/spec/template/spec/containers/0/imagePullPolicyy: unknown field',
      '/spec/template/spec/containers/0/securityContext/runAsNonroot: unknown field',
    ]);
  });

  it('reports wrong types, bad enum values and invalid names', () => {
    const d = deployment();
    const c = d.spec.template.spec.containers[0]! as Record<string, unknown>;
    c.ports = [{ name: 'a_port', containerPort: '80' }];
    c.imagePullPolicy = 'Sometimes';
    const errors = schemaErrors(d);
    assert.ok(
      errors.some((e) =>
        e.startsWith('/spec/template/spec/containers/0/ports/0/containerPort: type'),
      ),
      errors.join('\n'),
    );
    assert.ok(
      errors.some((e) => e.startsWith('/spec/template/spec/containers/0/imagePullPolicy: enum')),
      errors.join('\n'),
    );
    assert.ok(
      errors.some((e) => e.includes('"a_port" is not a valid port name')),
      errors.join('\n'),
    );
  });

  it('knows no kind it has no schema for', () => {
    assert.match(schemaErrors({ apiVersion: 'example.com/v1', kind: 'Widget' })[0]!, /no schema/);
  });
});

describe('the manifest helpers', () => {
  it("expand() resolves $(VAR) from the container's env as the kubelet does", () => {
    const env = { DIR: '/etc/app' };
    assert.equal(expand('--watch=$(DIR)', env), '--watch=/etc/app');
    assert.equal(expand('$$(DIR) $(NOPE) $$', env), '$(DIR) $(NOPE) $');
  });

  it('hotreloadInvocation() finds hotreload by its image or by a `hotreload` command', () => {
    const image = 'ghcr.io/hotreload/hotreload:0.1.0';
    const env = [
      { name: 'DIR', value: '/etc/app' },
      { name: 'HOTRELOAD_DEBOUNCE', value: '2s' },
      { name: 'HOTRELOAD_HTTP_URL', valueFrom: { configMapKeyRef: { name: 'x', key: 'url' } } },
    ];
    assert.deepEqual(hotreloadInvocation({ name: 'h', image, args: ['--watch=$(DIR)'], env }), {
      argv: ['--watch=/etc/app'],
      env: { HOTRELOAD_DEBOUNCE: '2s' },
      unresolved: ['HOTRELOAD_HTTP_URL'],
    });
    const command = ['node', '/app/dist/main.js', '--watch=/a'];
    assert.deepEqual(hotreloadInvocation({ name: 'h', image, command })?.argv, ['--watch=/a']);
    assert.throws(() => hotreloadInvocation({ name: 'h', image, command: ['sh', '-c', 'x'] }));
    const child = {
      name: 'app',
      image: 'app:1',
      command: ['/usr/local/bin/hotreload', '--watch=/a', '--', 'app'],
    };
    assert.deepEqual(hotreloadInvocation(child)?.argv, ['--watch=/a', '--', 'app']);
    assert.equal(hotreloadInvocation({ name: 'app', image: 'nginx:1' }), undefined);
  });

  it('localArgv() changes paths, URLs, commands, --listen and --debounce, and keeps every other flag as written', () => {
    const argv = [
      '--volume-dir=/etc/prometheus',
      '--webhook-url',
      'http://localhost:9090/-/reload',
      '-webhook-status-code=200',
      '--validate',
      '--web.listen-address=:9533',
      '--debounce=5s',
      '--validate-cmd=nginx -t',
      '--',
      'nginx',
      '-g',
      'daemon off;',
    ];
    assert.deepEqual(
      localArgv(argv, {
        path: (p) => `/local${p}`,
        url: localUrl(new Map([[9090, 4000]])),
        shell: (cmd) => `/usr/sbin/${cmd}`,
        command: (c) => ['/usr/sbin/nginx', ...c.slice(1)],
        extra: ['--pid-file=/run/x.pid'],
      }),
      [
        '--volume-dir=/local/etc/prometheus',
        '--webhook-url=http://127.0.0.1:4000/-/reload',
        '-webhook-status-code=200',
        '--validate',
        '--validate-cmd=/usr/sbin/nginx -t',
        '--listen=127.0.0.1:0',
        '--debounce=0',
        '--pid-file=/run/x.pid',
        '--',
        '/usr/sbin/nginx',
        '-g',
        'daemon off;',
      ],
    );
  });

  it("localArgv() maps prometheus-config-reloader's flags: --config-file, --config-envsubst-file and --watched-dir to local paths, --reload-url and --runtimeinfo-url to the local port", () => {
    const argv = [
      '--listen-address=:8080',
      '--reload-url=http://localhost:9090/-/reload',
      '--runtimeinfo-url=http://localhost:9090/api/v1/status/runtimeinfo',
      '--config-file=/etc/prometheus/config/prometheus.yaml.gz',
      '--config-envsubst-file=/etc/prometheus/config_out/prometheus.env.yaml',
      '--watched-dir=/etc/prometheus/rules/r-0',
      '--retry-interval=5s',
    ];
    assert.deepEqual(
      localArgv(argv, { path: (p) => `/local${p}`, url: localUrl(new Map([[9090, 4000]])) }),
      [
        '--reload-url=http://127.0.0.1:4000/-/reload',
        '--runtimeinfo-url=http://127.0.0.1:4000/api/v1/status/runtimeinfo',
        '--config-file=/local/etc/prometheus/config/prometheus.yaml.gz',
        '--config-envsubst-file=/local/etc/prometheus/config_out/prometheus.env.yaml',
        '--watched-dir=/local/etc/prometheus/rules/r-0',
        '--retry-interval=5s',
        '--listen=127.0.0.1:0',
        '--debounce=0',
      ],
    );
  });
});

describe('example manifests', () => {
  it('every example has a README and at least one manifest', () => {
    for (const example of EXAMPLES) {
      assert.ok(existsSync(path.join(EXAMPLES_DIR, example, 'README.md')), `${example}/README.md`);
      assert.ok(
        manifests.some((m) => m.example === example),
        `${example} has no manifest`,
      );
    }
  });

  for (const file of manifestFiles()) {
    it(`${file} parses as YAML and each object is valid against the Kubernetes API schema`, () => {
      const { documents, problems } = parseManifestFile(file);
      assert.deepEqual(problems, []);
      assert.ok(documents.length > 0, 'no document');
      documents.forEach((doc, i) => assert.deepEqual(schemaErrors(doc), [], `document ${i}`));
    });
  }

  for (const m of manifests.filter(isUpdate)) {
    it(`${m.file} updates a ConfigMap of its example and changes its data`, () => {
      assert.equal(m.object.kind, 'ConfigMap');
      const original = manifests.find(
        (o) =>
          !isUpdate(o) &&
          o.example === m.example &&
          o.object.kind === 'ConfigMap' &&
          o.object.metadata.name === m.object.metadata.name &&
          o.object.metadata.namespace === m.object.metadata.namespace,
      );
      assert.ok(original, `no ConfigMap ${m.object.metadata.name} outside update/`);
      assert.notDeepEqual(m.object.data, original.object.data);
      assert.deepEqual(
        Object.keys(m.object.data as object),
        Object.keys(original.object.data as object),
      );
    });
  }
});

describe("hotreload's arguments in the examples", () => {
  const runs = workloads.flatMap((m) =>
    containersOf(podOf(m))
      .filter(({ container }) => hotreloadInvocation(container))
      .map(({ container }) => ({ m, container })),
  );

  it('every example but the "before" of a migration runs hotreload', () => {
    const using = new Set(runs.map((r) => r.m.file));
    const without = workloads.filter((m) => !using.has(m.file)).map((m) => m.file);
    assert.deepEqual(
      without,
      Object.keys(MIGRATIONS).map((example) => `${example}/deployment-before.yaml`),
    );
  });

  for (const [example, replaced] of Object.entries(MIGRATIONS)) {
    const file = (name: string) => podOf(workloads.find((w) => w.file === `${example}/${name}`)!);
    const beforeSpec = file('deployment-before.yaml');
    const afterSpec = file('deployment-after.yaml');
    /** A container's list: initContainers or containers. */
    const listOf = (spec: IPodSpec, init: boolean) =>
      init ? (spec.initContainers ?? []) : spec.containers;
    const isReplaced = (c: IContainer) => replaced.test(c.image ?? '');
    const olds = containersOf(beforeSpec).filter(({ container }) => isReplaced(container));
    const where = ({ container, init }: { container: IContainer; init: boolean }) =>
      `${init ? 'initContainers' : 'containers'}/${container.name}`;

    it(`${example}: deployment-after.yaml runs hotreload exactly where deployment-before.yaml ran the replaced reloader, and the rest of the pod is unchanged`, () => {
      assert.ok(olds.length > 0, `deployment-before.yaml runs no ${replaced.source}`);
      assert.deepEqual(
        containersOf(afterSpec)
          .filter(({ container }) => isReplaced(container))
          .map(where),
        [],
        'the replaced image still runs',
      );
      assert.deepEqual(
        containersOf(afterSpec)
          .filter(({ container }) => hotreloadInvocation(container))
          .map(where),
        olds.map(where),
      );
      // The other containers, the volumes and every other field of the pod, as they were.
      for (const init of [true, false]) {
        const others = (spec: IPodSpec) => listOf(spec, init).filter((c) => !isReplaced(c));
        assert.deepEqual(
          others(afterSpec).filter((c) => !hotreloadInvocation(c)),
          others(beforeSpec),
        );
      }
      const rest = (spec: IPodSpec) => ({ ...spec, initContainers: [], containers: [] });
      assert.deepEqual(rest(afterSpec), rest(beforeSpec));
    });

    for (const old of olds) {
      const before = old.container;
      it(`${example}: ${where(old)}: the replaced reloader's arguments are accepted by hotreload's CLI parser and config as written, and deployment-after.yaml keeps the container in its place with them all, in order, its image swapped`, () => {
        const args = before.args ?? [];
        assert.ok(args.length > 0);
        const parsed = parse(args, {}, VERSION);
        assert.equal(parsed.kind, 'run', parsed.kind === 'exit' ? parsed.output : '');
        if (parsed.kind === 'run')
          assert.doesNotThrow(() => resolveConfig(parsed.options, '/', parsed.command));
        // The same place in the same list, under the same name (logs, dashboards, the operator's
        // strategic merge by name), and the same kind of container (no restartPolicy added).
        const index = listOf(beforeSpec, old.init).indexOf(before);
        const after = listOf(afterSpec, old.init)[index];
        assert.equal(after?.name, before.name, `${where(old)} is not at position ${index}`);
        const inv = hotreloadInvocation(after);
        assert.ok(inv, `${where(old)} does not run hotreload`);
        const kept = inv.argv.filter((a) => args.includes(a));
        assert.deepEqual(kept, args, 'the same arguments, in the same order');
        // The image swapped (its command with it); resources and probes are hotreload's; the
        // rest of the container (env, ports, mounts, security context, restartPolicy) as it was.
        const swapped = new Set(['image', 'command', 'args', 'resources']);
        const unchanged = (c: IContainer) =>
          Object.fromEntries(
            Object.entries(c).filter(([key]) => !swapped.has(key) && !key.endsWith('Probe')),
          );
        assert.deepEqual(unchanged(after), unchanged(before));
      });
    }
  }

  for (const { m, container } of runs) {
    it(`${m.file}: container ${container.name}'s arguments are accepted by hotreload's CLI parser and config`, () => {
      const inv = hotreloadInvocation(container)!;
      assert.deepEqual(
        inv.unresolved,
        [],
        'HOTRELOAD_* variables with valueFrom cannot be checked',
      );
      const parsed = parse(inv.argv, inv.env, VERSION);
      assert.equal(parsed.kind, 'run', parsed.kind === 'exit' ? parsed.output : '');
      assert.doesNotThrow(() => configsOf(container, m));
    });
  }

  it("the child example's command repeats its Dockerfile's ENTRYPOINT", () => {
    const dockerfile = readFileSync(path.join(EXAMPLES_DIR, 'child', 'Dockerfile'), 'utf8');
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    const m = workloads.find((w) => w.file === 'child/deployment.yaml')!;
    assert.deepEqual(podOf(m).containers[0]!.command, entrypoint);
  });
});

describe('pod wiring', () => {
  for (const m of workloads) {
    const spec = podOf(m);
    const containers = containersOf(spec).map((c) => c.container);
    const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));

    it(`${m.file}: every volume mount names a volume of the pod, and every ConfigMap volume a ConfigMap of the example`, () => {
      for (const c of containers) {
        for (const mount of c.volumeMounts ?? [])
          assert.ok(volumes.has(mount.name), `${c.name} mounts unknown volume ${mount.name}`);
      }
      const readme = readFileSync(path.join(EXAMPLES_DIR, m.example, 'README.md'), 'utf8');
      for (const v of volumes.values()) {
        const name = v.configMap?.name;
        if (!name) continue;
        const inExample = manifests.some(
          (o) =>
            o.example === m.example &&
            !isUpdate(o) &&
            o.object.kind === 'ConfigMap' &&
            o.object.metadata.name === name &&
            o.object.metadata.namespace === m.object.metadata.namespace,
        );
        assert.ok(
          inExample || readme.includes(`kubectl create configmap ${name}`),
          `ConfigMap ${name} is neither in ${m.example}/ nor created by the README`,
        );
      }
    });

    it(`${m.file}: no container asks for runAsNonRoot with UID 0`, () => {
      for (const c of containers) {
        const nonRoot = c.securityContext?.runAsNonRoot ?? spec.securityContext?.runAsNonRoot;
        if (nonRoot) assert.notEqual(uidOf(c, spec), 0, c.name);
      }
    });

    for (const c of containers.filter((c) => hotreloadInvocation(c))) {
      // With --config, each rule of the rules file (the server settings are the same in all).
      const configs = configsOf(c, m);
      const config = configs[0]!;

      it(`${m.file}: ${c.name}: every path hotreload watches is on a volume mounted in its container, without subPath`, () => {
        for (const watched of configs.flatMap((x) => x.watch)) {
          const mount = mountHolding(c.volumeMounts ?? [], watched);
          assert.ok(mount, `--watch ${watched} is on no volume of ${c.name}`);
          assert.equal(
            mount.subPath ?? mount.subPathExpr,
            undefined,
            `${watched}: subPath mounts are never updated`,
          );
          const cm = volumes.get(mount.name)?.configMap?.name;
          const object = manifests.find(
            (o) => o.object.kind === 'ConfigMap' && o.object.metadata.name === cm,
          );
          assert.notEqual(
            object?.object.immutable,
            true,
            `ConfigMap ${cm} is immutable: it never changes`,
          );
        }
      });

      const render = configs.find((x) => x.render)?.render;
      if (render) {
        const { input, output } = render;

        it(`${m.file}: ${c.name}: --config-envsubst-file is on a writable emptyDir that another container reads, and every $(VAR) of --config-file is in hotreload's env`, () => {
          const mount = mountHolding(c.volumeMounts ?? [], output);
          assert.ok(mount, `${output} is on no volume of ${c.name}`);
          assert.ok(volumes.get(mount.name)?.emptyDir, `${mount.name} is not an emptyDir`);
          assert.notEqual(mount.readOnly, true, `${mount.name} is mounted read-only`);
          const rel = path.posix.relative(mount.mountPath, output);
          const readers = containers.filter((o) =>
            (o.volumeMounts ?? [])
              .filter((om) => om.name === mount.name)
              .some((om) =>
                (o.args ?? []).some((a) => a.endsWith(path.posix.join(om.mountPath, rel))),
              ),
          );
          assert.ok(
            readers.some((o) => o !== c),
            `no other container names ${output} in its arguments`,
          );
          const inputMount = mountHolding(c.volumeMounts ?? [], input);
          const cm = inputMount && volumes.get(inputMount.name)?.configMap?.name;
          assert.ok(cm, `--config-file ${input} is on no ConfigMap volume`);
          const key = path.posix.relative(inputMount.mountPath, input);
          const source = manifests.find(
            (o) =>
              o.example === m.example &&
              !isUpdate(o) &&
              o.object.kind === 'ConfigMap' &&
              o.object.metadata.name === cm,
          );
          const text = (source?.object.data as Record<string, string> | undefined)?.[key];
          assert.ok(text, `ConfigMap ${cm} has no key ${key}`);
          const env = new Set((c.env ?? []).map((e) => e.name));
          const refs = [...text.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((r) => r[1]!);
          assert.deepEqual(
            refs.filter((name) => !env.has(name)),
            [],
            'variables an E_RENDER would name',
          );
        });
      }

      const once = runsOnce(c, m);
      const regularInit = (spec.initContainers ?? []).includes(c) && c.restartPolicy !== 'Always';

      it(`${m.file}: ${c.name}: a regular init container exactly when hotreload runs once in it (--watch-interval=0), and then without probes`, () => {
        assert.equal(
          regularInit,
          once,
          once
            ? 'hotreload renders and exits: anywhere but in a regular init container the kubelet would start it again and again'
            : 'a regular init container must exit for the pod to start; this hotreload keeps running',
        );
        if (once) {
          const probes = [c.livenessProbe, c.readinessProbe, c.startupProbe];
          assert.deepEqual(
            probes.filter((p) => p !== undefined),
            [],
            'it serves nothing to probe',
          );
        }
      });

      if (!once) {
        it(`${m.file}: ${c.name}: hotreload's probes ask its own port for /healthz and /readyz`, () => {
          const port = config.listen?.port;
          assert.ok(
            port,
            'hotreload serves no endpoints (--listen ""), so it has no probe to answer',
          );
          const probes = [c.livenessProbe, c.readinessProbe, c.startupProbe].filter(
            (p): p is IProbe => p !== undefined && portOf(c, p) === port,
          );
          const paths = probes.map((p) => p.httpGet?.path);
          assert.ok(
            paths.includes('/healthz') && paths.includes('/readyz'),
            `probes on :${port}: ${paths.join(', ')}`,
          );
          assert.ok(
            c.ports?.some((p) => p.containerPort === port),
            `port ${port} is not declared`,
          );
          assert.ok(
            c.livenessProbe &&
              portOf(c, c.livenessProbe) === port &&
              c.livenessProbe.httpGet?.path === '/healthz',
          );
        });
      }

      const { selector, signal, restart, command } =
        configs.find((x) => x.process.signal || x.process.restart)?.process ?? config.process;
      if ((signal || restart) && command.length === 0) {
        it(`${m.file}: ${c.name}: to ${signal ? 'signal' : 'restart'} another container's process, the pod shares its process namespace and hotreload has that container's UID`, () => {
          assert.ok(selector);
          assert.equal(spec.shareProcessNamespace, true);
          const uid = uidOf(c, spec);
          assert.notEqual(uid, undefined, 'hotreload has no explicit runAsUser');
          const others = containers.filter((o) => o !== c).map((o) => uidOf(o, spec));
          assert.ok(
            others.includes(uid),
            `no other container runs as UID ${uid} (${others.join(', ')})`,
          );
        });
      }
    }
  }
});

/** The UID a container runs as, where the manifest says it (the hotreload image's own: 65532). */
function uidOf(c: IContainer, spec: IPodSpec): number | undefined {
  const explicit = c.securityContext?.runAsUser ?? spec.securityContext?.runAsUser;
  if (explicit !== undefined) return explicit;
  return c.image?.startsWith('ghcr.io/hotreload/hotreload') ? 65532 : undefined;
}

/** The container port a probe's httpGet asks (a named port resolved). */
function portOf(c: IContainer, probe: IProbe): number | undefined {
  const port = probe.httpGet?.port;
  if (typeof port === 'number') return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

describe('examples run locally with their own configuration', () => {
  for (const [workload, { program, process: name, run }] of Object.entries(LOCAL_RUNS)) {
    describe(workload, () => {
      const skip = requireProgram(program);

      it(
        `${name} runs the updated ConfigMap after a kubelet-style update`,
        { ...TIMEOUT, skip },
        async () => {
          const r = await run();
          // The pod's regular init containers ran first, one after the other, each to completion;
          // hotreload in them rendered once (--watch-interval=0), told nothing and served nothing.
          const spec = podOf(workloads.find((w) => w.file === workload)!);
          assert.deepEqual(
            r.inits.map((i) => i.name),
            (spec.initContainers ?? [])
              .filter((c) => c.restartPolicy !== 'Always')
              .map((c) => c.name),
          );
          for (const init of r.inits) {
            assert.deepEqual(init.exit, { code: 0, signal: null }, init.name);
            assert.deepEqual(
              init.logs.map((l) => l.msg),
              ['rendered once (--watch-interval=0)'],
              init.name,
            );
            // What the application started on: the pod's name in place of $(POD_NAME).
            assert.ok(init.rendered, `${init.name} renders nothing`);
            const { content, expected } = init.rendered;
            assert.ok(content !== undefined, `${init.name} wrote no --config-envsubst-file`);
            assert.equal(content, expected);
            assert.ok(content.includes(r.pod.identity.name), content);
            assert.ok(!content.includes('$('), content);
          }
          assert.notEqual(
            r.expected.before,
            r.expected.after,
            'update/ must change what the application runs',
          );
          const { before, after, logs } = await playUpdate(r);
          assert.equal(before, r.expected.before);
          assert.equal(after, r.expected.after);
          assert.ok(logs.some((l) => l.msg === 'change detected'));
          if (r.argv.some((a) => a.startsWith('--signal'))) {
            const sent = logs.filter((l) => l.msg.startsWith('sent '));
            assert.deepEqual(
              sent.map((l) => l.msg),
              [`sent SIGHUP to ${name} (pid ${r.appPid})`],
            );
          }
          if (r.argv.includes('--restart')) {
            // By pid: the filebeat stand-in is Node.js, which Node 24 names MainThread (its comm);
            // --process-name still finds it by its argv[0], a link named filebeat.
            const stopping = logs.filter((l) => l.msg.startsWith('stopping '));
            assert.equal(stopping.length, 1);
            assert.match(stopping[0]!.msg, new RegExp(`^stopping \\S+ \\(pid ${r.appPid}\\)$`));
            assert.ok(logs.some((l) => l.msg === 'new process started'));
          }
          if (r.argv.some((a) => a.startsWith('--config-envsubst-file'))) {
            // Prometheus cannot expand $(POD_NAME) itself: what it runs, before and after the
            // update, holds the pod's name, rendered by hotreload before each reload.
            const pod = r.env.POD_NAME;
            assert.ok(pod, 'POD_NAME is set from the downward API');
            for (const runs of [before, after]) {
              assert.ok(runs.includes(`=${pod}`), runs);
              assert.ok(!runs.includes('$('), runs);
            }
            // Rendered first, then Prometheus told (its line may follow what Prometheus runs).
            const since = (l: LogRecord) => r.hr.logs.indexOf(l) >= r.hr.logs.indexOf(logs[0]!);
            const http = await r.hr.waitForLog(
              (l) => since(l) && reloaded(l) && l.action === 'http',
              10_000,
              "the HTTP action's 'reload succeeded'",
            );
            const render = r.hr.logs.find((l) => since(l) && reloaded(l) && l.action === 'render');
            assert.ok(render, "no 'reload succeeded' of the render action");
            assert.ok(r.hr.logs.indexOf(render) < r.hr.logs.indexOf(http));
          }
          if (r.argv.includes('--configmap-reload-metrics')) {
            // The migration's promise: configmap-reload's dashboards see the reload.
            const res = await request(`${await r.hr.ready()}/metrics`);
            assert.match(
              res.body,
              /^configmap_reload_success_reloads_total\{webhook="[^"]+"\} 1$/m,
            );
            assert.match(res.body, /^configmap_reload_last_reload_error\{webhook="[^"]+"\} 0$/m);
          }
          assert.deepEqual(await r.hr.stop(), { code: 0, signal: null });
        },
      );
    });
  }

  describe('nginx/deployment.yaml with a configuration nginx rejects', () => {
    const skip = requireProgram(LOCAL_RUNS['nginx/deployment.yaml']!.program);

    it(
      'is a failed reload (--verify-children: no new workers) while nginx keeps serving',
      { ...TIMEOUT, skip },
      async () => {
        const r = await LOCAL_RUNS['nginx/deployment.yaml']!.run();
        await r.edit((conf) =>
          conf.replace('server_name _;', 'server_name _;\n  no_such_directive on;'),
        );
        const failure = await r.hr.waitForLog(failed, 15_000, "'reload failed; retrying'");
        assert.equal(errOf(failure).code, 'E_VERIFY_CHILDREN');
        assert.equal(await r.observe(), r.expected.before);
        await r.update();
        await waitFor(
          async () => (await r.observe()) === r.expected.after,
          20_000,
          'the fixed configuration',
        );
      },
    );
  });

  describe('prometheus/deployment-signal.yaml with a configuration Prometheus rejects', () => {
    const skip = requireProgram(LOCAL_RUNS['prometheus/deployment-signal.yaml']!.program);

    it(
      'is a failed reload (--verify-metric: prometheus_config_last_reload_successful 0) while Prometheus keeps its configuration, and the update lands',
      { ...TIMEOUT, skip },
      async () => {
        const r = await LOCAL_RUNS['prometheus/deployment-signal.yaml']!.run();
        // Valid YAML (--validate lets it through) that Prometheus refuses.
        await r.edit((conf) => conf.replace(/scrape_interval: \S+/, 'scrape_interval: soon'));
        const failure = await r.hr.waitForLog(failed, 15_000, "'reload failed; retrying'");
        assert.equal(errOf(failure).code, 'E_VERIFY');
        assert.match(errOf(failure).message, /answered that the reload failed/);
        assert.ok(r.hr.logs.some((l) => l.msg === `sent SIGHUP to prometheus (pid ${r.appPid})`));
        assert.equal(await r.observe(), r.expected.before);
        await r.update();
        await waitFor(async () => (await r.observe()) === r.expected.after, 20_000, 'the update');
        await r.hr.waitForLog(reloaded, 15_000);
        assert.deepEqual(await r.hr.stop(), { code: 0, signal: null });
      },
    );
  });

  describe('prometheus-config-reloader-migration/deployment-after.yaml with a changed rule file', () => {
    const workload = 'prometheus-config-reloader-migration/deployment-after.yaml';
    const skip = requireProgram(LOCAL_RUNS[workload]!.program);

    it(
      'reloads Prometheus for a change of the --watched-dir volume alone, the rendered configuration unchanged',
      { ...TIMEOUT, skip },
      async () => {
        const r = await LOCAL_RUNS[workload]!.run();
        const reloadUrl = r.argv.find((a) => a.startsWith('--reload-url='))!.split('=')[1]!;
        const base = new URL(reloadUrl).origin;
        const rules = async () => {
          const res = await request(`${base}/api/v1/rules`);
          const body = JSON.parse(res.body) as {
            data: { groups: { rules: { name: string }[] }[] };
          };
          return body.data.groups.flatMap((g) => g.rules.map((rule) => rule.name));
        };
        assert.deepEqual(await rules(), ['job:up:sum']);
        const from = r.hr.logs.length;
        const name = 'prometheus-pcr-migration-rulefiles-0';
        const data = r.pod.data(name, 'initial');
        await r.pod.write(name, {
          'example.yaml': data['example.yaml']!.replace(
            'record: job:up:sum',
            'record: job:up:total',
          ),
        });
        const reload = await r.hr.waitForLog(
          (l) => r.hr.logs.indexOf(l) >= from && reloaded(l) && l.action === 'http',
          20_000,
          "the HTTP action's 'reload succeeded'",
        );
        assert.ok(reload);
        assert.deepEqual(await rules(), ['job:up:total']);
        assert.equal(await r.observe(), r.expected.before);
        assert.deepEqual(await r.hr.stop(), { code: 0, signal: null });
      },
    );
  });

  describe('child/deployment.yaml with a configuration nginx rejects, and at shutdown', () => {
    const skip = requireProgram(LOCAL_RUNS['child/deployment.yaml']!.program);

    it(
      "refuses it before any signal (--validate-cmd 'nginx -t'), and exits with nginx's code 0 when stopped with the image's STOPSIGNAL SIGQUIT",
      { ...TIMEOUT, skip },
      async () => {
        const r = await LOCAL_RUNS['child/deployment.yaml']!.run();
        await r.edit((conf) =>
          conf.replace('server_name _;', 'server_name _;\n  no_such_directive on;'),
        );
        const rejected = await r.hr.waitForLog(
          (l) => l.msg === 'configuration rejected by validation; not reloading until it changes',
          15_000,
          'the rejection',
        );
        assert.ok(!r.hr.logs.some((l) => l.msg.startsWith('sent ')), JSON.stringify(rejected));
        assert.equal(await r.observe(), r.expected.before);
        const { after } = await playUpdate(r);
        assert.equal(after, r.expected.after);
        assert.deepEqual(await r.hr.stop('SIGQUIT'), { code: 0, signal: null });
      },
    );
  });
});
