// @ts-check
// Owns: the `console` global, whose lines are formatted like the object-inspect output Convex
// logs, and `inspect` (exported for the control's error messages). Writes log lines to
// `S.logs` and `console.time` starts to `S.consoleTimers`; the control resets both per execution.

/** @param {PreludeState} S */
function setupConsole(S) {
  const g = S.global;
  const N = S.native;
  const define = S.define;
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
  /**
   * @param {any} v any value (looked at structurally)
   * @param {number} depth
   * @param {unknown[]} seen the objects being printed (for [Circular])
   * @param {boolean} flat never break lines
   * @returns {string}
   */
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
    S.logs.push("[" + level + "] " + text);
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
      if (S.consoleTimers.has(l)) log("WARN", "Timer '" + l + "' already exists");
      else S.consoleTimers.set(l, N.wallNow());
    },
    timeLog: (label, ...a) => {
      const l = labelOf(label);
      if (!S.consoleTimers.has(l)) return log("WARN", "Timer '" + l + "' does not exist");
      const extra = a.length ? " " + message(a) : "";
      log("INFO", l + ": " + (N.wallNow() - /** @type {number} */ (S.consoleTimers.get(l))) + "ms" + extra);
    },
    timeEnd: (label) => {
      const l = labelOf(label);
      if (!S.consoleTimers.has(l)) return log("WARN", "Timer '" + l + "' does not exist");
      log("INFO", l + ": " + (N.wallNow() - /** @type {number} */ (S.consoleTimers.get(l))) + "ms");
      S.consoleTimers.delete(l);
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

  return { inspect };
}
