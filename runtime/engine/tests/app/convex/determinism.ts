import { query, mutation } from "./_generated/server";

const importTime = Date.now();

export const clock = query({
  args: {},
  handler: async () => {
    const a = Date.now();
    let spin = 0;
    for (let i = 0; i < 100000; i++) spin += i;
    return {
      a,
      b: Date.now(),
      c: new Date().getTime(),
      parsed: Date.parse("2020-01-01T00:00:00Z"),
      explicit: new Date(5).getTime(),
      isDate: new Date() instanceof Date,
      spin: spin > 0,
      importTimeIsNumber: typeof importTime === "number",
    };
  },
});

export const random = query({
  args: {},
  handler: async () => {
    const bytes = new Uint8Array(4);
    crypto.getRandomValues(bytes);
    return {
      r: [Math.random(), Math.random(), Math.random()],
      bytes: Array.from(bytes),
      uuid: crypto.randomUUID(),
    };
  },
});

export const forbidden = mutation({
  args: {},
  handler: async () => {
    const out: string[] = [];
    try {
      await fetch("https://example.com");
    } catch (e: any) {
      out.push(e.message);
    }
    try {
      setTimeout(() => {}, 10);
    } catch (e: any) {
      out.push(e.message);
    }
    return out;
  },
});

export const globals = query({
  args: {},
  handler: async () => {
    const enc = new TextEncoder().encode("héllo");
    return {
      env: process.env.MY_VAR ?? null,
      missing: process.env.NOT_SET === undefined,
      window: typeof (globalThis as any).window,
      self: self === globalThis,
      text: new TextDecoder().decode(enc),
      len: enc.length,
      b64: btoa("hi"),
      unb64: atob("aGk="),
      clone: structuredClone({ a: [1, { b: 2 }] }),
      perf: typeof performance.now(),
    };
  },
});

export const logs = query({
  args: {},
  handler: async () => {
    console.log("hello", 1, { a: "b", c: [1, 2] }, null, undefined);
    console.info("info");
    console.warn("warn");
    console.error(new Error("bad"));
    console.debug(true);
    class Foo {
      a = [[[[[1]]]]];
    }
    const arr: any[] = [
      { x: "it's", d: new Date(0) },
      new Map([["k", function f() {}]]),
      Object.create(null),
      new Foo(),
      -0,
      10n,
    ];
    arr.push(arr);
    console.log(arr);
    const err: any = new Error("outer", { cause: new Error("inner") });
    err.code = 7;
    console.log(err, new Number(1), "long" + ".".repeat(32765));
    return null;
  },
});

export const urls = query({
  args: {},
  handler: async () => {
    const u = new URL("HTTPS://Example.COM:443/a/b/../c?x=1&y=a+b#frag");
    const rel = new URL("../d?q", "https://example.com/a/b/c");
    const p = new URLSearchParams({ a: "1 2", b: "é&" });
    p.append("a", "3");
    u.searchParams.set("x", "2");
    return {
      href: u.href,
      host: u.host,
      origin: u.origin,
      pathname: u.pathname,
      y: u.searchParams.get("y"),
      rel: rel.href,
      params: p.toString(),
      all: p.getAll("a"),
      canParse: URL.canParse("nope"),
    };
  },
});

export const utc = query({
  args: {},
  handler: async () => {
    const d = new Date(2020, 0, 2, 3, 4, 5);
    return {
      ms: d.getTime(),
      hours: d.getHours(),
      offset: d.getTimezoneOffset(),
      str: d.toString(),
      local: d.toLocaleString(),
      parsedLocal: Date.parse("2020-01-02T03:04:05"),
      newLocal: new Date("2020-01-02T03:04:05").getTime(),
    };
  },
});

export const consoleExtras = query({
  args: {},
  handler: async () => {
    console.time("t");
    console.timeEnd("t");
    console.timeEnd("missing");
    console.trace("here");
    return null;
  },
});
