// The hotreload sidecar for one pod, as the examples/ write it by hand: its container (image,
// checked args, port 9533, /healthz and /readyz probes, the README's measured requests and
// limits, a locked-down securityContext, the watched volumes read-only), where it goes (a
// container, or a native sidecar), and what the pod needs besides (the state emptyDir, a shared
// process namespace for a process action). It decides from plain data and edits nothing.
import { DEFAULTS } from '../config/defaults.js';
import { STATE_DIR, STATE_VOLUME } from './hotreload-args.js';
import {
  list,
  record,
  runsToCompletion,
  type Container,
  type PodSpec,
  type Volume,
} from './pod.js';
import type { Settings } from './settings.js';
import type { WatchedVolume } from './volumes.js';

export const SIDECAR_NAME = 'hotreload';
export const PORT_NAME = 'hotreload';
export const PORT = Number(DEFAULTS.listen.slice(DEFAULTS.listen.lastIndexOf(':') + 1));

/**
 * README, Footprint: 1,000 reloads run in 20 MiB, and the first hotreload on a node pages in the
 * Node binary (about 40 MiB, shared): hence 32Mi requested and a 64Mi limit, as in examples/.
 * CPU is spent on changes (about 2 ms each) and probes, and no CPU limit: throttled, start-up
 * takes seconds.
 */
export const RESOURCES = {
  requests: { cpu: '10m', memory: '32Mi' },
  limits: { memory: '64Mi' },
} as const;

/** The UID of hotreload's image (Dockerfile USER), used when the pod would run it as root for nothing. */
const IMAGE_UID = 65532;

export interface SidecarInput {
  readonly kind: string;
  readonly spec: PodSpec;
  /** The pod template's annotations (kubectl.kubernetes.io/default-container). */
  readonly podAnnotations: Readonly<Record<string, unknown>>;
  readonly settings: Settings;
  readonly image: string;
  readonly args: readonly string[];
  readonly watched: readonly WatchedVolume[];
  /** Whether the args use --state-file (so the pod needs its emptyDir). */
  readonly stateFile: boolean;
  /** --signal or --restart: hotreload acts on another container's process. */
  readonly processAction: boolean;
}

export interface Plan {
  readonly container: Record<string, unknown>;
  /** In initContainers with restartPolicy: Always, instead of containers. */
  readonly native: boolean;
  /** Volumes to append to the pod's. */
  readonly volumes: readonly Record<string, unknown>[];
  /** Set shareProcessNamespace: true. */
  readonly shareProcessNamespace: boolean;
  /** Said on stderr: what the manifest cannot tell, and what the user should check. */
  readonly notes: readonly string[];
}

/** The sidecar and the pod's changes, or the problems that stop it (one sentence each). */
export function planSidecar(input: SidecarInput): { plan?: Plan; problems: string[] } {
  const { spec, settings } = input;
  const problems: string[] = [];
  const notes: string[] = [];
  const containers = list<Container>(spec.containers);
  const everyContainer = [...list<Container>(spec.initContainers), ...containers];
  for (const c of everyContainer) {
    const port = list<{ name?: unknown; containerPort?: unknown }>(c.ports).find(
      (p) => p.containerPort === PORT || p.name === PORT_NAME,
    );
    if (port)
      problems.push(
        `container ${String(c.name)} has port ${String(port.containerPort)} (${typeof port.name === 'string' ? port.name : 'unnamed'}); hotreload listens on ${PORT} and names its port ${PORT_NAME}: move that port`,
      );
  }
  const completes = runsToCompletion(input.kind, spec);
  const asked = settings['native-sidecar'];
  if (completes && asked?.value === false)
    problems.push(
      `${asked.from}: this pod runs to completion, and a regular sidecar container would keep it running for ever; leave it out (hotreload is added as a native sidecar)`,
    );
  const native = completes || asked?.value === true;
  const volumes: Record<string, unknown>[] = [];
  if (input.stateFile) {
    const existing = list<Volume>(spec.volumes).find((v) => v.name === STATE_VOLUME);
    if (!existing) volumes.push({ name: STATE_VOLUME, emptyDir: {} });
    else if (existing.emptyDir === undefined)
      problems.push(
        `the pod has a volume named ${STATE_VOLUME} that is not an emptyDir; hotreload keeps --state-file on an emptyDir of that name: rename that volume`,
      );
  }
  const securityContext = securityContextFor(input, containers, problems, notes);
  if (problems.length > 0) return { problems };
  const mounts: Record<string, unknown>[] = input.watched.map((w) => ({
    name: w.name,
    mountPath: w.mountPath,
    readOnly: true,
  }));
  if (input.stateFile) mounts.push({ name: STATE_VOLUME, mountPath: STATE_DIR });
  const probe = (path: string) => ({ httpGet: { path, port: PORT_NAME }, periodSeconds: 10 });
  const container: Record<string, unknown> = {
    name: SIDECAR_NAME,
    image: input.image,
    ...(native && { restartPolicy: 'Always' }),
    args: [...input.args],
    ports: [{ name: PORT_NAME, containerPort: PORT }],
    livenessProbe: probe('/healthz'),
    readinessProbe: probe('/readyz'),
    resources: RESOURCES,
    securityContext,
    volumeMounts: mounts,
  };
  return {
    plan: {
      container,
      native,
      volumes,
      shareProcessNamespace: input.processAction && spec.shareProcessNamespace !== true,
      notes,
    },
    problems,
  };
}

/**
 * The sidecar's securityContext: no privilege escalation, a read-only root, no capabilities, not
 * root; for a process action, the UID of the target container (kill(2) between processes needs
 * the same UID, or CAP_KILL, which a non-root container cannot use: kubernetes#56374).
 * 1. The target: hotreload.dev/container, else kubectl.kubernetes.io/default-container, else the
 *    first container.
 * 2. Its UID set on the container: hotreload gets it (and its group); set on the pod: hotreload
 *    has it already; set nowhere: its image's USER decides, which a manifest does not say: a note.
 * 3. UID 0 (a root target, as filebeat reading the node's logs): runAsNonRoot is left out.
 */
function securityContextFor(
  input: SidecarInput,
  containers: readonly Container[],
  problems: string[],
  notes: string[],
): Record<string, unknown> {
  const pod = record(input.spec.securityContext);
  const locked = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  };
  if (!input.processAction) {
    // The pod's UID applies to hotreload too; root would be for nothing.
    return pod.runAsUser === 0
      ? { runAsUser: IMAGE_UID, runAsGroup: IMAGE_UID, runAsNonRoot: true, ...locked }
      : { runAsNonRoot: true, ...locked };
  }
  const chosen = input.settings.container;
  const name =
    (chosen?.value as string | undefined) ??
    (input.podAnnotations['kubectl.kubernetes.io/default-container'] as string | undefined) ??
    (containers[0]?.name as string | undefined);
  const target = containers.find((c) => c.name === name);
  if (!target) {
    problems.push(
      `${chosen?.from ?? 'kubectl.kubernetes.io/default-container'}: no container named ${JSON.stringify(name)}; the containers are ${containers.map((c) => String(c.name)).join(', ')}`,
    );
    return locked;
  }
  const own = record(target.securityContext);
  if (typeof own.runAsUser === 'number') {
    const group = typeof own.runAsGroup === 'number' ? { runAsGroup: own.runAsGroup } : {};
    return {
      runAsUser: own.runAsUser,
      ...group,
      ...(own.runAsUser !== 0 && { runAsNonRoot: true }),
      ...locked,
    };
  }
  if (typeof pod.runAsUser === 'number')
    return { ...(pod.runAsUser !== 0 && { runAsNonRoot: true }), ...locked };
  notes.push(
    `hotreload cannot take the UID of container ${String(name)}: no runAsUser is set for it or the pod, so its image's USER decides, which the manifest does not say. hotreload runs as ${IMAGE_UID}, and kill(2) needs the same UID: set securityContext.runAsUser on ${String(name)} (or the pod) and inject again`,
  );
  return { runAsNonRoot: true, ...locked };
}
