//! `fixtures/workpool` end to end: the black-box cases of the workpool spec (§6.1, §6.14 and
//! the BB-c rows of §6.6) driven through the app's public functions. Every case runs four
//! times — emvex's native component and the npm package's TypeScript one
//! (`--workpool-impl ts`), each through the real `@convex-dev/workpool` client class and
//! through `emvex/workpool`'s — except the `emvexPool` cases (a mount of
//! `emvex/workpool/convex.config`, which is always native). Outcomes are waited for with
//! `poll`; the only fixed waits check that nothing happens while a pool is paused.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// Long enough for the TypeScript implementation, which polls.
const WAIT: Duration = Duration::from_secs(30);

/// A server running `fixtures/workpool` and the client class the app should use.
struct T {
    s: Server,
    client: &'static str,
}

fn start(implementation: &str, client: &'static str) -> T {
    T { s: Server::start_app("fixtures/workpool", &["--in-memory", "--workpool-impl", implementation]), client }
}

/// Generates each case for {native, ts} × {upstream, emvex client}.
macro_rules! matrix {
    ($($case:ident),* $(,)?) => {
        mod native_upstream { $(#[test] fn $case() { super::$case(super::start("native", "upstream")) })* }
        mod native_emvex { $(#[test] fn $case() { super::$case(super::start("native", "emvex")) })* }
        mod ts_upstream { $(#[test] fn $case() { super::$case(super::start("ts", "upstream")) })* }
        mod ts_emvex { $(#[test] fn $case() { super::$case(super::start("ts", "emvex")) })* }
    };
}

/// Cases on `emvexPool`, whose mount is native under either `--workpool-impl`.
macro_rules! native_only {
    ($($case:ident),* $(,)?) => {
        mod emvex_pool_upstream { $(#[test] fn $case() { super::$case(super::start("native", "upstream")) })* }
        mod emvex_pool_emvex { $(#[test] fn $case() { super::$case(super::start("native", "emvex")) })* }
    };
}

matrix!(
    exclude_filters_dispatch_each_kind_at_most_once,
    failure_filter_calls_back_only_for_failed_action_mutation_and_query,
    failure_filter_runs_once_after_retry_exhaustion,
    retry_that_succeeds_after_two_failures_skips_the_failure_callback,
    non_retryable_error_stops_retries_and_carries_error_data,
    cancel_before_start_calls_back_canceled_with_context,
    cancel_during_retry_backoff_calls_back_canceled_once,
    canceling_running_work_dispatches_by_its_final_result,
    cancel_all_cancels_a_pending_batch_of_each_kind,
    large_context_comes_back_intact,
    omitted_context_stays_omitted,
    batches_call_back_only_for_failed_items,
    invalid_exclude_kinds_are_rejected_and_nothing_runs,
    work_without_on_complete_runs_without_callback,
    on_complete_that_throws_is_rolled_back_and_the_work_stays_finished,
    enqueue_query_feeds_the_order_total_to_on_complete,
    successful_results_reach_on_complete,
    failure_handler_chains_a_fallback_action,
    serialized_pool_runs_mutations_in_enqueue_order_without_lost_updates,
    max_parallelism_is_reached_and_never_exceeded,
    env_pool_uses_its_default_parallelism,
    pause_with_zero_then_resume,
    max_parallelism_out_of_range_is_rejected_and_nothing_is_written,
    status_and_status_batch_report_each_state,
    pause_parks_retries_but_still_calls_back_terminal_results,
    cancel_all_lets_running_work_finish,
    enqueue_commits_with_the_caller_mutation_or_from_an_action,
);

native_only!(
    emvex_pool_runs_work_with_its_own_parallelism,
    fractional_max_parallelism_is_rejected,
    cancel_all_covers_work_enqueued_just_before,
);

// ---- helpers ----

impl T {
    /// `args` with `client` (and `pool`, unless given) filled in.
    fn args(&self, pool: &str, mut args: Value) -> Value {
        args["client"] = json!(self.client);
        if args.get("pool").is_none() {
            args["pool"] = json!(pool);
        }
        args
    }

    fn mutation(&self, path: &str, pool: &str, args: Value) -> Value {
        self.s.mutation_ok(&format!("example:{path}"), self.args(pool, args))
    }

    /// Enqueues `work:task` through `pool` with `behavior`, plus `extra` options.
    fn action(&self, pool: &str, key: &str, behavior: Value, extra: Value) -> String {
        let mut args = json!({"key": key, "behavior": behavior});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            args[k] = v;
        }
        id(&self.mutation("enqueueAction", pool, args))
    }

    fn status(&self, pool: &str, work_id: &str) -> Value {
        self.s.query_ok("example:status", self.args(pool, json!({"id": work_id})))
    }

    fn status_batch(&self, pool: &str, ids: &[String]) -> Vec<Value> {
        let v = self.s.query_ok("example:statusBatch", self.args(pool, json!({"ids": ids})));
        v.as_array().cloned().unwrap_or_default()
    }

    fn cancel(&self, pool: &str, work_id: &str) {
        self.mutation("cancel", pool, json!({"id": work_id}));
    }

    fn attempts(&self, key: &str) -> f64 {
        self.s.query_ok("example:attempts", json!({"key": key})).as_f64().unwrap_or(-1.0)
    }

    fn completions(&self) -> Vec<Value> {
        self.s.query_ok("example:completions", json!({})).as_array().cloned().unwrap_or_default()
    }

    /// The committed onComplete calls for `work_id`.
    fn completions_for(&self, work_id: &str) -> Vec<Value> {
        self.completions().into_iter().filter(|c| c["workId"] == json!(work_id)).collect()
    }

    /// Waits until `work_id` has exactly one committed onComplete call, and returns it.
    fn wait_completion(&self, work_id: &str) -> Value {
        poll(&format!("onComplete for {work_id}"), WAIT, || match self.completions_for(work_id).as_slice() {
            [one] => Ok(one.clone()),
            [] => Err("none yet".into()),
            many => Err(format!("{} calls: {many:?}", many.len())),
        })
    }

    /// Waits until `pool` reports every id `finished`.
    fn wait_finished(&self, pool: &str, ids: &[String]) {
        poll(&format!("{} items finished", ids.len()), WAIT, || {
            let statuses = self.status_batch(pool, ids);
            if statuses.iter().all(|s| s == &json!({"state": "finished"})) {
                Ok(())
            } else {
                Err(format!("{statuses:?}"))
            }
        });
    }

    /// Waits until `key` has been attempted `n` times.
    fn wait_attempts(&self, key: &str, n: f64) {
        poll(&format!("{n} attempts of {key}"), WAIT, || {
            let seen = self.attempts(key);
            if seen == n { Ok(()) } else { Err(format!("{seen}")) }
        });
    }

    /// A barrier for "no (more) callbacks": enqueues a failing sentinel on `emailWorkpool`
    /// and waits for its failure callback, which is dispatched after every callback of work
    /// that finished before it. Returns the other completions.
    fn settle(&self) -> Vec<Value> {
        let marker = json!({"sentinel": true});
        let sentinel = self.action(
            "emailWorkpool",
            "sentinel",
            json!({"kind": "fail", "message": "sentinel"}),
            json!({"context": marker}),
        );
        self.wait_completion(&sentinel);
        self.completions().into_iter().filter(|c| c["context"] != marker).collect()
    }
}

fn id(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("expected a work id, got {v}")).to_string()
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array().unwrap_or_else(|| panic!("expected work ids, got {v}")).iter().map(id).collect()
}

fn succeed(value: Value) -> Value {
    json!({"kind": "succeed", "value": value})
}

fn fail() -> Value {
    json!({"kind": "fail", "message": "work failed"})
}

fn sleep(ms: u64, group: &str) -> Value {
    json!({"kind": "sleep", "ms": ms, "group": group, "value": group})
}

fn pending(previous_attempts: f64) -> Value {
    json!({"state": "pending", "previousAttempts": previous_attempts})
}

fn finished() -> Value {
    json!({"state": "finished"})
}

fn kinds(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|c| c["kind"].as_str().unwrap_or_default().to_string()).collect()
}

fn assert_error(completion: &Value, text: &str) {
    assert_eq!(completion["kind"], json!("failed"), "{completion}");
    let error = completion["error"].as_str().unwrap_or_default();
    assert!(error.contains(text), "error {error:?} does not contain {text:?}: {completion}");
}

/// Creates an order worth 13 and returns its id.
fn order(t: &T) -> String {
    let items = json!([{"price": 2.5, "quantity": 4.0}, {"price": 1.0, "quantity": 3.0}]);
    id(&t.s.mutation_ok("example:createOrder", json!({"customer": "ada", "items": items})))
}

/// The id of an order that no longer exists (a query for it fails with "work failed").
fn deleted_order(t: &T) -> String {
    let gone = order(t);
    t.s.mutation_ok("example:deleteOrder", json!({"id": gone}));
    gone
}

// ---- §6.1: onComplete dispatch and excludeKinds ----

/// §6.1 "exclude filter <f> dispatches a <kind> result at most once and finishes the job"
/// (a representative set of filters, each against success, failure and cancellation).
fn exclude_filters_dispatch_each_kind_at_most_once(t: T) {
    let filters = [
        None,
        Some(json!([])),
        Some(json!(["success"])),
        Some(json!(["failed"])),
        Some(json!(["canceled"])),
        Some(json!(["success", "failed"])),
        Some(json!(["failed", "canceled"])),
        Some(json!(["success", "failed", "canceled"])),
        Some(json!(["failed", "failed"])),
    ];
    let mut cases = Vec::new();
    for (i, filter) in filters.iter().enumerate() {
        for kind in ["success", "failed", "canceled"] {
            let key = format!("f{i}-{kind}");
            let mut extra = json!({"context": {"filter": i, "kind": kind}});
            if let Some(filter) = filter {
                extra["excludeKinds"] = filter.clone();
            }
            let behavior = match kind {
                "success" => succeed(json!(key)),
                "failed" => fail(),
                _ => {
                    extra["runAfter"] = json!(60_000.0);
                    succeed(json!(key))
                }
            };
            let work_id = t.action("emailWorkpool", &key, behavior, extra);
            if kind == "canceled" {
                t.cancel("emailWorkpool", &work_id);
            }
            let excluded = filter.as_ref().and_then(Value::as_array).is_some_and(|f| f.contains(&json!(kind)));
            cases.push((work_id, kind, excluded));
        }
    }
    let all: Vec<String> = cases.iter().map(|c| c.0.clone()).collect();
    t.wait_finished("emailWorkpool", &all);
    let completions = t.settle();
    for (work_id, kind, excluded) in &cases {
        let calls: Vec<&Value> = completions.iter().filter(|c| c["workId"] == json!(work_id)).collect();
        if *excluded {
            assert!(calls.is_empty(), "{kind} excluded, yet called: {calls:?}");
        } else {
            assert_eq!(calls.len(), 1, "{kind} not excluded: {calls:?}");
            assert_eq!(calls[0]["kind"], json!(kind), "{calls:?}");
        }
    }
}

/// §6.1 "a failure filter skips successful <action|mutation|query> work" and "a failure
/// filter reuses an existing completion handler for failed <kind> work": only failures call
/// back, with their context and error; a failed mutation's writes are not visible.
fn failure_filter_calls_back_only_for_failed_action_mutation_and_query(t: T) {
    let only_failures = json!(["success", "canceled"]);
    let pool = "emailWorkpool";
    let opts = |what: &str| json!({"excludeKinds": only_failures, "context": {"what": what}});
    let mut ok = vec![
        t.action(pool, "ok-action", succeed(json!(1.0)), opts("ok-action")),
        id(&t.mutation(
            "enqueueMutation",
            pool,
            merge(opts("ok-mutation"), json!({"key": "ok-mutation", "fail": false, "value": 1.0})),
        )),
    ];
    ok.extend(ids(&t.mutation("enqueueQueryBatch", pool, merge(opts("ok-query"), json!({"orderIds": [order(&t)]})))));
    let bad = [
        ("bad-action", t.action(pool, "bad-action", fail(), opts("bad-action"))),
        (
            "bad-mutation",
            id(&t.mutation(
                "enqueueMutation",
                pool,
                merge(opts("bad-mutation"), json!({"key": "bad-mutation", "fail": true, "value": 1.0})),
            )),
        ),
        (
            "bad-query",
            ids(&t.mutation(
                "enqueueQueryBatch",
                pool,
                merge(opts("bad-query"), json!({"orderIds": [deleted_order(&t)]})),
            ))[0]
                .clone(),
        ),
    ];
    for (what, work_id) in &bad {
        let c = t.wait_completion(work_id);
        assert_error(&c, "work failed");
        assert_eq!(c["context"], json!({"what": what}), "{c}");
        assert_eq!(c["handler"], json!("record"));
    }
    t.wait_finished(pool, &ok);
    let completions = t.settle();
    assert_eq!(completions.len(), 3, "only the failures call back: {completions:?}");
    let effects = t.s.query_ok("example:effects", json!({}));
    let keys: BTreeSet<&str> = effects.as_array().unwrap().iter().filter_map(|e| e["key"].as_str()).collect();
    assert_eq!(keys, BTreeSet::from(["ok-mutation"]), "the failed mutation's write rolled back: {effects}");
}

fn merge(mut a: Value, b: Value) -> Value {
    for (k, v) in b.as_object().cloned().unwrap_or_default() {
        a[k] = v;
    }
    a
}

/// §6.1 "a failure filter runs once after retry exhaustion": 3 attempts, one callback.
fn failure_filter_runs_once_after_retry_exhaustion(t: T) {
    // scrapeWorkpool retries actions by default: 3 attempts, 10 ms, base 2.
    let work_id = t.action("scrapeWorkpool", "exhaust", fail(), json!({"excludeKinds": ["success", "canceled"]}));
    let c = t.wait_completion(&work_id);
    assert_error(&c, "work failed");
    assert_eq!(t.attempts("exhaust"), 3.0);
    assert_eq!(t.status("scrapeWorkpool", &work_id), finished());
    let completions = t.settle();
    assert_eq!(completions.len(), 1, "{completions:?}");
    assert_eq!(t.attempts("exhaust"), 3.0, "not retried again");
}

/// §6.1 "a failure filter is skipped if a retry succeeds": fails twice, then succeeds on the
/// third attempt; a failure-only filter sees nothing, an unfiltered handler sees the success.
fn retry_that_succeeds_after_two_failures_skips_the_failure_callback(t: T) {
    let behavior = json!({"kind": "failTimes", "times": 2.0, "value": "third time lucky"});
    let filtered = t.action(
        "scrapeWorkpool",
        "lucky-filtered",
        behavior.clone(),
        json!({"excludeKinds": ["success", "canceled"]}),
    );
    let unfiltered = t.action("scrapeWorkpool", "lucky", behavior, json!({}));
    let c = t.wait_completion(&unfiltered);
    assert_eq!(c["kind"], json!("success"), "{c}");
    assert_eq!(c["returnValue"], json!("third time lucky"));
    assert_eq!(t.attempts("lucky"), 3.0);
    t.wait_finished("scrapeWorkpool", std::slice::from_ref(&filtered));
    assert_eq!(t.attempts("lucky-filtered"), 3.0);
    t.settle();
    assert!(t.completions_for(&filtered).is_empty(), "{:?}", t.completions_for(&filtered));
}

/// §6.1 "NonRetryableError skips remaining attempts and invokes the failure callback", §6.14
/// "skips remaining action retries": one attempt, `error` = the message, `errorData` = the marker.
fn non_retryable_error_stops_retries_and_carries_error_data(t: T) {
    let behavior = json!({"kind": "nonRetryable", "message": "terminal failure", "client": t.client});
    let work_id = t.action("scrapeWorkpool", "terminal", behavior, json!({"retry": true}));
    let c = t.wait_completion(&work_id);
    assert_eq!(c["kind"], json!("failed"));
    assert_eq!(c["error"], json!("terminal failure"));
    assert_eq!(c["errorData"], json!({"__convexWorkpoolNonRetryable": true, "message": "terminal failure"}));
    assert_eq!(t.attempts("terminal"), 1.0);
    assert_eq!(t.status("scrapeWorkpool", &work_id), finished());
}

// ---- §6.1: cancellation ----

/// §6.1 "<all|failed|canceled> preserves cancellation semantics" and §6.14 "cancelation":
/// work canceled before it starts calls back `canceled` with its context (unless filtered
/// out), never runs, and ends finished.
fn cancel_before_start_calls_back_canceled_with_context(t: T) {
    let pool = "emailWorkpool";
    let cases = [(None, true), (Some(json!(["success", "failed"])), true), (Some(json!(["canceled"])), false)];
    let mut work = Vec::new();
    for (i, (filter, called)) in cases.into_iter().enumerate() {
        let key = format!("later-{i}");
        let mut extra = json!({"runAfter": 60_000.0, "context": {"case": i as f64}});
        if let Some(filter) = filter {
            extra["excludeKinds"] = filter;
        }
        let work_id = t.action(pool, &key, succeed(json!(null)), extra);
        assert_eq!(t.status(pool, &work_id), pending(0.0));
        t.cancel(pool, &work_id);
        work.push((work_id, key, i, called));
    }
    for (work_id, _, i, called) in &work {
        if *called {
            let c = t.wait_completion(work_id);
            assert_eq!(c["kind"], json!("canceled"), "{c}");
            assert_eq!(c["context"], json!({"case": *i as f64}), "{c}");
        }
    }
    let all: Vec<String> = work.iter().map(|w| w.0.clone()).collect();
    t.wait_finished(pool, &all);
    t.settle();
    for (work_id, key, _, called) in &work {
        assert_eq!(t.completions_for(work_id).len(), usize::from(*called), "{work_id}");
        assert_eq!(t.attempts(key), 0.0, "{key} never ran");
    }
}

/// §6.1 "a cancellation filter runs once when a job is canceled during retry backoff":
/// pending with previousAttempts 1 while backing off; a double cancel → one `canceled`
/// callback, and no second attempt.
fn cancel_during_retry_backoff_calls_back_canceled_once(t: T) {
    let pool = "emailWorkpool";
    let retry = json!({"maxAttempts": 3.0, "initialBackoffMs": 30_000.0, "base": 2.0});
    let work_id = t.action(pool, "backoff", fail(), json!({"retry": retry, "excludeKinds": ["success", "failed"]}));
    t.wait_attempts("backoff", 1.0);
    poll("pending after the first failure", WAIT, || {
        let s = t.status(pool, &work_id);
        if s == pending(1.0) { Ok(()) } else { Err(s.to_string()) }
    });
    t.cancel(pool, &work_id);
    t.cancel(pool, &work_id);
    let c = t.wait_completion(&work_id);
    assert_eq!(c["kind"], json!("canceled"), "{c}");
    assert_eq!(t.status(pool, &work_id), finished());
    t.settle();
    assert_eq!(t.completions_for(&work_id).len(), 1);
    assert_eq!(t.attempts("backoff"), 1.0, "no second attempt");
}

/// §6.1 "canceling running work dispatches by its final result": a cancel leaves running
/// work running; it then ends as success, failed (no retry policy), canceled (a retry was
/// prevented), failed (non-retryable) and failed (retries exhausted), each after 1 attempt.
fn canceling_running_work_dispatches_by_its_final_result(t: T) {
    let pool = "emailWorkpool";
    let group = "cancel-running";
    let sleeping = |then: Option<&str>| {
        let mut b = sleep(3000, group);
        if let Some(then) = then {
            b["then"] = json!(then);
        }
        b
    };
    let retry3 = json!({"maxAttempts": 3.0, "initialBackoffMs": 10.0, "base": 2.0});
    let retry1 = json!({"maxAttempts": 1.0, "initialBackoffMs": 10.0, "base": 2.0});
    let cases = [
        ("success", sleeping(None), json!(false), "success"),
        ("failure", sleeping(Some("retryable")), json!(false), "failed"),
        ("prevented-retry", sleeping(Some("retryable")), retry3.clone(), "canceled"),
        ("non-retryable", sleeping(Some("nonRetryable")), retry3, "failed"),
        ("exhausted", sleeping(Some("retryable")), retry1, "failed"),
    ];
    let work: Vec<(String, &str, &str)> = cases
        .iter()
        .map(|(key, behavior, retry, expected)| {
            (t.action(pool, key, behavior.clone(), json!({"retry": retry})), *key, *expected)
        })
        .collect();
    poll("all five running", WAIT, || {
        let inflight = t.s.query_ok("example:inflight", json!({"group": group}));
        if inflight["current"] == json!(5.0) { Ok(()) } else { Err(inflight.to_string()) }
    });
    let all: Vec<String> = work.iter().map(|w| w.0.clone()).collect();
    for s in t.status_batch(pool, &all) {
        assert_eq!(s, json!({"state": "running", "previousAttempts": 0.0}));
    }
    for (work_id, _, _) in &work {
        t.cancel(pool, work_id);
    }
    for s in t.status_batch(pool, &all) {
        assert_eq!(s["state"], json!("running"), "a cancel does not stop running work: {s}");
    }
    for (work_id, key, expected) in &work {
        let c = t.wait_completion(work_id);
        assert_eq!(c["kind"], json!(expected), "{key}: {c}");
        assert_eq!(t.attempts(key), 1.0, "{key}: one attempt");
    }
    t.wait_finished(pool, &all);
}

/// §6.1 "cancelAll invokes the cancellation callback for each pending <kind> in a batch":
/// action, mutation and query batches due in 60 s all end `canceled` without running.
fn cancel_all_cancels_a_pending_batch_of_each_kind(t: T) {
    let pool = "emailWorkpool";
    let later = json!({"runAfter": 60_000.0});
    let mut all = ids(&t.mutation(
        "enqueueActionBatch",
        pool,
        merge(later.clone(), json!({"items": [{"key": "a1", "behavior": succeed(json!(1.0))}, {"key": "a2", "behavior": succeed(json!(2.0))}]})),
    ));
    all.extend(ids(&t.mutation(
        "enqueueMutationBatch",
        pool,
        merge(
            later.clone(),
            json!({"items": [{"key": "m1", "fail": false, "value": 1.0}, {"key": "m2", "fail": false, "value": 2.0}]}),
        ),
    )));
    all.extend(ids(&t.mutation("enqueueQueryBatch", pool, merge(later, json!({"orderIds": [order(&t), order(&t)]})))));
    assert_eq!(all.len(), 6);
    for s in t.status_batch(pool, &all) {
        assert_eq!(s, pending(0.0));
    }
    next_millisecond();
    t.mutation("cancelAll", pool, json!({}));
    for work_id in &all {
        assert_eq!(t.wait_completion(work_id)["kind"], json!("canceled"));
    }
    t.wait_finished(pool, &all);
    assert_eq!(t.attempts("a1") + t.attempts("a2"), 0.0, "the actions never ran");
    assert_eq!(t.s.query_ok("example:effects", json!({})), json!([]), "the mutations never ran");
}

/// §6.1 "a cancellation filter restores large context" and "a failure filter restores large
/// context": a 12 KB context (with or without 12 KB args) comes back intact.
fn large_context_comes_back_intact(t: T) {
    let pool = "emailWorkpool";
    let context = json!({"blob": "c".repeat(12 * 1024), "n": 7.0});
    let mut work = Vec::new();
    for pad in [0.0, 12.0 * 1024.0] {
        let canceled = t.action(
            pool,
            &format!("big-cancel-{pad}"),
            succeed(json!(null)),
            json!({"context": context, "padBytes": pad, "runAfter": 60_000.0}),
        );
        t.cancel(pool, &canceled);
        let failed = t.action(pool, &format!("big-fail-{pad}"), fail(), json!({"context": context, "padBytes": pad}));
        work.push((canceled, "canceled"));
        work.push((failed, "failed"));
    }
    for (work_id, kind) in &work {
        let c = t.wait_completion(work_id);
        assert_eq!(c["kind"], json!(kind));
        assert!(
            c["context"] == context,
            "{kind}: the context came back changed ({} bytes)",
            c["context"].to_string().len()
        );
    }
}

/// §6.1 "<failed|canceled> supports omitted context": no context given → none in the callback.
fn omitted_context_stays_omitted(t: T) {
    let pool = "emailWorkpool";
    let failed = t.action(pool, "no-context-fail", fail(), json!({}));
    let canceled = t.action(pool, "no-context-cancel", succeed(json!(null)), json!({"runAfter": 60_000.0}));
    t.cancel(pool, &canceled);
    for (work_id, kind) in [(failed, "failed"), (canceled, "canceled")] {
        let c = t.wait_completion(&work_id);
        assert_eq!(c["kind"], json!(kind));
        assert!(c.get("context").is_none(), "no context expected: {c}");
    }
}

/// §6.1 "batch <kind> enqueue only calls back for failed items".
fn batches_call_back_only_for_failed_items(t: T) {
    let pool = "emailWorkpool";
    let only_failures = json!({"excludeKinds": ["success", "canceled"]});
    let actions = ids(&t.mutation(
        "enqueueActionBatch",
        pool,
        merge(
            only_failures.clone(),
            json!({"items": [{"key": "b-ok", "behavior": succeed(json!(1.0))}, {"key": "b-bad", "behavior": fail()}]}),
        ),
    ));
    let mutations = ids(&t.mutation(
        "enqueueMutationBatch",
        pool,
        merge(only_failures.clone(), json!({"items": [{"key": "bm-ok", "fail": false, "value": 1.0}, {"key": "bm-bad", "fail": true, "value": 2.0}]})),
    ));
    let queries = ids(&t.mutation(
        "enqueueQueryBatch",
        pool,
        merge(only_failures, json!({"orderIds": [order(&t), deleted_order(&t)]})),
    ));
    for batch in [&actions, &mutations, &queries] {
        assert_error(&t.wait_completion(&batch[1]), "work failed");
        t.wait_finished(pool, batch);
    }
    let completions = t.settle();
    let called: BTreeSet<&str> = completions.iter().filter_map(|c| c["workId"].as_str()).collect();
    assert_eq!(called, BTreeSet::from([actions[1].as_str(), mutations[1].as_str(), queries[1].as_str()]));
}

/// §6.1 "rejects invalid result kinds at runtime" and §6.6 "rejects invalid status filters
/// before writing any work": `["running"]` fails the enqueue, and nothing runs.
fn invalid_exclude_kinds_are_rejected_and_nothing_runs(t: T) {
    let args = t
        .args("emailWorkpool", json!({"key": "invalid", "behavior": succeed(json!(1.0)), "excludeKinds": ["running"]}));
    let err = t.s.mutation_err("example:enqueueAction", args.clone());
    assert!(err.message.contains("Validator error") || err.message.contains("running"), "{}", err.message);
    let mut batch = args;
    batch.as_object_mut().unwrap().remove("key");
    batch.as_object_mut().unwrap().remove("behavior");
    batch["items"] = json!([{"key": "invalid", "behavior": succeed(json!(1.0))}]);
    t.s.mutation_err("example:enqueueActionBatch", batch);
    assert!(t.settle().is_empty());
    assert_eq!(t.attempts("invalid"), 0.0);
}

/// §6.1 "omits callback metadata when onComplete is disabled": `{}` and `{onComplete: null}`.
fn work_without_on_complete_runs_without_callback(t: T) {
    let pool = "emailWorkpool";
    let single = [
        t.action(pool, "no-handler", succeed(json!(1.0)), json!({"handler": "none", "context": {"dropped": true}})),
        t.action(pool, "null-handler", succeed(json!(1.0)), json!({"handler": "null", "context": {"dropped": true}})),
    ];
    let batch = ids(&t.mutation(
        "enqueueActionBatch",
        pool,
        json!({"handler": "null", "items": [{"key": "null-batch", "behavior": succeed(json!(1.0))}]}),
    ));
    t.wait_attempts("no-handler", 1.0);
    t.wait_attempts("null-handler", 1.0);
    t.wait_attempts("null-batch", 1.0);
    t.wait_finished(pool, &single);
    t.wait_finished(pool, &batch);
    assert!(t.settle().is_empty());
}

/// §6.1 "a failing cancellation callback rolls back without starting the work" and "a failing
/// failure callback rolls back without retrying the original work", plus the success path:
/// the work ends finished, the handler's writes are rolled back, nothing is retried.
fn on_complete_that_throws_is_rolled_back_and_the_work_stays_finished(t: T) {
    let throws = json!({"handler": "throws"});
    let succeeded = t.action("emailWorkpool", "throw-ok", succeed(json!(1.0)), throws.clone());
    let canceled = t.action(
        "emailWorkpool",
        "throw-cancel",
        succeed(json!(1.0)),
        merge(throws.clone(), json!({"runAfter": 60_000.0})),
    );
    t.cancel("emailWorkpool", &canceled);
    let exhausted = t.action("scrapeWorkpool", "throw-fail", fail(), throws);
    t.wait_finished("emailWorkpool", &[succeeded, canceled]);
    t.wait_finished("scrapeWorkpool", &[exhausted]);
    let completions = t.settle();
    assert!(completions.is_empty(), "the throwing handler's writes rolled back: {completions:?}");
    assert_eq!(t.s.query_ok("example:effects", json!({})), json!([]));
    assert_eq!(t.attempts("throw-ok"), 1.0);
    assert_eq!(t.attempts("throw-cancel"), 0.0, "canceled work never starts");
    assert_eq!(t.attempts("throw-fail"), 3.0, "not retried beyond its policy");
}

/// §6.14 "enqueueQuery executes successfully" and issue 4's order total: the query's result
/// reaches `onComplete`, which stores it on the order.
fn enqueue_query_feeds_the_order_total_to_on_complete(t: T) {
    let order_id = order(&t);
    let work_id = id(&t.mutation("enqueueOrderTotal", "emailWorkpool", json!({"orderId": order_id})));
    let c = t.wait_completion(&work_id);
    assert_eq!(c["kind"], json!("success"));
    assert_eq!(c["returnValue"], json!(13.0));
    assert_eq!(c["context"], json!({"orderId": order_id}));
    assert_eq!(c["handler"], json!("orderTotal"));
    assert_eq!(t.s.query_ok("example:order", json!({"id": order_id}))["total"], json!(13.0));
    assert_eq!(t.status("emailWorkpool", &work_id), finished());
}

/// §6.1 "onComplete still receives successful <kind> results": return values pass through.
fn successful_results_reach_on_complete(t: T) {
    let pool = "emailWorkpool";
    let action = t.action(pool, "ret", succeed(json!({"action": "result", "n": [1.0, 2.0]})), json!({}));
    let mutation =
        id(&t.mutation("enqueueMutation", pool, json!({"key": "ret-m", "fail": false, "value": "mutation result"})));
    let query = ids(&t.mutation("enqueueQueryBatch", pool, json!({"orderIds": [order(&t)]})))[0].clone();
    assert_eq!(t.wait_completion(&action)["returnValue"], json!({"action": "result", "n": [1.0, 2.0]}));
    assert_eq!(t.wait_completion(&mutation)["returnValue"], json!("mutation result"));
    assert_eq!(t.wait_completion(&query)["returnValue"], json!(13.0));
}

/// Issue 4: a `vOnCompleteArgs` handler that chains a fallback action on failure.
fn failure_handler_chains_a_fallback_action(t: T) {
    let pool = "scrapeWorkpool";
    let context = json!({"client": t.client, "pool": pool, "key": "scrape"});
    let work_id = t.action(pool, "scrape", fail(), json!({"handler": "fallback", "context": context, "retry": false}));
    let c = t.wait_completion(&work_id);
    assert_eq!(c["handler"], json!("fallback"));
    assert_error(&c, "work failed");
    let fallback = poll("the fallback's completion", WAIT, || {
        t.completions()
            .into_iter()
            .find(|c| c["context"] == json!({"fallbackFor": work_id}))
            .ok_or("none yet".to_string())
    });
    assert_eq!(fallback["kind"], json!("success"));
    assert_eq!(fallback["returnValue"], json!("fallback for scrape"));
    assert_eq!(t.attempts("scrape"), 1.0);
    assert_eq!(t.attempts("scrape-fallback"), 1.0);
    // A success chains nothing.
    let ok = t.action(
        pool,
        "scrape-ok",
        succeed(json!(1.0)),
        json!({"handler": "fallback", "context": {"client": t.client, "pool": pool, "key": "scrape-ok"}}),
    );
    assert_eq!(t.wait_completion(&ok)["kind"], json!("success"));
    t.settle();
    assert_eq!(t.attempts("scrape-ok-fallback"), 0.0);
}

// ---- §6.14 and parallelism ----

/// §6.14 "enqueueMany": 20 counter increments through `serializedPool` (maxParallelism 1)
/// run one at a time, in enqueue order, with no lost update.
fn serialized_pool_runs_mutations_in_enqueue_order_without_lost_updates(t: T) {
    let work = ids(&t.mutation("enqueueIncrements", "serializedPool", json!({"name": "serial", "count": 20.0})));
    assert_eq!(work.len(), 20);
    t.wait_finished("serializedPool", &work);
    let counter = t.s.query_ok("example:counter", json!({"name": "serial"}));
    let expected: Vec<f64> = (0..20).map(f64::from).collect();
    assert_eq!(counter, json!({"value": 20.0, "order": expected}));
    poll("20 callbacks", WAIT, || {
        let n = t.completions().len();
        if n == 20 { Ok(()) } else { Err(n.to_string()) }
    });
    let returned: BTreeSet<u64> =
        t.completions().iter().filter_map(|c| c["returnValue"].as_f64()).map(|v| v as u64).collect();
    assert_eq!(returned, (1..=20).collect(), "each increment saw the previous one");
}

/// Runs `n` sleeping actions through `pool` and returns the most that ran at once.
fn max_in_flight(t: &T, pool: &str, n: usize, ms: u64) -> f64 {
    let group = format!("{pool}-load");
    let items: Vec<Value> =
        (0..n).map(|i| json!({"key": format!("{group}-{i}"), "behavior": sleep(ms, &group)})).collect();
    let work = ids(&t.mutation("enqueueActionBatch", pool, json!({"items": items})));
    for work_id in &work {
        assert_eq!(t.wait_completion(work_id)["kind"], json!("success"));
    }
    let inflight = t.s.query_ok("example:inflight", json!({"group": group}));
    assert_eq!(inflight["current"], json!(0.0));
    inflight["max"].as_f64().unwrap()
}

/// §4.10/§9.5: at most `maxParallelism` actions of a pool run at once, and with enough work
/// the limit is reached.
fn max_parallelism_is_reached_and_never_exceeded(t: T) {
    assert_eq!(max_in_flight(&t, "emailWorkpool", 15, 1500), 10.0, "emailWorkpool: maxParallelism 10");
    assert_eq!(max_in_flight(&t, "scrapeWorkpool", 8, 1500), 5.0, "scrapeWorkpool: maxParallelism 5");
}

/// `envPool` takes its parallelism from `ENV_POOL_PARALLELISM`; without it, the default 2.
fn env_pool_uses_its_default_parallelism(t: T) {
    assert_eq!(t.s.query_ok("example:poolParallelism", json!({}))["envPool"], json!(2.0));
    assert_eq!(max_in_flight(&t, "envPool", 5, 1000), 2.0);
}

/// The same pool with `--env ENV_POOL_PARALLELISM=4` (a deployment variable, as
/// `npx convex env set` sets one).
#[test]
fn env_pool_takes_its_parallelism_from_the_deployment_env() {
    for implementation in ["native", "ts"] {
        let s = Server::start_app(
            "fixtures/workpool",
            &["--in-memory", "--workpool-impl", implementation, "--env", "ENV_POOL_PARALLELISM=4"],
        );
        let t = T { s, client: "upstream" };
        assert_eq!(t.s.query_ok("example:poolParallelism", json!({}))["envPool"], json!(4.0), "{implementation}");
        assert_eq!(max_in_flight(&t, "envPool", 6, 1000), 4.0, "{implementation}");
    }
}

/// §4.10: `config.update({maxParallelism: 0})` pauses starting work (cancellations are still
/// processed); raising it again resumes.
fn pause_with_zero_then_resume(t: T) {
    let pool = "emailWorkpool";
    let items: Vec<Value> =
        (0..3).map(|i| json!({"key": format!("paused-{i}"), "behavior": succeed(json!(i))})).collect();
    let work = ids(&t.mutation("enqueueActionBatch", pool, json!({"items": items, "thenMaxParallelism": 0.0})));
    let doomed = t.action(
        pool,
        "paused-canceled",
        succeed(json!(null)),
        json!({"context": "doomed", "thenMaxParallelism": 0.0}),
    );
    t.cancel(pool, &doomed);
    assert_eq!(t.wait_completion(&doomed)["kind"], json!("canceled"), "cancellations are processed while paused");
    std::thread::sleep(Duration::from_millis(1500));
    for (i, s) in t.status_batch(pool, &work).iter().enumerate() {
        assert_eq!(s, &pending(0.0), "item {i} still waits while paused");
        assert_eq!(t.attempts(&format!("paused-{i}")), 0.0);
    }
    t.mutation("updateConfig", pool, json!({"maxParallelism": 10.0}));
    for work_id in &work {
        assert_eq!(t.wait_completion(work_id)["kind"], json!("success"));
    }
    assert_eq!(t.attempts("paused-canceled"), 0.0);
}

/// §6.6 "should throw error if maxParallelism is too high/low", through `config.update` and
/// through an enqueue; the failed enqueue writes nothing and the pool keeps working.
fn max_parallelism_out_of_range_is_rejected_and_nothing_is_written(t: T) {
    for (value, text) in [(500.0, "maxParallelism must be <= 200"), (-1.0, "maxParallelism must be >= 0")] {
        let err = t.s.mutation_err("example:updateConfig", t.args("emailWorkpool", json!({"maxParallelism": value})));
        err.assert_contains(text);
        let err = t.s.mutation_err(
            "example:enqueueWithParallelism",
            json!({"client": t.client, "key": format!("bad-{value}"), "maxParallelism": value}),
        );
        err.assert_contains(text);
    }
    assert_eq!(t.s.query_ok("example:effects", json!({})), json!([]), "the failed enqueues wrote nothing");
    assert!(t.settle().is_empty(), "no work was enqueued");
    assert_eq!(t.attempts("bad-500") + t.attempts("bad--1"), 0.0);
    assert_eq!(max_in_flight(&t, "emailWorkpool", 12, 1000), 10.0, "the pool keeps its parallelism");
}

/// §6.6 status rows and §6.14 "enqueue and get status": pending (delayed), running, finished;
/// `statusBatch` answers in input order; finished work reads `{state: "finished"}`.
fn status_and_status_batch_report_each_state(t: T) {
    let pool = "emailWorkpool";
    let delayed = t.action(pool, "st-later", succeed(json!(null)), json!({"runAfter": 60_000.0}));
    assert_eq!(t.status(pool, &delayed), pending(0.0));
    let done = t.action(pool, "st-done", succeed(json!(null)), json!({}));
    t.wait_completion(&done);
    assert_eq!(t.status(pool, &done), finished());
    let running = t.action(pool, "st-running", sleep(3000, "st"), json!({}));
    poll("running", WAIT, || {
        let s = t.status(pool, &running);
        if s == json!({"state": "running", "previousAttempts": 0.0}) { Ok(()) } else { Err(s.to_string()) }
    });
    let batch = t.status_batch(pool, &[running.clone(), delayed.clone(), done.clone(), delayed.clone()]);
    assert_eq!(
        batch,
        vec![json!({"state": "running", "previousAttempts": 0.0}), pending(0.0), finished(), pending(0.0)]
    );
    t.wait_completion(&running);
    t.cancel(pool, &delayed);
    t.wait_completion(&delayed);
    assert_eq!(t.status_batch(pool, &[running, delayed, done]), vec![finished(), finished(), finished()]);
}

// ---- emvexPool (always native) ----

/// The `emvex/workpool/convex.config` mount: its own pool (maxParallelism 3), driven by
/// either client, with callbacks, retries and cancellation.
fn emvex_pool_runs_work_with_its_own_parallelism(t: T) {
    let pool = "emvexPool";
    assert_eq!(max_in_flight(&t, pool, 6, 1000), 3.0);
    let ok = t.action(pool, "ep-ok", succeed(json!("fine")), json!({"context": {"c": 1.0}}));
    let c = t.wait_completion(&ok);
    assert_eq!(
        (c["kind"].clone(), c["returnValue"].clone(), c["context"].clone()),
        (json!("success"), json!("fine"), json!({"c": 1.0}))
    );
    let retry = json!({"maxAttempts": 3.0, "initialBackoffMs": 10.0, "base": 2.0});
    let retried =
        t.action(pool, "ep-retry", json!({"kind": "failTimes", "times": 2.0, "value": "ok"}), json!({"retry": retry}));
    assert_eq!(t.wait_completion(&retried)["returnValue"], json!("ok"));
    assert_eq!(t.attempts("ep-retry"), 3.0);
    let later = t.action(pool, "ep-later", succeed(json!(null)), json!({"runAfter": 60_000.0}));
    t.cancel(pool, &later);
    assert_eq!(t.wait_completion(&later)["kind"], json!("canceled"));
    assert_eq!(kinds(&t.settle()), [vec!["success"; 6], vec!["success", "success", "canceled"]].concat());
}

/// §4.10/§9.5: with maxParallelism 0, completions are not consumed — a running action whose
/// attempt fails stays `pending` (previousAttempts 1) and is not retried — but a terminal
/// result still calls back; raising the limit resumes the retry.
fn pause_parks_retries_but_still_calls_back_terminal_results(t: T) {
    let pool = "emailWorkpool";
    let retry = json!({"maxAttempts": 3.0, "initialBackoffMs": 10.0, "base": 2.0});
    let mut failing = sleep(1500, "park");
    failing["then"] = json!("retryable");
    let parked = t.action(pool, "park-retry", failing, json!({"retry": retry}));
    let finishing = t.action(pool, "park-ok", sleep(1500, "park"), json!({}));
    poll("both running", WAIT, || {
        let inflight = t.s.query_ok("example:inflight", json!({"group": "park"}));
        if inflight["current"] == json!(2.0) { Ok(()) } else { Err(inflight.to_string()) }
    });
    t.mutation("updateConfig", pool, json!({"maxParallelism": 0.0}));
    assert_eq!(t.wait_completion(&finishing)["kind"], json!("success"), "terminal results still call back");
    poll("the failed attempt parked", WAIT, || {
        let s = t.status(pool, &parked);
        if s == pending(1.0) { Ok(()) } else { Err(s.to_string()) }
    });
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(t.attempts("park-retry"), 1.0, "no retry while paused");
    assert_eq!(t.status(pool, &parked), pending(1.0));
    t.mutation("updateConfig", pool, json!({"maxParallelism": 10.0}));
    assert_error(&t.wait_completion(&parked), "work failed");
    assert_eq!(t.attempts("park-retry"), 3.0);
}

/// §4.8: `cancelAll` cancels pending work; running work is not interrupted and keeps its result.
fn cancel_all_lets_running_work_finish(t: T) {
    let pool = "emailWorkpool";
    let running = t.action(pool, "ca-running", sleep(2000, "ca"), json!({}));
    poll("running", WAIT, || {
        let s = t.status(pool, &running);
        if s["state"] == json!("running") { Ok(()) } else { Err(s.to_string()) }
    });
    let delayed = t.action(pool, "ca-later", succeed(json!(null)), json!({"runAfter": 60_000.0}));
    next_millisecond();
    t.mutation("cancelAll", pool, json!({"limit": 1.0}));
    assert_eq!(t.wait_completion(&delayed)["kind"], json!("canceled"));
    let c = t.wait_completion(&running);
    assert_eq!((c["kind"].clone(), c["returnValue"].clone()), (json!("success"), json!("ca")));
    t.wait_finished(pool, &[running, delayed]);
    assert_eq!(t.attempts("ca-later"), 0.0);
}

/// §2.5: an enqueue from a mutation commits or rolls back with it; from an action it commits
/// on its own.
fn enqueue_commits_with_the_caller_mutation_or_from_an_action(t: T) {
    let err = t.s.mutation_err("example:enqueueThenThrow", t.args("emailWorkpool", json!({"key": "rolled-back"})));
    err.assert_contains("changed my mind");
    let from_action = t
        .s
        .action("example:enqueueFromAction", t.args("emailWorkpool", json!({"key": "from-action", "value": "hello"})));
    let work_id = id(&from_action.ok_value("enqueueFromAction"));
    let c = t.wait_completion(&work_id);
    assert_eq!((c["returnValue"].clone(), c["context"].clone()), (json!("hello"), json!({"from": "action"})));
    t.settle();
    assert_eq!(t.attempts("rolled-back"), 0.0, "the rolled-back enqueue never ran");
}

/// Issue 4 item 3 (a deliberate difference from upstream, which accepts it and wedges the
/// pool): a maxParallelism that is not a whole number is rejected.
fn fractional_max_parallelism_is_rejected(t: T) {
    let err = t.s.mutation_err("example:updateConfig", t.args("emvexPool", json!({"maxParallelism": 2.5})));
    err.assert_contains("maxParallelism must be a whole number");
    assert_eq!(max_in_flight(&t, "emvexPool", 5, 1000), 3.0, "the pool keeps working at its limit");
}

/// `cancelAll` without `before` covers every item that exists when it runs — also one enqueued
/// a moment earlier in the same transaction, whose `_creationTime` lies a fraction of a
/// millisecond past the transaction's whole-millisecond `Date.now()` (upstream's `before ??
/// Date.now()` can miss it; emvex's native pool reads without a bound).
fn cancel_all_covers_work_enqueued_just_before(t: T) {
    let work = t.s.mutation_ok("example:enqueueThenCancelAll", t.args("emvexPool", json!({"key": "same-tx"})));
    let work_id = id(&work);
    assert_eq!(t.wait_completion(&work_id)["kind"], json!("canceled"));
    assert_eq!(t.attempts("same-tx"), 0.0);
}
