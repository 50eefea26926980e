import { query } from "./_generated/server";
import data from "./lib/data.json";
import { shout } from "@lib/format";

export const fromJsonAndAlias = query({
  args: {},
  handler: async () => ({ greeting: data.greeting, shouted: shout("x") }),
});
