// Decides whether an end-to-end test that needs a real peer program (nginx, prometheus) can run.
// Outside CI a missing program skips the test with the reason; under CI=true it is a failure,
// because CI installs every program and a silent skip there would hide a broken setup.
import { accessSync, constants } from 'node:fs';

export const NGINX = '/usr/sbin/nginx';
export const PROMETHEUS = '/usr/bin/prometheus';

/**
 * For a describe's or an it's `skip` option: false when `file` is executable; otherwise the reason
 * to skip, or, under CI=true, it throws (call it inside the describe callback, so the suite fails
 * with this message).
 */
export function requireProgram(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  install = 'apt-get install nginx-light prometheus',
): string | false {
  try {
    accessSync(file, constants.X_OK);
    return false;
  } catch {
    const reason = `${file} is not installed (${install})`;
    if (env.CI === 'true') throw new Error(`CI=true: ${reason}; this test must run in CI`);
    return reason;
  }
}
