import { internalQuery } from "../_generated/server";
import { counter } from "../lib/format";

export default internalQuery(async () => {
  counter.calls += 1;
  return counter.calls;
});
