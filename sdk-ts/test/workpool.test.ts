import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { anyApi } from "convex/server";
import {
  fakeComponent,
  fakeCtx,
  implementations,
  installFakeSyscalls,
  refs,
} from "./helpers.js";

const NOW = 1_700_000_000_000;
const DEFAULT = { maxAttempts: 5, initialBackoffMs: 250, base: 2 };
const CUSTOM = { maxAttempts: 3, initialBackoffMs: 10, base: 3 };
const OTHER = { maxAttempts: 2, initialBackoffMs: 1, base: 1 };

beforeEach(() => {
  installFakeSyscalls();
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

/** The args of the `i`th runMutation call. */
function sent(ctx: any, i = 0) {
  return ctx.runMutation.mock.calls[i][1];
}

describe.each(implementations)("%s", (_name, impl) => {
  const { Workpool } = impl;

  describe("enqueueAction", () => {
    test("minimal call", async () => {
      const component = fakeComponent();
      const ctx = fakeCtx();
      const pool = new Workpool(component, {});
      const id = await pool.enqueueAction(ctx, refs.action, { n: 1 });
      expect(id).toBe("work0");
      expect(ctx.runMutation).toHaveBeenCalledTimes(1);
      expect(ctx.runMutation.mock.calls[0][0]).toBe(component.lib.enqueue);
      expect(sent(ctx)).toEqual({
        fnHandle: "function://jobs:send",
        fnName: "jobs:send",
        fnArgs: { n: 1 },
        fnType: "action",
        runAt: NOW,
        config: {},
      });
    });

    const retryCases: Array<[string, object, object | undefined, object | undefined]> = [
      ["retry true, no default", {}, { retry: true }, DEFAULT],
      ["retry true, custom default", { defaultRetryBehavior: CUSTOM }, { retry: true }, CUSTOM],
      ["retry false", { retryActionsByDefault: true }, { retry: false }, undefined],
      ["retry object", { defaultRetryBehavior: CUSTOM, retryActionsByDefault: true }, { retry: OTHER }, OTHER],
      ["unset, not by default", {}, {}, undefined],
      ["unset, not by default, custom default", { defaultRetryBehavior: CUSTOM }, undefined, undefined],
      ["unset, by default", { retryActionsByDefault: true }, {}, DEFAULT],
      ["unset, by default, custom", { retryActionsByDefault: true, defaultRetryBehavior: CUSTOM }, undefined, CUSTOM],
      ["unset, retryActionsByDefault false", { retryActionsByDefault: false, defaultRetryBehavior: CUSTOM }, {}, undefined],
    ];
    test.each(retryCases)("retry: %s", async (_label, poolOptions, callOptions, expected) => {
      const ctx = fakeCtx();
      const pool = new Workpool(fakeComponent(), poolOptions);
      await pool.enqueueAction(ctx, refs.action, { n: 1 }, callOptions as any);
      expect(sent(ctx).retryBehavior).toEqual(expected);
      const batchCtx = fakeCtx();
      await pool.enqueueActionBatch(batchCtx, refs.action, [{ n: 1 }], callOptions as any);
      expect(sent(batchCtx).items[0].retryBehavior).toEqual(expected);
    });

    test("runAt is used as is", async () => {
      const ctx = fakeCtx();
      await new Workpool(fakeComponent(), {}).enqueueAction(ctx, refs.action, { n: 1 }, { runAt: 5 });
      expect(sent(ctx).runAt).toBe(5);
    });
    test("runAfter is added to now", async () => {
      const ctx = fakeCtx();
      await new Workpool(fakeComponent(), {}).enqueueAction(ctx, refs.action, { n: 1 }, { runAfter: 60_000 });
      expect(sent(ctx).runAt).toBe(NOW + 60_000);
    });
    test("runAt wins over runAfter at run time", async () => {
      const ctx = fakeCtx();
      await new Workpool(fakeComponent(), {}).enqueueAction(ctx, refs.action, { n: 1 }, {
        runAt: 7,
        runAfter: 1000,
      } as any);
      expect(sent(ctx).runAt).toBe(7);
    });
    test("runAt 0 is respected", async () => {
      const ctx = fakeCtx();
      await new Workpool(fakeComponent(), {}).enqueueAction(ctx, refs.action, { n: 1 }, { runAt: 0 });
      expect(sent(ctx).runAt).toBe(0);
    });

    test("onComplete with context and excludeKinds", async () => {
      const ctx = fakeCtx();
      const kinds = ["canceled"] as const;
      await new Workpool(fakeComponent(), {}).enqueueAction(ctx, refs.action, { n: 1 }, {
        onComplete: refs.onComplete,
        context: { user: "u1", n: 2 },
        onCompleteExcludeKinds: kinds,
      });
      expect(sent(ctx).onComplete).toEqual({
        fnHandle: "function://jobs:done",
        context: { user: "u1", n: 2 },
        excludeKinds: ["canceled"],
      });
      expect(sent(ctx).onComplete.excludeKinds).not.toBe(kinds);
    });
    test("onComplete without context", async () => {
      const ctx = fakeCtx();
      await new Workpool(fakeComponent(), {}).enqueueAction(ctx, refs.action, { n: 1 }, {
        onComplete: refs.onComplete,
      });
      expect(sent(ctx).onComplete).toEqual({ fnHandle: "function://jobs:done" });
      expect(sent(ctx).onComplete.context).toBeUndefined();
      expect(sent(ctx).onComplete.excludeKinds).toBeUndefined();
    });
    test("empty excludeKinds is sent as an empty array", async () => {
      const ctx = fakeCtx();
      await new Workpool(fakeComponent(), {}).enqueueAction(ctx, refs.action, { n: 1 }, {
        onComplete: refs.onComplete,
        onCompleteExcludeKinds: [],
      });
      expect(sent(ctx).onComplete).toEqual({ fnHandle: "function://jobs:done", excludeKinds: [] });
    });
    test.each([["null", null], ["absent", undefined]])(
      "onComplete %s drops the context",
      async (_label, onComplete) => {
        const ctx = fakeCtx();
        await new Workpool(fakeComponent(), {}).enqueueAction(ctx, refs.action, { n: 1 }, {
          onComplete,
          context: "dropped",
          onCompleteExcludeKinds: ["success"],
        });
        expect(sent(ctx).onComplete).toBeUndefined();
        expect(JSON.stringify(sent(ctx))).not.toContain("dropped");
      },
    );

    test("name overrides fnName", async () => {
      const ctx = fakeCtx();
      await new Workpool(fakeComponent(), {}).enqueueAction(ctx, refs.action, { n: 1 }, { name: "mail" });
      expect(sent(ctx).fnName).toBe("mail");
      expect(sent(ctx).fnHandle).toBe("function://jobs:send");
    });
    test("anyApi references are named dir/file:export", async () => {
      const ctx = fakeCtx();
      await new Workpool(fakeComponent(), {}).enqueueAction(ctx, (anyApi as any).dir.file.fn, {});
      expect(sent(ctx).fnName).toBe("dir/file:fn");
      expect(sent(ctx).fnHandle).toBe("function://dir/file:fn");
    });
    test("a function handle string is enqueued as is", async () => {
      const syscalls = installFakeSyscalls();
      const ctx = fakeCtx();
      const handle = "function://other/component;jobs:x" as any;
      await new Workpool(fakeComponent(), {}).enqueueAction(ctx, handle, {});
      expect(sent(ctx).fnHandle).toBe(handle);
      expect(sent(ctx).fnName).toBe(handle);
      expect(syscalls).toEqual([]);
      const named = fakeCtx();
      await new Workpool(fakeComponent(), {}).enqueueAction(named, handle, {}, { name: "x" });
      expect(sent(named).fnName).toBe("x");
    });

    test("config carries only the defined pool options", async () => {
      const ctx = fakeCtx();
      await new Workpool(fakeComponent(), { maxParallelism: 3 }).enqueueAction(ctx, refs.action, { n: 1 });
      expect(sent(ctx).config).toEqual({ maxParallelism: 3 });
      const both = fakeCtx();
      await new Workpool(fakeComponent(), { maxParallelism: 0, logLevel: "DEBUG", retryActionsByDefault: true })
        .enqueueAction(both, refs.action, { n: 1 });
      expect(sent(both).config).toEqual({ maxParallelism: 0, logLevel: "DEBUG" });
    });
  });

  describe.each([
    ["enqueueMutation", "mutation", refs.mutation],
    ["enqueueQuery", "query", refs.query],
  ] as const)("%s", (method, fnType, ref) => {
    test("full options, never a retryBehavior", async () => {
      const ctx = fakeCtx();
      const pool = new Workpool(fakeComponent(), {
        retryActionsByDefault: true,
        defaultRetryBehavior: CUSTOM,
        logLevel: "WARN",
      });
      const id = await (pool as any)[method](ctx, ref, { n: 2 }, {
        onComplete: refs.onComplete,
        context: 1,
        runAfter: 10,
        retry: true,
        name: "named",
      });
      expect(id).toBe("work0");
      expect(sent(ctx)).toEqual({
        fnHandle: `function://${ref === refs.mutation ? "jobs:bump" : "jobs:total"}`,
        fnName: "named",
        fnArgs: { n: 2 },
        fnType,
        runAt: NOW + 10,
        onComplete: { fnHandle: "function://jobs:done", context: 1 },
        config: { logLevel: "WARN" },
      });
      expect(sent(ctx).retryBehavior).toBeUndefined();
    });
    test("batch", async () => {
      const ctx = fakeCtx();
      const pool = new Workpool(fakeComponent(), { retryActionsByDefault: true });
      const ids = await (pool as any)[`${method}Batch`](ctx, ref, [{ n: 1 }, { n: 2 }]);
      expect(ids).toEqual(["work0", "work1"]);
      const args = sent(ctx);
      expect(args.items.map((i: any) => [i.fnType, i.fnArgs, i.retryBehavior])).toEqual([
        [fnType, { n: 1 }, undefined],
        [fnType, { n: 2 }, undefined],
      ]);
    });
  });

  describe("enqueueActionBatch", () => {
    test("items share the options; config is sent once per call", async () => {
      const component = fakeComponent();
      const ctx = fakeCtx();
      const pool = new Workpool(component, { maxParallelism: 4, logLevel: "INFO" });
      const ids = await pool.enqueueActionBatch(ctx, refs.action, [{ n: 1 }, { n: 2 }, { n: 3 }], {
        retry: true,
        onComplete: refs.onComplete,
        context: "c",
        runAt: 99,
      });
      expect(ids).toEqual(["work0", "work1", "work2"]);
      expect(ctx.runMutation).toHaveBeenCalledTimes(1);
      expect(ctx.runMutation.mock.calls[0][0]).toBe(component.lib.enqueueBatch);
      const item = (n: number) => ({
        fnHandle: "function://jobs:send",
        fnName: "jobs:send",
        fnArgs: { n },
        fnType: "action",
        runAt: 99,
        onComplete: { fnHandle: "function://jobs:done", context: "c" },
        retryBehavior: DEFAULT,
      });
      expect(sent(ctx)).toEqual({
        items: [item(1), item(2), item(3)],
        config: { maxParallelism: 4, logLevel: "INFO" },
      });
      expect("config" in sent(ctx).items[0]).toBe(false);
    });
    test("an empty batch makes no call", async () => {
      const ctx = fakeCtx();
      const pool = new Workpool(fakeComponent(), { maxParallelism: 4 });
      expect(await pool.enqueueActionBatch(ctx, refs.action, [])).toEqual([]);
      expect(await pool.enqueueMutationBatch(ctx, refs.mutation, [])).toEqual([]);
      expect(await pool.enqueueQueryBatch(ctx, refs.query, [])).toEqual([]);
      expect(ctx.runMutation).not.toHaveBeenCalled();
    });
    test("splits into chunks of at most 8,000,000 bytes, ids in order", async () => {
      const ctx = fakeCtx();
      const pool = new Workpool(fakeComponent(), {});
      // Each item is a little over 1 MB: 7 fit in a chunk, the 8th starts a new one.
      const big = "x".repeat(1_100_000);
      const args = Array.from({ length: 15 }, (_, n) => ({ n, big }));
      const ids = await pool.enqueueActionBatch(ctx, refs.action as any, args);
      expect(ids).toEqual(Array.from({ length: 15 }, (_, n) => `work${n}`));
      const sizes = ctx.runMutation.mock.calls.map((c: any) => c[1].items.length);
      expect(sizes).toEqual([7, 7, 1]);
      const ns = ctx.runMutation.mock.calls.flatMap((c: any) => c[1].items.map((i: any) => i.fnArgs.n));
      expect(ns).toEqual(args.map((a) => a.n));
      for (const call of ctx.runMutation.mock.calls) {
        expect(call[1].config).toEqual({});
      }
    });
    test("an oversized item gets a chunk of its own", async () => {
      const ctx = fakeCtx();
      const pool = new Workpool(fakeComponent(), {});
      const huge = "y".repeat(8_100_000);
      const ids = await pool.enqueueActionBatch(ctx, refs.action as any, [{ s: "a" }, { s: huge }, { s: "b" }]);
      expect(ids).toHaveLength(3);
      const sizes = ctx.runMutation.mock.calls.map((c: any) => c[1].items.length);
      expect(sizes).toEqual([1, 1, 1]);
    });
    test("the chunk boundary is exact: a chunk of exactly 8,000,000 bytes is kept", async () => {
      const { getConvexSize } = await import("convex/values");
      const ctx = fakeCtx();
      const pool = new Workpool(fakeComponent(), {});
      const itemSize = (s: string) =>
        getConvexSize({
          fnHandle: "function://jobs:send",
          fnName: "jobs:send",
          runAt: NOW,
          fnArgs: { s },
          fnType: "action",
        });
      const base = itemSize("");
      const a = "a".repeat(4_000_000 - base);
      const b = "b".repeat(4_000_000 - base);
      expect(itemSize(a) + itemSize(b)).toBe(8_000_000);
      await pool.enqueueActionBatch(ctx, refs.action as any, [{ s: a }, { s: b }, { s: "" }]);
      const sizes = ctx.runMutation.mock.calls.map((c: any) => c[1].items.length);
      expect(sizes).toEqual([2, 1]);
    });
  });

  describe("cancel, cancelAll, status, statusBatch", () => {
    test("cancel sends id and logLevel", async () => {
      const component = fakeComponent();
      const ctx = fakeCtx();
      await new Workpool(component, { logLevel: "ERROR", maxParallelism: 2 }).cancel(ctx, "w1" as any);
      expect(ctx.runMutation.mock.calls[0][0]).toBe(component.lib.cancel);
      expect(sent(ctx)).toEqual({ id: "w1", logLevel: "ERROR" });
      const plain = fakeCtx();
      await new Workpool(component, {}).cancel(plain, "w2" as any);
      expect(sent(plain)).toEqual({ id: "w2" });
    });
    test("cancelAll sends logLevel and limit", async () => {
      const component = fakeComponent();
      const ctx = fakeCtx();
      const pool = new Workpool(component, { logLevel: "INFO" });
      await pool.cancelAll(ctx);
      await pool.cancelAll(ctx, { limit: 10 });
      await new Workpool(component, {}).cancelAll(ctx, {});
      expect(ctx.runMutation.mock.calls.map((c: any) => c[0])).toEqual([
        component.lib.cancelAll,
        component.lib.cancelAll,
        component.lib.cancelAll,
      ]);
      expect(sent(ctx, 0)).toEqual({ logLevel: "INFO" });
      expect(sent(ctx, 1)).toEqual({ logLevel: "INFO", limit: 10 });
      expect(sent(ctx, 2)).toEqual({});
    });
    test("status and statusBatch are queries with exactly { id } / { ids }", async () => {
      const component = fakeComponent();
      const ctx = fakeCtx();
      const pool = new Workpool(component, { logLevel: "DEBUG", maxParallelism: 1 });
      expect(await pool.status(ctx, "w1" as any)).toEqual({ state: "pending", previousAttempts: 0 });
      expect(ctx.runQuery.mock.calls[0]).toEqual([component.lib.status, { id: "w1" }]);
      expect(await pool.statusBatch(ctx, ["a", "b"] as any)).toEqual([
        { state: "finished" },
        { state: "finished" },
      ]);
      expect(ctx.runQuery.mock.calls[1]).toEqual([component.lib.statusBatch, { ids: ["a", "b"] }]);
      expect(ctx.runMutation).not.toHaveBeenCalled();
    });
    test("status works with a query-only ctx", async () => {
      const ctx = { runQuery: fakeCtx().runQuery };
      const pool = new Workpool(fakeComponent(), {});
      expect(await pool.status(ctx, "w" as any)).toEqual({ state: "pending", previousAttempts: 0 });
    });
  });

  describe("constructor", () => {
    test("stores component and options and does no I/O", () => {
      const component = fakeComponent();
      const options = { maxParallelism: 7 };
      const pool = new Workpool(component, options);
      expect(pool.component).toBe(component);
      expect(pool.options).toBe(options);
    });
  });

  describe("standalone enqueue / enqueueBatch", () => {
    test("enqueue passes options through as is", async () => {
      const component = fakeComponent();
      const ctx = fakeCtx();
      const id = await impl.enqueue(component, ctx, "action", refs.action, { n: 1 }, {
        retryBehavior: OTHER,
        maxParallelism: 9,
        logLevel: "TRACE",
        runAfter: 5,
      });
      expect(id).toBe("work0");
      expect(sent(ctx)).toEqual({
        fnHandle: "function://jobs:send",
        fnName: "jobs:send",
        fnArgs: { n: 1 },
        fnType: "action",
        runAt: NOW + 5,
        retryBehavior: OTHER,
        config: { maxParallelism: 9, logLevel: "TRACE" },
      });
    });
    test("enqueueBatch with a mutation", async () => {
      const component = fakeComponent();
      const ctx = fakeCtx();
      const ids = await impl.enqueueBatch(component, ctx, "mutation", refs.mutation, [{ n: 1 }], {});
      expect(ids).toEqual(["work0"]);
      expect(ctx.runMutation.mock.calls[0][0]).toBe(component.lib.enqueueBatch);
      expect(sent(ctx)).toEqual({
        items: [{ fnHandle: "function://jobs:bump", fnName: "jobs:bump", fnArgs: { n: 1 }, fnType: "mutation", runAt: NOW }],
        config: {},
      });
    });
  });

  describe("defineOnComplete", () => {
    test("is an internal mutation with vOnCompleteArgs", () => {
      const pool = new Workpool(fakeComponent(), {});
      const fn = pool.defineOnComplete({ handler: async () => {} }) as any;
      expect(fn.isMutation).toBe(true);
      expect(fn.isInternal).toBe(true);
      expect(JSON.parse(fn.exportArgs())).toEqual(JSON.parse(JSON.stringify((impl.vOnCompleteArgs() as any).json)));
    });
  });
});

describe("emvex/workpool omits undefined fields", () => {
  test("no undefined keys reach the component", async () => {
    const { Workpool } = implementations[0][1];
    const ctx = fakeCtx();
    const pool = new Workpool(fakeComponent(), {});
    await pool.enqueueAction(ctx, refs.action, { n: 1 }, { onComplete: refs.onComplete });
    await pool.enqueueActionBatch(ctx, refs.action, [{ n: 1 }]);
    await pool.cancel(ctx, "w" as any);
    await pool.cancelAll(ctx, { limit: undefined });
    const walk = (value: unknown): void => {
      if (value && typeof value === "object") {
        for (const [key, field] of Object.entries(value)) {
          expect(field, key).not.toBeUndefined();
          walk(field);
        }
      }
    };
    for (const call of ctx.runMutation.mock.calls) {
      walk(call[1]);
    }
  });
});
