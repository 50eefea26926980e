import { describe, expect, test } from "vitest";
import { v } from "convex/values";
import { implementations } from "./helpers.js";
import * as ours from "../src/workpool/index.js";
import * as upstream from "@convex-dev/workpool";

// `json` is marked internal in convex's declarations.
const json = (validator: unknown) => JSON.parse(JSON.stringify((validator as { json: unknown }).json));

const RUN_RESULT_ANY = {
  type: "union",
  value: [
    {
      type: "object",
      value: {
        kind: { fieldType: { type: "literal", value: "success" }, optional: false },
        returnValue: { fieldType: { type: "any" }, optional: false },
      },
    },
    {
      type: "object",
      value: {
        kind: { fieldType: { type: "literal", value: "failed" }, optional: false },
        error: { fieldType: { type: "string" }, optional: false },
        errorData: { fieldType: { type: "any" }, optional: true },
      },
    },
    {
      type: "object",
      value: { kind: { fieldType: { type: "literal", value: "canceled" }, optional: false } },
    },
  ],
};

describe.each(implementations)("%s", (_name, impl) => {
  test("the runtime export list", () => {
    expect(Object.keys(impl).sort()).toEqual(
      [
        "DEFAULT_RETRY_BEHAVIOR",
        "NonRetryableError",
        "Workpool",
        "enqueue",
        "enqueueBatch",
        "isNonRetryableError",
        "resultValidator",
        "vLogLevel",
        "vOnComplete",
        "vOnCompleteArgs",
        "vOnCompleteValidator",
        "vResult",
        "vResultValidator",
        "vRetryBehavior",
        "vRunResult",
        "vWorkId",
        "vWorkIdValidator",
        "workIdValidator",
      ].sort(),
    );
  });
  test("aliases are the same objects", () => {
    expect(impl.vWorkIdValidator).toBe(impl.vWorkId);
    expect(impl.workIdValidator).toBe(impl.vWorkId);
    expect(impl.vResultValidator).toBe(impl.vResult);
    expect(impl.resultValidator).toBe(impl.vResult);
    expect(impl.vOnCompleteValidator).toBe(impl.vOnCompleteArgs);
  });
  test("vWorkId is a string validator", () => {
    expect(json(impl.vWorkId)).toEqual({ type: "string" });
    expect(impl.vWorkId.isOptional).toBe("required");
  });
  test("DEFAULT_RETRY_BEHAVIOR", () => {
    expect(impl.DEFAULT_RETRY_BEHAVIOR).toEqual({ maxAttempts: 5, initialBackoffMs: 250, base: 2 });
  });
  test("vRetryBehavior", () => {
    expect(json(impl.vRetryBehavior)).toEqual({
      type: "object",
      value: {
        maxAttempts: { fieldType: { type: "number" }, optional: false },
        initialBackoffMs: { fieldType: { type: "number" }, optional: false },
        base: { fieldType: { type: "number" }, optional: false },
      },
    });
  });
  test("vLogLevel literals in severity order", () => {
    expect(json(impl.vLogLevel)).toEqual({
      type: "union",
      value: ["DEBUG", "TRACE", "INFO", "REPORT", "WARN", "ERROR"].map((value) => ({ type: "literal", value })),
    });
  });
  test("vResult and vRunResult", () => {
    expect(json(impl.vResult)).toEqual(RUN_RESULT_ANY);
    const typed = json(impl.vRunResult(v.number()));
    expect(typed.value[0].value.returnValue).toEqual({ fieldType: { type: "number" }, optional: false });
    expect(typed.value.slice(1)).toEqual(RUN_RESULT_ANY.value.slice(1));
  });
  test("vOnCompleteArgs() defaults", () => {
    const j = json(impl.vOnCompleteArgs());
    expect(Object.keys(j.value)).toEqual(["workId", "context", "result"]);
    expect(j.value.workId).toEqual({ fieldType: { type: "string" }, optional: false });
    expect(j.value.context).toEqual({ fieldType: { type: "any" }, optional: true });
    // The default return value validator is an optional any.
    expect(j.value.result.fieldType.value[0].value.returnValue).toEqual({ fieldType: { type: "any" }, optional: true });
    expect(j.value.result.fieldType.value.slice(1)).toEqual(RUN_RESULT_ANY.value.slice(1));
  });
  test("vOnCompleteArgs(context, returnValue)", () => {
    const j = json(impl.vOnCompleteArgs(v.object({ a: v.string() }), v.array(v.number())));
    expect(j.value.context).toEqual({
      fieldType: { type: "object", value: { a: { fieldType: { type: "string" }, optional: false } } },
      optional: false,
    });
    expect(j.value.result.fieldType.value[0].value.returnValue).toEqual({
      fieldType: { type: "array", value: { type: "number" } },
      optional: false,
    });
  });
  test("vOnComplete requires a context", () => {
    const j = json(impl.vOnComplete);
    expect(j.value.context).toEqual({ fieldType: { type: "any" }, optional: false });
    // The return value stays an optional any, as in vOnCompleteArgs().
    expect(j.value.result.fieldType.value[0].value.returnValue).toEqual({ fieldType: { type: "any" }, optional: true });
    expect(j.value.result.fieldType.value.slice(1)).toEqual(RUN_RESULT_ANY.value.slice(1));
  });
});

test("every validator is identical to upstream's", () => {
  for (const name of ["vWorkId", "vResult", "vRetryBehavior", "vLogLevel", "vOnComplete"] as const) {
    expect(json(ours[name]), name).toEqual(json(upstream[name]));
  }
  expect(json(ours.vOnCompleteArgs())).toEqual(json(upstream.vOnCompleteArgs()));
  expect(json(ours.vOnCompleteArgs(v.string(), v.null()))).toEqual(json(upstream.vOnCompleteArgs(v.string(), v.null())));
  expect(json(ours.vRunResult(v.optional(v.int64())))).toEqual(json(upstream.vRunResult(v.optional(v.int64()))));
});
