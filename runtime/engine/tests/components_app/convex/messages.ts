import { queryGeneric } from "convex/server";

// The app's own module: it must not be part of a component's realm.
export const list = queryGeneric({ args: {}, handler: async () => process.env.GREETING ?? "app: none" });
