// @ts-check
// Owns: `crypto.subtle` (SHA-256/384/512 digests and HMAC keys: importKey, exportKey, sign,
// verify; every other algorithm is refused with a NotSupportedError) and `CryptoKey`. The
// hashing itself is native (`digest`, `hmac`; see subtle.rs).

/** @param {PreludeState} S */
function setupSubtle(S) {
  const g = S.global;
  const N = S.native;
  const define = S.define;
  const DOMException = S.events.DOMException;
  const hashNames = new Set(["SHA-256", "SHA-384", "SHA-512"]);
  const notSupported = (what) => new DOMException(what + " is not supported by emvex", "NotSupportedError");
  const algName = (alg) => String(typeof alg === "string" ? alg : alg && alg.name).toUpperCase();
  // A copy of the bytes of a BufferSource (a view of a SharedArrayBuffer is refused by the native call).
  /** @returns {ArrayBuffer} */
  function bufferSource(data) {
    if (data instanceof ArrayBuffer) return data.slice(0);
    if (ArrayBuffer.isView(data)) return /** @type {ArrayBuffer} */ (data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    throw new TypeError("Failed to execute on 'SubtleCrypto': The provided value is not of type '(ArrayBuffer or ArrayBufferView)'.");
  }
  const cryptoKeyKey = Symbol("CryptoKey");
  // Engine-internal accessor to a key's bytes, assigned in a static block (not visible to apps).
  /** @type {(key: CryptoKey) => Uint8Array} */
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
  // The public fields the constructor defines (as own properties, so the class does not declare them).
  /** @param {CryptoKey} key */
  const keyFields = (key) => /** @type {{ algorithm: { name: string, hash: { name: string } }, extractable: boolean, usages: string[] }} */ (/** @type {unknown} */ (key));
  function hmacKey(alg, key, usage) {
    if (algName(alg) !== "HMAC") throw notSupported("algorithm " + algName(alg));
    if (!(key instanceof CryptoKey)) throw new TypeError("parameter 2 is not of type 'CryptoKey'.");
    if (!keyFields(key).usages.includes(usage)) throw new DOMException("key does not support the '" + usage + "' operation", "InvalidAccessError");
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
    if (!keyFields(key).extractable) throw new DOMException("key is not extractable", "InvalidAccessError");
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
  define(S.crypto.cryptoObject, "subtle", subtle);
  define(g, "CryptoKey", CryptoKey);
}
