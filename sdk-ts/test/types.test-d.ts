// Type tests, checked by `tsc --noEmit` (npm test), never run. The module
// under test is "workpool-under-test": tsconfig.test.json maps it to our
// built `emvex/workpool` declarations, tsconfig.upstream.json to those of
// `@convex-dev/workpool@0.4.16`, so every assertion below — each accept and
// each `@ts-expect-error` reject — holds for both packages.
import type {
  FunctionReference,
  GenericActionCtx,
  GenericDataModel,
  GenericMutationCtx,
  GenericQueryCtx,
} from "convex/server";
import { v, type Infer } from "convex/values";
import {
  DEFAULT_RETRY_BEHAVIOR,
  NonRetryableError,
  Workpool,
  enqueue,
  enqueueBatch,
  isNonRetryableError,
  vOnComplete,
  vOnCompleteArgs,
  vResult,
  vRunResult,
  vWorkId,
  type EnqueueOptions,
  type LogLevel,
  type OnCompleteArgs,
  type RetryBehavior,
  type RetryOption,
  type RunResult,
  type WorkId,
  type WorkpoolComponent,
  type WorkpoolOptions,
  type WorkpoolRetryOptions,
} from "workpool-under-test";

type Equals<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Each assignable to the other (looser than Equals, for validator-inferred types). */
type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
function assertType<T extends true>(): T | void {}

declare const component: WorkpoolComponent;
declare const mutationCtx: GenericMutationCtx<GenericDataModel>;
declare const actionCtx: GenericActionCtx<GenericDataModel>;
declare const queryCtx: GenericQueryCtx<GenericDataModel>;

declare const sendEmail: FunctionReference<"action", "internal", { to: string }, string>;
declare const publicAction: FunctionReference<"action", "public", { to: string }, string>;
declare const bump: FunctionReference<"mutation", "internal", { by: number }, null>;
declare const total: FunctionReference<"query", "internal", { orderId: string }, number>;
declare const done: FunctionReference<"mutation", "internal", OnCompleteArgs<{ user: string }, string>, null>;
declare const doneAny: FunctionReference<"mutation", "internal", OnCompleteArgs, null>;
declare const doneNumber: FunctionReference<"mutation", "internal", OnCompleteArgs<unknown, number>, null>;
declare const notOnComplete: FunctionReference<"mutation", "internal", { foo: string }, null>;
declare const queryOnComplete: FunctionReference<"query", "internal", OnCompleteArgs, null>;

export async function typeCases() {
  // --- Constructor and options ---------------------------------------------
  const pool = new Workpool(component, { maxParallelism: 10 });
  new Workpool(component, {});
  new Workpool(component, {
    maxParallelism: 5,
    logLevel: "INFO",
    retryActionsByDefault: true,
    defaultRetryBehavior: { maxAttempts: 3, initialBackoffMs: 10, base: 2 },
  });
  // @ts-expect-error the options argument is required
  new Workpool(component);
  // @ts-expect-error not a log level
  new Workpool(component, { logLevel: "VERBOSE" });
  // @ts-expect-error a retry behavior needs all three fields
  new Workpool(component, { defaultRetryBehavior: { maxAttempts: 3 } });
  // @ts-expect-error statusTtl does not exist
  new Workpool(component, { statusTtl: 1000 });
  assertType<Equals<typeof pool.component, WorkpoolComponent>>();
  assertType<Equals<typeof pool.options, WorkpoolOptions>>();

  // --- enqueueAction --------------------------------------------------------
  const id = await pool.enqueueAction(mutationCtx, sendEmail, { to: "a" });
  assertType<Equals<typeof id, WorkId>>();
  await pool.enqueueAction(actionCtx, publicAction, { to: "a" }, { retry: true });
  await pool.enqueueAction(actionCtx, sendEmail, { to: "a" }, { retry: false, runAt: Date.now() });
  await pool.enqueueAction(actionCtx, sendEmail, { to: "a" }, {
    retry: { maxAttempts: 2, initialBackoffMs: 100, base: 2 },
    runAfter: 1000,
    name: "email",
  });
  // @ts-expect-error enqueueAction requires an action reference
  await pool.enqueueAction(actionCtx, bump, { by: 1 });
  // @ts-expect-error the arguments must match the action's
  await pool.enqueueAction(actionCtx, sendEmail, { to: 1 });
  // @ts-expect-error a query ctx cannot enqueue
  await pool.enqueueAction(queryCtx, sendEmail, { to: "a" });
  // @ts-expect-error runAt and runAfter together are rejected
  await pool.enqueueAction(actionCtx, sendEmail, { to: "a" }, { runAt: 1, runAfter: 1 });
  // @ts-expect-error retry must be a boolean or a full RetryBehavior
  await pool.enqueueAction(actionCtx, sendEmail, { to: "a" }, { retry: { maxAttempts: 2 } });
  const ids = await pool.enqueueActionBatch(actionCtx, sendEmail, [{ to: "a" }, { to: "b" }], { retry: true });
  assertType<Equals<typeof ids, WorkId[]>>();
  // @ts-expect-error the elements must match the action's arguments
  await pool.enqueueActionBatch(actionCtx, sendEmail, [{ to: 2 }]);

  // --- onComplete and context -------------------------------------------------
  await pool.enqueueAction(mutationCtx, sendEmail, { to: "a" }, {
    onComplete: done,
    context: { user: "u" },
    onCompleteExcludeKinds: ["canceled"],
  });
  await pool.enqueueAction(mutationCtx, sendEmail, { to: "a" }, { onComplete: doneAny, context: 42 });
  await pool.enqueueAction(mutationCtx, sendEmail, { to: "a" }, { onComplete: null });
  // @ts-expect-error the context must be what onComplete expects
  await pool.enqueueAction(mutationCtx, sendEmail, { to: "a" }, { onComplete: done, context: { user: 1 } });
  // @ts-expect-error onComplete must take OnCompleteArgs
  await pool.enqueueAction(mutationCtx, sendEmail, { to: "a" }, { onComplete: notOnComplete });
  // @ts-expect-error onComplete must be a mutation
  await pool.enqueueAction(mutationCtx, sendEmail, { to: "a" }, { onComplete: queryOnComplete });
  // @ts-expect-error onComplete's return value type must match the action's
  await pool.enqueueAction(mutationCtx, sendEmail, { to: "a" }, { onComplete: doneNumber });
  // @ts-expect-error not a result kind
  await pool.enqueueAction(mutationCtx, sendEmail, { to: "a" }, { onComplete: doneAny, onCompleteExcludeKinds: ["error"] });

  // --- enqueueMutation / enqueueQuery -----------------------------------------
  const mid = await pool.enqueueMutation(mutationCtx, bump, { by: 1 }, { runAfter: 10, onComplete: doneAny });
  assertType<Equals<typeof mid, WorkId>>();
  // @ts-expect-error enqueueMutation has no retry option
  await pool.enqueueMutation(mutationCtx, bump, { by: 1 }, { retry: true });
  // @ts-expect-error enqueueMutation requires a mutation reference
  await pool.enqueueMutation(mutationCtx, sendEmail, { to: "a" });
  await pool.enqueueMutationBatch(actionCtx, bump, [{ by: 1 }]);
  const qid = await pool.enqueueQuery(actionCtx, total, { orderId: "o" }, { onComplete: doneNumber, context: "x" });
  assertType<Equals<typeof qid, WorkId>>();
  // @ts-expect-error enqueueQuery has no retry option
  await pool.enqueueQuery(actionCtx, total, { orderId: "o" }, { retry: false });
  // @ts-expect-error enqueueQuery requires a query reference
  await pool.enqueueQueryBatch(actionCtx, bump, [{ by: 1 }]);

  // --- cancel, cancelAll, status --------------------------------------------
  await pool.cancel(mutationCtx, id);
  // @ts-expect-error a plain string is not a WorkId
  await pool.cancel(mutationCtx, "abc");
  // @ts-expect-error a query ctx cannot cancel
  await pool.cancel(queryCtx, id);
  await pool.cancelAll(actionCtx);
  await pool.cancelAll(actionCtx, { limit: 10 });
  // @ts-expect-error cancelAll only takes a limit
  await pool.cancelAll(actionCtx, { before: 10 });
  const status = await pool.status(queryCtx, id);
  if (status.state === "pending" || status.state === "running") {
    assertType<Equals<typeof status.previousAttempts, number>>();
  } else {
    assertType<Equals<typeof status, { state: "finished" }>>();
  }
  // @ts-expect-error previousAttempts exists only for pending and running
  status.previousAttempts;
  // @ts-expect-error the discriminant is `state`, not `kind`
  status.kind;
  const statuses = await pool.statusBatch(mutationCtx, [id, mid]);
  assertType<Equals<(typeof statuses)[number], typeof status>>();
  // @ts-expect-error status takes WorkIds
  await pool.statusBatch(queryCtx, ["a"]);

  // --- WorkId ------------------------------------------------------------------
  const s: string = id;
  // @ts-expect-error WorkId is branded
  const w: WorkId = "abc";
  assertType<Equals<Infer<typeof vWorkId>, WorkId>>();
  void s;
  void w;

  // --- defineOnComplete --------------------------------------------------------
  const onDone = pool.defineOnComplete({
    context: v.object({ user: v.string() }),
    returnValue: v.string(),
    handler: async (ctx, { workId, context, result }) => {
      assertType<Equals<typeof ctx, GenericMutationCtx<GenericDataModel>>>();
      assertType<Equals<typeof workId, WorkId>>();
      assertType<Equals<typeof context, { user: string }>>();
      assertType<Equals<typeof result, RunResult<string>>>();
      if (result.kind === "success") {
        assertType<Equals<typeof result.returnValue, string>>();
      } else if (result.kind === "failed") {
        assertType<Equals<typeof result.error, string>>();
      }
    },
  });
  await pool.enqueueAction(mutationCtx, sendEmail, { to: "a" }, { onComplete: onDone as any });
  pool.defineOnComplete({
    handler: async (_ctx, { context, result }) => {
      assertType<Equals<typeof context, any>>();
      assertType<Equals<typeof result, RunResult<any>>>();
    },
  });
  pool.defineOnComplete({
    context: v.string(),
    // @ts-expect-error the handler's context type follows the validator
    handler: async (_ctx, { context }: { context: number }) => {
      void context;
    },
  });
  // @ts-expect-error a handler is required
  pool.defineOnComplete({ context: v.string() });

  // --- Validators and types -------------------------------------------------------
  const args = vOnCompleteArgs(v.string(), v.number());
  assertType<Equals<Infer<typeof args>["context"], string>>();
  assertType<Equals<Infer<typeof args>["workId"], WorkId>>();
  assertType<Mutual<Infer<typeof args>["result"], RunResult<number>>>();
  assertType<Mutual<Infer<typeof vResult>, RunResult<any>>>();
  assertType<Mutual<Infer<ReturnType<typeof vRunResult<typeof args>>>, RunResult<Infer<typeof args>>>>();
  const anyContext: Infer<typeof vOnComplete> = { workId: "w" as WorkId, context: 1, result: { kind: "canceled" } };
  // @ts-expect-error vOnComplete's context is required
  const noContext: Infer<typeof vOnComplete> = { workId: "w" as WorkId, result: { kind: "canceled" } };
  void anyContext;
  void noContext;
  // @ts-expect-error vOnCompleteArgs takes required validators
  vOnCompleteArgs(v.optional(v.string()));
  const rb: RetryBehavior = DEFAULT_RETRY_BEHAVIOR;
  void rb;
  assertType<Equals<LogLevel, "DEBUG" | "TRACE" | "INFO" | "REPORT" | "WARN" | "ERROR">>();
  assertType<Equals<RetryOption, { retry?: boolean | RetryBehavior }>>();
  assertType<Equals<WorkpoolRetryOptions, { defaultRetryBehavior?: RetryBehavior; retryActionsByDefault?: boolean }>>();
  assertType<Equals<OnCompleteArgs<1, 2>, { workId: string; context: 1; result: RunResult<2> }>>();
  const eo: EnqueueOptions = { runAfter: 5, context: 1, name: "n" };
  void eo;
  // @ts-expect-error runAt and runAfter together
  const both: EnqueueOptions = { runAt: 5, runAfter: 5 };
  void both;
  const e = new NonRetryableError("m", { cause: 1 });
  assertType<Equals<typeof e.data, { readonly __convexWorkpoolNonRetryable: true } & { message: string }>>()
    ?? assertType<Equals<typeof e.data.message, string>>();
  const b: boolean = isNonRetryableError(e);
  void b;

  // --- Standalone enqueue --------------------------------------------------------
  const sid = await enqueue(component, actionCtx, "action", sendEmail, { to: "a" }, {
    retryBehavior: DEFAULT_RETRY_BEHAVIOR,
    maxParallelism: 1,
    logLevel: "WARN",
  });
  assertType<Equals<typeof sid, WorkId>>();
  const sids = await enqueueBatch(component, mutationCtx, "mutation", bump, [{ by: 1 }], {});
  assertType<Equals<typeof sids, WorkId[]>>();
  // @ts-expect-error fnType is not a function type
  await enqueue(component, actionCtx, "job", sendEmail, { to: "a" }, {});

  // --- Component API shape -------------------------------------------------------
  await mutationCtx.runMutation(component.config.update, { maxParallelism: 20, logLevel: "DEBUG" });
  // @ts-expect-error not a config field
  await mutationCtx.runMutation(component.config.update, { parallelism: 20 });
  const r = await queryCtx.runQuery(component.lib.status, { id: "x" });
  assertType<Equals<typeof r, typeof status>>();
}
