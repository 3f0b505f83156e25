// Resolves --validate, --validate-cmd, the --verify-* options and --state-file into their part of
// the Config. Every bad value is a ConfigError naming the flag; nothing is checked on disk here.
import path from 'node:path';
import type { RawOptions } from './options.js';
import { httpUrl } from './url.js';
import type { ProcessConfig } from './process.js';
import { duration, fail, statusSpec } from './values.js';
import { DEFAULTS } from './defaults.js';
import { ConfigError } from '../lib/errors.js';
import type { StatusSpec } from './http-spec.js';
import {
  JSON_HELP,
  METRIC_HELP,
  parseJsonCondition,
  parseMetricCondition,
  type Condition,
} from './verify-conditions.js';

export interface SafetyConfig {
  readonly validate: boolean;
  readonly validateCmd: { readonly command: string; readonly timeoutMs: number } | undefined;
  readonly verifyUrls: readonly URL[];
  readonly verifyStatus: StatusSpec;
  /** --verify-metric and --verify-json, in that order. */
  readonly verifyConditions: readonly Condition[];
  readonly verifyTimeoutMs: number;
  readonly verifyChildren: boolean;
  readonly stateFile: string | undefined;
}

export function resolveSafetyConfig(
  raw: RawOptions,
  processConfig: ProcessConfig,
  cwd: string,
): SafetyConfig {
  const cmd = raw['validate-cmd'];
  if (cmd !== undefined && cmd.trim() === '') {
    throw new ConfigError(
      'validate-cmd',
      cmd,
      "expected a shell command, e.g. 'promtool check config /etc/prometheus/prometheus.yml'",
    );
  }
  // Checked even without --validate-cmd: a bad value is a mistake the user wants to hear about.
  const validateTimeoutMs = duration(
    'validate-timeout',
    raw['validate-timeout'] ?? DEFAULTS.validateTimeout,
  );
  const statusText = raw['verify-status'] ?? DEFAULTS.verifyStatus;
  const verifyStatus = statusSpec('verify-status', statusText);
  const verifyChildren = raw['verify-children'] ?? false;
  if (verifyChildren && !processConfig.signal) {
    throw new ConfigError(
      'verify-children',
      'true',
      'it checks the process --signal reloads; add --signal',
    );
  }
  const verifyUrls = (raw['verify-url'] ?? []).map((u) => httpUrl(u, 'verify-url'));
  const conditions = [
    ...(raw['verify-metric'] ?? []).map(
      (c) => parseMetricCondition(c) ?? fail('verify-metric', c, METRIC_HELP),
    ),
    ...(raw['verify-json'] ?? []).map(
      (c) => parseJsonCondition(c) ?? fail('verify-json', c, JSON_HELP),
    ),
  ];
  if (conditions.length > 0 && verifyUrls.length === 0) {
    const flag = raw['verify-metric'] ? 'verify-metric' : 'verify-json';
    fail(
      flag,
      conditions[0]!.text,
      'it is checked on the answer of --verify-url; add --verify-url',
    );
  }
  const stateFile = raw['state-file'];
  if (stateFile !== undefined && (stateFile.trim() === '' || stateFile.endsWith('/'))) {
    throw new ConfigError(
      'state-file',
      stateFile,
      'expected a file path on an emptyDir, e.g. /var/run/hotreload/state.json',
    );
  }
  return Object.freeze({
    validate: raw.validate ?? false,
    validateCmd: cmd === undefined ? undefined : { command: cmd, timeoutMs: validateTimeoutMs },
    verifyUrls: Object.freeze(verifyUrls),
    verifyStatus,
    verifyConditions: Object.freeze(conditions),
    verifyTimeoutMs: duration('verify-timeout', raw['verify-timeout'] ?? DEFAULTS.verifyTimeout),
    verifyChildren,
    stateFile: stateFile === undefined ? undefined : path.resolve(cwd, stateFile),
  });
}
