// A memory cgroup (v1, as root) for a test to run a process under a limit, the way a container's
// resources.limits.memory does: the process joins it before Node starts (a wrapper command), and
// the test reads how much it used at most and whether the kernel killed it for memory. It limits
// nothing by itself; the kernel does.
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';

const ROOT = '/sys/fs/cgroup/memory';

export interface MemoryCgroup {
  /** A command prefix that moves the command into the cgroup, then runs it (RunAs.wrap). */
  readonly wrap: readonly string[];
  /** The most memory the cgroup used, in bytes (memory.max_usage_in_bytes). */
  maxUsage(): Promise<number>;
  /** How many processes the kernel killed in it for lack of memory (memory.oom_control). */
  oomKills(): Promise<number>;
  remove(): Promise<void>;
}

/** Creates a memory cgroup limited to `limitBytes`. Needs root and cgroup v1's memory controller. */
export async function memoryCgroup(limitBytes: number): Promise<MemoryCgroup> {
  const dir = `${ROOT}/hotreload-test-${randomUUID().slice(0, 8)}`;
  await mkdir(dir);
  await writeFile(`${dir}/memory.limit_in_bytes`, String(limitBytes));
  return {
    wrap: ['sh', '-c', `echo $$ > ${dir}/cgroup.procs && exec "$@"`, 'sh'],
    maxUsage: async () => Number(await readFile(`${dir}/memory.max_usage_in_bytes`, 'utf8')),
    async oomKills() {
      const text = await readFile(`${dir}/memory.oom_control`, 'utf8');
      return Number(/^oom_kill (\d+)/m.exec(text)?.[1] ?? 0);
    },
    async remove() {
      // The directory can go once its processes have exited.
      for (let i = 0; i < 50; i++) {
        try {
          await rmdir(dir);
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
  };
}

/** True when this machine can run a test under a memory cgroup (root, cgroup v1). */
export async function canUseMemoryCgroup(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  return readFile(`${ROOT}/memory.limit_in_bytes`, 'utf8').then(
    () => true,
    () => false,
  );
}
