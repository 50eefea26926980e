import { actionGeneric, internalQueryGeneric, mutationGeneric, queryGeneric } from "convex/server";
import { v } from "convex/values";

// Read once, when the module is evaluated in its instance's realm.
const greetingAtImport = process.env.GREETING ?? "none";

// Module-level state: one copy per instance realm.
let n = 0;

export const increment = mutationGeneric({
  args: { by: v.optional(v.number()) },
  handler: async (_ctx, { by }) => {
    n += by ?? 1;
    return n;
  },
});

export const get = queryGeneric({ args: {}, handler: async () => n });

export const greet = queryGeneric({
  args: {},
  handler: async () => ({ atImport: greetingAtImport, atCall: process.env.GREETING ?? "none" }),
});

export const secret = internalQueryGeneric({ args: {}, handler: async () => "s" });

// Runs in a runtime of the instance's action pool: same env, its own module state.
export const greetLater = actionGeneric({
  args: {},
  handler: async () => ({ atImport: greetingAtImport, atCall: process.env.GREETING ?? "none", n }),
});
