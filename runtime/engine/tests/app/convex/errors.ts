import { ConvexError } from "convex/values";
import { query, mutation } from "./_generated/server";

export const convexError = mutation({
  args: {},
  handler: async () => {
    throw new ConvexError({ code: "NOPE", n: 1n });
  },
});

export const plainError = query({
  args: {},
  handler: async () => {
    const x: number = 1;
    if (x === 1) {
      throw new Error("boom");
    }
    return x;
  },
});

export const throwString = query({
  args: {},
  handler: async () => {
    throw "just a string";
  },
});

export const hostDataError = mutation({
  args: {},
  handler: async (ctx) => {
    try {
      await ctx.db.insert("messages", { author: "fail", body: "x" });
      return "not caught";
    } catch (e: any) {
      return { name: e.name, message: e.message, data: e.data ?? null };
    }
  },
});

export const syncSyscallError = query({
  args: {},
  handler: async (ctx) => {
    try {
      await ctx.db.query("broken").collect();
      return "no error";
    } catch (e: any) {
      return "caught: " + e.message;
    }
  },
});

export const unhandledRejection = mutation({
  args: {},
  handler: async (ctx) => {
    // Nobody handles this rejection: it ends the execution.
    void ctx.db.insert("messages", { author: "fail", body: "x" });
    await ctx.db.insert("messages", { author: "ok", body: "y" });
    return "finished";
  },
});

export const lateHandled = mutation({
  args: {},
  handler: async (ctx) => {
    const p = ctx.db.insert("messages", { author: "fail", body: "x" });
    try {
      await p;
    } catch (e: any) {
      return "handled: " + e.message;
    }
    return "no error";
  },
});
