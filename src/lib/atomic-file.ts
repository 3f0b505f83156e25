// Replacing a file in one step: the new content is written and synced to a temporary file beside
// it, then renamed over it, so a reader sees the old file or the new one, never half of either.
// On failure the temporary file is removed and the error thrown; the old file stays.
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

export async function writeFileAtomically(
  file: string,
  content: string,
  mode = 0o644,
): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    const handle = await open(tmp, 'w', mode);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
