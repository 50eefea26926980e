// @ts-check
// Owns: `FormData`, and its bodies: multipart/form-data encoding (for Request/Response bodies)
// and parsing of multipart and urlencoded bodies (`.formData()`).

/** @param {PreludeState} S */
function setupFormData(S) {
  const g = S.global;
  const N = S.native;
  const define = S.define;
  const { Blob, File, blobBytes } = S.blob;
  const { URLSearchParams } = S.url;
  const { latin1, latin1Bytes } = S.encoding;
  const hex = S.crypto.hex;
  const utf8 = new S.encoding.TextEncoder();
  const utf8dec = new S.encoding.TextDecoder();
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
  /**
   * @param {FormData} form
   * @returns {[InstanceType<typeof Blob>, string]} the body and its content type (with the boundary)
   */
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
  /**
   * @param {Uint8Array} bytes
   * @param {string | null} contentType
   */
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

  return { FormData, encodeMultipart, parseFormData };
}
