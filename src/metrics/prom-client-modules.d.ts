// Types for the prom-client modules that src/metrics/hotreload.ts imports directly (prom-client ships types
// for its index only). They describe prom-client 15's modules, reusing the index's classes;
// test/repo/dependency-modules.test.ts checks that the modules still exist and behave as typed.
declare module 'prom-client/lib/registry.js' {
  import { Registry } from 'prom-client';
  export default Registry;
}

declare module 'prom-client/lib/counter.js' {
  import { Counter } from 'prom-client';
  export default Counter;
}

declare module 'prom-client/lib/gauge.js' {
  import { Gauge } from 'prom-client';
  export default Gauge;
}

declare module 'prom-client/lib/histogram.js' {
  import { Histogram } from 'prom-client';
  export default Histogram;
}

/** One of prom-client's default metrics: registers its gauges or counters on `registry`. */
declare module 'prom-client/lib/metrics/*.js' {
  import type { Registry } from 'prom-client';
  const register: (registry: Registry) => void;
  export default register;
}
