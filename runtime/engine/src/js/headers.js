// @ts-check
// Owns: `Headers` (validated names and values, insertion order kept, iteration sorted with
// `set-cookie` values apart). Exports the accessor to a Headers' raw [name, value] pairs.

/** @param {PreludeState} S */
function setupHeaders(S) {
  const g = S.global;
  const define = S.define;
  // Engine-internal accessor to the raw pairs, assigned in a static block (not visible to apps).
  /** @type {(headers: Headers) => [string, string][]} */
  let headerPairs;
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

  return { Headers, headerPairs };
}
