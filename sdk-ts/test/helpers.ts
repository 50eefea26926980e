import { makeFunctionReference } from "convex/server";
import { vi } from "vitest";
import * as ours from "../src/workpool/index.js";
import * as upstream from "@convex-dev/workpool";

/** Both clients: every behavioural test runs against each. */
export const implementations = [
  ["emvex/workpool", ours],
  ["@convex-dev/workpool", upstream],
] as const;

export type Impl = typeof ours;

/**
 * Installs the `Convex.asyncSyscall` global that `createFunctionHandle` uses,
 * answering `function://<name>` for each reference.
 */
export function installFakeSyscalls() {
  const syscalls: Array<{ op: string; arg: any }> = [];
  (globalThis as any).Convex = {
    asyncSyscall: async (op: string, argJson: string) => {
      const arg = JSON.parse(argJson);
      syscalls.push({ op, arg });
      if (op !== "1.0/createFunctionHandle") {
        throw new Error(`unexpected syscall ${op}`);
      }
      return JSON.stringify(`function://${arg.name ?? arg.reference}`);
    },
  };
  return syscalls;
}

/** A component reference object like `components.pool`. */
export function fakeComponent() {
  return {
    config: { update: makeFunctionReference<"mutation">("config:update") },
    lib: {
      cancel: makeFunctionReference<"mutation">("lib:cancel"),
      cancelAll: makeFunctionReference<"mutation">("lib:cancelAll"),
      enqueue: makeFunctionReference<"mutation">("lib:enqueue"),
      enqueueBatch: makeFunctionReference<"mutation">("lib:enqueueBatch"),
      status: makeFunctionReference<"query">("lib:status"),
      statusBatch: makeFunctionReference<"query">("lib:statusBatch"),
    },
  } as unknown as ours.WorkpoolComponent;
}

/** A ctx whose `runMutation`/`runQuery` record their calls. */
export function fakeCtx() {
  let next = 0;
  const runMutation = vi.fn(async (_ref: unknown, args: any) => {
    if (Array.isArray(args?.items)) {
      return args.items.map(() => `work${next++}`);
    }
    if ("fnHandle" in (args ?? {})) {
      return `work${next++}`;
    }
    return null;
  });
  const runQuery = vi.fn(async (_ref: unknown, args: any) => {
    if (Array.isArray(args?.ids)) {
      return args.ids.map(() => ({ state: "finished" }));
    }
    return { state: "pending", previousAttempts: 0 };
  });
  const runAction = vi.fn(async () => null);
  return { runMutation, runQuery, runAction } as any;
}

export const refs = {
  action: makeFunctionReference<"action", { n: number }, string>("jobs:send"),
  mutation: makeFunctionReference<"mutation", { n: number }, null>("jobs:bump"),
  query: makeFunctionReference<"query", { n: number }, number>("jobs:total"),
  onComplete: makeFunctionReference<"mutation", any, null>("jobs:done"),
};
