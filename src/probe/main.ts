// Entry point of `hotreload probe` (dist/main.js starts it instead of the program's module for
// `hotreload probe ...`): an exec probe runs every few seconds in every pod, so it loads its own
// few modules, not the sidecar's. `node src/main.ts probe ...` reaches the same runProbe.
import { runProbe } from './cli.js';

process.exit(await runProbe(process.argv.slice(3), process));
