// @ts-check
// Owns: `URL` and `URLSearchParams`, a compact subset of the WHATWG URL standard.

/** @param {PreludeState} S */
function setupUrl(S) {
  const g = S.global;
  const define = S.define;
  const formSafe = /[A-Za-z0-9*\-._]/;
  function formEncode(str) {
    const bytes = new S.encoding.TextEncoder().encode(String(str));
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
    const enc = new S.encoding.TextEncoder().encode(str);
    for (let i = 0; i < enc.length; i++) {
      const b = enc[i];
      if (b === 0x25 && i + 2 < enc.length) {
        const h = String.fromCharCode(enc[i + 1], enc[i + 2]);
        if (/^[0-9A-Fa-f]{2}$/.test(h)) { out.push(parseInt(h, 16)); i += 2; continue; }
      }
      out.push(b);
    }
    return new S.encoding.TextDecoder().decode(new Uint8Array(out));
  }
  function formDecode(str) {
    return percentDecodeBytes(str.replace(/\+/g, " "));
  }
  class URLSearchParams {
    #list = [];
    /** @type {URL | null} */
    #url = null;
    /** @param {any} [init] */
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
    return s.replace(re, (c) => Array.from(new S.encoding.TextEncoder().encode(c), (b) => "%" + (b < 16 ? "0" : "") + b.toString(16).toUpperCase()).join(""));
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

  return { URL, URLSearchParams };
}
