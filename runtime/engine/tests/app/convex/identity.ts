import * as server from "convex/server";
import { ConvexError } from "convex/values";
import * as values from "convex/values";
import { query } from "./_generated/server";

export const sameInstances = query({
  args: {},
  handler: async () => {
    return {
      server: server.queryGeneric === query,
      values: values.ConvexError === ConvexError,
      instanceOf: new ConvexError("x") instanceof values.ConvexError,
    };
  },
});
