// @ts-check
// Owns: the `crypto` global's randomness (`getRandomValues`, `randomUUID`, from the host's
// seeded generator). `crypto.subtle` is added later by subtle.js; the byte-to-hex table is
// exported for multipart boundaries (form_data.js).

/** @param {PreludeState} S */
function setupCrypto(S) {
  const g = S.global;
  const N = S.native;
  const define = S.define;
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

  return { cryptoObject: cryptoImpl, hex };
}
