import { ConvexError } from "convex/values";

/** Property that marks a value as a non-retryable workpool failure. */
const MARKER = "__convexWorkpoolNonRetryable";

type NonRetryableData = { readonly __convexWorkpoolNonRetryable: true } & {
  message: string;
};

function hasMarker(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[MARKER] === true
  );
}

/**
 * Throw this from workpool jobs when the failure should finish immediately
 * instead of using the configured retry behavior.
 *
 * Its `data` is `{ __convexWorkpoolNonRetryable: true, message }`, which
 * survives function boundaries like any `ConvexError` data.
 */
export class NonRetryableError extends ConvexError<NonRetryableData> {
  constructor(message: string, options?: ErrorOptions) {
    super({ [MARKER]: true, message } as NonRetryableData);
    this.name = new.target.name;
    if (options?.cause !== undefined) {
      this.cause = options.cause;
    }
  }
}

/**
 * Whether `error` marks a failure that must not be retried: a
 * {@link NonRetryableError}, a `ConvexError` whose data carries the marker and
 * a string `message`, or any object carrying the marker (which also works
 * across duplicate copies of the package).
 */
export function isNonRetryableError(error: unknown): boolean {
  if (error instanceof NonRetryableError) {
    return true;
  }
  if (error instanceof ConvexError) {
    const data: unknown = error.data;
    return hasMarker(data) && typeof data.message === "string";
  }
  return hasMarker(error);
}
