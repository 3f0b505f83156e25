// `hotreload probe` run in-process, its output captured: what it prints and its exit code.
import { runProbe } from '../../src/probe/cli.js';

export async function probeWith(
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runProbe(argv, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
  });
  return { code, stdout, stderr };
}
