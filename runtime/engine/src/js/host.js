// @ts-check
// Owns: the `Convex` host object the `convex` package calls (`syscall`, `asyncSyscall`,
// `jsSyscall`), what each phase allows of it (nothing at import time; queued async syscalls in
// queries and mutations, concurrent operations in actions), and `__emvexCatch`, which app code's
// catch clauses call first (see transpile.rs).

/** @param {PreludeState} S */
function setupHost(S) {
  const g = S.global;
  const N = S.native;
  const define = S.define;
  const { Blob, blobBytes } = S.blob;
  // App code's catch clauses call this first (see transpile.rs): a stack overflow, an
  // out-of-memory or an aborted execution must not be swallowed by user code.
  define(g, "__emvexCatch", function __emvexCatch(e) {
    N.checkCaught(e instanceof RangeError && e.message === "Maximum call stack size exceeded");
  });

  // ---- the Convex host object ------------------------------------------------------------
  const dbOps = new Set(["1.0/count", "1.0/get", "1.0/insert", "1.0/shallowMerge", "1.0/replace", "1.0/queryStreamNext", "1.0/queryPage", "1.0/remove"]);
  function importTimeError(op) {
    if (dbOps.has(op)) return new Error("Can't use database at import time");
    if (op.startsWith("1.0/actions/") || op === "1.0/runUdf") return new Error("Cannot call another function at import time");
    return new Error("Syscall " + op + " unsupported at import time");
  }
  /** @type {{ syscall(op: string, args: string): string, asyncSyscall(op: string, args: string): Promise<string>, jsSyscall(op: string, args: any): unknown }} */
  const Convex = /** @type {any} */ ({});
  define(Convex, "syscall", function syscall(op, args) {
    if (S.phase === "import") throw importTimeError(op);
    return N.syscall(op, args);
  });
  define(Convex, "asyncSyscall", function asyncSyscall(op, args) {
    if (S.phase === "import") return S.RealPromise.reject(importTimeError(op));
    if (S.phase === "action") {
      return new S.RealPromise((resolve, reject) => {
        const id = ++S.nextOpId;
        S.pendingOps.set(id, [resolve, reject, false, String(op)]);
        S.actionOps.push([id, "syscall", String(op), String(args)]);
      });
    }
    return new S.RealPromise((resolve, reject) => { S.queue.push([op, args, resolve, reject]); });
  });
  // In actions, `ctx.storage.store/get` pass live Blobs through JS syscalls; their bytes go to
  // the host as bytes (ops `storeBlob`/`getBlob`, answered by `ActionHost::store_blob/get_blob`),
  // never as base64 text, so a file of many MiB fits in the action's memory.
  function storageJsSyscall(op, args) {
    if (op === "storage/storeBlob") {
      if (!(args.blob instanceof Blob)) {
        throw new Error("store() expects a Blob. If you are trying to store a Request, `await request.blob()` will give you the correct input.");
      }
      const body = JSON.stringify({
        requestId: args.requestId,
        version: args.version,
        contentType: args.blob.type,
        sha256: args.options && args.options.sha256,
      });
      // The blob's own bytes: the host copies them before any JS runs again.
      const bytes = blobBytes(args.blob);
      return new S.RealPromise((resolve, reject) => {
        const id = ++S.nextOpId;
        S.pendingOps.set(id, [(text) => resolve(JSON.parse(text)), reject, false, "storage/storeBlob"]);
        S.actionOps.push([id, "storeBlob", body, bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer]);
      });
    }
    const body = JSON.stringify({ requestId: args.requestId, version: args.version, storageId: args.storageId });
    return new S.RealPromise((resolve, reject) => {
      const id = ++S.nextOpId;
      S.pendingOps.set(id, [resolve, reject, false, "storage/getBlob"]);
      S.actionOps.push([id, "getBlob", body]);
    });
  }
  define(Convex, "jsSyscall", function jsSyscall(op, args) {
    if (S.phase === "import") throw new Error("Syscall " + op + " unsupported at import time");
    if (S.phase === "action" && (op === "storage/storeBlob" || op === "storage/getBlob")) return storageJsSyscall(op, args);
    throw new Error("Convex.jsSyscall(\"" + op + "\") is not supported in " + phaseWords(S));
  });
  define(g, "Convex", Convex);
}
