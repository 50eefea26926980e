import { describe, expect, test } from "vitest";
import { ConvexError } from "convex/values";
import { implementations } from "./helpers.js";
import * as ours from "../src/workpool/index.js";
import * as upstream from "@convex-dev/workpool";

describe.each(implementations)("%s", (_name, impl) => {
  const { NonRetryableError, isNonRetryableError } = impl;

  test("NonRetryableError is a ConvexError with the marker data", () => {
    const e = new NonRetryableError("card declined");
    expect(e).toBeInstanceOf(ConvexError);
    expect(e).toBeInstanceOf(Error);
    expect(e.data).toEqual({ __convexWorkpoolNonRetryable: true, message: "card declined" });
    expect(Object.keys(e.data)).toEqual(["__convexWorkpoolNonRetryable", "message"]);
    expect(e.name).toBe("NonRetryableError");
    expect(e.cause).toBeUndefined();
    expect("cause" in e).toBe(false);
  });
  test("name is that of a subclass; cause is copied", () => {
    class PaymentError extends (NonRetryableError as typeof ours.NonRetryableError) {}
    const cause = new Error("root");
    const e = new PaymentError("no", { cause });
    expect(e.name).toBe("PaymentError");
    expect(e.cause).toBe(cause);
    expect(isNonRetryableError(e)).toBe(true);
  });
  test("isNonRetryableError", () => {
    expect(isNonRetryableError(new NonRetryableError("x"))).toBe(true);
    expect(isNonRetryableError(new ConvexError({ __convexWorkpoolNonRetryable: true, message: "m" }))).toBe(true);
    // A ConvexError needs a string message in its data.
    expect(isNonRetryableError(new ConvexError({ __convexWorkpoolNonRetryable: true }))).toBe(false);
    expect(isNonRetryableError(new ConvexError({ __convexWorkpoolNonRetryable: "true", message: "m" }))).toBe(false);
    expect(isNonRetryableError(new ConvexError("plain"))).toBe(false);
    expect(isNonRetryableError(new ConvexError(null as any))).toBe(false);
    // A plain object (e.g. data from another copy of the package) needs only the marker.
    expect(isNonRetryableError({ __convexWorkpoolNonRetryable: true, message: "m" })).toBe(true);
    expect(isNonRetryableError({ __convexWorkpoolNonRetryable: true })).toBe(true);
    expect(isNonRetryableError({ __convexWorkpoolNonRetryable: 1 })).toBe(false);
    expect(isNonRetryableError(new Error("ordinary"))).toBe(false);
    const withData = Object.assign(new Error("e"), { data: { __convexWorkpoolNonRetryable: true, message: "m" } });
    expect(isNonRetryableError(withData)).toBe(false);
    expect(isNonRetryableError(null)).toBe(false);
    expect(isNonRetryableError(undefined)).toBe(false);
    expect(isNonRetryableError("__convexWorkpoolNonRetryable")).toBe(false);
  });
});

test("each package recognises the other's NonRetryableError", () => {
  expect(ours.isNonRetryableError(new upstream.NonRetryableError("a"))).toBe(true);
  expect(upstream.isNonRetryableError(new ours.NonRetryableError("b"))).toBe(true);
});
