import {
  createFunctionHandle,
  getFunctionAddress,
  getFunctionName,
  type DefaultFunctionArgs,
  type FunctionReference,
  type FunctionType,
  type FunctionVisibility,
} from "convex/server";
import { getConvexSize, type Value } from "convex/values";
import type {
  ActionCtx,
  LowLevelEnqueueOptions,
  MutationCtx,
  RetryBehavior,
  WorkId,
  WorkpoolComponent,
} from "./types.js";
import { DEFAULT_RETRY_BEHAVIOR } from "./validators.js";

/** A `lib.enqueueBatch` call carries at most this many bytes of items. */
export const BATCH_CHUNK_BYTES = 8_000_000;

type AnyReference = FunctionReference<FunctionType, FunctionVisibility>;

/** The fields of one work item that do not depend on its arguments. */
type ItemTemplate = {
  fnHandle: string;
  fnName: string;
  runAt: number;
  onComplete?: {
    fnHandle: string;
    context?: any;
    excludeKinds?: Array<"success" | "failed" | "canceled">;
  };
  retryBehavior?: RetryBehavior;
};

type PoolConfig = {
  logLevel?: LowLevelEnqueueOptions<unknown, unknown>["logLevel"];
  maxParallelism?: number;
};

/**
 * Which retry behavior an action gets: an explicit `retry` wins (`true` = the
 * pool default, `false` = none, an object = itself); without one, the pool
 * default if `retryActionsByDefault`, else none.
 */
export function resolveRetryBehavior(
  defaultRetryBehavior: RetryBehavior | undefined,
  retryActionsByDefault: boolean | undefined,
  retry: boolean | RetryBehavior | undefined,
): RetryBehavior | undefined {
  const poolDefault = defaultRetryBehavior ?? DEFAULT_RETRY_BEHAVIOR;
  switch (retry) {
    case true:
      return poolDefault;
    case false:
      return undefined;
    case undefined:
      return retryActionsByDefault ? poolDefault : undefined;
    default:
      return retry;
  }
}

/** The name logs use for a function reference, like `"dir/file:export"`. */
function displayName(fn: AnyReference): string {
  const address = getFunctionAddress(fn) as {
    name?: string;
    reference?: string;
    functionHandle?: string;
  };
  return (
    address.name ||
    address.reference ||
    address.functionHandle ||
    getFunctionName(fn)
  );
}

function isHandleString(fn: unknown): fn is string {
  return typeof fn === "string" && fn.startsWith("function://");
}

/** When the work should start, in ms since the epoch, on the caller's clock. */
function startTime(options: { runAt?: number; runAfter?: number } | undefined) {
  if (options?.runAt !== undefined) {
    return options.runAt;
  }
  if (options?.runAfter !== undefined) {
    return Date.now() + options.runAfter;
  }
  return Date.now();
}

/** Copies `value` without its `undefined` fields. */
function defined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field !== undefined) {
      out[key] = field;
    }
  }
  return out as T;
}

async function buildTemplate(
  fn: AnyReference,
  options: LowLevelEnqueueOptions<unknown, unknown> | undefined,
): Promise<{ template: ItemTemplate; config: PoolConfig }> {
  let fnHandle: string;
  let fnName: string;
  if (isHandleString(fn)) {
    fnHandle = fn;
    fnName = options?.name ?? fn;
  } else {
    fnHandle = await createFunctionHandle(fn);
    fnName = options?.name ?? displayName(fn);
  }
  let onComplete: ItemTemplate["onComplete"];
  if (options?.onComplete) {
    onComplete = defined({
      fnHandle: await createFunctionHandle(options.onComplete),
      context: options.context,
      excludeKinds: options.onCompleteExcludeKinds
        ? Array.from(options.onCompleteExcludeKinds)
        : undefined,
    });
  }
  const template = defined<ItemTemplate>({
    fnHandle,
    fnName,
    onComplete,
    runAt: startTime(options),
    retryBehavior: options?.retryBehavior,
  });
  const config = defined<PoolConfig>({
    logLevel: options?.logLevel,
    maxParallelism: options?.maxParallelism,
  });
  return { template, config };
}

/**
 * Enqueues one work item of type `fnType` in the pool `component`: the
 * low-level call behind the `Workpool` methods. Options are passed as is
 * (`retryBehavior` already resolved; `maxParallelism`/`logLevel` update the
 * pool's configuration).
 */
export async function enqueue<
  FnType extends FunctionType,
  Args extends DefaultFunctionArgs,
  ReturnType,
  Context,
>(
  component: WorkpoolComponent,
  ctx: MutationCtx | ActionCtx,
  fnType: FnType,
  fn: FunctionReference<FnType, FunctionVisibility, Args, NoInfer<ReturnType>>,
  fnArgs: Args,
  options: LowLevelEnqueueOptions<Context, ReturnType>,
): Promise<WorkId> {
  const { template, config } = await buildTemplate(
    fn,
    options as LowLevelEnqueueOptions<unknown, unknown>,
  );
  const id = await ctx.runMutation(component.lib.enqueue, {
    ...template,
    fnArgs,
    fnType,
    config,
  });
  return id as WorkId;
}

/**
 * Enqueues one work item per element of `fnArgsArray`, all with the same
 * options, and returns their ids in input order. The items are sent in as
 * few `lib.enqueueBatch` calls as keep each under 8,000,000 bytes (from an
 * action, each call is its own transaction). An empty array sends nothing.
 */
export async function enqueueBatch<
  FnType extends FunctionType,
  Args extends DefaultFunctionArgs,
  ReturnType,
  Context,
>(
  component: WorkpoolComponent,
  ctx: MutationCtx | ActionCtx,
  fnType: FnType,
  fn: FunctionReference<FnType, FunctionVisibility, Args, NoInfer<ReturnType>>,
  fnArgsArray: Array<Args>,
  options: LowLevelEnqueueOptions<Context, ReturnType>,
): Promise<WorkId[]> {
  const { template, config } = await buildTemplate(
    fn,
    options as LowLevelEnqueueOptions<unknown, unknown>,
  );
  type Item = ItemTemplate & { fnArgs: Args; fnType: FnType };
  const chunks: Item[][] = [];
  let chunk: Item[] = [];
  let chunkBytes = 0;
  for (const fnArgs of fnArgsArray) {
    const item: Item = { ...template, fnArgs, fnType };
    const bytes = getConvexSize(item as unknown as Value);
    if (chunk.length > 0 && chunkBytes + bytes > BATCH_CHUNK_BYTES) {
      chunks.push(chunk);
      chunk = [];
      chunkBytes = 0;
    }
    chunk.push(item);
    chunkBytes += bytes;
  }
  if (chunk.length > 0) {
    chunks.push(chunk);
  }
  const ids: WorkId[] = [];
  for (const items of chunks) {
    const chunkIds = await ctx.runMutation(component.lib.enqueueBatch, {
      items,
      config,
    });
    for (const id of chunkIds) {
      ids.push(id as WorkId);
    }
  }
  return ids;
}
