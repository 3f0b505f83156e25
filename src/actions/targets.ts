// Finds the processes a process action works on: the ones the selectors pick (read from /proc at
// each attempt), or the supervised child when no selector is given.
import type { Supervisor } from '../child.js';
import { ReloadError } from '../errors.js';
import { findTargets, type ProcessSelector } from '../proc/select.js';
import { readProcess, type ProcInfo } from '../proc/table.js';

export interface TargetDeps {
  readonly selector: ProcessSelector | undefined;
  readonly supervisor: Supervisor | undefined;
  readonly procRoot: string;
  readonly selfPid: number;
}

export async function resolveTargets(deps: TargetDeps): Promise<ProcInfo[]> {
  const childPid = deps.supervisor?.pid;
  if (deps.selector) {
    const supervised = new Set(childPid === undefined ? [] : [childPid]);
    return findTargets(deps.procRoot, deps.selector, { selfPid: deps.selfPid, supervised });
  }
  const info = childPid === undefined ? undefined : await readProcess(deps.procRoot, childPid);
  if (!info) {
    throw new ReloadError('E_NO_PROCESS', 'the supervised child is not running', {
      hint: 'it is being restarted; the reload is retried',
    });
  }
  return [info];
}

/** "nginx (pid 12)" for logs and messages. */
export function describeProcess(p: ProcInfo): string {
  return `${p.comm} (pid ${p.pid})`;
}
