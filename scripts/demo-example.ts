// Runs one example's own configuration on this machine, the way test/examples runs it: the real
// program (nginx or Prometheus) and the built hotreload with the manifest's arguments, the
// ConfigMap in a kubelet-style volume, then the example's update/ applied as the kubelet applies
// it. Prints hotreload's log lines and what the application runs before and after.
//
//   npm run build && node --import tsx scripts/demo-example.ts nginx
//
// The argument is an example (nginx, prometheus, child, configmap-reload-migration,
// prometheus-config-reloader-migration) or one of its workload files
// (prometheus/deployment-signal.yaml). Exits 0 when the application ends up running the updated
// configuration.
import { cleanupTempDirs } from '../test/harness/atomic-writer.js';
import { killProcesses } from '../test/harness/e2e.js';
import { LOCAL_RUNS, playUpdate } from '../test/harness/example-runs.js';
import { requireProgram } from '../test/harness/programs.js';

const say = (who: string, text: string) => console.log(`${`[${who}]`.padEnd(12)} ${text}`);

function choose(arg: string | undefined): string | undefined {
  const names = Object.keys(LOCAL_RUNS);
  return names.find((n) => n === arg) ?? names.find((n) => n.startsWith(`${arg}/`));
}

async function main(arg: string | undefined): Promise<number> {
  const workload = choose(arg);
  if (!workload) {
    console.error(`usage: demo-example.ts <${Object.keys(LOCAL_RUNS).join(' | ')}>`);
    return 2;
  }
  const { program, run } = LOCAL_RUNS[workload]!;
  const missing = requireProgram(program, {});
  if (missing) {
    console.error(missing);
    return 1;
  }
  say('demo', `${workload}, run locally (see test/harness/example-runs.ts for what changes)`);
  const r = await run();
  for (const init of r.inits) {
    say('kubelet', `init container ${init.name}: hotreload ${init.argv.join(' ')}`);
    for (const { msg } of init.logs) say(init.name, msg);
    say('kubelet', `${init.name} exited ${init.exit.code}; the pod's containers start`);
  }
  say('hotreload', `started: hotreload ${r.argv.join(' ')}`);
  let shown = 0;
  const flush = () => {
    for (; shown < r.hr.logs.length; shown++) {
      const { msg, ...rest } = r.hr.logs[shown]!;
      const fields = Object.entries(rest).filter(([k]) => !['level', 'time', 'name'].includes(k));
      say('hotreload', `${msg} ${JSON.stringify(Object.fromEntries(fields))}`);
    }
  };
  flush();
  const echo = setInterval(flush, 50);
  try {
    const { after } = await playUpdate(r, say);
    await new Promise((resolve) => setTimeout(resolve, 200));
    flush();
    return after === r.expected.after ? 0 : 1;
  } finally {
    clearInterval(echo);
    await r.hr.stop();
  }
}

const code = await main(process.argv[2]).catch((err: Error) => {
  console.error(err.message);
  return 1;
});
await killProcesses();
await cleanupTempDirs();
process.exit(code);
