// @ts-check
// Owns: the globals of the definition realm, where `convex.config.ts` files are evaluated (see
// definitions.rs): a silent `console`, and a `Convex` object, `Math.random`, `crypto` and `Date`
// that throw, so a definition cannot depend on anything but its code; `process.env` is the
// root's env (`envJson`), or, in a component's config, throws on every read.
// Evaluated as a script whose value is the setup function; definitions.rs calls it once per realm.
(function (envJson) {
  "use strict";
  const g = globalThis;
  const define = (obj, name, value) =>
    Object.defineProperty(obj, name, { value, writable: true, configurable: true, enumerable: false });
  const noop = () => {};
  const consoleObj = {};
  for (const k of ["log", "info", "warn", "error", "debug", "trace", "time", "timeEnd", "timeLog", "table", "dir", "assert", "count", "countReset", "group", "groupEnd", "groupCollapsed"]) define(consoleObj, k, noop);
  define(g, "console", consoleObj);
  const syscall = (op) => { throw new Error("Syscall " + op + " unsupported when evaluating app definition"); };
  const Convex = {};
  define(Convex, "syscall", syscall);
  define(Convex, "jsSyscall", syscall);
  define(Convex, "asyncSyscall", (op) => Promise.reject(new Error(op + " unsupported while evaluating app definition")));
  define(g, "Convex", Convex);
  const noRandom = () => { throw new Error("Math.random unsupported when evaluating app definition"); };
  define(Math, "random", noRandom);
  const noCrypto = () => { throw new Error("Cannot use cryptographic randomness when evaluating app definition"); };
  const crypto = {};
  define(crypto, "getRandomValues", noRandom);
  define(crypto, "randomUUID", noCrypto);
  define(g, "crypto", crypto);
  const RealDate = Date;
  const noDate = function Date() { throw new Error("Date unsupported when evaluating app definition"); };
  define(noDate, "now", () => { throw new Error("Date unsupported when evaluating app definition"); });
  define(noDate, "parse", RealDate.parse);
  define(noDate, "UTC", RealDate.UTC);
  noDate.prototype = RealDate.prototype;
  define(g, "Date", noDate);
  const env = envJson == null
    ? new Proxy({}, { get(_t, k) { if (typeof k === "symbol") return undefined; throw new Error("Environment variables are only supported in the app's convex.config.ts."); } })
    : Object.assign({}, JSON.parse(envJson));
  define(g, "process", { env });
})
