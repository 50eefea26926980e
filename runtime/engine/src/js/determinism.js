// @ts-check
// Owns: what makes queries and mutations deterministic: `Date` frozen at the host's time (and
// always in UTC), `Math.random` from the host's seeded generator, `performance.now()` from the
// host's clock. The host decides real or frozen values per execution (see isolate.rs).

/** @param {PreludeState} S */
function setupDeterminism(S) {
  const g = S.global;
  const N = S.native;
  const define = S.define;
  const RealDate = S.RealDate;
  // Convex runs with TZ=UTC: local-time views of dates are UTC whatever the host's zone is.
  const isoLocal = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;
  const realParse = RealDate.parse;
  function parseUtc(str) {
    const s = String(str);
    return realParse(isoLocal.test(s) ? s + "Z" : s);
  }
  function FrozenDate(...args) {
    if (new.target === undefined) return new RealDate(N.now()).toString();
    if (args.length === 0) return Reflect.construct(RealDate, [N.now()], new.target);
    if (args.length === 1) {
      const a = args[0];
      const v = typeof a === "string" ? parseUtc(a) : a instanceof RealDate ? a.getTime() : a;
      return Reflect.construct(RealDate, [v], new.target);
    }
    return Reflect.construct(RealDate, [RealDate.UTC(.../** @type {Parameters<DateConstructor["UTC"]>} */ (args))], new.target);
  }
  {
    const P = RealDate.prototype;
    for (const f of ["FullYear", "Month", "Date", "Day", "Hours", "Minutes", "Seconds", "Milliseconds"]) {
      define(P, "get" + f, P["getUTC" + f]);
      if (f !== "Day") define(P, "set" + f, P["setUTC" + f]);
    }
    define(P, "getTimezoneOffset", function getTimezoneOffset() { return 0; });
    const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    const year = (y) => (y < 0 ? "-" + pad(-y, 6) : pad(y, 4));
    const invalid = (d) => isNaN(P.getTime.call(d));
    define(P, "toDateString", /** @this {Date} */ function toDateString() {
      if (invalid(this)) return "Invalid Date";
      return days[this.getUTCDay()] + " " + months[this.getUTCMonth()] + " " + pad(this.getUTCDate()) + " " + year(this.getUTCFullYear());
    });
    define(P, "toTimeString", /** @this {Date} */ function toTimeString() {
      if (invalid(this)) return "Invalid Date";
      return pad(this.getUTCHours()) + ":" + pad(this.getUTCMinutes()) + ":" + pad(this.getUTCSeconds()) + " GMT+0000 (Coordinated Universal Time)";
    });
    define(P, "toString", /** @this {Date} */ function toString() {
      if (invalid(this)) return "Invalid Date";
      return this.toDateString() + " " + this.toTimeString();
    });
    const h12 = (d) => {
      const h = d.getUTCHours();
      return (h % 12 === 0 ? 12 : h % 12) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + (h < 12 ? " AM" : " PM");
    };
    const mdy = (d) => d.getUTCMonth() + 1 + "/" + d.getUTCDate() + "/" + d.getUTCFullYear();
    define(P, "toLocaleDateString", /** @this {Date} */ function toLocaleDateString() { return invalid(this) ? "Invalid Date" : mdy(this); });
    define(P, "toLocaleTimeString", /** @this {Date} */ function toLocaleTimeString() { return invalid(this) ? "Invalid Date" : h12(this); });
    define(P, "toLocaleString", /** @this {Date} */ function toLocaleString() { return invalid(this) ? "Invalid Date" : mdy(this) + ", " + h12(this); });
  }
  Object.defineProperty(FrozenDate, "name", { value: "Date", configurable: true });
  Object.defineProperty(FrozenDate, "length", { value: 7, configurable: true });
  Object.setPrototypeOf(FrozenDate, Object.getPrototypeOf(RealDate));
  Object.defineProperty(FrozenDate, "prototype", { value: RealDate.prototype, writable: false, enumerable: false, configurable: false });
  define(FrozenDate, "now", function now() { return N.now(); });
  define(FrozenDate, "parse", function parse(str) { return parseUtc(str); });
  define(FrozenDate, "UTC", RealDate.UTC);
  define(RealDate.prototype, "constructor", FrozenDate);
  define(g, "Date", FrozenDate);
  define(Math, "random", function random() { return N.random(); });

  const performanceImpl = {};
  define(performanceImpl, "now", function now() { return N.perfNow(); });
  define(performanceImpl, "timeOrigin", 0);
  define(g, "performance", performanceImpl);
}
