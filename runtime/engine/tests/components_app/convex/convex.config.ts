// The app of the engine's component tests: one local component definition used twice, with
// different env.
import { defineApp } from "convex/server";
import counter from "./counter/convex.config";

const app = defineApp();
app.use(counter);
app.use(counter, { name: "second", env: { GREETING: "hi" } });
export default app;
