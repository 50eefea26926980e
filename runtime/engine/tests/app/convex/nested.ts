import { mutation } from "./_generated/server";
import { api } from "./_generated/api";

export const outer = mutation({
  args: {},
  handler: async (ctx) => {
    const inner = await ctx.runQuery(api.limits.ok, {});
    return "outer got " + inner;
  },
});
