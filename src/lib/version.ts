// The version hotreload reports (User-Agent, --version, build info metric), read once from the
// package.json that ships next to src/ and dist/. It does not read anything else.
import { readFileSync } from 'node:fs';

/** Where package.json is from this module: the bundle (dist/main.js), or this file in src/lib/. */
const CANDIDATES = ['../package.json', '../../package.json'];

function readVersion(): string {
  for (const candidate of CANDIDATES) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8'));
      if (typeof pkg === 'object' && pkg !== null && 'name' in pkg && pkg.name === 'hotreload') {
        const { version } = pkg as { version?: unknown };
        if (typeof version === 'string' && version !== '') return version;
      }
    } catch {
      // Next candidate: a missing or broken package.json must not stop the sidecar.
    }
  }
  return 'unknown';
}

export const VERSION: string = readVersion();
