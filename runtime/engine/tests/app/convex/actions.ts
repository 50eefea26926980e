import { action, internalAction } from "./_generated/server";
import { api, internal } from "./_generated/api";
import { ConvexError, v } from "convex/values";

// Fetches `url` with a JSON body and reports what came back.
export const fetchEcho = action({
  args: { url: v.string() },
  handler: async (_ctx, { url }) => {
    const res = await fetch(url + "/echo?x=1", {
      method: "post",
      headers: { "X-Test": "yes", "content-type": "application/json" },
      body: JSON.stringify({ hello: "world" }),
    });
    const json = await res.json();
    const again = await fetch(new Request(url + "/bytes"));
    const bytes = new Uint8Array(await again.arrayBuffer());
    const text = await (await fetch(url + "/echo", { method: "PUT", body: new Uint8Array([104, 105]) })).text();
    const blob = await (await fetch(url + "/bytes")).blob();
    return {
      status: res.status,
      ok: res.ok,
      statusText: res.statusText,
      type: res.headers.get("Content-Type"),
      custom: res.headers.get("x-reply"),
      url: res.url,
      json,
      bytes: Array.from(bytes),
      bodyUsed: again.bodyUsed,
      text,
      blobSize: blob.size,
      blobText: await blob.text(),
    };
  },
});

export const fetchStatus = action({
  args: { url: v.string() },
  handler: async (_ctx, { url }) => {
    const res = await fetch(url + "/missing");
    return { status: res.status, ok: res.ok, body: await res.text() };
  },
});

export const fetchFails = action({
  args: { url: v.string() },
  handler: async (_ctx, { url }) => {
    try {
      await fetch(url);
      return "no error";
    } catch (e: any) {
      return { name: e.name, isTypeError: e instanceof TypeError, message: e.message, code: e.cause?.code };
    }
  },
});

export const webApis = action({
  args: {},
  handler: async () => {
    const h = new Headers([["A", "1"]]);
    h.append("a", "2");
    h.set("B", "x");
    const r = Response.json({ k: 1 }, { status: 201 });
    const req = new Request("https://example.com/p", { method: "POST", body: "hi" });
    let getWithBody = "";
    try {
      new Request("https://example.com", { method: "GET", body: "x" });
    } catch (e: any) {
      getWithBody = e.message;
    }
    const blob = new Blob(["ab", new Uint8Array([99])], { type: "Text/Plain" });
    const fd = new FormData();
    fd.append("a", "1\n2");
    fd.append("f", new Blob(["xyz"], { type: "text/plain" }), "f.txt");
    const multipart = new Request("https://example.com", { method: "POST", body: fd });
    const ctype = multipart.headers.get("content-type")!;
    const parsed = await multipart.formData();
    const file = parsed.get("f") as File;
    const urlencoded = await new Response("x=1&y=%C3%A9&x=2", {
      headers: { "content-type": "application/x-www-form-urlencoded" },
    }).formData();
    return {
      a: h.get("a"),
      entries: [...h],
      status: r.status,
      ctype: r.headers.get("content-type"),
      body: await r.json(),
      reqType: req.headers.get("content-type"),
      reqText: await req.text(),
      getWithBody,
      blob: [blob.size, blob.type, await blob.slice(1).text()],
      clone: structuredClone({ a: [1] }),
      b64: atob(btoa("ok")),
      decoded: new TextDecoder().decode(new TextEncoder().encode("é")),
      url: new URL("/x?y=1", "https://h.example").href,
      params: new URLSearchParams("a=1&b=2").get("b"),
      multipart: [ctype.startsWith("multipart/form-data; boundary="), parsed.get("a"), file.name, file.type, await file.text()],
      urlencoded: [urlencoded.getAll("x"), urlencoded.get("y")],
    };
  },
});

export const timers = action({
  args: {},
  handler: async () => {
    const order: string[] = [];
    const t0 = Date.now();
    await new Promise<void>((resolve) => {
      setTimeout(() => order.push("b"), 20);
      setTimeout(() => order.push("a"), 5);
      const cleared = setTimeout(() => order.push("never"), 10);
      clearTimeout(cleared);
      let n = 0;
      const iv = setInterval(() => {
        order.push("i" + ++n);
        if (n === 3) clearInterval(iv);
      }, 1);
      setTimeout((x: string) => {
        order.push(x);
        resolve();
      }, 40, "c");
    });
    return { order, elapsed: Date.now() - t0 };
  },
});

export const sleep = action({
  args: { ms: v.number() },
  handler: async (_ctx, { ms }) => {
    await new Promise((r) => setTimeout(r, ms));
    return ms;
  },
});

export const realClock = action({
  args: {},
  handler: async () => {
    const a = Date.now();
    const p0 = performance.now();
    await new Promise((r) => setTimeout(r, 15));
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return {
      a,
      b: new Date().getTime(),
      perf: performance.now() - p0,
      r: [Math.random(), Math.random()],
      bytes: Array.from(bytes),
      uuid: crypto.randomUUID(),
    };
  },
});

export const callOthers = action({
  args: {},
  handler: async (ctx) => {
    const [q, m] = await Promise.all([
      ctx.runQuery(api.messages.list, {}),
      ctx.runMutation(internal.messages.clear, {}),
    ]);
    const nested = await ctx.runAction(internal.actions.inner, { n: 2 });
    const fine = await ctx.runQuery(api.limits.ok, {});
    let caught: any = null;
    try {
      await ctx.runMutation(api.messages.send, { author: "fail", body: "x" });
    } catch (e: any) {
      caught = { name: e.name, message: e.message, data: e.data, isConvex: e instanceof ConvexError };
    }
    let fatal = "";
    try {
      await ctx.runQuery(api.messages.list, { fatal: true } as any);
    } catch (e: any) {
      fatal = e.message;
    }
    console.log("done", q.length);
    return { q, m, nested, fine, caught, fatal };
  },
});

export const inner = internalAction({
  args: { n: v.number() },
  handler: async (_ctx, { n }) => n * 2,
});

export const throws = action({
  args: {},
  handler: async () => {
    await new Promise((r) => setTimeout(r, 1));
    throw new Error("action boom");
  },
});

export const throwsConvex = action({
  args: {},
  handler: async () => {
    throw new ConvexError({ code: "NOPE" });
  },
});

export const timerThrows = action({
  args: {},
  handler: async () => {
    setTimeout(() => {
      throw new Error("from a timer");
    }, 1);
    await new Promise((r) => setTimeout(r, 50));
    return "not reached";
  },
});

export const neverResolves = action({
  args: {},
  handler: async () => {
    await new Promise(() => {});
  },
});

export const hangs = action({
  args: {},
  handler: async () => {
    console.log("waiting");
    await new Promise((r) => setTimeout(r, 60_000));
  },
});

export const spins = action({
  args: {},
  handler: async () => {
    await new Promise((r) => setTimeout(r, 1));
    for (;;) {
      try {
        while (true) {}
      } catch {
        // the deadline must not be swallowed
      }
    }
  },
});

export const memoryBomb = action({
  args: {},
  handler: async () => {
    const hold: string[] = [];
    for (let i = 0; ; i++) hold.push("x".repeat(1 << 20) + i);
  },
});

export const unawaited = action({
  args: {},
  handler: async (ctx) => {
    void ctx.runQuery(api.messages.list, {});
    return "early";
  },
});

export const syncSyscall = action({
  args: {},
  handler: async () => {
    try {
      return (globalThis as any).Convex.syscall("1.0/test/sync", "{}");
    } catch (e: any) {
      return "caught: " + e.message;
    }
  },
});

export const fetchAborted = action({
  args: { url: v.string() },
  handler: async (_ctx, { url }) => {
    const out: any = {};
    try {
      await fetch(url + "/slow", { signal: AbortSignal.timeout(30) });
    } catch (e: any) {
      out.timeout = [e.name, e.message];
    }
    const c = new AbortController();
    const p = fetch(url + "/slow", { signal: c.signal });
    c.abort();
    try {
      await p;
    } catch (e: any) {
      out.abort = [e.name, e instanceof DOMException, c.signal.aborted];
    }
    try {
      await fetch(url + "/echo", { signal: AbortSignal.abort("why") });
    } catch (e: any) {
      out.already = e;
    }
    return out;
  },
});

function recurse(n: number): number {
  return recurse(n + 1) + 1;
}

export const deep = action({
  args: {},
  handler: async () => {
    await new Promise((r) => setTimeout(r, 1));
    try {
      return recurse(0);
    } catch {
      return "swallowed";
    }
  },
});

export const dynamicImport = action({
  args: {},
  handler: async () => {
    const m = await import("./lib/format");
    const again = await import("./lib/format.js");
    const pkg = await import("convex/values");
    let missing = "";
    try {
      await import("./lib/nope");
    } catch (e: any) {
      missing = e.message;
    }
    return { shout: m.shout("x"), same: m === again, pkg: typeof pkg.v.string, missing };
  },
});

const hexOf = (b: ArrayBuffer) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");

export const subtleCrypto = action({
  args: {},
  handler: async () => {
    const enc = new TextEncoder();
    const digest = hexOf(await crypto.subtle.digest("SHA-256", enc.encode("abc")));
    const key = await crypto.subtle.importKey("raw", enc.encode("Jefe"), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    const mac = await crypto.subtle.sign("HMAC", key, enc.encode("what do ya want for nothing?"));
    const ok = await crypto.subtle.verify("HMAC", key, mac, enc.encode("what do ya want for nothing?"));
    const bad = await crypto.subtle.verify("HMAC", key, mac, enc.encode("other"));
    let refused = "";
    try {
      await crypto.subtle.digest("MD5", enc.encode("x"));
    } catch (e: any) {
      refused = e.name + ": " + e.message;
    }
    return { digest, mac: hexOf(mac), ok, bad, refused, algorithm: key.algorithm };
  },
});

export const storage = action({
  args: {},
  handler: async (ctx) => {
    const id = await ctx.storage.store(new Blob([new Uint8Array([0, 200, 255]), "hé"], { type: "text/x" }));
    const blob = await ctx.storage.get(id);
    const missing = await ctx.storage.get("missing" as any);
    let refused = "";
    try {
      await ctx.storage.store("not a blob" as any);
    } catch (e: any) {
      refused = e.message;
    }
    return { id, bytes: Array.from(new Uint8Array(await blob!.arrayBuffer())), type: blob!.type, missing, refused };
  },
});

// Reads `Date.now()` around a timer of `waitMs` (the app's clock drives both).
export const clockAroundTimer = action({
  args: { waitMs: v.number() },
  handler: async (_ctx, { waitMs }) => {
    const before = Date.now();
    await new Promise((r) => setTimeout(r, waitMs));
    return { before, after: Date.now() };
  },
});
