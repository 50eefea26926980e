// @ts-check
// Owns: `Request`, `Response` (with their shared body reading), and `fetch`, which in actions
// becomes a "fetch" operation in `S.actionOps` that the host runs and settles
// (`control.settleFetch`, `control.settleOp`). Exports what the control needs to build a
// network response and to read a response's body and headers.

/** @param {PreludeState} S */
function setupFetch(S) {
  const g = S.global;
  const define = S.define;
  const { Blob, blobBytes, adoptBytes, bytesOf, bodyStream } = S.blob;
  const { Headers, headerPairs } = S.headers;
  const { FormData, encodeMultipart, parseFormData } = S.formData;
  const { URL, URLSearchParams } = S.url;
  const utf8 = new S.encoding.TextEncoder();
  const utf8dec = new S.encoding.TextDecoder();
  // Engine-internal accessors to private state, assigned in static blocks (not visible to apps).
  /** @type {(body: Body, bytes: Uint8Array | null) => void} */
  let initBody;
  /** @type {(body: Body) => Uint8Array | null} */
  let peekBody;
  /** @type {(status: number, statusText: string, url: string, pairs: [string, string][], bytes: Uint8Array, redirected: boolean) => Response} */
  let responseFromNetwork;
  // Extracts [bytes | null, default content type | null] from a BodyInit.
  /** @returns {[Uint8Array | null, string | null]} */
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

  // The body reading shared by Request and Response (its only subclasses).
  /** @param {Body} body */
  const contentTypeOf = (body) => /** @type {Request | Response} */ (/** @type {unknown} */ (body)).headers.get("content-type");
  class Body {
    #bytes; #used = false;
    static {
      initBody = (b, bytes) => { b.#bytes = bytes; };
      peekBody = (b) => b.#bytes;
    }
    get bodyUsed() { return this.#used; }
    get body() { return this.#bytes === null ? null : bodyStream(this.#bytes); }
    #consume() {
      if (this.#used) return S.RealPromise.reject(new TypeError("Body is unusable: Body has already been read"));
      this.#used = true;
      return S.RealPromise.resolve(this.#bytes === null ? new Uint8Array(0) : this.#bytes);
    }
    async text() { return utf8dec.decode(await this.#consume()); }
    async json() { return JSON.parse(utf8dec.decode(await this.#consume())); }
    async arrayBuffer() { return (await this.#consume()).slice().buffer; }
    async bytes() { return (await this.#consume()).slice(); }
    async blob() {
      // The body is used up: the Blob takes its bytes without a copy (a request body of many
      // MiB fits in an action's memory).
      const b = await this.#consume();
      this.#bytes = null;
      return adoptBytes(b, contentTypeOf(this) || "");
    }
    async formData() { return parseFormData(await this.#consume(), contentTypeOf(this)); }
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
    /**
     * @param {unknown} [body]
     * @param {{ status?: number, statusText?: string, headers?: unknown }} [init]
     */
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
    if (S.phase !== "action") return S.RealPromise.reject(notInQueriesAndMutations(S, "fetch()"));
    let req;
    try { req = new Request(input, init); } catch (e) { return S.RealPromise.reject(e); }
    const signal = req.signal;
    if (signal && signal.aborted) return S.RealPromise.reject(signal.reason !== undefined ? signal.reason : new Error("The operation was aborted."));
    const body = peekBody(req);
    return new S.RealPromise((resolve, reject) => {
      const id = ++S.nextOpId;
      S.pendingOps.set(id, [resolve, reject, true, "fetch"]);
      S.actionOps.push([id, "fetch", req.method, req.url, JSON.stringify(headerPairs(req.headers)), body === null ? undefined : body.slice().buffer, req.redirect]);
      if (signal && typeof signal.addEventListener === "function") {
        // Aborting rejects at once and tells the Rust side to drop the request.
        signal.addEventListener("abort", () => {
          if (!S.pendingOps.delete(id)) return;
          S.actionOps.push([id, "cancel"]);
          reject(signal.reason);
        }, { once: true });
      }
    });
  });


  return { Request, Response, peekBody, initBody, responseFromNetwork };
}
