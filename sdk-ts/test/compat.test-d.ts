// Type tests, checked by `tsc --noEmit` (npm test): every exported type of
// emvex/workpool is the same as upstream's, and values typed by one package
// are accepted where the other's are expected.
import * as O from "emvex/workpool";
import type { ComponentApi as OursComponentApi } from "../src/workpool/componentApi.js";
import * as U from "@convex-dev/workpool";
import type { ComponentApi as UpstreamComponentApi } from "@convex-dev/workpool/_generated/component.js";

type Equals<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
function assertType<T extends true>(): T | void {}

// The exported types are identical.
assertType<Equals<O.WorkId, U.WorkId>>();
assertType<Equals<O.RetryBehavior, U.RetryBehavior>>();
assertType<Equals<O.RunResult, U.RunResult>>();
assertType<Equals<O.RunResult<{ a: 1 }>, U.RunResult<{ a: 1 }>>>();
assertType<Equals<O.LogLevel, U.LogLevel>>();
assertType<Equals<O.OnCompleteArgs, U.OnCompleteArgs>>();
assertType<Equals<O.OnCompleteArgs<string, number>, U.OnCompleteArgs<string, number>>>();
assertType<Equals<O.EnqueueOptions, U.EnqueueOptions>>();
assertType<Equals<O.EnqueueOptions<{ c: 1 }, string>, U.EnqueueOptions<{ c: 1 }, string>>>();
assertType<Equals<O.WorkpoolOptions, U.WorkpoolOptions>>();
assertType<Equals<O.WorkpoolRetryOptions, U.WorkpoolRetryOptions>>();
assertType<Equals<O.RetryOption, U.RetryOption>>();
assertType<Equals<O.WorkpoolComponent, U.WorkpoolComponent>>();
assertType<Equals<OursComponentApi<"emailPool">, UpstreamComponentApi<"emailPool">>>();
assertType<Equals<OursComponentApi, UpstreamComponentApi>>();

// `components.emailPool` as an app's generated api types it (upstream's
// ComponentApi<"emailPool">) is a WorkpoolComponent of both packages, and the
// other way round.
declare const generatedUpstream: UpstreamComponentApi<"emailPool">;
declare const generatedOurs: OursComponentApi<"emailPool">;
new O.Workpool(generatedUpstream, {});
new U.Workpool(generatedOurs, {});
const oursComponent: O.WorkpoolComponent = generatedUpstream;
const upstreamComponent: U.WorkpoolComponent = generatedOurs;
void oursComponent;
void upstreamComponent;

// Validators and constants have the same types.
assertType<Equals<typeof O.vWorkId, typeof U.vWorkId>>();
assertType<Equals<typeof O.vWorkIdValidator, typeof U.vWorkIdValidator>>();
assertType<Equals<typeof O.workIdValidator, typeof U.workIdValidator>>();
assertType<Equals<typeof O.vResult, typeof U.vResult>>();
assertType<Equals<typeof O.vResultValidator, typeof U.vResultValidator>>();
assertType<Equals<typeof O.resultValidator, typeof U.resultValidator>>();
assertType<Equals<typeof O.vRetryBehavior, typeof U.vRetryBehavior>>();
assertType<Equals<typeof O.vLogLevel, typeof U.vLogLevel>>();
assertType<Equals<typeof O.vOnComplete, typeof U.vOnComplete>>();
assertType<Equals<typeof O.DEFAULT_RETRY_BEHAVIOR, typeof U.DEFAULT_RETRY_BEHAVIOR>>();
assertType<Mutual<typeof O.vOnCompleteArgs, typeof U.vOnCompleteArgs>>();
assertType<Mutual<typeof O.vOnCompleteValidator, typeof U.vOnCompleteValidator>>();
assertType<Mutual<typeof O.vRunResult, typeof U.vRunResult>>();
assertType<Mutual<typeof O.isNonRetryableError, typeof U.isNonRetryableError>>();
assertType<Mutual<typeof O.enqueue, typeof U.enqueue>>();
assertType<Mutual<typeof O.enqueueBatch, typeof U.enqueueBatch>>();
assertType<Equals<ReturnType<typeof O.vOnCompleteArgs>, ReturnType<typeof U.vOnCompleteArgs>>>();

// Instances are interchangeable; so are the errors.
declare const ourPool: O.Workpool;
declare const upstreamPool: U.Workpool;
const asUpstream: U.Workpool = ourPool;
const asOurs: O.Workpool = upstreamPool;
void asUpstream;
void asOurs;
assertType<Mutual<InstanceType<typeof O.NonRetryableError>, InstanceType<typeof U.NonRetryableError>>>();
assertType<Equals<ConstructorParameters<typeof O.NonRetryableError>, ConstructorParameters<typeof U.NonRetryableError>>>();
assertType<Equals<ConstructorParameters<typeof O.Workpool>, ConstructorParameters<typeof U.Workpool>>>();
assertType<Equals<Parameters<O.Workpool["enqueueAction"]>, Parameters<U.Workpool["enqueueAction"]>>>();
assertType<Equals<Parameters<O.Workpool["cancelAll"]>, Parameters<U.Workpool["cancelAll"]>>>();
assertType<Equals<ReturnType<O.Workpool["status"]>, ReturnType<U.Workpool["status"]>>>();
assertType<Equals<ReturnType<O.Workpool["statusBatch"]>, ReturnType<U.Workpool["statusBatch"]>>>();
