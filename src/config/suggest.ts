// Unknown flags explained: the flag typed, the one meant (within two edits), and for the flags of
// the tools hotreload replaces, what to use instead.
import { optionsByName } from './options.js';

/** yargs says "Unknown argument: wacth"; say which flag was typed and which one was meant. */
export function explainUnknown(message: string, argv: readonly string[]): string {
  const m = /^Unknown arguments?: (.*)$/.exec(message);
  if (!m) return message;
  const names = [...optionsByName().keys()];
  return m[1]!
    .split(', ')
    .map((name) => {
      // yargs reads --no-X as X=false: the flag typed is --no-X.
      const typed = argv.find((a) => {
        const bare = a.replace(/^-+/, '').split('=')[0];
        return bare === name || bare === `no-${name}`;
      });
      if (!typed || !typed.startsWith('-')) {
        return `unexpected argument ${JSON.stringify(name)}; flags start with --, and an application to supervise goes after --`;
      }
      const written = typed.split('=')[0]!;
      const bare = written.replace(/^-+/, '');
      const instead = FOREIGN_FLAGS[bare];
      if (instead) return `${written} is not a hotreload flag: ${instead}`;
      const meant = closest(bare, names) ?? closest(name, names);
      return `unknown flag ${written}${meant ? ` (did you mean --${meant}?)` : ''}`;
    })
    .join('; ');
}

/**
 * Flags of the tools hotreload replaces that it does not take, with what to use instead:
 * prometheus-config-reloader's (cmd/prometheus-config-reloader/main.go) and thanos reloader's.
 */
const FOREIGN_FLAGS: Readonly<Record<string, string>> = {
  'watched-dir-recursive': 'a watched plain directory is always watched recursively; leave it out',
  'web-config-file':
    "hotreload's own endpoint has no TLS or authentication: keep it in the pod with --listen 127.0.0.1:9533 (and exec probes: hotreload probe URL), or put a proxy in front",
  'auto-gomemlimit-ratio': 'a Go runtime setting; Node.js needs none: leave it out',
};

/** The name within two edits of `typed`, if any (Levenshtein distance). */
export function closest(typed: string, names: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of names) {
    const d = distance(typed, name);
    if (d <= 2 && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        prev[j]! + 1,
        row[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length]!;
}
