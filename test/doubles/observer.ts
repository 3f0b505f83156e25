// The observer hotreload wires in app.ts (metrics and log), for tests that build a Pipeline.
import type { Logger } from 'pino';
import type { Clock } from '../../src/lib/clock.js';
import type { Metrics } from '../../src/metrics/hotreload.js';
import {
  logObserver,
  metricsObserver,
  observers,
  type ReloadObserver,
} from '../../src/reload/observer.js';
import { FakeClock } from './fake-clock.js';

/** Records in `metrics` (as `rule`) and logs to `log`; the success timestamp reads `clock`. */
export function reloadObserver(
  metrics: Metrics,
  log: Logger,
  clock: Clock = new FakeClock(),
  rule = 'default',
): ReloadObserver {
  return observers(metricsObserver(metrics, clock, rule), logObserver(log));
}
