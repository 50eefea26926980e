/**
 * `emvex/workpool`: the client of the workpool component, with exactly the
 * API of `@convex-dev/workpool@0.4.16`. emvex runs the component natively.
 * @module
 */
export { Workpool } from "./workpool.js";
export { enqueue, enqueueBatch } from "./enqueue.js";
export { NonRetryableError, isNonRetryableError } from "./errors.js";
export {
  DEFAULT_RETRY_BEHAVIOR,
  vLogLevel,
  vOnComplete,
  vOnCompleteArgs,
  /** @deprecated Use `vOnCompleteArgs()` instead. */
  vOnCompleteArgs as vOnCompleteValidator,
  vResult,
  /** @deprecated Use `vResult` instead. */
  vResult as resultValidator,
  vResult as vResultValidator,
  vRetryBehavior,
  vRunResult,
  vWorkId,
  /** @deprecated Use `vWorkId` instead. */
  vWorkId as workIdValidator,
  vWorkId as vWorkIdValidator,
} from "./validators.js";
export type {
  EnqueueOptions,
  LogLevel,
  OnCompleteArgs,
  RetryBehavior,
  RetryOption,
  RunResult,
  WorkId,
  WorkpoolComponent,
  WorkpoolOptions,
  WorkpoolRetryOptions,
} from "./types.js";
