// @ts-check
// Owns: `structuredClone` (plain data, dates, regexps, buffers, maps, sets, errors; functions,
// symbols, promises and weak collections are refused with a DataCloneError).

/** @param {PreludeState} S */
function setupStructuredClone(S) {
  const g = S.global;
  const define = S.define;
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
    if (v instanceof S.RealDate) { out = new S.RealDate(v.getTime()); memo.set(v, out); return out; }
    if (v instanceof RegExp) { out = new RegExp(v.source, v.flags); memo.set(v, out); return out; }
    if (v instanceof ArrayBuffer) { out = v.slice(0); memo.set(v, out); return out; }
    if (ArrayBuffer.isView(v)) {
      const buf = clone(v.buffer, memo);
      const typed = /** @type {Uint8Array} */ (v); // any typed array (a DataView is handled apart)
      out = v instanceof DataView ? new DataView(buf, v.byteOffset, v.byteLength) : new /** @type {Uint8ArrayConstructor} */ (typed.constructor)(buf, v.byteOffset, typed.length);
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
    if (v instanceof S.RealPromise || v instanceof WeakMap || v instanceof WeakSet) throw cloneError(Object.prototype.toString.call(v));
    out = {};
    memo.set(v, out);
    for (const k of Object.keys(v)) out[k] = clone(v[k], memo);
    return out;
  }
  define(g, "structuredClone", function structuredClone(value) {
    if (arguments.length === 0) throw new TypeError("structuredClone: 1 argument required, but only 0 present.");
    return clone(value, new Map());
  });
}
