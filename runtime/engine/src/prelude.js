// emvex prelude: the global environment of Convex queries and mutations.
// A module (compiled to bytecode once per app) whose default export takes the native bindings
// object and returns the control object the Rust side drives. Nothing here is reachable by user
// code except the globals it installs.
export default function install(N) {
  "use strict";
  const g = globalThis;
  const RealDate = Date;
  const RealPromise = Promise;
  const ConvexErrorSymbol = Symbol.for("ConvexError");
  const define = (obj, name, value) =>
    Object.defineProperty(obj, name, { value, writable: true, configurable: true, enumerable: false });

  // ---- per-execution state -------------------------------------------------------------
  let phase = "import"; // "import" | "query" | "mutation" | "action"
  let logs = [];
  let queue = [];
  let qhead = 0;
  let current = null;
  let perfCounter = 0;
  const timers = new Map();
  const modules = new Map();

  const phaseWords = () => (phase === "query" ? "queries" : phase === "mutation" ? "mutations" : phase === "action" ? "actions" : "queries and mutations");

  // ---- console (formatted like the object-inspect output Convex logs) -------------------
  // Convex formats each console argument with object-inspect (indent 2, strings capped at
  // 32768 characters); this is an independent implementation of that output format.
  const MAX_STRING = 32768;
  const objToString = Object.prototype.toString;
  const tagOf = (v) => objToString.call(v).slice(8, -1);
  const ctrlNames = { 8: "b", 9: "t", 10: "n", 12: "f", 13: "r" };
  function quote(str) {
    let s = str, trailer = "";
    if (s.length > MAX_STRING) {
      const rest = s.length - MAX_STRING;
      s = s.slice(0, MAX_STRING);
      trailer = "... " + rest + " more character" + (rest > 1 ? "s" : "");
    }
    s = s.replace(/['\\]/g, "\\$&").replace(/[\x00-\x1f]/g, (c) => {
      const n = c.charCodeAt(0);
      return ctrlNames[n] ? "\\" + ctrlNames[n] : "\\x" + (n < 16 ? "0" : "") + n.toString(16).toUpperCase();
    });
    return "'" + s + "'" + trailer;
  }
  function propName(k, sub) {
    return /[^\w$]/.test(k) ? sub(k) : k;
  }
  function ownEntries(v, sub, skipIndices) {
    const out = [];
    for (const k in v) {
      if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
      if (skipIndices && String(Number(k)) === k && Number(k) < v.length) continue;
      out.push(propName(k, sub) + ": " + sub(v[k]));
    }
    for (const sym of Object.getOwnPropertySymbols(v)) {
      if (Object.prototype.propertyIsEnumerable.call(v, sym)) out.push("[" + sym.toString() + "]: " + sub(v[sym]));
    }
    return out;
  }
  // With an indent configured, objects, maps and sets always break lines; arrays only when an
  // element spans lines; `flat` (used for map keys) never breaks lines.
  function indentedJoin(parts, depth) {
    if (parts.length === 0) return "";
    const inner = "\n" + "  ".repeat(depth + 1);
    return inner + parts.join("," + inner) + "\n" + "  ".repeat(depth);
  }
  function inspect(v, depth, seen, flat) {
    switch (typeof v) {
      case "undefined": return "undefined";
      case "boolean": return v ? "true" : "false";
      case "string": return quote(v);
      case "number": return v === 0 && 1 / v < 0 ? "-0" : String(v);
      case "bigint": return v + "n";
      case "symbol": return v.toString();
    }
    if (v === null) return "null";
    if (depth >= 5 && typeof v === "object") return Array.isArray(v) ? "[Array]" : "[Object]";
    if (seen.indexOf(v) >= 0) return "[Circular]";
    const next = seen.concat([v]);
    const sub = (x) => inspect(x, depth + 1, next, flat);
    const block = (parts) => (flat ? " " + parts.join(", ") + " " : indentedJoin(parts, depth));
    if (typeof v === "function") {
      const keys = ownEntries(v, sub, false);
      return "[Function" + (v.name ? ": " + v.name : " (anonymous)") + "]" + (keys.length ? " { " + keys.join(", ") + " }" : "");
    }
    const tag = tagOf(v);
    if (tag === "Array") {
      if (v.length === 0) return "[]";
      const parts = [];
      for (let i = 0; i < v.length; i++) parts.push(Object.prototype.hasOwnProperty.call(v, i) ? sub(v[i]) : "");
      const all = parts.concat(ownEntries(v, sub, true));
      if (!flat && all.some((p) => p.indexOf("\n") >= 0)) return "[" + indentedJoin(all, depth) + "]";
      return "[ " + all.join(", ") + " ]";
    }
    if (tag === "Error") {
      const parts = ownEntries(v, sub, false);
      if ("cause" in v && !Object.prototype.propertyIsEnumerable.call(v, "cause")) parts.unshift("[cause]: " + sub(v.cause));
      return parts.length ? "{ [" + String(v) + "] " + parts.join(", ") + " }" : "[" + String(v) + "]";
    }
    if (typeof v.inspect === "function") return String(v.inspect());
    if (v instanceof Map) {
      const parts = [];
      v.forEach((val, k) => parts.push(inspect(k, depth + 1, next, true) + " => " + sub(val)));
      return "Map (" + v.size + ") {" + (flat ? parts.join(", ") : indentedJoin(parts, depth)) + "}";
    }
    if (v instanceof Set) {
      const parts = [];
      v.forEach((val) => parts.push(sub(val)));
      return "Set (" + v.size + ") {" + (flat ? parts.join(", ") : indentedJoin(parts, depth)) + "}";
    }
    if (v instanceof WeakMap) return "WeakMap { ? }";
    if (v instanceof WeakSet) return "WeakSet { ? }";
    if (tag === "Number" || tag === "String" || tag === "Boolean" || tag === "BigInt") {
      return "Object(" + inspect(v.valueOf(), depth, seen, flat) + ")";
    }
    if (v === g) return "{ [object globalThis] }";
    if (tag === "Date" || tag === "RegExp") return String(v);
    const parts = ownEntries(v, sub, false);
    const proto = Object.getPrototypeOf(v);
    const plain = proto === Object.prototype;
    const nullProto = !(v instanceof Object);
    const stringTag = !plain && Symbol.toStringTag in v ? tag : nullProto ? "Object" : "";
    const ctorTag = plain || typeof v.constructor !== "function" || !v.constructor.name ? "" : v.constructor.name + " ";
    const bracket = [stringTag, nullProto ? "null prototype" : ""].filter((x) => x).join(": ");
    const prefix = ctorTag + (bracket ? "[" + bracket + "] " : "");
    if (parts.length === 0) return prefix + "{}";
    return prefix + "{" + block(parts) + "}";
  }
  function message(args) {
    const parts = [];
    for (let i = 0; i < args.length; i++) parts.push(inspect(args[i], 0, [], false));
    return parts.join(" ");
  }
  function log(level, text) {
    logs.push("[" + level + "] " + text);
  }
  const labelOf = (label) => (label === undefined ? "default" : label === null ? "null" : String(label));
  const consoleImpl = {
    log: (...a) => log("LOG", message(a)),
    info: (...a) => log("INFO", message(a)),
    warn: (...a) => log("WARN", message(a)),
    error: (...a) => log("ERROR", message(a)),
    debug: (...a) => log("DEBUG", message(a)),
    trace: (...a) => {
      const frames = N.mapStack((new Error().stack || "").split("\n").slice(1).join("\n"));
      log("LOG", message(a) + (frames ? "\n" + frames : ""));
    },
    time: (label) => {
      const l = labelOf(label);
      if (timers.has(l)) log("WARN", "Timer '" + l + "' already exists");
      else timers.set(l, N.wallNow());
    },
    timeLog: (label, ...a) => {
      const l = labelOf(label);
      if (!timers.has(l)) return log("WARN", "Timer '" + l + "' does not exist");
      const extra = a.length ? " " + message(a) : "";
      log("INFO", l + ": " + (N.wallNow() - timers.get(l)) + "ms" + extra);
    },
    timeEnd: (label) => {
      const l = labelOf(label);
      if (!timers.has(l)) return log("WARN", "Timer '" + l + "' does not exist");
      log("INFO", l + ": " + (N.wallNow() - timers.get(l)) + "ms");
      timers.delete(l);
    },
    assert: (cond, ...a) => {
      if (!cond) log("ERROR", "Assertion failed" + (a.length ? ": " + message(a) : ""));
    },
    dir: (v) => log("LOG", message([v])),
    table: (...a) => log("LOG", message(a)),
    count: () => {},
    countReset: () => {},
    group: () => {},
    groupCollapsed: () => {},
    groupEnd: () => {},
  };
  define(g, "console", consoleImpl);

  // ---- determinism: Date, Math.random, performance -------------------------------------
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
    return Reflect.construct(RealDate, [RealDate.UTC(...args)], new.target);
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
    define(P, "toDateString", function toDateString() {
      if (invalid(this)) return "Invalid Date";
      return days[this.getUTCDay()] + " " + months[this.getUTCMonth()] + " " + pad(this.getUTCDate()) + " " + year(this.getUTCFullYear());
    });
    define(P, "toTimeString", function toTimeString() {
      if (invalid(this)) return "Invalid Date";
      return pad(this.getUTCHours()) + ":" + pad(this.getUTCMinutes()) + ":" + pad(this.getUTCSeconds()) + " GMT+0000 (Coordinated Universal Time)";
    });
    define(P, "toString", function toString() {
      if (invalid(this)) return "Invalid Date";
      return this.toDateString() + " " + this.toTimeString();
    });
    const h12 = (d) => {
      const h = d.getUTCHours();
      return (h % 12 === 0 ? 12 : h % 12) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + (h < 12 ? " AM" : " PM");
    };
    const mdy = (d) => d.getUTCMonth() + 1 + "/" + d.getUTCDate() + "/" + d.getUTCFullYear();
    define(P, "toLocaleDateString", function toLocaleDateString() { return invalid(this) ? "Invalid Date" : mdy(this); });
    define(P, "toLocaleTimeString", function toLocaleTimeString() { return invalid(this) ? "Invalid Date" : h12(this); });
    define(P, "toLocaleString", function toLocaleString() { return invalid(this) ? "Invalid Date" : mdy(this) + ", " + h12(this); });
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

  // ---- crypto ----------------------------------------------------------------------------
  const intArrays = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array];
  function getRandomValues(arr) {
    if (!intArrays.some((T) => arr instanceof T)) {
      throw new TypeError("Failed to execute 'getRandomValues' on 'Crypto': The provided value is not of type '(Int8Array or Int16Array or Int32Array or Uint8Array or Uint16Array or Uint32Array or Uint8ClampedArray or BigInt64Array or BigUint64Array)'");
    }
    if (arr.byteLength > 65536) {
      const e = new Error("The ArrayBufferView's byte length (" + arr.byteLength + ") exceeds the number of bytes of entropy available via this API (65536)");
      e.name = "QuotaExceededError";
      throw e;
    }
    new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).set(new Uint8Array(N.randomBytes(arr.byteLength)));
    return arr;
  }
  const hex = [];
  for (let i = 0; i < 256; i++) hex.push((i + 0x100).toString(16).slice(1));
  function randomUUID() {
    const b = new Uint8Array(N.randomBytes(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    return hex[b[0]] + hex[b[1]] + hex[b[2]] + hex[b[3]] + "-" + hex[b[4]] + hex[b[5]] + "-" + hex[b[6]] + hex[b[7]] + "-" + hex[b[8]] + hex[b[9]] + "-" + hex[b[10]] + hex[b[11]] + hex[b[12]] + hex[b[13]] + hex[b[14]] + hex[b[15]];
  }
  const cryptoImpl = {};
  define(cryptoImpl, "getRandomValues", getRandomValues);
  define(cryptoImpl, "randomUUID", randomUUID);
  define(g, "crypto", cryptoImpl);

  // ---- things queries and mutations may not use ----------------------------------------
  function notInQM(what) {
    if (phase === "import") return new Error(what + " unsupported at import time");
    return new Error("Can't use " + what + " in queries and mutations. Please consider using an action. See https://docs.convex.dev/functions/actions for more details.");
  }
  // ---- actions: operations the Rust side runs concurrently (syscalls, fetch, timers) -------
  // In actions every async syscall, fetch and timer becomes an entry of `actionOps`
  // ([id, kind, ...]) that the Rust side takes with `control.takeOps()`; it settles them in
  // whatever order they complete (`settleOp`, `settleFetch`, `fireTimer`).
  let actionOps = [];
  let nextOpId = 0;
  let nextTimerId = 0;
  const pendingOps = new Map(); // op id -> [resolve, reject, isFetch]
  const actionTimers = new Map(); // timer id -> { cb, args, delay, repeat }
  function startTimer(cb, delay, args, repeat, what) {
    if (phase !== "action") throw notInQM(what);
    const id = ++nextTimerId;
    const ms = Math.max(0, Number(delay) || 0);
    actionTimers.set(id, { cb, args, delay: ms, repeat });
    actionOps.push([id, "timer", ms]);
    return id;
  }
  function stopTimer(id) {
    if (phase !== "action") return;
    const n = Number(id);
    if (actionTimers.delete(n)) actionOps.push([n, "clearTimer"]);
  }
  define(g, "setTimeout", function setTimeout(cb, delay, ...args) { return startTimer(cb, delay, args, false, "setTimeout"); });
  define(g, "setInterval", function setInterval(cb, delay, ...args) { return startTimer(cb, delay, args, true, "setInterval"); });
  define(g, "clearTimeout", function clearTimeout(id) { stopTimer(id); });
  define(g, "clearInterval", function clearInterval(id) { stopTimer(id); });
  define(g, "queueMicrotask", function queueMicrotask(cb) {
    if (typeof cb !== "function") throw new TypeError("queueMicrotask: callback must be a function");
    RealPromise.resolve().then(() => cb());
  });

  // ---- process.env, self, misc -----------------------------------------------------------
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

  // ---- text encoding, base64 -------------------------------------------------------------
  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(input = "") {
      const s = String(input);
      const out = [];
      for (let i = 0; i < s.length; i++) {
        let c = s.charCodeAt(i);
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
          const d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
          else c = 0xfffd;
        } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
        if (c < 0x80) out.push(c);
        else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
        else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
        else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      }
      return new Uint8Array(out);
    }
    encodeInto(input, dest) {
      const bytes = this.encode(input);
      const n = Math.min(bytes.length, dest.length);
      dest.set(bytes.subarray(0, n));
      return { read: String(input).length, written: n };
    }
  }
  class TextDecoder {
    #fatal; #ignoreBOM;
    constructor(label = "utf-8", options = {}) {
      const l = String(label).toLowerCase();
      if (l !== "utf-8" && l !== "utf8" && l !== "unicode-1-1-utf-8") throw new RangeError("The encoding label provided ('" + label + "') is invalid.");
      this.#fatal = !!options.fatal;
      this.#ignoreBOM = !!options.ignoreBOM;
    }
    get encoding() { return "utf-8"; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }
    decode(input) {
      if (input === undefined) return "";
      let b;
      if (input instanceof ArrayBuffer) b = new Uint8Array(input);
      else if (ArrayBuffer.isView(input)) b = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
      else throw new TypeError("The provided value is not of type '(ArrayBuffer or ArrayBufferView)'");
      let i = 0;
      if (!this.#ignoreBOM && b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) i = 3;
      const chunks = [];
      let codes = [];
      const bad = () => {
        if (this.#fatal) throw new TypeError("The encoded data was not valid for encoding utf-8");
        codes.push(0xfffd);
      };
      while (i < b.length) {
        const c = b[i];
        let need = 0, cp = 0, min = 0;
        if (c < 0x80) { codes.push(c); i++; }
        else {
          if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; min = 0x80; }
          else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; min = 0x800; }
          else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; min = 0x10000; }
          else { bad(); i++; continue; }
          let j = 1;
          for (; j <= need; j++) {
            const d = b[i + j];
            if (d === undefined || (d & 0xc0) !== 0x80) break;
            cp = (cp << 6) | (d & 0x3f);
          }
          if (j <= need || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) { bad(); i += j; continue; }
          i += need + 1;
          if (cp >= 0x10000) { cp -= 0x10000; codes.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff)); }
          else codes.push(cp);
        }
        if (codes.length > 8192) { chunks.push(String.fromCharCode.apply(null, codes)); codes = []; }
      }
      chunks.push(String.fromCharCode.apply(null, codes));
      return chunks.join("");
    }
  }
  define(g, "TextEncoder", TextEncoder);
  define(g, "TextDecoder", TextDecoder);

  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  function invalidChar(fn) {
    const e = new Error("Failed to execute '" + fn + "': The string to be encoded contains characters outside of the Latin1 range.");
    e.name = "InvalidCharacterError";
    return e;
  }
  define(g, "btoa", function btoa(data) {
    if (arguments.length === 0) throw new TypeError("btoa: 1 argument required, but only 0 present.");
    const s = String(data);
    let out = "";
    for (let i = 0; i < s.length; i += 3) {
      const a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
      if (a > 255 || b > 255 || c > 255) throw invalidChar("btoa");
      const n = (a << 16) | ((b || 0) << 8) | (c || 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (i + 1 < s.length ? B64[(n >> 6) & 63] : "=") + (i + 2 < s.length ? B64[n & 63] : "=");
    }
    return out;
  });
  define(g, "atob", function atob(data) {
    if (arguments.length === 0) throw new TypeError("atob: 1 argument required, but only 0 present.");
    let s = String(data).replace(/[\t\n\f\r ]/g, "");
    if (s.length % 4 === 0) s = s.replace(/==?$/, "");
    if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) {
      const e = new Error("The string to be decoded is not correctly encoded.");
      e.name = "InvalidCharacterError";
      throw e;
    }
    let out = "", bits = 0, acc = 0;
    for (let i = 0; i < s.length; i++) {
      acc = (acc << 6) | B64.indexOf(s[i]);
      bits += 6;
      if (bits >= 8) { bits -= 8; out += String.fromCharCode((acc >> bits) & 255); }
    }
    return out;
  });


  // ---- URL, URLSearchParams (a compact WHATWG-style subset) ------------------------------
  const formSafe = /[A-Za-z0-9*\-._]/;
  function formEncode(str) {
    const bytes = new TextEncoder().encode(String(str));
    let out = "";
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      const c = String.fromCharCode(b);
      if (b < 0x80 && formSafe.test(c)) out += c;
      else if (b === 0x20) out += "+";
      else out += "%" + (b < 16 ? "0" : "") + b.toString(16).toUpperCase();
    }
    return out;
  }
  function percentDecodeBytes(str) {
    const out = [];
    const enc = new TextEncoder().encode(str);
    for (let i = 0; i < enc.length; i++) {
      const b = enc[i];
      if (b === 0x25 && i + 2 < enc.length) {
        const h = String.fromCharCode(enc[i + 1], enc[i + 2]);
        if (/^[0-9A-Fa-f]{2}$/.test(h)) { out.push(parseInt(h, 16)); i += 2; continue; }
      }
      out.push(b);
    }
    return new TextDecoder().decode(new Uint8Array(out));
  }
  function formDecode(str) {
    return percentDecodeBytes(str.replace(/\+/g, " "));
  }
  class URLSearchParams {
    #list = [];
    #url = null;
    constructor(init = "") {
      if (init instanceof URLSearchParams) this.#list = init.#list.map((p) => [p[0], p[1]]);
      else if (typeof init === "object" && init !== null) {
        if (typeof init[Symbol.iterator] === "function") {
          for (const pair of init) {
            const p = Array.from(pair);
            if (p.length !== 2) throw new TypeError("Each query pair must be an iterable [name, value] tuple");
            this.#list.push([String(p[0]), String(p[1])]);
          }
        } else for (const k of Object.keys(init)) this.#list.push([k, String(init[k])]);
      } else this.#parse(String(init));
    }
    #parse(s) {
      this.#list = [];
      if (s.startsWith("?")) s = s.slice(1);
      for (const part of s.split("&")) {
        if (part === "") continue;
        const i = part.indexOf("=");
        const k = i < 0 ? part : part.slice(0, i);
        const v = i < 0 ? "" : part.slice(i + 1);
        this.#list.push([formDecode(k), formDecode(v)]);
      }
    }
    static _attach(params, url) { params.#url = url; }
    static _reparse(params, s) { params.#parse(s); }
    #update() { if (this.#url) this.#url._setQueryFromParams(this.toString()); }
    get size() { return this.#list.length; }
    append(k, v) { this.#list.push([String(k), String(v)]); this.#update(); }
    delete(k, v) {
      k = String(k);
      this.#list = this.#list.filter((p) => !(p[0] === k && (v === undefined || p[1] === String(v))));
      this.#update();
    }
    get(k) { k = String(k); const p = this.#list.find((p) => p[0] === k); return p ? p[1] : null; }
    getAll(k) { k = String(k); return this.#list.filter((p) => p[0] === k).map((p) => p[1]); }
    has(k, v) { k = String(k); return this.#list.some((p) => p[0] === k && (v === undefined || p[1] === String(v))); }
    set(k, v) {
      k = String(k); v = String(v);
      const i = this.#list.findIndex((p) => p[0] === k);
      if (i < 0) this.#list.push([k, v]);
      else { this.#list[i][1] = v; this.#list = this.#list.filter((p, j) => j <= i || p[0] !== k); }
      this.#update();
    }
    sort() { this.#list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this.#update(); }
    forEach(cb, thisArg) { for (const [k, v] of this.#list) cb.call(thisArg, v, k, this); }
    *keys() { for (const p of this.#list) yield p[0]; }
    *values() { for (const p of this.#list) yield p[1]; }
    *entries() { for (const p of this.#list) yield [p[0], p[1]]; }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return this.#list.map((p) => formEncode(p[0]) + "=" + formEncode(p[1])).join("&"); }
  }
  const specialPorts = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443", "ftp:": "21", "file:": "" };
  const urlRe = /^([A-Za-z][A-Za-z0-9+.\-]*:)(\/\/([^\/?#]*))?([^?#]*)(\?[^#]*)?(#.*)?$/;
  function encodeSet(s, re) {
    return s.replace(re, (c) => Array.from(new TextEncoder().encode(c), (b) => "%" + (b < 16 ? "0" : "") + b.toString(16).toUpperCase()).join(""));
  }
  function normalizePath(path, special) {
    if (special) path = path.replace(/\\/g, "/");
    const segs = path.split("/");
    const out = [];
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i];
      const last = i === segs.length - 1;
      if (seg === "." || seg.toLowerCase() === "%2e") { if (last) out.push(""); continue; }
      if (seg === ".." || /^(\.|%2e)(\.|%2e)$/i.test(seg)) { if (out.length > 1) out.pop(); if (last) out.push(""); continue; }
      out.push(seg);
    }
    let p = out.join("/");
    if (!p.startsWith("/")) p = "/" + p;
    return encodeSet(p, /[\u0000-\u0020"<>`{}\u007f-\uffff]/g);
  }
  function invalidUrl(input) {
    return new TypeError("Invalid URL: " + input);
  }
  class URL {
    #protocol = ""; #username = ""; #password = ""; #hostname = ""; #port = "";
    #pathname = ""; #search = ""; #hash = ""; #opaque = false; #params;
    constructor(input, base) {
      input = String(input).trim();
      let m = urlRe.exec(input);
      if (!m) {
        if (base === undefined) throw invalidUrl(input);
        const b = base instanceof URL ? base : new URL(String(base));
        m = urlRe.exec(URL.#resolve(input, b));
        if (!m) throw invalidUrl(input);
      }
      this.#protocol = m[1].toLowerCase();
      const special = this.#protocol in specialPorts;
      if (m[2] !== undefined) {
        let auth = m[3];
        const at = auth.lastIndexOf("@");
        if (at >= 0) {
          const cred = auth.slice(0, at);
          auth = auth.slice(at + 1);
          const colon = cred.indexOf(":");
          this.#username = colon < 0 ? cred : cred.slice(0, colon);
          this.#password = colon < 0 ? "" : cred.slice(colon + 1);
        }
        const pm = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(auth);
        if (!pm) throw invalidUrl(input);
        this.#hostname = special ? pm[1].toLowerCase() : pm[1];
        if (special && this.#protocol !== "file:" && this.#hostname === "") throw invalidUrl(input);
        if (/[\s<>^|%]/.test(this.#hostname) && !this.#hostname.startsWith("[")) throw invalidUrl(input);
        const port = pm[2] === undefined || pm[2] === "" ? "" : String(Number(pm[2]));
        if (Number(port) > 65535) throw invalidUrl(input);
        this.#port = port === specialPorts[this.#protocol] ? "" : port;
        this.#pathname = normalizePath(m[4] || "/", special);
      } else if (special) {
        throw invalidUrl(input);
      } else {
        this.#opaque = true;
        this.#pathname = m[4];
      }
      this.#search = m[5] && m[5] !== "?" ? encodeSet(m[5], /[\u0000-\u0020"#<>\u007f-\uffff]/g) : "";
      this.#hash = m[6] && m[6] !== "#" ? encodeSet(m[6], /[\u0000-\u0020"<>`\u007f-\uffff]/g) : "";
      this.#params = new URLSearchParams(this.#search);
      URLSearchParams._attach(this.#params, this);
    }
    static #resolve(input, b) {
      if (input.startsWith("//")) return b.protocol + input;
      const baseNoHash = b.href.replace(/#.*$/, "");
      if (input === "") return baseNoHash;
      if (input.startsWith("#")) return baseNoHash + input;
      const prefix = b.protocol + "//" + (b.username ? b.username + (b.password ? ":" + b.password : "") + "@" : "") + b.host;
      if (input.startsWith("?")) return prefix + b.pathname + input;
      if (input.startsWith("/")) return prefix + input;
      const dir = b.pathname.slice(0, b.pathname.lastIndexOf("/") + 1);
      return prefix + dir + input;
    }
    static canParse(input, base) {
      try { new URL(input, base); return true; } catch (_) { return false; }
    }
    _setQueryFromParams(q) { this.#search = q ? "?" + q : ""; }
    get protocol() { return this.#protocol; }
    set protocol(v) { const p = String(v).replace(/:.*$/, "").toLowerCase(); if (/^[a-z][a-z0-9+.\-]*$/.test(p)) this.#protocol = p + ":"; }
    get username() { return this.#username; }
    set username(v) { this.#username = encodeSet(String(v), /[^A-Za-z0-9\-._~!$&'()*+,;=]/g); }
    get password() { return this.#password; }
    set password(v) { this.#password = encodeSet(String(v), /[^A-Za-z0-9\-._~!$&'()*+,;=]/g); }
    get hostname() { return this.#hostname; }
    set hostname(v) { if (!this.#opaque) this.#hostname = String(v).toLowerCase(); }
    get port() { return this.#port; }
    set port(v) { const s = String(v); if (s === "") this.#port = ""; else if (/^\d+$/.test(s) && Number(s) <= 65535) this.#port = String(Number(s)) === specialPorts[this.#protocol] ? "" : String(Number(s)); }
    get host() { return this.#hostname + (this.#port ? ":" + this.#port : ""); }
    set host(v) { const m = /^([^:]*)(?::(\d*))?$/.exec(String(v)); if (m) { this.hostname = m[1]; if (m[2] !== undefined) this.port = m[2]; } }
    get origin() { return this.#protocol in specialPorts && this.#protocol !== "file:" ? this.#protocol + "//" + this.host : "null"; }
    get pathname() { return this.#pathname; }
    set pathname(v) { if (!this.#opaque) this.#pathname = normalizePath(String(v), this.#protocol in specialPorts); }
    get search() { return this.#search; }
    set search(v) { const s = String(v); const q = s.startsWith("?") ? s.slice(1) : s; this.#search = q ? "?" + encodeSet(q, /[\u0000-\u0020"#<>\u007f-\uffff]/g) : ""; URLSearchParams._reparse(this.#params, this.#search); }
    get searchParams() { return this.#params; }
    get hash() { return this.#hash; }
    set hash(v) { const s = String(v); const h = s.startsWith("#") ? s.slice(1) : s; this.#hash = h ? "#" + encodeSet(h, /[\u0000-\u0020"<>`\u007f-\uffff]/g) : ""; }
    get href() {
      if (this.#opaque) return this.#protocol + this.#pathname + this.#search + this.#hash;
      const cred = this.#username || this.#password ? this.#username + (this.#password ? ":" + this.#password : "") + "@" : "";
      return this.#protocol + "//" + cred + this.host + this.#pathname + this.#search + this.#hash;
    }
    set href(v) { const u = new URL(v); for (const k of ["protocol", "username", "password", "hostname", "port", "pathname", "search", "hash"]) this[k] = u[k]; }
    toString() { return this.href; }
    toJSON() { return this.href; }
  }
  define(g, "URL", URL);
  define(g, "URLSearchParams", URLSearchParams);

  // ---- structuredClone -------------------------------------------------------------------
  function cloneError(what) {
    const e = new Error(what + " could not be cloned.");
    e.name = "DataCloneError";
    return e;
  }
  function clone(v, memo) {
    if (typeof v === "function" || typeof v === "symbol") throw cloneError(String(v));
    if (typeof v !== "object" || v === null) return v;
    if (memo.has(v)) return memo.get(v);
    let out;
    if (Array.isArray(v)) {
      out = new Array(v.length);
      memo.set(v, out);
      for (const k of Object.keys(v)) out[k] = clone(v[k], memo);
      return out;
    }
    if (v instanceof RealDate) { out = new RealDate(v.getTime()); memo.set(v, out); return out; }
    if (v instanceof RegExp) { out = new RegExp(v.source, v.flags); memo.set(v, out); return out; }
    if (v instanceof ArrayBuffer) { out = v.slice(0); memo.set(v, out); return out; }
    if (ArrayBuffer.isView(v)) {
      const buf = clone(v.buffer, memo);
      out = v instanceof DataView ? new DataView(buf, v.byteOffset, v.byteLength) : new v.constructor(buf, v.byteOffset, v.length);
      memo.set(v, out);
      return out;
    }
    if (v instanceof Map) { out = new Map(); memo.set(v, out); v.forEach((val, k) => out.set(clone(k, memo), clone(val, memo))); return out; }
    if (v instanceof Set) { out = new Set(); memo.set(v, out); v.forEach((val) => out.add(clone(val, memo))); return out; }
    if (v instanceof Error) {
      out = new Error(v.message);
      out.name = v.name;
      memo.set(v, out);
      return out;
    }
    if (v instanceof RealPromise || v instanceof WeakMap || v instanceof WeakSet) throw cloneError(Object.prototype.toString.call(v));
    out = {};
    memo.set(v, out);
    for (const k of Object.keys(v)) out[k] = clone(v[k], memo);
    return out;
  }
  define(g, "structuredClone", function structuredClone(value) {
    if (arguments.length === 0) throw new TypeError("structuredClone: 1 argument required, but only 0 present.");
    return clone(value, new Map());
  });

  // ---- DOMException, Event, EventTarget, AbortController, AbortSignal ---------------------
  const domCodes = { IndexSizeError: 1, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11, SyntaxError: 12, InvalidAccessError: 15, TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, QuotaExceededError: 22, TimeoutError: 23, DataCloneError: 25 };
  class DOMException extends Error {
    #name; #code;
    constructor(message = "", name = "Error") {
      super(String(message));
      this.#name = String(name);
      this.#code = domCodes[this.#name] || 0;
    }
    get name() { return this.#name; }
    get code() { return this.#code; }
  }
  define(g, "DOMException", DOMException);
  let eventTarget;
  class Event {
    #type; #target = null; #defaultPrevented = false; #cancelable;
    constructor(type, init = {}) {
      if (arguments.length === 0) throw new TypeError("Failed to construct 'Event': 1 argument required, but only 0 present.");
      this.#type = String(type);
      this.#cancelable = !!init.cancelable;
    }
    get type() { return this.#type; }
    get target() { return this.#target; }
    get currentTarget() { return this.#target; }
    get cancelable() { return this.#cancelable; }
    get defaultPrevented() { return this.#defaultPrevented; }
    preventDefault() { if (this.#cancelable) this.#defaultPrevented = true; }
    stopPropagation() {}
    stopImmediatePropagation() {}
    static { eventTarget = (e, t) => { e.#target = t; }; }
  }
  class EventTarget {
    #listeners = new Map(); // type -> [{ cb, once }]
    addEventListener(type, cb, options) {
      if (cb === null || cb === undefined) return;
      const once = typeof options === "object" && options !== null && !!options.once;
      const list = this.#listeners.get(String(type)) || [];
      if (!list.some((l) => l.cb === cb)) list.push({ cb, once });
      this.#listeners.set(String(type), list);
      if (typeof options === "object" && options !== null && options.signal) {
        options.signal.addEventListener("abort", () => this.removeEventListener(type, cb));
      }
    }
    removeEventListener(type, cb) {
      const list = this.#listeners.get(String(type));
      if (list) this.#listeners.set(String(type), list.filter((l) => l.cb !== cb));
    }
    dispatchEvent(event) {
      eventTarget(event, this);
      const handler = this["on" + event.type];
      const list = (this.#listeners.get(event.type) || []).slice();
      if (typeof handler === "function") handler.call(this, event);
      for (const l of list) {
        if (l.once) this.removeEventListener(event.type, l.cb);
        if (typeof l.cb === "function") l.cb.call(this, event);
        else if (l.cb && typeof l.cb.handleEvent === "function") l.cb.handleEvent(event);
      }
      return !event.defaultPrevented;
    }
  }
  define(g, "Event", Event);
  define(g, "EventTarget", EventTarget);
  let abortSignal;
  class AbortSignal extends EventTarget {
    #aborted = false; #reason = undefined;
    constructor(key) {
      super();
      if (key !== abortKey) throw new TypeError("Illegal constructor");
      this.onabort = null;
    }
    get aborted() { return this.#aborted; }
    get reason() { return this.#reason; }
    throwIfAborted() { if (this.#aborted) throw this.#reason; }
    static abort(reason) {
      const s = new AbortSignal(abortKey);
      abortSignal(s, reason);
      return s;
    }
    static timeout(ms) {
      const s = new AbortSignal(abortKey);
      setTimeout(() => abortSignal(s, new DOMException("The operation timed out.", "TimeoutError")), ms);
      return s;
    }
    static any(signals) {
      const s = new AbortSignal(abortKey);
      for (const x of signals) {
        if (x.aborted) { abortSignal(s, x.reason); return s; }
        x.addEventListener("abort", () => abortSignal(s, x.reason), { once: true });
      }
      return s;
    }
    static {
      abortSignal = (s, reason) => {
        if (s.#aborted) return;
        s.#aborted = true;
        s.#reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
        s.dispatchEvent(new Event("abort"));
      };
    }
    get [Symbol.toStringTag]() { return "AbortSignal"; }
  }
  const abortKey = Symbol("AbortSignal");
  class AbortController {
    #signal = new AbortSignal(abortKey);
    get signal() { return this.#signal; }
    abort(reason) { abortSignal(this.#signal, reason); }
  }
  define(g, "AbortSignal", AbortSignal);
  define(g, "AbortController", AbortController);

  // ---- crypto.subtle: SHA-256/384/512 digests and HMAC; other algorithms are refused --------
  const hashNames = new Set(["SHA-256", "SHA-384", "SHA-512"]);
  const notSupported = (what) => new DOMException(what + " is not supported by emvex", "NotSupportedError");
  const algName = (alg) => String(typeof alg === "string" ? alg : alg && alg.name).toUpperCase();
  function bufferSource(data) {
    if (data instanceof ArrayBuffer) return data.slice(0);
    if (ArrayBuffer.isView(data)) return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    throw new TypeError("Failed to execute on 'SubtleCrypto': The provided value is not of type '(ArrayBuffer or ArrayBufferView)'.");
  }
  const cryptoKeyKey = Symbol("CryptoKey");
  let keyBytes;
  class CryptoKey {
    #bytes;
    constructor(key, bytes, algorithm, extractable, usages) {
      if (key !== cryptoKeyKey) throw new TypeError("Illegal constructor");
      this.#bytes = bytes;
      define(this, "type", "secret");
      define(this, "algorithm", algorithm);
      define(this, "extractable", extractable);
      define(this, "usages", usages);
    }
    static { keyBytes = (k) => k.#bytes; }
    get [Symbol.toStringTag]() { return "CryptoKey"; }
  }
  function hmacKey(alg, key, usage) {
    if (algName(alg) !== "HMAC") throw notSupported("algorithm " + algName(alg));
    if (!(key instanceof CryptoKey)) throw new TypeError("parameter 2 is not of type 'CryptoKey'.");
    if (!key.usages.includes(usage)) throw new DOMException("key does not support the '" + usage + "' operation", "InvalidAccessError");
    return key;
  }
  const subtle = {};
  define(subtle, "digest", async function digest(alg, data) {
    const name = algName(alg);
    if (!hashNames.has(name)) throw notSupported("digest algorithm " + name);
    return N.digest(name, bufferSource(data));
  });
  define(subtle, "importKey", async function importKey(format, keyData, alg, extractable, usages) {
    if (format !== "raw") throw notSupported("key format '" + format + "'");
    if (algName(alg) !== "HMAC") throw notSupported("algorithm " + algName(alg));
    const hash = algName(alg.hash);
    if (!hashNames.has(hash)) throw notSupported("hash " + hash);
    const bytes = new Uint8Array(bufferSource(keyData));
    return new CryptoKey(cryptoKeyKey, bytes, { name: "HMAC", hash: { name: hash }, length: bytes.length * 8 }, !!extractable, Array.from(usages || []));
  });
  define(subtle, "exportKey", async function exportKey(format, key) {
    if (format !== "raw") throw notSupported("key format '" + format + "'");
    if (!(key instanceof CryptoKey)) throw new TypeError("parameter 2 is not of type 'CryptoKey'.");
    if (!key.extractable) throw new DOMException("key is not extractable", "InvalidAccessError");
    return keyBytes(key).slice().buffer;
  });
  define(subtle, "sign", async function sign(alg, key, data) {
    hmacKey(alg, key, "sign");
    return N.hmac(key.algorithm.hash.name, keyBytes(key).slice().buffer, bufferSource(data));
  });
  define(subtle, "verify", async function verify(alg, key, signature, data) {
    hmacKey(alg, key, "verify");
    const mac = new Uint8Array(N.hmac(key.algorithm.hash.name, keyBytes(key).slice().buffer, bufferSource(data)));
    const sig = new Uint8Array(bufferSource(signature));
    if (mac.length !== sig.length) return false;
    let diff = 0;
    for (let i = 0; i < mac.length; i++) diff |= mac[i] ^ sig[i];
    return diff === 0;
  });
  for (const m of ["encrypt", "decrypt", "generateKey", "deriveKey", "deriveBits", "wrapKey", "unwrapKey"]) {
    define(subtle, m, async function () { throw notSupported("crypto.subtle." + m); });
  }
  define(cryptoImpl, "subtle", subtle);
  define(g, "CryptoKey", CryptoKey);

  // ---- Blob, Headers, Request, Response, fetch --------------------------------------------
  const utf8 = new TextEncoder();
  const utf8dec = new TextDecoder();
  const bytesOf = (v) => (v instanceof ArrayBuffer ? new Uint8Array(v.slice(0)) : new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)));
  // Engine-internal accessors to private state, assigned in static blocks (not visible to apps).
  let blobBytes, headerPairs, initBody, peekBody, responseFromNetwork;
  class Blob {
    #bytes; #type;
    static { blobBytes = (b) => b.#bytes; }
    constructor(parts = [], options = {}) {
      if (parts === null || typeof parts !== "object" || typeof parts[Symbol.iterator] !== "function") {
        throw new TypeError("Failed to construct 'Blob': The provided value cannot be converted to a sequence.");
      }
      const chunks = [];
      let total = 0;
      for (const p of parts) {
        const b = p instanceof Blob ? p.#bytes : p instanceof ArrayBuffer || ArrayBuffer.isView(p) ? bytesOf(p) : utf8.encode(String(p));
        chunks.push(b);
        total += b.length;
      }
      this.#bytes = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) { this.#bytes.set(c, at); at += c.length; }
      const t = options && options.type !== undefined ? String(options.type) : "";
      this.#type = /^[\x20-\x7e]*$/.test(t) ? t.toLowerCase() : "";
    }
    get size() { return this.#bytes.length; }
    get type() { return this.#type; }
    slice(start = 0, end = this.#bytes.length, type = "") {
      const n = this.#bytes.length;
      const norm = (x) => (x < 0 ? Math.max(n + x, 0) : Math.min(x, n));
      return new Blob([this.#bytes.slice(norm(start), norm(end))], { type });
    }
    async text() { return utf8dec.decode(this.#bytes); }
    async arrayBuffer() { return this.#bytes.slice().buffer; }
    async bytes() { return this.#bytes.slice(); }
    stream() { return bodyStream(this.#bytes.slice()); }
    get [Symbol.toStringTag]() { return "Blob"; }
  }
  class File extends Blob {
    #name; #lastModified;
    constructor(parts, name, options = {}) {
      super(parts, options);
      this.#name = String(name);
      this.#lastModified = options.lastModified !== undefined ? Number(options.lastModified) : N.now();
    }
    get name() { return this.#name; }
    get lastModified() { return this.#lastModified; }
    get [Symbol.toStringTag]() { return "File"; }
  }
  define(g, "Blob", Blob);
  define(g, "File", File);

  // A minimal one-chunk readable body (`response.body.getReader()`), not a full ReadableStream.
  function bodyStream(bytes) {
    let done = false;
    return {
      locked: false,
      getReader() {
        return {
          async read() {
            if (done || bytes.length === 0) { done = true; return { done: true, value: undefined }; }
            done = true;
            return { done: false, value: bytes };
          },
          releaseLock() {},
          async cancel() { done = true; },
        };
      },
      async cancel() { done = true; },
      async *[Symbol.asyncIterator]() { if (bytes.length) yield bytes; },
    };
  }

  const headerName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  function checkHeader(name, value) {
    const n = String(name);
    if (!headerName.test(n)) throw new TypeError("Headers: invalid header name: " + JSON.stringify(n));
    const v = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
    if (/[\0\r\n]/.test(v)) throw new TypeError("Headers: invalid header value for " + n);
    return [n.toLowerCase(), v];
  }
  class Headers {
    #list = []; // [lowercased name, value] in insertion order
    constructor(init) {
      if (init === undefined || init === null) return;
      if (init instanceof Headers) { for (const [k, v] of init.#list) this.#list.push([k, v]); return; }
      if (typeof init !== "object") throw new TypeError("Failed to construct 'Headers': The provided value is not of type 'HeadersInit'.");
      if (typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const arr = Array.from(pair);
          if (arr.length !== 2) throw new TypeError("Failed to construct 'Headers': Invalid value");
          this.append(arr[0], arr[1]);
        }
        return;
      }
      for (const k of Object.keys(init)) this.append(k, init[k]);
    }
    append(name, value) { this.#list.push(checkHeader(name, value)); }
    set(name, value) {
      const [n, v] = checkHeader(name, value);
      const i = this.#list.findIndex((e) => e[0] === n);
      this.#list = this.#list.filter((e, j) => e[0] !== n || j === i);
      if (i < 0) this.#list.push([n, v]); else this.#list[this.#list.findIndex((e) => e[0] === n)] = [n, v];
    }
    get(name) {
      const n = String(name).toLowerCase();
      const vals = this.#list.filter((e) => e[0] === n).map((e) => e[1]);
      return vals.length ? vals.join(", ") : null;
    }
    getSetCookie() { return this.#list.filter((e) => e[0] === "set-cookie").map((e) => e[1]); }
    has(name) { const n = String(name).toLowerCase(); return this.#list.some((e) => e[0] === n); }
    delete(name) { const n = String(name).toLowerCase(); this.#list = this.#list.filter((e) => e[0] !== n); }
    *entries() {
      const names = [...new Set(this.#list.map((e) => e[0]))].sort();
      for (const n of names) {
        if (n === "set-cookie") { for (const v of this.getSetCookie()) yield [n, v]; }
        else yield [n, this.get(n)];
      }
    }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    forEach(cb, thisArg) { for (const [k, v] of this.entries()) cb.call(thisArg, v, k, this); }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return "Headers"; }
    static { headerPairs = (h) => h.#list.map((e) => [e[0], e[1]]); }
  }
  define(g, "Headers", Headers);

  // FormData: entries of [name, string | File]; multipart/form-data and urlencoded bodies.
  const toFormValue = (value, filename) => {
    if (value instanceof Blob) {
      const name = filename !== undefined ? String(filename) : value instanceof File ? value.name : "blob";
      return value instanceof File && filename === undefined ? value : new File([value], name, { type: value.type });
    }
    return String(value);
  };
  class FormData {
    #entries = [];
    constructor(form) {
      if (form !== undefined) throw new TypeError("Failed to construct 'FormData': parameter 1 is not of type 'HTMLFormElement'.");
    }
    append(name, value, filename) { this.#entries.push([String(name), toFormValue(value, filename)]); }
    set(name, value, filename) {
      const n = String(name);
      const v = toFormValue(value, filename);
      const i = this.#entries.findIndex((e) => e[0] === n);
      if (i < 0) { this.#entries.push([n, v]); return; }
      this.#entries = this.#entries.filter((e, j) => e[0] !== n || j === i);
      this.#entries[i] = [n, v];
    }
    get(name) { const e = this.#entries.find((x) => x[0] === String(name)); return e === undefined ? null : e[1]; }
    getAll(name) { return this.#entries.filter((x) => x[0] === String(name)).map((x) => x[1]); }
    has(name) { return this.#entries.some((x) => x[0] === String(name)); }
    delete(name) { this.#entries = this.#entries.filter((x) => x[0] !== String(name)); }
    *entries() { for (const [k, v] of this.#entries.slice()) yield [k, v]; }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    forEach(cb, thisArg) { for (const [k, v] of this.entries()) cb.call(thisArg, v, k, this); }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return "FormData"; }
  }
  define(g, "FormData", FormData);
  const escapeFormName = (s) => s.replace(/\r/g, "%0D").replace(/\n/g, "%0A").replace(/"/g, "%22");
  function encodeMultipart(form) {
    const hexDigits = Array.from(new Uint8Array(N.randomBytes(12)), (b) => hex[b]).join("");
    const boundary = "----emvexFormBoundary" + hexDigits;
    const chunks = [];
    for (const [name, value] of form) {
      let head = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + escapeFormName(name) + "\"";
      if (typeof value === "string") {
        chunks.push(utf8.encode(head + "\r\n\r\n" + value.replace(/\r(?!\n)|(?<!\r)\n/g, "\r\n") + "\r\n"));
      } else {
        head += "; filename=\"" + escapeFormName(value.name) + "\"\r\nContent-Type: " + (value.type || "application/octet-stream") + "\r\n\r\n";
        chunks.push(utf8.encode(head), blobBytes(value), utf8.encode("\r\n"));
      }
    }
    chunks.push(utf8.encode("--" + boundary + "--\r\n"));
    return [new Blob(chunks), "multipart/form-data; boundary=" + boundary];
  }
  // Latin-1 view of bytes (one char per byte), for finding multipart delimiters.
  function latin1(bytes) {
    let out = "";
    for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
    return out;
  }
  function parseFormData(bytes, contentType) {
    const type = (contentType || "").toLowerCase();
    const form = new FormData();
    if (type.startsWith("application/x-www-form-urlencoded")) {
      for (const [k, v] of new URLSearchParams(utf8dec.decode(bytes))) form.append(k, v);
      return form;
    }
    const m = /^multipart\/form-data\s*;.*\bboundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType || "");
    if (!m) throw new TypeError("Could not parse content as FormData.");
    const delimiter = "--" + (m[1] || m[2]);
    const text = latin1(bytes);
    let at = text.indexOf(delimiter);
    if (at < 0) throw new TypeError("Could not parse content as FormData.");
    for (;;) {
      at += delimiter.length;
      if (text.startsWith("--", at)) break;
      if (text.startsWith("\r\n", at)) at += 2;
      const next = text.indexOf("\r\n" + delimiter, at);
      if (next < 0) throw new TypeError("Could not parse content as FormData.");
      const headEnd = text.indexOf("\r\n\r\n", at);
      if (headEnd < 0 || headEnd > next) throw new TypeError("Could not parse content as FormData.");
      const headers = {};
      for (const line of text.slice(at, headEnd).split("\r\n")) {
        const c = line.indexOf(":");
        if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
      }
      const disp = headers["content-disposition"] || "";
      const name = /\bname="([^"]*)"/i.exec(disp);
      const filename = /\bfilename="([^"]*)"/i.exec(disp);
      const value = bytes.slice(headEnd + 4, next);
      if (name) {
        const n = utf8dec.decode(latin1Bytes(name[1]));
        if (filename) form.append(n, new File([value], utf8dec.decode(latin1Bytes(filename[1])), { type: headers["content-type"] || "" }));
        else form.append(n, utf8dec.decode(value));
      }
      at = next + 2;
    }
    return form;
  }
  // Bytes of a Latin-1 string (undoes `latin1`).
  const latin1Bytes = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0));

  // Extracts [bytes | null, default content type | null] from a BodyInit.
  function extractBody(body) {
    if (body === undefined || body === null) return [null, null];
    if (typeof body === "string") return [utf8.encode(body), "text/plain;charset=UTF-8"];
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return [bytesOf(body), null];
    if (body instanceof Blob) return [blobBytes(body).slice(), body.type || null];
    if (body instanceof URLSearchParams) return [utf8.encode(body.toString()), "application/x-www-form-urlencoded;charset=UTF-8"];
    if (body instanceof FormData) {
      const [blob, type] = encodeMultipart(body);
      return [blobBytes(blob).slice(), type];
    }
    return [utf8.encode(String(body)), "text/plain;charset=UTF-8"];
  }

  class Body {
    #bytes; #used = false;
    static {
      initBody = (b, bytes) => { b.#bytes = bytes; };
      peekBody = (b) => b.#bytes;
    }
    get bodyUsed() { return this.#used; }
    get body() { return this.#bytes === null ? null : bodyStream(this.#bytes); }
    #consume() {
      if (this.#used) return RealPromise.reject(new TypeError("Body is unusable: Body has already been read"));
      this.#used = true;
      return RealPromise.resolve(this.#bytes === null ? new Uint8Array(0) : this.#bytes);
    }
    async text() { return utf8dec.decode(await this.#consume()); }
    async json() { return JSON.parse(utf8dec.decode(await this.#consume())); }
    async arrayBuffer() { return (await this.#consume()).slice().buffer; }
    async bytes() { return (await this.#consume()).slice(); }
    async blob() {
      const b = await this.#consume();
      return new Blob([b], { type: this.headers.get("content-type") || "" });
    }
    async formData() { return parseFormData(await this.#consume(), this.headers.get("content-type")); }
  }

  const methods = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"];
  class Request extends Body {
    #url; #method; #headers; #signal; #redirect;
    constructor(input, init = {}) {
      super();
      const src = input instanceof Request ? input : null;
      let url;
      if (src) url = src.url;
      else {
        try { url = new URL(String(input)).href; } catch (_) { throw new TypeError("Failed to parse URL from " + String(input)); }
      }
      let method = init.method !== undefined ? String(init.method) : src ? src.method : "GET";
      if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method)) throw new TypeError("'" + method + "' is not a valid HTTP method.");
      if (methods.includes(method.toUpperCase())) method = method.toUpperCase();
      this.#url = url;
      this.#method = method;
      this.#headers = new Headers(init.headers !== undefined ? init.headers : src ? src.headers : undefined);
      this.#signal = init.signal !== undefined ? init.signal : src ? src.signal : null;
      this.#redirect = init.redirect !== undefined ? String(init.redirect) : src ? src.redirect : "follow";
      let bytes = null;
      if (init.body !== undefined && init.body !== null) {
        if (method === "GET" || method === "HEAD") throw new TypeError("Request with GET/HEAD method cannot have body.");
        const [b, type] = extractBody(init.body);
        bytes = b;
        if (type && !this.#headers.has("content-type")) this.#headers.set("content-type", type);
      } else if (src) {
        bytes = peekBody(src);
      }
      initBody(this, bytes);
    }
    get url() { return this.#url; }
    get method() { return this.#method; }
    get headers() { return this.#headers; }
    get signal() { return this.#signal; }
    get redirect() { return this.#redirect; }
    clone() { return new Request(this); }
    get [Symbol.toStringTag]() { return "Request"; }
  }
  class Response extends Body {
    #status; #statusText; #headers; #url = ""; #type = "default"; #redirected = false;
    constructor(body = null, init = {}) {
      super();
      const status = init.status === undefined ? 200 : Number(init.status);
      if (!Number.isInteger(status) || status < 200 || status > 599) {
        throw new RangeError("Failed to construct 'Response': The status provided (" + init.status + ") is outside the range [200, 599].");
      }
      this.#status = status;
      this.#statusText = init.statusText === undefined ? "" : String(init.statusText);
      this.#headers = new Headers(init.headers);
      const [bytes, type] = extractBody(body);
      if (bytes !== null && (status === 101 || status === 204 || status === 205 || status === 304)) {
        throw new TypeError("Response with null body status cannot have body");
      }
      if (type && !this.#headers.has("content-type")) this.#headers.set("content-type", type);
      initBody(this, bytes);
    }
    static {
      // Network responses may carry any status, so they are built then patched.
      responseFromNetwork = (status, statusText, url, pairs, bytes, redirected) => {
        const r = new Response(null, { status: 200, headers: pairs });
        r.#status = status; r.#statusText = statusText; r.#url = url;
        r.#type = "basic"; r.#redirected = redirected;
        initBody(r, status === 204 || status === 304 ? null : bytes);
        return r;
      };
    }
    static json(data, init = {}) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError("Failed to execute 'json' on 'Response': The data is not JSON serializable");
      const headers = new Headers(init.headers);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      return new Response(text, { ...init, headers });
    }
    static error() {
      const r = new Response(null, { status: 200 });
      r.#status = 0; r.#type = "error";
      return r;
    }
    static redirect(url, status = 302) {
      if (![301, 302, 303, 307, 308].includes(status)) throw new RangeError("Failed to execute 'redirect' on 'Response': Invalid status code");
      return new Response(null, { status, headers: { location: new URL(String(url)).href } });
    }
    get status() { return this.#status; }
    get statusText() { return this.#statusText; }
    get ok() { return this.#status >= 200 && this.#status < 300; }
    get headers() { return this.#headers; }
    get url() { return this.#url; }
    get type() { return this.#type; }
    get redirected() { return this.#redirected; }
    clone() {
      if (this.bodyUsed) throw new TypeError("Response.clone: Body has already been consumed.");
      const b = peekBody(this);
      const r = responseFromNetwork(this.#status, this.#statusText, this.#url, headerPairs(this.#headers), b === null ? new Uint8Array(0) : b.slice(), this.#redirected);
      r.#type = this.#type;
      if (b === null) initBody(r, null);
      return r;
    }
    get [Symbol.toStringTag]() { return "Response"; }
  }
  define(g, "Request", Request);
  define(g, "Response", Response);

  define(g, "fetch", function fetch(input, init) {
    if (phase !== "action") return RealPromise.reject(notInQM("fetch()"));
    let req;
    try { req = new Request(input, init); } catch (e) { return RealPromise.reject(e); }
    const signal = req.signal;
    if (signal && signal.aborted) return RealPromise.reject(signal.reason !== undefined ? signal.reason : new Error("The operation was aborted."));
    const body = peekBody(req);
    return new RealPromise((resolve, reject) => {
      const id = ++nextOpId;
      pendingOps.set(id, [resolve, reject, true, "fetch"]);
      actionOps.push([id, "fetch", req.method, req.url, JSON.stringify(headerPairs(req.headers)), body === null ? undefined : body.slice().buffer, req.redirect]);
      if (signal && typeof signal.addEventListener === "function") {
        // Aborting rejects at once and tells the Rust side to drop the request.
        signal.addEventListener("abort", () => {
          if (!pendingOps.delete(id)) return;
          actionOps.push([id, "cancel"]);
          reject(signal.reason);
        }, { once: true });
      }
    });
  });

  // App code's catch clauses call this first (see transpile.rs): a stack overflow, an
  // out-of-memory or an aborted execution must not be swallowed by user code.
  define(g, "__emvexCatch", function __emvexCatch(e) {
    N.checkCaught(e instanceof RangeError && e.message === "Maximum call stack size exceeded");
  });

  // ---- the Convex host object ------------------------------------------------------------
  const dbOps = new Set(["1.0/count", "1.0/get", "1.0/insert", "1.0/shallowMerge", "1.0/replace", "1.0/queryStreamNext", "1.0/queryPage", "1.0/remove"]);
  function importTimeError(op) {
    if (dbOps.has(op)) return new Error("Can't use database at import time");
    if (op.startsWith("1.0/actions/") || op === "1.0/runUdf") return new Error("Cannot call another function at import time");
    return new Error("Syscall " + op + " unsupported at import time");
  }
  const Convex = {};
  define(Convex, "syscall", function syscall(op, args) {
    if (phase === "import") throw importTimeError(op);
    return N.syscall(op, args);
  });
  define(Convex, "asyncSyscall", function asyncSyscall(op, args) {
    if (phase === "import") return RealPromise.reject(importTimeError(op));
    if (phase === "action") {
      return new RealPromise((resolve, reject) => {
        const id = ++nextOpId;
        pendingOps.set(id, [resolve, reject, false, String(op)]);
        actionOps.push([id, "syscall", String(op), String(args)]);
      });
    }
    return new RealPromise((resolve, reject) => { queue.push([op, args, resolve, reject]); });
  });
  // In actions, `ctx.storage.store/get` pass live Blobs through JS syscalls; they become the
  // base64 async syscalls mutations use (`1.0/storageStore`, `1.0/storageGet`), so a host
  // answers storage the same way for both kinds.
  function storageJsSyscall(op, args) {
    if (op === "storage/storeBlob") {
      if (!(args.blob instanceof Blob)) {
        throw new Error("store() expects a Blob. If you are trying to store a Request, `await request.blob()` will give you the correct input.");
      }
      const body = JSON.stringify({
        requestId: args.requestId,
        version: args.version,
        blob: btoa(latin1(blobBytes(args.blob))),
        contentType: args.blob.type,
        sha256: args.options && args.options.sha256,
      });
      return Convex.asyncSyscall("1.0/storageStore", body).then((text) => JSON.parse(text));
    }
    const body = JSON.stringify({ requestId: args.requestId, version: args.version, storageId: args.storageId });
    return Convex.asyncSyscall("1.0/storageGet", body).then((text) => {
      const r = JSON.parse(text);
      return r === null ? null : new Blob([latin1Bytes(atob(r.blob))], { type: r.contentType ?? "" });
    });
  }
  define(Convex, "jsSyscall", function jsSyscall(op, args) {
    if (phase === "import") throw new Error("Syscall " + op + " unsupported at import time");
    if (phase === "action" && (op === "storage/storeBlob" || op === "storage/getBlob")) return storageJsSyscall(op, args);
    throw new Error("Convex.jsSyscall(\"" + op + "\") is not supported in " + phaseWords());
  });
  define(g, "Convex", Convex);

  // ---- control object (driven from Rust) --------------------------------------------------
  let httpBody = null;
  function resetActionState() {
    httpBody = null;
    actionOps = [];
    pendingOps.clear();
    actionTimers.clear();
  }

  function errorInfo(e) {
    // Returns [kind, message, stack, data]: kind is "convex" or "error".
    if (typeof e === "object" && e !== null) {
      let isConvex = false;
      try {
        const sym = e.ConvexErrorSymbol;
        isConvex = (typeof sym === "symbol" && e[sym] === true) || ConvexErrorSymbol in e;
      } catch (_) {}
      let name = "Error", msg = "", stack = "";
      try { name = String(e.name === undefined ? "Error" : e.name); } catch (_) {}
      try { msg = e.message === undefined ? "" : String(e.message); } catch (_) {}
      try { stack = typeof e.stack === "string" ? e.stack : ""; } catch (_) {}
      if (isConvex) {
        let data = e.data;
        if (typeof data !== "string") {
          try { data = JSON.stringify(data === undefined ? null : data); } catch (_) { data = "null"; }
        }
        return ["convex", "Uncaught ConvexError: " + msg, stack, data];
      }
      if (e instanceof Error || "message" in e) {
        return ["error", "Uncaught " + name + (msg ? ": " + msg : ""), stack, undefined];
      }
      let text;
      try { text = inspect(e, 0, [], true); } catch (_) { text = "[object]"; }
      return ["error", "Uncaught " + text, "", undefined];
    }
    let text;
    try { text = String(e); } catch (_) { text = "exception"; }
    return ["error", "Uncaught " + text, "", undefined];
  }

  const control = {
    setEnv(json) {
      const vars = JSON.parse(json);
      for (const k of Object.keys(vars)) env[k] = vars[k];
    },
    begin(kind) {
      phase = kind;
      logs = [];
      queue = [];
      qhead = 0;
      current = null;
      timers.clear();
      resetActionState();
    },
    end() {
      phase = "idle";
      queue = [];
      qhead = 0;
      current = null;
      resetActionState();
      const out = logs;
      logs = [];
      return out;
    },
    register(path, ns) {
      modules.set(path, ns);
    },
    start(kind, path, name, argsJson) {
      const ns = modules.get(path);
      const fn = ns === undefined ? undefined : ns[name];
      const udf = path + (name === "default" ? "" : ":" + name);
      if (fn === undefined || fn === null || (typeof fn !== "object" && typeof fn !== "function")) {
        return "Could not find function for '" + udf + "'. Did you forget to run `npx convex dev`?";
      }
      const actual = "isQuery" in fn ? "query" : "isMutation" in fn ? "mutation" : "isAction" in fn ? "action" : null;
      if (actual === null) return "'" + udf + "' is not a Convex function";
      if (actual !== kind) return "Function " + udf + " is registered as " + (actual === "action" ? "an " : "a ") + actual + " but is being run as " + (kind === "action" ? "an " : "a ") + kind + ".";
      if (kind === "query") return fn.invokeQuery.call(g, argsJson);
      if (kind === "mutation") return fn.invokeMutation.call(g, argsJson);
      return fn.invokeAction.call(g, "dummy_request_id", argsJson);
    },
    next() {
      if (qhead >= queue.length) {
        if (qhead > 0) { queue = []; qhead = 0; }
        return undefined;
      }
      const item = queue[qhead];
      queue[qhead++] = undefined;
      current = item;
      return item;
    },
    resolveCurrent(text) {
      const c = current;
      current = null;
      c[2](text);
    },
    rejectCurrent(msg, dataJson) {
      const c = current;
      current = null;
      const e = new Error(msg);
      if (dataJson !== undefined) e.data = JSON.parse(dataJson);
      c[3](e);
    },
    // Actions: new operations since the last call, as [id, kind, ...] arrays.
    takeOps() {
      const out = actionOps;
      actionOps = [];
      return out;
    },
    // Settles an async syscall or fetch: ok with the result text, or an error (fetch
    // failures reject with a TypeError, syscall failures with an Error carrying `data`).
    settleOp(id, ok, text, dataJson) {
      const p = pendingOps.get(id);
      if (p === undefined) return;
      pendingOps.delete(id);
      if (ok) return p[0](text);
      // A fetch failure is a TypeError whose `cause.code` is the engine's stable code.
      const e = p[2] ? new TypeError(text) : new Error(text);
      if (dataJson !== undefined && p[2]) e.cause = JSON.parse(dataJson);
      else if (dataJson !== undefined) e.data = JSON.parse(dataJson);
      p[1](e);
    },
    settleFetch(id, status, statusText, url, headersJson, body, redirected) {
      const p = pendingOps.get(id);
      if (p === undefined) return;
      pendingOps.delete(id);
      p[0](responseFromNetwork(status, statusText, url, JSON.parse(headersJson), new Uint8Array(body), redirected));
    },
    // Runs a due timer's callback (an interval is re-armed first).
    fireTimer(id) {
      const t = actionTimers.get(id);
      if (t === undefined) return;
      if (t.repeat) actionOps.push([id, "timer", t.delay]);
      else actionTimers.delete(id);
      if (typeof t.cb === "function") t.cb(...t.args);
    },
    // HTTP actions: routes a request through convex/http.ts's router and resolves to the
    // JSON text of the response head; the body waits for `takeHttpBody`.
    startHttp(method, url, headersJson, body) {
      const ns = modules.get("http");
      const router = ns && ns.default;
      if (!router || router.isRouter !== true || typeof router.lookup !== "function") {
        return "convex/http.ts does not export an HttpRouter as its default export";
      }
      const m = String(method).toUpperCase();
      const request = new Request(url, {
        method: m,
        headers: JSON.parse(headersJson),
        body: body === undefined || m === "GET" || m === "HEAD" ? undefined : new Uint8Array(body),
      });
      const match = router.lookup(new URL(request.url).pathname, m);
      const response = match === null
        ? RealPromise.resolve(new Response("No matching routes found", { status: 404 }))
        : match[0].invokeHttpAction(request);
      return response.then((r) => {
        if (!(r instanceof Response)) {
          throw new Error("HTTP action must return a Response, but returned " + (r === null ? "null" : typeof r));
        }
        const b = peekBody(r);
        httpBody = b === null ? new Uint8Array(0) : b;
        return JSON.stringify({ status: r.status, statusText: r.statusText, headers: headerPairs(r.headers) });
      });
    },
    takeHttpBody() {
      const b = httpBody;
      httpBody = null;
      return b === null ? undefined : b.slice().buffer;
    },
    // Names of the operations still in flight (for the "unawaited operation" warning).
    pendingKinds() {
      const out = [];
      for (const p of pendingOps.values()) out.push(p[3]);
      return out;
    },
    errorInfo,
    analyze(path) {
      const ns = modules.get(path);
      const out = [];
      if (ns === undefined) return "[]";
      for (const name of Object.getOwnPropertyNames(ns)) {
        const v = ns[name];
        if (v === null || (typeof v !== "object" && typeof v !== "function")) continue;
        const q = "isQuery" in v, m = "isMutation" in v, a = "isAction" in v;
        if (q + m + a !== 1) continue;
        const pub = "isPublic" in v, int = "isInternal" in v;
        if (pub && int) continue;
        const args = typeof v.exportArgs === "function" ? v.exportArgs() : '{"type":"any"}';
        const returns = typeof v.exportReturns === "function" ? v.exportReturns() : "null";
        if (typeof args !== "string" || typeof returns !== "string") {
          throw new Error("exportArgs()/exportReturns() of " + path + ":" + name + " did not return a string");
        }
        out.push([name, q ? "query" : m ? "mutation" : "action", int ? "internal" : "public", args, returns]);
      }
      return JSON.stringify(out);
    },
    crons(path) {
      const ns = modules.get(path);
      const d = ns && ns.default;
      if (d === undefined || d === null || !("isCrons" in d) || typeof d.export !== "function") return undefined;
      const text = d.export();
      if (typeof text !== "string") throw new Error("crons export() did not return a string");
      return text;
    },
    schema(path) {
      const ns = modules.get(path);
      const d = ns && ns.default;
      if (d === undefined || d === null || typeof d.export !== "function") return undefined;
      const text = d.export();
      if (typeof text !== "string") throw new Error("schema export() did not return a string");
      return text;
    },
  };
  return control;
}
