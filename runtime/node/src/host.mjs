// emvex's Node.js host for "use node" actions: one child process runs one action at a time.
//
// Protocol (one JSON object per line): emvex writes requests on our stdin, we write replies and
// syscalls on the stdout we keep for ourselves (the app's own writes to process.stdout and
// console become log lines of the running action instead).
//   emvex → host: {t:"analyze", id, module}           → {t:"analyzed", id, functions:[[name, kind, visibility, args, returns]]}
//                 {t:"run", id, module, name, requestId, args}   (args: Convex JSON text)
//                 {t:"reply", call, ok, result | error:{message, data?}}
//   host → emvex: {t:"syscall", id, call, op, args}    (args: JSON text, as the convex package sends it)
//                 {t:"log", id, line}                  (a console line of the running action)
//                 {t:"done", id, ok, result | error:{message, stack?, data?}}
//                 {t:"failed", id, error:{message, stack?}}  (the module could not be loaded)
import { readFileSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { register } from "node:module";

const OUT = 1;
const send = (message) => writeSync(OUT, JSON.stringify(message) + "\n");

// Relative imports without an extension resolve as the Convex bundler resolves them.
register(
  "data:text/javascript," +
    encodeURIComponent(`
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    if (e && e.code === "ERR_MODULE_NOT_FOUND" && (specifier.startsWith("./") || specifier.startsWith("../"))) {
      for (const suffix of [".js", "/index.js"]) {
        try { return await next(specifier + suffix, context); } catch {}
      }
    }
    throw e;
  }
}`),
);

/** The action running now: its id and log lines. */
let current = null;
const log = (level, text) => {
  if (current !== null) send({ t: "log", id: current.id, line: "[" + level + "] " + text });
  else process.stderr.write("[" + level + "] " + text + "\n");
};
// The console of emvex's QuickJS actions (runtime/engine/src/js/console.js, passed by emvex),
// so log lines read the same from both runtimes.
const setupConsole = new Function(readFileSync(process.env.EMVEX_CONSOLE_JS, "utf8") + "\nreturn setupConsole;")();
setupConsole({
  global: globalThis,
  native: { mapStack: (stack) => stack, wallNow: () => Date.now() },
  define: (object, key, value) => Object.defineProperty(object, key, { value, writable: true, configurable: true }),
  logs: { push: (line) => (current !== null ? send({ t: "log", id: current.id, line }) : process.stderr.write(line + "\n")) },
  consoleTimers: new Map(),
});
process.stdout.write = (chunk, encoding, callback) => {
  log("LOG", String(chunk).replace(/\n$/, ""));
  if (typeof encoding === "function") encoding();
  else if (typeof callback === "function") callback();
  return true;
};

let nextCall = 0;
const pending = new Map();
globalThis.Convex = {
  syscall(op) {
    throw new Error(`The operation \`${op}\` cannot be used from an action`);
  },
  asyncSyscall(op, args) {
    if (current === null) return Promise.reject(new Error(`\`${op}\` called outside of a running action`));
    const call = ++nextCall;
    send({ t: "syscall", id: current.id, call, op, args });
    return new Promise((resolve, reject) => pending.set(call, { resolve, reject }));
  },
  // `ctx.storage.store/get` hand Blobs over: they cross the pipe as base64, through the
  // same operations a mutation's `storage.store/get` uses.
  async jsSyscall(op, args) {
    const { requestId, version } = args;
    if (op === "storage/storeBlob") {
      if (!(args.blob instanceof Blob)) throw new Error("store() expects a Blob");
      const blob = Buffer.from(await args.blob.arrayBuffer()).toString("base64");
      const sha256 = args.options?.sha256;
      const request = { requestId, version, blob, contentType: args.blob.type || null, sha256 };
      return JSON.parse(await globalThis.Convex.asyncSyscall("1.0/storageStore", JSON.stringify(request)));
    }
    if (op === "storage/getBlob") {
      const request = { requestId, version, storageId: args.storageId };
      const found = JSON.parse(await globalThis.Convex.asyncSyscall("1.0/storageGet", JSON.stringify(request)));
      if (found === null) return null;
      return new Blob([Buffer.from(found.blob, "base64")], { type: found.contentType ?? "" });
    }
    throw new Error(`The operation \`${op}\` is not supported in Node.js actions by emvex yet`);
  },
};

const modules = new Map();
function load(module) {
  let promise = modules.get(module);
  if (promise === undefined) {
    promise = import(pathToFileURL(module).href);
    modules.set(module, promise);
  }
  return promise;
}

const ConvexErrorSymbol = Symbol.for("ConvexError");

/** A stack without the frames of the convex package, this host and Node's internals, with
 * paths relative to the app directory (as QuickJS actions show them). */
function userFrames(stack) {
  return stack
    .split("\n")
    .filter((line) => !/^\s+at /.test(line) || !/node_modules\/convex\/|\/\.emvex\/node\/host\.mjs|node:internal/.test(line))
    .join("\n")
    .split(process.cwd() + "/")
    .join("");
}

/** A thrown value as emvex's QuickJS actions report it (engine's control.js `errorInfo`). */
function errorOf(e) {
  if (typeof e === "object" && e !== null) {
    let isConvex = false;
    try {
      const sym = e.ConvexErrorSymbol;
      isConvex = (typeof sym === "symbol" && e[sym] === true) || ConvexErrorSymbol in e;
    } catch {}
    let name = "Error", message = "", stack;
    try { name = String(e.name === undefined ? "Error" : e.name); } catch {}
    try { message = e.message === undefined ? "" : String(e.message); } catch {}
    try { stack = typeof e.stack === "string" ? userFrames(e.stack) : undefined; } catch {}
    if (isConvex) {
      let data = e.data;
      if (typeof data !== "string") {
        try { data = JSON.stringify(data === undefined ? null : data); } catch { data = "null"; }
      }
      return { message: "Uncaught ConvexError: " + message, stack, data };
    }
    return { message: "Uncaught " + name + (message ? ": " + message : ""), stack };
  }
  return { message: "Uncaught " + String(e) };
}

async function analyze({ id, module }) {
  try {
    const ns = await load(module);
    const functions = [];
    for (const name of Object.getOwnPropertyNames(ns)) {
      const v = ns[name];
      if (v === null || (typeof v !== "object" && typeof v !== "function")) continue;
      const q = "isQuery" in v, m = "isMutation" in v, a = "isAction" in v;
      if (Number(q) + Number(m) + Number(a) !== 1) continue;
      const pub = "isPublic" in v, int = "isInternal" in v;
      if (pub === int) continue;
      const args = typeof v.exportArgs === "function" ? v.exportArgs() : '{"type":"any"}';
      const returns = typeof v.exportReturns === "function" ? v.exportReturns() : "null";
      functions.push([name, q ? "query" : m ? "mutation" : "action", int ? "internal" : "public", args, returns]);
    }
    send({ t: "analyzed", id, functions });
  } catch (e) {
    send({ t: "failed", id, error: errorOf(e) });
  }
}

async function run({ id, module, name, requestId, args }) {
  current = { id };
  let reply;
  try {
    const ns = await load(module);
    const fn = ns[name];
    if (fn === undefined || fn === null || !("isAction" in fn)) {
      throw new Error(`Could not find function for '${name}'`);
    }
    const result = await fn.invokeAction(requestId, args);
    reply = { t: "done", id, ok: true, result };
  } catch (e) {
    reply = { t: "done", id, ok: false, error: errorOf(e) };
  }
  current = null;
  pending.clear();
  send(reply);
}

process.on("unhandledRejection", (e) => log("ERROR", "Unhandled promise rejection: " + errorOf(e).message));

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const message = JSON.parse(line);
  switch (message.t) {
    case "analyze":
      return void analyze(message);
    case "run":
      return void run(message);
    case "reply": {
      const p = pending.get(message.call);
      if (p === undefined) return;
      pending.delete(message.call);
      if (message.ok) p.resolve(message.result);
      else {
        const error = new Error(message.error.message);
        if (message.error.data !== undefined) error.data = JSON.parse(message.error.data);
        p.reject(error);
      }
      return;
    }
  }
});
// emvex closed our stdin: it stopped, or dropped this process. Nothing is in flight that
// matters any more, so end at once (a pending timer of an app module would keep us alive).
lines.on("close", () => process.exit(0));
