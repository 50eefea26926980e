/**
 * The typed reference to the workpool component's public functions
 * (`components.<name>` in an app's `_generated/api`). emvex implements these
 * functions natively; their argument and return shapes are those of
 * `@convex-dev/workpool@0.4.16`.
 * @module
 */
import type { FunctionReference } from "convex/server";

type Level = "DEBUG" | "TRACE" | "INFO" | "REPORT" | "WARN" | "ERROR";

type PoolConfigArgs = {
  logLevel?: Level;
  maxParallelism?: number;
};

type EnqueueItem = {
  fnArgs: any;
  fnHandle: string;
  fnName: string;
  fnType: "action" | "mutation" | "query";
  onComplete?: {
    context?: any;
    excludeKinds?: Array<"success" | "failed" | "canceled">;
    fnHandle: string;
  };
  retryBehavior?: {
    base: number;
    initialBackoffMs: number;
    maxAttempts: number;
  };
  runAt: number;
};

/** The args of `lib.enqueue`: one {@link EnqueueItem} plus the pool config. */
type EnqueueArgs = Flat<{ config: PoolConfigArgs } & EnqueueItem>;

type Flat<T> = { [K in keyof T]: T[K] };

type WorkStatus =
  | { previousAttempts: number; state: "pending" }
  | { previousAttempts: number; state: "running" }
  | { state: "finished" };

/**
 * A utility for referencing the workpool component's exposed API, e.g. the
 * type of `components.emailWorkpool`.
 */
export type ComponentApi<Name extends string | undefined = string | undefined> =
  {
    config: {
      update: FunctionReference<"mutation", "internal", PoolConfigArgs, any, Name>;
    };
    lib: {
      cancel: FunctionReference<
        "mutation",
        "internal",
        { id: string; logLevel?: Level },
        any,
        Name
      >;
      cancelAll: FunctionReference<
        "mutation",
        "internal",
        { before?: number; limit?: number; logLevel?: Level },
        any,
        Name
      >;
      enqueue: FunctionReference<
        "mutation",
        "internal",
        EnqueueArgs,
        string,
        Name
      >;
      enqueueBatch: FunctionReference<
        "mutation",
        "internal",
        { config: PoolConfigArgs; items: Array<EnqueueItem> },
        Array<string>,
        Name
      >;
      status: FunctionReference<"query", "internal", { id: string }, WorkStatus, Name>;
      statusBatch: FunctionReference<
        "query",
        "internal",
        { ids: Array<string> },
        Array<WorkStatus>,
        Name
      >;
    };
  };
