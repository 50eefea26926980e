import { v } from "convex/values";
import { query, mutation, internalMutation } from "./_generated/server";
import { shout } from "./lib/format.js";

export const list = query({
  args: {},
  handler: async (ctx) => {
    return await ctx.db.query("messages").collect();
  },
});

export const send = mutation({
  args: { author: v.string(), body: v.string() },
  returns: v.id("messages"),
  handler: async (ctx, { author, body }) => {
    console.log("sending", { author, n: 1 });
    return await ctx.db.insert("messages", { author, body: shout(body) });
  },
});

export const sendMany = mutation({
  args: { n: v.number() },
  handler: async (ctx, { n }) => {
    const ids = await Promise.all(
      Array.from({ length: n }, (_, i) => ctx.db.insert("messages", { author: "a" + i, body: "b" })),
    );
    return ids.length;
  },
});

export const fireAndForget = mutation({
  args: {},
  handler: async (ctx) => {
    // Not awaited: still runs before the mutation ends.
    void ctx.db.insert("messages", { author: "x", body: "unawaited" });
    return "done";
  },
});

export const neverResolves = mutation({
  args: {},
  handler: async () => {
    await new Promise(() => {});
  },
});

export const clear = internalMutation({
  args: {},
  handler: async () => null,
});

export const get = query({
  args: { id: v.id("messages") },
  handler: async (ctx, { id }) => {
    try {
      return await ctx.db.get(id);
    } catch (e: any) {
      return "caught: " + e.message;
    }
  },
});

export const notAFunction = 42;
