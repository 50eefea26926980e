/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type * as actions from "../actions.js";
import type * as crons from "../crons.js";
import type * as determinism from "../determinism.js";
import type * as errors from "../errors.js";
import type * as http from "../http.js";
import type * as identity from "../identity.js";
import type * as imports from "../imports.js";
import type * as lib_format from "../lib/format.js";
import type * as limits from "../limits.js";
import type * as messages from "../messages.js";
import type * as nested from "../nested.js";
import type * as nested_deep from "../nested/deep.js";
import type * as nodeAction from "../nodeAction.js";

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";

declare const fullApi: ApiFromModules<{
  actions: typeof actions;
  crons: typeof crons;
  determinism: typeof determinism;
  errors: typeof errors;
  http: typeof http;
  identity: typeof identity;
  imports: typeof imports;
  "lib/format": typeof lib_format;
  limits: typeof limits;
  messages: typeof messages;
  nested: typeof nested;
  "nested/deep": typeof nested_deep;
  nodeAction: typeof nodeAction;
}>;

/**
 * A utility for referencing Convex functions in your app's public API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;

/**
 * A utility for referencing Convex functions in your app's internal API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = internal.myModule.myFunction;
 * ```
 */
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;

export declare const components: {};
