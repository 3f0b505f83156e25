// Default values of the options, as the user would type them; config.ts parses them like any
// other value, and --help shows them.
export const DEFAULTS = {
  resyncInterval: '1m',
  debounce: '1s',
  maxWait: '10s',
  httpMethod: 'POST',
  httpExpectStatus: '2xx',
  httpTimeout: '10s',
  retryInitial: '500ms',
  retryMax: '30s',
  retries: '0',
  listen: ':9533',
  metricsPath: '/metrics',
  logLevel: 'info',
  shutdownTimeout: '5s',
  stopSignal: 'TERM',
  stopTimeout: '10s',
  execTimeout: '30s',
  procRoot: '/proc',
  validateTimeout: '30s',
  verifyStatus: '2xx',
  verifyTimeout: '10s',
} as const;
