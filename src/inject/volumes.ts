// Which pod volumes the sidecar watches, and where it mounts each: hotreload.dev/watch's names
// (or every configMap, secret and projected volume a container mounts), each at the path a
// container mounts it (so paths in the application's configuration mean the same in both), or at
// the path the entry gives. It refuses what would never be reloaded (a subPath mount), names it
// cannot find, and two volumes that would need the same path. It reads the pod spec only.
import { list, type Container, type PodSpec, type Volume, type VolumeMount } from './pod.js';
import type { Given } from './settings.js';

export interface WatchedVolume {
  readonly name: string;
  readonly mountPath: string;
}

/** The volume sources that the kubelet updates in place (through ..data) when their object changes. */
const UPDATED_SOURCES = ['configMap', 'secret', 'projected'] as const;

interface Mounted {
  readonly container: string;
  readonly mount: VolumeMount;
}

/**
 * The volumes to watch, in the order given (default: the pod's volume order), or the problems,
 * one sentence each. `watch` is the setting (entries `NAME` or `NAME=/path`); without it, a pod
 * with nothing to watch has no volumes and no problem (the caller decides what that means).
 */
export function watchedVolumes(
  spec: PodSpec,
  watch: Given | undefined,
): { volumes: WatchedVolume[]; problems: string[] } {
  const volumes = list<Volume>(spec.volumes);
  const mounts = mountsByVolume(list<Container>(spec.containers));
  const problems: string[] = [];
  const entries = watch
    ? (watch.value as readonly string[]).map((e) => entry(e))
    : volumes
        .filter((v) => UPDATED_SOURCES.some((s) => v[s] !== undefined))
        .filter((v) => mounts.has(String(v.name)))
        .map((v) => ({ name: String(v.name), path: undefined, text: String(v.name) }));
  const names = volumes.map((v) => String(v.name));
  const result: WatchedVolume[] = [];
  for (const { name, path, text } of entries) {
    const where = watch ? `${watch.from}: ` : '';
    if (path !== undefined && !path.startsWith('/')) {
      problems.push(
        `${where}${JSON.stringify(text)}: the path to mount ${name} at must be absolute, e.g. ${name}=/etc/${name}`,
      );
      continue;
    }
    if (!names.includes(name)) {
      problems.push(
        `${where}no volume named ${JSON.stringify(name)} in the pod; its volumes are ${names.join(', ') || '(none)'}`,
      );
      continue;
    }
    const of = mounts.get(name) ?? [];
    const partial = of.find(
      (m) => m.mount.subPath !== undefined || m.mount.subPathExpr !== undefined,
    );
    if (partial) {
      problems.push(
        `volume ${name} is mounted with subPath in container ${partial.container} (at ${String(partial.mount.mountPath)}): a subPath mount never receives updates (kubernetes#50345); mount the whole volume (a mountPath without subPath), or name the volumes to watch without it in hotreload.dev/watch`,
      );
      continue;
    }
    const mountPath = path ?? (of[0]?.mount.mountPath as string | undefined);
    if (mountPath === undefined) {
      problems.push(
        `${where}volume ${name} is mounted by no container, so inject does not know where it belongs; give its path: ${name}=/etc/${name}`,
      );
      continue;
    }
    const taken = result.find((w) => w.mountPath === mountPath);
    if (taken) {
      problems.push(
        `volumes ${taken.name} and ${name} would both be mounted at ${mountPath} in hotreload; give one another path: ${name}=/PATH`,
      );
      continue;
    }
    result.push({ name, mountPath });
  }
  return { volumes: result, problems };
}

function entry(text: string): { name: string; path: string | undefined; text: string } {
  const eq = text.indexOf('=');
  return eq < 0
    ? { name: text, path: undefined, text }
    : { name: text.slice(0, eq).trim(), path: text.slice(eq + 1).trim(), text };
}

/** Each volume's mounts in the pod's containers, in container order. */
function mountsByVolume(containers: readonly Container[]): Map<string, Mounted[]> {
  const byVolume = new Map<string, Mounted[]>();
  for (const c of containers) {
    for (const mount of list<VolumeMount>(c.volumeMounts)) {
      const name = String(mount.name);
      byVolume.set(name, [...(byVolume.get(name) ?? []), { container: String(c.name), mount }]);
    }
  }
  return byVolume;
}
