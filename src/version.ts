// The version hotreload reports (User-Agent, --version, build info metric), read once from the
// package.json that ships next to src/ and dist/. It does not read anything else.
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    // src/version.ts and dist/version.js both sit one level below package.json.
    const pkg: unknown = JSON.parse(
      readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
    );
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg) {
      const { version } = pkg;
      if (typeof version === 'string' && version !== '') return version;
    }
  } catch {
    // Falls through: a missing or broken package.json must not stop the sidecar.
  }
  return 'unknown';
}

export const VERSION: string = readVersion();
