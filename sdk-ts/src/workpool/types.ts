import type {
  FunctionReference,
  FunctionVisibility,
  GenericActionCtx,
  GenericDataModel,
  GenericMutationCtx,
  GenericQueryCtx,
} from "convex/server";
import type { Value } from "convex/values";
import type { ComponentApi } from "./componentApi.js";

/** The id of a work item: the id of its row in the pool's `work` table. */
export type WorkId = string & { __isWorkId: true };

/** How much the pool logs, in increasing order of severity. */
export type LogLevel = "DEBUG" | "TRACE" | "INFO" | "REPORT" | "WARN" | "ERROR";

export type RetryBehavior = {
  /** The maximum number of attempts, the first included: 2 means one retry. */
  maxAttempts: number;
  /** Milliseconds to wait before the first retry. */
  initialBackoffMs: number;
  /**
   * The factor the backoff grows by on each further retry: with 100 and 2 the
   * retries wait about 100, 200, 400 ms…
   */
  base: number;
};

/** The outcome of a work item, as handed to its `onComplete` mutation. */
export type RunResult<Returns = unknown> =
  | {
      kind: "success";
      /** What the function returned. */
      returnValue: Returns;
    }
  | {
      kind: "failed";
      /** The error message of the last attempt. */
      error: string;
      /** The `data` of the `ConvexError` the function threw, if it threw one. */
      errorData?: Value;
    }
  | {
      kind: "canceled";
    };

/** The arguments an `onComplete` mutation receives. */
export type OnCompleteArgs<Context = unknown, Returns = unknown> = {
  /** The id of the work that finished. */
  workId: string;
  /** The `context` given when the work was enqueued. */
  context: Context;
  /** How the work ended. */
  result: RunResult<Returns>;
};

/** What `status` and `statusBatch` report for a work item. */
export type Status =
  | { state: "pending"; previousAttempts: number }
  | { state: "running"; previousAttempts: number }
  | { state: "finished" };

/** The type of `components.<pool>` for a mounted workpool. */
export type WorkpoolComponent = ComponentApi;

export type RetryOption = {
  /**
   * Whether a failed action is retried: `false` never, `true` with the pool's
   * default retry behavior, or with the behavior given. Unset: the pool's
   * `retryActionsByDefault` decides.
   */
  retry?: boolean | RetryBehavior;
};

export type WorkpoolRetryOptions = {
  /**
   * The retry behavior for `retry: true` (and for actions enqueued without a
   * `retry` option when `retryActionsByDefault` is set). Default
   * `DEFAULT_RETRY_BEHAVIOR`.
   */
  defaultRetryBehavior?: RetryBehavior;
  /** Retry actions that fail unless told otherwise. Default: false. */
  retryActionsByDefault?: boolean;
};

export type WorkpoolOptions = {
  /**
   * How many work items of this pool may run at once (0 pauses starting new
   * work). Sent to the pool with every enqueue.
   */
  maxParallelism?: number;
  /** How much the pool logs. Sent with every enqueue, cancel and cancelAll. */
  logLevel?: LogLevel;
} & WorkpoolRetryOptions;

/** When a work item starts: at most one of `runAt` and `runAfter`. */
type Timing =
  | {
      /** When to start, in ms since the epoch (advisory: it may start later). */
      runAt?: number;
      runAfter?: never;
    }
  | {
      /** How many ms from now to start (advisory: it may start later). */
      runAfter?: number;
      runAt?: never;
    };

export type EnqueueOptions<Context = unknown, ReturnValue = unknown> = {
  /**
   * Display name for logs. Default: the function's name, like
   * `"foo/bar:baz"`, or the handle when a function handle is enqueued.
   */
  name?: string;
  /**
   * A mutation run once the work has finished (succeeded, failed for good, or
   * been canceled), with {@link OnCompleteArgs}.
   */
  onComplete?: FunctionReference<
    "mutation",
    FunctionVisibility,
    OnCompleteArgs<Context, ReturnValue>
  > | null;
  /** Result kinds for which `onComplete` is not called. */
  onCompleteExcludeKinds?: readonly RunResult["kind"][];
  /** Passed back to `onComplete` as `context`. */
  context?: Context;
} & Timing;

/** Options of the standalone `enqueue`/`enqueueBatch`. */
export type LowLevelEnqueueOptions<Context, ReturnValue> = EnqueueOptions<
  Context,
  ReturnValue
> & {
  retryBehavior?: RetryBehavior;
  maxParallelism?: number;
  logLevel?: LogLevel;
};

/** Any context that can run queries (query, mutation, action). */
export type QueryCtx = Pick<GenericQueryCtx<GenericDataModel>, "runQuery">;
/** A mutation context, or anything with its `runQuery`/`runMutation`. */
export type MutationCtx = Pick<
  GenericMutationCtx<GenericDataModel>,
  "runQuery" | "runMutation"
>;
/** An action context, or anything with its `runQuery`/`runMutation`/`runAction`. */
export type ActionCtx = Pick<
  GenericActionCtx<GenericDataModel>,
  "runQuery" | "runMutation" | "runAction"
>;
