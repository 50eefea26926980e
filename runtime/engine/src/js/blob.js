// @ts-check
// Owns: `Blob`, `File`, and the one-chunk readable body stream that `Blob.stream()` and
// `Request`/`Response` `.body` return. Exports the engine-internal accessor to a blob's bytes.

/** @param {PreludeState} S */
function setupBlob(S) {
  const g = S.global;
  const N = S.native;
  const define = S.define;
  const utf8 = new S.encoding.TextEncoder();
  const utf8dec = new S.encoding.TextDecoder();
  /** A copy of the bytes of an ArrayBuffer or a view. @type {(v: ArrayBuffer | ArrayBufferView) => Uint8Array} */
  const bytesOf = (v) => (v instanceof ArrayBuffer ? new Uint8Array(v.slice(0)) : new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)));
  // Engine-internal accessor to a blob's bytes, assigned in a static block (not visible to apps).
  /** @type {(blob: Blob) => Uint8Array} */
  let blobBytes;
  // Engine-internal: a Blob that takes `bytes` as they are (no copy); the caller gives them up.
  /** @type {(bytes: Uint8Array, type: string) => Blob} */
  let adoptBytes;
  class Blob {
    #bytes; #type;
    static {
      blobBytes = (b) => b.#bytes;
      adoptBytes = (bytes, type) => {
        const b = new Blob([], { type });
        b.#bytes = /** @type {Uint8Array<ArrayBuffer>} */ (bytes);
        return b;
      };
    }
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
  /** @param {Uint8Array} bytes */
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

  return { Blob, File, blobBytes, adoptBytes, bytesOf, bodyStream };
}
