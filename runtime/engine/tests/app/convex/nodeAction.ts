"use node";
// Runs in Node.js on Convex: never loaded into QuickJS.
import { createHash } from "node:crypto";
export const hash = (s: string) => createHash("sha256").update(s).digest("hex");
