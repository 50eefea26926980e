// @ts-check
// Owns: `process.env` (filled by `control.setEnv`), `self`, the absence of `window`, and the
// Node/ES globals Convex provides as stand-ins: a strong `WeakRef`, a no-op
// `FinalizationRegistry`, and synchronous `AsyncLocalStorage`/`AsyncResource`.

/** @param {PreludeState} S */
function setupGlobals(S) {
  const g = S.global;
  const define = S.define;
  const env = Object.create(null);
  define(g, "process", { env });
  define(g, "self", g);
  delete g.window;
  class StrongRef {
    #v;
    constructor(v) { this.#v = v; }
    deref() { return this.#v; }
  }
  define(g, "WeakRef", StrongRef);
  class NoopFinalizationRegistry {
    constructor(cb) { if (typeof cb !== "function") throw new TypeError("cleanup must be callable"); }
    register() {}
    unregister() { return false; }
  }
  define(g, "FinalizationRegistry", NoopFinalizationRegistry);

  class AsyncLocalStorage {
    #store = undefined;
    getStore() { return this.#store; }
    run(store, fn, ...args) {
      const prev = this.#store;
      this.#store = store;
      try { return fn(...args); } finally { this.#store = prev; }
    }
    enterWith(store) { this.#store = store; }
    exit(fn, ...args) { return this.run(undefined, fn, ...args); }
    disable() { this.#store = undefined; }
  }
  class AsyncResource {
    constructor(type) { this.type = type; }
    runInAsyncScope(fn, thisArg, ...args) { return fn.apply(thisArg, args); }
    bind(fn) { return fn.bind(undefined); }
    static bind(fn) { return fn; }
    emitDestroy() { return this; }
  }
  define(g, "AsyncLocalStorage", AsyncLocalStorage);
  define(g, "AsyncResource", AsyncResource);

  return { env };
}
