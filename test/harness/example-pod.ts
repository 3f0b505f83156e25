// A pod of an example, laid out on this machine: each configMap volume becomes a kubelet-style
// volume (AtomicWriter) holding the example's own ConfigMap data, each emptyDir (or hostPath) a
// temp directory, and container paths map to them through the container's volumeMounts. A
// container's environment is resolved as the kubelet resolves it (literal values, and the pod's
// name and namespace from the downward API). It also rewrites a manifest's hotreload argv for a
// local run. It starts no process (example-runs.ts does).
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import path from 'node:path';
import { OPTIONS, type RawOptions } from '../../src/config/options.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { AtomicWriter, makeTempDir, type Payload } from './atomic-writer.js';
import { POD_START_GAP_MS } from './e2e.js';
import { configMapData, expand, isUnder, mountHolding, type Manifest } from './examples.js';

/**
 * Changes a ConfigMap key's content for the local run (a listen port, a path on a volume of the
 * pod, say); identity if none.
 */
export type Transform = (key: string, content: string, pod: LocalPod) => string;

/** The name and namespace the downward API gives a local pod. */
export interface PodIdentity {
  readonly name: string;
  readonly namespace: string;
}

interface ConfigMapVolume {
  readonly configMap: string;
  readonly writer: AtomicWriter;
  readonly project: (data: Record<string, string>) => Payload;
}

export class LocalPod {
  private constructor(
    private readonly manifests: readonly Manifest[],
    private readonly dirs: ReadonlyMap<string, string>,
    private readonly configMaps: ConfigMapVolume[],
    private readonly transform: Transform,
    readonly identity: PodIdentity,
  ) {}

  /**
   * Lays out every volume of `spec`: a configMap as a kubelet-style volume, an emptyDir or a
   * hostPath as an empty temp directory (nothing of this machine's is exposed). Every directory
   * exists before the first ConfigMap is projected, so `transform` may name any of them.
   */
  static async create(
    manifests: readonly Manifest[],
    spec: IPodSpec,
    transform: Transform = (_key, content) => content,
    identity: PodIdentity = { name: 'example-local', namespace: 'default' },
  ): Promise<LocalPod> {
    const dirs = new Map<string, string>();
    for (const v of spec.volumes ?? []) {
      if (!v.configMap && !v.emptyDir && !v.hostPath) {
        throw new Error(
          `volume ${v.name}: only configMap, emptyDir and hostPath volumes run locally`,
        );
      }
      dirs.set(v.name, await makeTempDir(`example-${v.name}`));
    }
    const configMaps: ConfigMapVolume[] = [];
    const pod = new LocalPod(manifests, dirs, configMaps, transform, identity);
    for (const v of spec.volumes ?? []) {
      if (!v.configMap) continue;
      const { name, items, defaultMode } = v.configMap;
      if (!name) throw new Error(`volume ${v.name}: configMap without a name`);
      // As the kubelet projects it: the listed items (key -> path, mode), else every key.
      const project = (data: Record<string, string>): Payload => {
        const chosen =
          items ?? Object.keys(data).map((key) => ({ key, path: key, mode: undefined }));
        return Object.fromEntries(
          chosen.map((item) => [
            item.path,
            {
              content: transform(item.key, data[item.key] ?? '', pod),
              mode: item.mode ?? defaultMode ?? 0o644,
            },
          ]),
        );
      };
      const writer = new AtomicWriter(dirs.get(v.name)!);
      await writer.write(project(configMapData(manifests, name, 'initial')));
      configMaps.push({ configMap: name, writer, project });
    }
    // The kubelet writes the volumes before it starts the pod's containers.
    await sleep(POD_START_GAP_MS);
    return pod;
  }

  /** The local path of `p` as `container` sees it, through its volumeMounts. */
  localPath(container: IContainer, p: string): string {
    const mount = mountHolding(container.volumeMounts ?? [], p);
    const dir = mount && this.dirs.get(mount.name);
    if (!mount || !dir) throw new Error(`${p} is on no volume of container ${container.name}`);
    return path.join(dir, mount.subPath ?? '', path.posix.relative(mount.mountPath, p));
  }

  /** Maps `--flag=/path` and `/path` arguments that lie on a volume; others stay as they are. */
  localArg(container: IContainer, arg: string): string {
    const m = /^(-{1,2}[^=]+=)?(\/.*)$/s.exec(arg);
    const mounts = container.volumeMounts ?? [];
    if (!m || !mounts.some((mt) => isUnder(m[2]!, mt.mountPath))) return arg;
    return `${m[1] ?? ''}${this.localPath(container, m[2]!)}`;
  }

  /** Projects the update/ version of every ConfigMap that has one, as the kubelet would. */
  async update(): Promise<void> {
    let updated = 0;
    for (const v of this.configMaps) {
      const data = (() => {
        try {
          return configMapData(this.manifests, v.configMap, 'update');
        } catch {
          return undefined;
        }
      })();
      if (data) {
        await v.writer.write(v.project(data));
        updated++;
      }
    }
    if (updated === 0) throw new Error('the example has no update/ ConfigMap for this pod');
  }

  /** Projects `data` as ConfigMap `name`'s new content (a test's own change, say). */
  async write(name: string, data: Record<string, string>): Promise<void> {
    const volumes = this.configMaps.filter((v) => v.configMap === name);
    if (volumes.length === 0) throw new Error(`no volume of ConfigMap ${name} in this pod`);
    for (const v of volumes) await v.writer.write(v.project(data));
  }

  /** The example's data of ConfigMap `name`, initial or updated, as written in the manifest. */
  data(name: string, which: 'initial' | 'update'): Record<string, string> {
    return configMapData(this.manifests, name, which);
  }

  /** The local content of `key` of ConfigMap `name` (after the transform), initial or updated. */
  content(name: string, key: string, which: 'initial' | 'update'): string {
    return this.transform(key, configMapData(this.manifests, name, which)[key] ?? '', this);
  }

  /**
   * `container`'s environment as the kubelet sets it: literal values (with `$(VAR)` of earlier
   * ones expanded), and `fieldRef` to the pod's name and namespace. Any other source throws: a
   * local run cannot know it.
   */
  env(container: IContainer): Record<string, string> {
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      if (!e.valueFrom) env[e.name] = expand(e.value ?? '', env);
      else if (field === 'metadata.name') env[e.name] = this.identity.name;
      else if (field === 'metadata.namespace') env[e.name] = this.identity.namespace;
      else throw new Error(`${container.name}: env ${e.name} comes from a source no local run has`);
    }
    return env;
  }
}

/** One option of an argv, as written (`--volume-dir`, `-volume-dir`) and under its canonical key. */
interface Flag {
  readonly written: string;
  readonly key: keyof RawOptions;
  readonly value: string | undefined;
}

const KEYS = new Map<string, keyof RawOptions>();
for (const [key, def] of Object.entries(OPTIONS) as [keyof RawOptions, { alias?: unknown }][]) {
  KEYS.set(key, key);
  for (const alias of [def.alias ?? []].flat() as string[]) KEYS.set(alias, key);
}

/** Splits hotreload's argv into its options and the child command after `--`. */
export function splitArgv(argv: readonly string[]): { flags: Flag[]; command: string[] } {
  const flags: Flag[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') return { flags, command: argv.slice(i + 1) };
    const m = /^(--?)([a-z][a-z0-9.-]*)(?:=(.*))?$/s.exec(token);
    const key = m && KEYS.get(m[2]!);
    if (!m || !key) throw new Error(`cannot read hotreload argument ${JSON.stringify(token)}`);
    const boolean = OPTIONS[key].type === 'boolean';
    const value = m[3] ?? (boolean ? undefined : argv[++i]);
    flags.push({ written: `${m[1]}${m[2]}`, key, value });
  }
  return { flags, command: [] };
}

export interface Adaptation {
  /**
   * Paths of --watch, --pid-file, --state-file, --config-file, --config-envsubst-file and
   * --http-header-file, as hotreload sees them.
   */
  readonly path: (p: string) => string;
  /** URLs of --http-url, --verify-url and --runtimeinfo-url. */
  readonly url?: (u: string) => string;
  /** Shell commands of --validate-cmd and --exec. */
  readonly shell?: (cmd: string) => string;
  /** The child command after `--`. */
  readonly command?: (argv: readonly string[]) => string[];
  /** More options, e.g. a selector that narrows the target to this run's process. */
  readonly extra?: readonly string[];
}

const PATH_KEYS: ReadonlySet<keyof RawOptions> = new Set([
  'watch',
  'pid-file',
  'state-file',
  'config-file',
  'config-envsubst-file',
]);
const URL_KEYS: ReadonlySet<keyof RawOptions> = new Set([
  'http-url',
  'verify-url',
  'runtimeinfo-url',
]);

/**
 * The manifest's hotreload argv for a local run. Only these change: paths map to the local
 * volumes, URLs to the local ports, commands to the local programs (as `adapt` says); --listen
 * becomes 127.0.0.1:0 (a free port) and --debounce 0 (no quiet period); `adapt.extra` is added.
 * Every other option is passed on as the manifest writes it, aliases included.
 */
export function localArgv(argv: readonly string[], adapt: Adaptation): string[] {
  const { flags, command } = splitArgv(argv);
  const out: string[] = [];
  for (const f of flags) {
    if (f.key === 'listen' || f.key === 'debounce') continue;
    let value = f.value;
    if (value !== undefined) {
      if (PATH_KEYS.has(f.key)) value = adapt.path(value);
      else if (f.key === 'http-header-file')
        value = value.replace(/=(.*)$/s, (_, p: string) => `=${adapt.path(p)}`);
      else if (URL_KEYS.has(f.key)) value = adapt.url?.(value) ?? value;
      else if (f.key === 'validate-cmd' || f.key === 'exec') value = adapt.shell?.(value) ?? value;
    }
    out.push(value === undefined ? f.written : `${f.written}=${value}`);
  }
  out.push('--listen=127.0.0.1:0', '--debounce=0', ...(adapt.extra ?? []));
  if (command.length > 0) out.push('--', ...(adapt.command?.(command) ?? command));
  return out;
}

/** Rewrites http://127.0.0.1:P/ and http://localhost:P/ to the local port `ports` gives for P. */
export function localUrl(ports: ReadonlyMap<number, number>): (u: string) => string {
  return (u) => {
    const url = new URL(u);
    const local = ports.get(Number(url.port));
    if (!['127.0.0.1', 'localhost'].includes(url.hostname) || local === undefined) return u;
    url.hostname = '127.0.0.1';
    url.port = String(local);
    return url.toString();
  };
}
