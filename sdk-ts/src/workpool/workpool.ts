import {
  internalMutationGeneric,
  type DefaultFunctionArgs,
  type FunctionReference,
  type FunctionVisibility,
  type GenericDataModel,
  type GenericMutationCtx,
  type RegisteredMutation,
} from "convex/server";
import type { Infer, Validator, VAny } from "convex/values";
import { enqueue, enqueueBatch, resolveRetryBehavior } from "./enqueue.js";
import type {
  ActionCtx,
  EnqueueOptions,
  MutationCtx,
  OnCompleteArgs,
  QueryCtx,
  RetryOption,
  RunResult,
  Status,
  WorkId,
  WorkpoolComponent,
  WorkpoolOptions,
} from "./types.js";
import { vOnCompleteArgs } from "./validators.js";

/**
 * A client for one mounted workpool component.
 *
 * Each pool is its own `app.use(workpool, { name })` mount; two `Workpool`
 * objects on the same mount share one pool (and overwrite each other's
 * `maxParallelism`/`logLevel`).
 */
export class Workpool {
  /**
   * @param component - The mounted pool, like `components.emailWorkpool`.
   * @param options - {@link WorkpoolOptions}; nothing is sent to the pool
   *   until a method is called.
   */
  constructor(
    public component: WorkpoolComponent,
    public options: WorkpoolOptions,
  ) {}

  /**
   * Enqueues an action. It is retried on failure according to `retry` and
   * the pool's retry options.
   * @returns The id of the work item.
   */
  async enqueueAction<Args extends DefaultFunctionArgs, Context, ReturnType>(
    ctx: MutationCtx | ActionCtx,
    fn: FunctionReference<"action", FunctionVisibility, Args, NoInfer<ReturnType>>,
    fnArgs: Args,
    options?: RetryOption & EnqueueOptions<Context, ReturnType>,
  ): Promise<WorkId> {
    return enqueue(this.component, ctx, "action", fn, fnArgs, {
      retryBehavior: retryBehaviorFor(this.options, options),
      ...this.options,
      ...options,
    });
  }

  /**
   * Enqueues one action per element of `argsArray`, all with the same
   * options.
   * @returns The ids of the work items, in input order.
   */
  async enqueueActionBatch<Args extends DefaultFunctionArgs, Context, ReturnType>(
    ctx: MutationCtx | ActionCtx,
    fn: FunctionReference<"action", FunctionVisibility, Args, NoInfer<ReturnType>>,
    argsArray: Array<Args>,
    options?: RetryOption & EnqueueOptions<Context, ReturnType>,
  ): Promise<WorkId[]> {
    return enqueueBatch(this.component, ctx, "action", fn, argsArray, {
      retryBehavior: retryBehaviorFor(this.options, options),
      ...this.options,
      ...options,
    });
  }

  /**
   * Enqueues a mutation. The workpool never retries mutations (Convex
   * itself retries them on conflicts and transient failures).
   * @returns The id of the work item.
   */
  async enqueueMutation<Args extends DefaultFunctionArgs, Context, ReturnType>(
    ctx: MutationCtx | ActionCtx,
    fn: FunctionReference<"mutation", FunctionVisibility, Args, NoInfer<ReturnType>>,
    fnArgs: Args,
    options?: EnqueueOptions<Context, ReturnType>,
  ): Promise<WorkId> {
    return enqueue(this.component, ctx, "mutation", fn, fnArgs, {
      ...this.options,
      ...options,
    });
  }

  /**
   * Enqueues one mutation per element of `argsArray`.
   * @returns The ids of the work items, in input order.
   */
  async enqueueMutationBatch<Args extends DefaultFunctionArgs, Context, ReturnType>(
    ctx: MutationCtx | ActionCtx,
    fn: FunctionReference<"mutation", FunctionVisibility, Args, NoInfer<ReturnType>>,
    argsArray: Array<Args>,
    options?: EnqueueOptions<Context, ReturnType>,
  ): Promise<WorkId[]> {
    return enqueueBatch(this.component, ctx, "mutation", fn, argsArray, {
      ...this.options,
      ...options,
    });
  }

  /**
   * Enqueues a query, whose result goes to `onComplete`. Never retried.
   * @returns The id of the work item.
   */
  async enqueueQuery<Args extends DefaultFunctionArgs, Context, ReturnType>(
    ctx: MutationCtx | ActionCtx,
    fn: FunctionReference<"query", FunctionVisibility, Args, NoInfer<ReturnType>>,
    fnArgs: Args,
    options?: EnqueueOptions<Context, ReturnType>,
  ): Promise<WorkId> {
    return enqueue(this.component, ctx, "query", fn, fnArgs, {
      ...this.options,
      ...options,
    });
  }

  /**
   * Enqueues one query per element of `argsArray`.
   * @returns The ids of the work items, in input order.
   */
  async enqueueQueryBatch<Args extends DefaultFunctionArgs, Context, ReturnType>(
    ctx: MutationCtx | ActionCtx,
    fn: FunctionReference<"query", FunctionVisibility, Args, NoInfer<ReturnType>>,
    argsArray: Array<Args>,
    options?: EnqueueOptions<Context, ReturnType>,
  ): Promise<WorkId[]> {
    return enqueueBatch(this.component, ctx, "query", fn, argsArray, {
      ...this.options,
      ...options,
    });
  }

  /**
   * Asks the pool to cancel a work item. Pending work ends `canceled`;
   * running work finishes but is not retried.
   */
  async cancel(ctx: MutationCtx | ActionCtx, id: WorkId): Promise<void> {
    const args: { id: WorkId; logLevel?: WorkpoolOptions["logLevel"] } = { id };
    if (this.options.logLevel !== undefined) {
      args.logLevel = this.options.logLevel;
    }
    await ctx.runMutation(this.component.lib.cancel, args);
  }

  /**
   * Asks the pool to cancel all its pending work. `limit` is the page size
   * the pool cancels per step (default 64), not a total.
   */
  async cancelAll(
    ctx: MutationCtx | ActionCtx,
    options?: { limit?: number },
  ): Promise<void> {
    const args: Record<string, unknown> = {};
    if (this.options.logLevel !== undefined) {
      args.logLevel = this.options.logLevel;
    }
    for (const [key, value] of Object.entries(options ?? {})) {
      if (value !== undefined) {
        args[key] = value;
      } else {
        delete args[key];
      }
    }
    await ctx.runMutation(this.component.lib.cancelAll, args);
  }

  /**
   * The state of a work item: `{ state: "pending" | "running",
   * previousAttempts }` or `{ state: "finished" }` (also for unknown ids).
   */
  async status(ctx: QueryCtx | MutationCtx | ActionCtx, id: WorkId): Promise<Status> {
    return ctx.runQuery(this.component.lib.status, { id });
  }

  /** The states of several work items, in input order. */
  async statusBatch(
    ctx: QueryCtx | MutationCtx | ActionCtx,
    ids: WorkId[],
  ): Promise<Status[]> {
    return ctx.runQuery(this.component.lib.statusBatch, { ids });
  }

  /**
   * Defines an internal mutation to use as `onComplete`, with args
   * `vOnCompleteArgs(context, returnValue)`:
   *
   * ```ts
   * export const done = pool.defineOnComplete({
   *   context: v.string(),
   *   handler: async (ctx, { workId, context, result }) => { ... },
   * });
   * ```
   */
  defineOnComplete<
    DataModel extends GenericDataModel,
    VContext extends Validator<any, any, any> = VAny<any, "optional">,
    VReturnValue extends Validator<any, any, any> = VAny<any, "optional">,
  >(definition: {
    context?: VContext;
    handler: (
      ctx: GenericMutationCtx<DataModel>,
      args: {
        workId: WorkId;
        context: Infer<VContext>;
        result: RunResult<Infer<VReturnValue>>;
      },
    ) => Promise<void>;
    returnValue?: VReturnValue;
  }): RegisteredMutation<
    "internal",
    OnCompleteArgs<Infer<VContext>, Infer<VReturnValue>>,
    null
  > {
    const args = vOnCompleteArgs(definition.context, definition.returnValue);
    return internalMutationGeneric({ args, handler: definition.handler } as any);
  }
}

function retryBehaviorFor(pool: WorkpoolOptions, options: RetryOption | undefined) {
  return resolveRetryBehavior(
    pool.defaultRetryBehavior,
    pool.retryActionsByDefault,
    options?.retry,
  );
}
