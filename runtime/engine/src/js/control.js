// @ts-check
// Owns: the control object the Rust side drives (isolate.rs, action.rs): it begins and ends
// each execution (resetting the per-execution state in `S`), registers module namespaces,
// starts functions and HTTP actions, hands queued syscalls and action operations to the host
// and settles them, and analyzes modules (functions, crons, schema).

/**
 * @param {PreludeState} S
 */
function createControl(S) {
  const g = S.global;
  const ConvexErrorSymbol = Symbol.for("ConvexError");
  const { Request, Response, peekBody, initBody, responseFromNetwork } = S.fetch;
  const { headerPairs } = S.headers;
  const { URL } = S.url;
  function resetActionState() {
    S.httpBody = null;
    S.actionOps = [];
    S.pendingOps.clear();
    S.actionTimers.clear();
  }

  /**
   * A thrown value as [kind, message, stack, data]: kind is "convex" (a ConvexError, with its
   * data as JSON) or "error".
   * @param {any} e any thrown value (its properties are read defensively: getters may throw)
   * @returns {[kind: "convex" | "error", message: string, stack: string, data: string | undefined]}
   */
  function errorInfo(e) {
    if (typeof e === "object" && e !== null) {
      let isConvex = false;
      try {
        const sym = e.ConvexErrorSymbol;
        isConvex = (typeof sym === "symbol" && e[sym] === true) || ConvexErrorSymbol in e;
      } catch (_) {}
      let name = "Error", msg = "", stack = "";
      try { name = String(e.name === undefined ? "Error" : e.name); } catch (_) {}
      try { msg = e.message === undefined ? "" : String(e.message); } catch (_) {}
      try { stack = typeof e.stack === "string" ? e.stack : ""; } catch (_) {}
      if (isConvex) {
        let data = e.data;
        if (typeof data !== "string") {
          try { data = JSON.stringify(data === undefined ? null : data); } catch (_) { data = "null"; }
        }
        return ["convex", "Uncaught ConvexError: " + msg, stack, data];
      }
      if (e instanceof Error || "message" in e) {
        return ["error", "Uncaught " + name + (msg ? ": " + msg : ""), stack, undefined];
      }
      let text;
      try { text = S.console.inspect(e, 0, [], true); } catch (_) { text = "[object]"; }
      return ["error", "Uncaught " + text, "", undefined];
    }
    let text;
    try { text = String(e); } catch (_) { text = "exception"; }
    return ["error", "Uncaught " + text, "", undefined];
  }

  const control = {
    /** @param {string} json the scope's env as a JSON object of strings */
    setEnv(json) {
      const vars = JSON.parse(json);
      for (const k of Object.keys(vars)) S.globals.env[k] = vars[k];
    },
    /** @param {Phase} kind */
    begin(kind) {
      S.phase = kind;
      S.logs = [];
      S.queue = [];
      S.qhead = 0;
      S.current = null;
      S.consoleTimers.clear();
      resetActionState();
    },
    /** @returns {string[]} the execution's log lines */
    end() {
      S.phase = "idle";
      S.queue = [];
      S.qhead = 0;
      S.current = null;
      resetActionState();
      const out = S.logs;
      S.logs = [];
      return out;
    },
    /**
     * @param {string} path module path (without extension)
     * @param {object} ns the module's namespace
     */
    register(path, ns) {
      S.modules.set(path, ns);
    },
    /**
     * Starts a function: the promise of its result JSON, or a string saying why it cannot run.
     * @param {"query" | "mutation" | "action"} kind
     * @param {string} path
     * @param {string} name
     * @param {string} argsJson
     * @returns {string | Promise<string>}
     */
    start(kind, path, name, argsJson) {
      const ns = S.modules.get(path);
      const fn = ns === undefined ? undefined : ns[name];
      const udf = path + (name === "default" ? "" : ":" + name);
      if (fn === undefined || fn === null || (typeof fn !== "object" && typeof fn !== "function")) {
        return "Could not find function for '" + udf + "'. Did you forget to run `npx convex dev`?";
      }
      const actual = "isQuery" in fn ? "query" : "isMutation" in fn ? "mutation" : "isAction" in fn ? "action" : null;
      if (actual === null) return "'" + udf + "' is not a Convex function";
      if (actual !== kind) return "Function " + udf + " is registered as " + (actual === "action" ? "an " : "a ") + actual + " but is being run as " + (kind === "action" ? "an " : "a ") + kind + ".";
      if (kind === "query") return fn.invokeQuery.call(g, argsJson);
      if (kind === "mutation") return fn.invokeMutation.call(g, argsJson);
      return fn.invokeAction.call(g, "dummy_request_id", argsJson);
    },
    /** Queries and mutations: the next queued async syscall, if any. */
    next() {
      if (S.qhead >= S.queue.length) {
        if (S.qhead > 0) { S.queue = []; S.qhead = 0; }
        return undefined;
      }
      const item = S.queue[S.qhead];
      S.queue[S.qhead++] = undefined;
      S.current = item;
      return item;
    },
    // The host answers the syscall `next()` handed out last.
    /** @param {string} text */
    resolveCurrent(text) {
      const c = /** @type {QueuedSyscall} */ (S.current);
      S.current = null;
      c[2](text);
    },
    /**
     * @param {string} msg
     * @param {string} [dataJson] the error's data, as JSON
     */
    rejectCurrent(msg, dataJson) {
      const c = /** @type {QueuedSyscall} */ (S.current);
      S.current = null;
      /** @type {Error & { data?: unknown }} */
      const e = new Error(msg);
      if (dataJson !== undefined) e.data = JSON.parse(dataJson);
      c[3](e);
    },
    // Actions: new operations since the last call, as [id, kind, ...] arrays.
    takeOps() {
      const out = S.actionOps;
      S.actionOps = [];
      return out;
    },
    // Settles an async syscall or fetch: ok with the result text, or an error (fetch
    // failures reject with a TypeError, syscall failures with an Error carrying `data`).
    /**
     * @param {number} id
     * @param {boolean} ok
     * @param {string} text the result, or the error message
     * @param {string} [dataJson] the error's data (syscalls) or cause (fetch), as JSON
     */
    settleOp(id, ok, text, dataJson) {
      const p = S.pendingOps.get(id);
      if (p === undefined) return;
      S.pendingOps.delete(id);
      if (ok) return p[0](text);
      // A fetch failure is a TypeError whose `cause.code` is the engine's stable code.
      /** @type {Error & { data?: unknown }} */
      const e = p[2] ? new TypeError(text) : new Error(text);
      if (dataJson !== undefined && p[2]) e.cause = JSON.parse(dataJson);
      else if (dataJson !== undefined) e.data = JSON.parse(dataJson);
      p[1](e);
    },
    /**
     * Settles `storage/getBlob`: the file's bytes as a `Blob`, or null.
     * @param {number} id
     * @param {ArrayBuffer | undefined} body
     * @param {string | undefined} type
     */
    settleBlob(id, body, type) {
      const p = S.pendingOps.get(id);
      if (p === undefined) return;
      S.pendingOps.delete(id);
      p[0](body === undefined || body === null ? null : new S.blob.Blob([new Uint8Array(body)], { type: type ?? "" }));
    },
    /**
     * @param {number} id
     * @param {number} status
     * @param {string} statusText
     * @param {string} url the final URL (after redirects)
     * @param {string} headersJson [name, value] pairs, as JSON
     * @param {ArrayBuffer} body
     * @param {boolean} redirected
     */
    settleFetch(id, status, statusText, url, headersJson, body, redirected) {
      const p = S.pendingOps.get(id);
      if (p === undefined) return;
      S.pendingOps.delete(id);
      p[0](responseFromNetwork(status, statusText, url, JSON.parse(headersJson), new Uint8Array(body), redirected));
    },
    // Runs a due timer's callback (an interval is re-armed first).
    /** @param {number} id */
    fireTimer(id) {
      const t = S.actionTimers.get(id);
      if (t === undefined) return;
      if (t.repeat) S.actionOps.push([id, "timer", t.delay]);
      else S.actionTimers.delete(id);
      if (typeof t.cb === "function") t.cb(...t.args);
    },
    // HTTP actions: routes a request through convex/http.ts's router and resolves to the
    // JSON text of the response head; the body waits for `takeHttpBody`.
    /**
     * @param {string} method
     * @param {string} url
     * @param {string} headersJson [name, value] pairs, as JSON
     * @param {ArrayBuffer} [body]
     * @returns {string | Promise<string>} the response head's JSON, or why the request cannot be routed
     */
    startHttp(method, url, headersJson, body) {
      const ns = S.modules.get("http");
      const router = ns && ns.default;
      if (!router || router.isRouter !== true || typeof router.lookup !== "function") {
        return "convex/http.ts does not export an HttpRouter as its default export";
      }
      const m = String(method).toUpperCase();
      const request = new Request(url, { method: m, headers: JSON.parse(headersJson) });
      // The body the engine made for this request is the request's own: no copy.
      if (body !== undefined && m !== "GET" && m !== "HEAD") initBody(request, new Uint8Array(body));
      const match = router.lookup(new URL(request.url).pathname, m);
      const response = match === null
        ? S.RealPromise.resolve(new Response("No matching routes found", { status: 404 }))
        : match[0].invokeHttpAction(request);
      return response.then((r) => {
        if (!(r instanceof Response)) {
          throw new Error("HTTP action must return a Response, but returned " + (r === null ? "null" : typeof r));
        }
        const b = peekBody(r);
        S.httpBody = b === null ? new Uint8Array(0) : b;
        return JSON.stringify({ status: r.status, statusText: r.statusText, headers: headerPairs(r.headers) });
      });
    },
    /** @returns {ArrayBuffer | undefined} */
    takeHttpBody() {
      const b = S.httpBody;
      S.httpBody = null;
      return b === null ? undefined : b.slice().buffer;
    },
    // Names of the operations still in flight (for the "unawaited operation" warning).
    pendingKinds() {
      /** @type {string[]} */
      const out = [];
      for (const p of S.pendingOps.values()) out.push(p[3]);
      return out;
    },
    errorInfo,
    /**
     * The module's Convex functions as JSON [name, kind, visibility, argsJson, returnsJson] rows.
     * @param {string} path
     * @returns {string}
     */
    analyze(path) {
      const ns = S.modules.get(path);
      const out = [];
      if (ns === undefined) return "[]";
      for (const name of Object.getOwnPropertyNames(ns)) {
        const v = ns[name];
        if (v === null || (typeof v !== "object" && typeof v !== "function")) continue;
        const q = "isQuery" in v, m = "isMutation" in v, a = "isAction" in v;
        if (Number(q) + Number(m) + Number(a) !== 1) continue;
        const pub = "isPublic" in v, int = "isInternal" in v;
        if (pub && int) continue;
        const args = typeof v.exportArgs === "function" ? v.exportArgs() : '{"type":"any"}';
        const returns = typeof v.exportReturns === "function" ? v.exportReturns() : "null";
        if (typeof args !== "string" || typeof returns !== "string") {
          throw new Error("exportArgs()/exportReturns() of " + path + ":" + name + " did not return a string");
        }
        out.push([name, q ? "query" : m ? "mutation" : "action", int ? "internal" : "public", args, returns]);
      }
      return JSON.stringify(out);
    },
    /**
     * The cron jobs a `crons` module exports, as the JSON of its `export()`.
     * @param {string} path
     * @returns {string | undefined}
     */
    crons(path) {
      const ns = S.modules.get(path);
      const d = ns && ns.default;
      if (d === undefined || d === null || !("isCrons" in d) || typeof d.export !== "function") return undefined;
      const text = d.export();
      if (typeof text !== "string") throw new Error("crons export() did not return a string");
      return text;
    },
    /**
     * The default export of `auth.config` (`{ providers: [...] }`) as JSON.
     * @param {string} path
     * @returns {string | undefined}
     */
    authConfig(path) {
      const ns = S.modules.get(path);
      const d = ns && ns.default;
      if (d === undefined || d === null) return undefined;
      return JSON.stringify(d);
    },
    /**
     * The schema a `schema` module exports, as the JSON of its `export()`.
     * @param {string} path
     * @returns {string | undefined}
     */
    schema(path) {
      const ns = S.modules.get(path);
      const d = ns && ns.default;
      if (d === undefined || d === null || typeof d.export !== "function") return undefined;
      const text = d.export();
      if (typeof text !== "string") throw new Error("schema export() did not return a string");
      return text;
    },
  };
  return control;
}
