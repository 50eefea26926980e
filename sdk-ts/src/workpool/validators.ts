import { v, type Validator, type VAny, type VString } from "convex/values";
import type { LogLevel, RetryBehavior, WorkId } from "./types.js";

/** Validator for a {@link WorkId}. */
export const vWorkId = v.string() as VString<WorkId>;

/** Validator for a {@link LogLevel}. */
export const vLogLevel = v.union(
  v.literal("DEBUG"),
  v.literal("TRACE"),
  v.literal("INFO"),
  v.literal("REPORT"),
  v.literal("WARN"),
  v.literal("ERROR"),
);
void ({} as LogLevel satisfies (typeof vLogLevel)["type"]);

/** Validator for a {@link RetryBehavior}. */
export const vRetryBehavior = v.object({
  maxAttempts: v.number(),
  initialBackoffMs: v.number(),
  base: v.number(),
});
void ({} as RetryBehavior satisfies (typeof vRetryBehavior)["type"]);

/** Five attempts, retried after about 250, 500, 1000 and 2000 ms. */
export const DEFAULT_RETRY_BEHAVIOR: RetryBehavior = {
  maxAttempts: 5,
  initialBackoffMs: 250,
  base: 2,
};

/**
 * Validator for a {@link RunResult} whose success `returnValue` is checked by
 * `returnValue`.
 */
export function vRunResult<RV extends Validator<any, any, any> = VAny>(
  returnValue: RV,
) {
  const success = v.object({ kind: v.literal("success"), returnValue });
  const failed = v.object({
    kind: v.literal("failed"),
    error: v.string(),
    errorData: v.optional(v.any()),
  });
  const canceled = v.object({ kind: v.literal("canceled") });
  return v.union(success, failed, canceled);
}

/** Validator for a {@link RunResult} with any return value. */
export const vResult = vRunResult(v.any());

/**
 * The `args` validator of an `onComplete` mutation:
 * `{ workId, context, result }`, with `context` checked by `context` (default:
 * optional any) and `result.returnValue` by `returnValue` (default: optional
 * any).
 *
 * ```ts
 * export const done = internalMutation({
 *   args: vOnCompleteArgs(v.string()),
 *   handler: async (ctx, { workId, context, result }) => { ... },
 * });
 * ```
 */
export function vOnCompleteArgs<
  VContext extends Validator<any, "required", any> = VAny,
  VReturn extends Validator<any, "required", any> = VAny,
>(context?: VContext, returnValue?: VReturn) {
  const anyOptional = v.optional(v.any());
  return v.object({
    workId: vWorkId,
    context: (context ?? anyOptional) as VContext,
    result: vRunResult((returnValue ?? anyOptional) as unknown as VReturn),
  });
}

/** `vOnCompleteArgs(v.any())`: note `context` is then required. */
export const vOnComplete = vOnCompleteArgs(v.any());
