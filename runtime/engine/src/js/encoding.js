// @ts-check
// Owns: `TextEncoder`/`TextDecoder` (UTF-8 only), `btoa`/`atob`, and the Latin-1 byte views
// other modules use (multipart parsing, storage blobs as base64).

/** @param {PreludeState} S */
function setupEncoding(S) {
  const g = S.global;
  const define = S.define;
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

  // Latin-1 view of bytes (one char per byte), for finding multipart delimiters and for base64.
  /** @param {Uint8Array} bytes */
  function latin1(bytes) {
    let out = "";
    for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode.apply(null, /** @type {any} array-like */ (bytes.subarray(i, i + 8192)));
    return out;
  }
  // Bytes of a Latin-1 string (undoes `latin1`).
  /** @type {(s: string) => Uint8Array} */
  const latin1Bytes = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0));

  return { TextEncoder, TextDecoder, latin1, latin1Bytes };
}
