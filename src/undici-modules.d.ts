// Types for the two undici modules that src/actions/http.ts imports directly (undici ships types
// for its index only). They describe undici 7's modules; test/unit/dependency-modules.test.ts checks
// that the modules still exist and behave as typed here.
declare module 'undici/lib/api/api-request.js' {
  import type { Dispatcher } from 'undici';

  /** undici's `Dispatcher.prototype.request`, called with the dispatcher as `this`. */
  function request(
    this: Dispatcher,
    options: Dispatcher.RequestOptions,
  ): Promise<Dispatcher.ResponseData>;
  export default request;
}

declare module 'undici/lib/global.js' {
  import type { Dispatcher } from 'undici';

  /** The process-wide dispatcher; undici installs an Agent when the module loads, if none is set. */
  export function getGlobalDispatcher(): Dispatcher;
}
