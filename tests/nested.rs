//! Nested calls and function handles over HTTP, against `fixtures/scheduling`:
//! `ctx.runQuery`/`ctx.runMutation` inside a mutation share its transaction both
//! ways, a nested mutation that throws is rolled back alone (and is catchable),
//! `useStaleSnapshot` reads without the caller's writes, the callee's validators
//! apply, queries cannot call mutations, nesting stops below 8 levels with Convex's
//! text, and function handles stored in documents work with `runMutation` and the
//! scheduler, across restarts too.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

fn start() -> Server {
    start_scheduling(&["--in-memory"])
}

/// The committed texts of the notes with `tag`.
fn notes(s: &Server, tag: &str) -> serde_json::Value {
    s.query_ok("nested:notes", json!({ "tag": tag }))
}

/// The message a fixture function caught and returned (they return null when nothing threw).
#[track_caller]
fn caught(returned: serde_json::Value) -> String {
    match returned {
        serde_json::Value::String(message) => message,
        other => panic!("the call must throw, but the function returned {other}"),
    }
}

const DEPTH_TEXT: &str = "Cross component call depth limit exceeded. Do you have an infinite loop in your app?";

#[test]
fn nested_query_and_mutation_share_the_callers_transaction() {
    let s = start();
    let got = s.mutation_ok("nested:sharedTransaction", json!({ "tag": "s" }));
    assert_eq!(
        got,
        json!({
            "seenByCallee": ["caller"],
            "calleeDocText": "callee",
            "seenByCaller": ["caller", "callee"],
        })
    );
    assert_eq!(notes(&s, "s"), json!(["caller", "callee"]));
}

#[test]
fn a_failing_caller_rolls_back_its_nested_mutations() {
    let s = start();
    let e = s.mutation_err("nested:sharedTransactionThenThrow", json!({ "tag": "t" }));
    e.assert_contains("Uncaught Error: caller failed after the nested mutation");
    assert_eq!(notes(&s, "t"), json!([]));
}

#[test]
fn a_caught_nested_failure_rolls_back_only_the_callee() {
    let s = start();
    let got = s.mutation_ok("nested:catchNested", json!({ "tag": "c" }));
    let error = got["error"].as_str().unwrap_or_else(|| panic!("the nested error was not caught: {got}"));
    assert!(error.contains("nested mutation failed"), "{error:?}");
    assert_eq!(got["after"], json!(["kept"]), "the callee's write is rolled back, the caller's kept");
    assert_eq!(notes(&s, "c"), json!(["kept", "after"]));
}

#[test]
fn stale_snapshot_query_does_not_see_the_callers_writes() {
    let s = start();
    s.mutation_ok("nested:addNote", json!({ "tag": "st", "text": "committed" }));
    let got = s.mutation_ok("nested:staleSnapshot", json!({ "tag": "st" }));
    assert_eq!(got, json!({ "fresh": ["committed", "uncommitted"], "stale": ["committed"] }));
    assert_eq!(notes(&s, "st"), json!(["committed", "uncommitted"]));
    // From a query, the package refuses the option itself.
    assert_eq!(
        s.query_ok("nested:staleFromQuery", json!({})),
        json!("`useStaleSnapshot` is only supported in mutations, not queries.")
    );
}

#[test]
fn the_callees_argument_validator_applies() {
    let s = start();
    let message = caught(s.mutation_ok("nested:badNestedArgs", json!({})));
    for needle in
        ["ArgumentValidationError: Value does not match validator.", "Path: .tag", "Value: 5", "Validator: v.string()"]
    {
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    }
    let e = s.mutation_err("nested:badNestedArgsUncaught", json!({}));
    e.assert_contains("ArgumentValidationError: Object is missing the required field `text`.");
    assert_eq!(notes(&s, "bad-args"), json!([]));
}

#[test]
fn the_callees_returns_validator_applies() {
    let s = start();
    let message = caught(s.mutation_ok("nested:callBadReturn", json!({})));
    assert!(message.contains("ReturnsValidationError"), "{message:?}");
    assert!(message.contains("Validator: v.string()"), "{message:?}");
}

#[test]
fn queries_cannot_call_mutations() {
    let s = start();
    assert_eq!(s.query_ok("nested:queryHasNoRunMutation", json!({})), json!("undefined"));
    let e = s.query_err("nested:queryCallsRunMutation", json!({}));
    e.assert_contains("Uncaught TypeError:").assert_contains("not a function");
    let text = caught(s.query_ok("nested:queryRunsMutationAsQuery", json!({})));
    assert!(
        text.contains("Trying to execute nested.js:insertNote as Query, but it is defined as Mutation."),
        "{text:?}"
    );
    let text = caught(s.query_ok("nested:queryRawMutationSyscall", json!({})));
    assert!(text.contains("Cannot call a Mutation function from a Query function"), "{text:?}");
    assert_eq!(notes(&s, "q"), json!([]));
}

#[test]
fn nesting_stops_past_eight_levels() {
    let s = start();
    // Eight nested mutation calls below the top-level one are allowed.
    assert_eq!(s.mutation_ok("nested:deep", json!({ "level": 8.0, "tag": "d8" })), json!("bottom"));
    let expected: Vec<String> = (0..=8).rev().map(|l| format!("level {l}")).collect();
    assert_eq!(notes(&s, "d8"), json!(expected));
    // The ninth fails with Convex's text, and nothing of the whole call remains.
    let e = s.mutation_err("nested:deep", json!({ "level": 9.0, "tag": "d9" }));
    e.assert_contains(DEPTH_TEXT);
    assert_eq!(notes(&s, "d9"), json!([]));
    // Queries too.
    assert_eq!(s.query_ok("nested:deepQuery", json!({ "level": 8.0 })), json!("bottom"));
    s.query_err("nested:deepQuery", json!({ "level": 9.0 })).assert_contains(DEPTH_TEXT);
}

#[test]
fn function_handles_work_with_run_mutation_and_the_scheduler() {
    let s = start();
    let handle = s.mutation_ok("handles:storeHandle", json!({ "name": "h" }));
    let handle = handle.as_str().expect("a handle is a string");
    assert!(handle.starts_with("function://"), "{handle:?}");
    // The same function gets the same handle.
    assert_eq!(s.mutation_ok("handles:storeHandle", json!({ "name": "h2" })), json!(handle));

    assert_json_eq(&s.mutation_ok("handles:callStored", json!({ "name": "h", "value": 21.0 })), &json!(42.0));
    let id = s.mutation_ok("handles:scheduleStored", json!({ "name": "h", "value": 5.0 }));
    let id = id.as_str().expect("a job id").to_string();
    let job = wait_job_final(&s, &id, Duration::from_secs(10));
    assert_eq!(job["state"], json!({ "kind": "success" }), "{job}");
    assert_eq!(job["name"], "handles.js:target");
    assert_json_eq(&job["args"], &json!([{ "via": "scheduler", "value": 5.0 }]));
    assert_json_eq(
        &s.query_ok("handles:handleRuns", json!({})),
        &json!([{ "via": "runMutation", "value": 21.0 }, { "via": "scheduler", "value": 5.0 }]),
    );
}

#[test]
fn a_stored_function_handle_works_after_a_restart() {
    let dir = TempDir::new("nested-handle");
    let s = start_scheduling(&["--data", dir.str()]);
    let handle = s.mutation_ok("handles:storeHandle", json!({ "name": "kept" }));
    s.stop();
    let s = start_scheduling(&["--data", dir.str()]);
    assert_eq!(s.mutation_ok("handles:storeHandle", json!({ "name": "again" })), handle);
    assert_json_eq(&s.mutation_ok("handles:callStored", json!({ "name": "kept", "value": 4.0 })), &json!(8.0));
    assert_json_eq(&s.query_ok("handles:handleRuns", json!({})), &json!([{ "via": "runMutation", "value": 4.0 }]));
}

#[test]
fn a_nested_call_inherits_the_callers_time() {
    let s = start();
    let before = now_ms();
    let got = s.mutation_ok("nested:nowPair", json!({}));
    let caller = got["caller"].as_f64().unwrap_or_else(|| panic!("{got}"));
    assert!(caller >= before - 1_000.0 && caller <= now_ms() + 1_000.0, "{got}");
    assert_eq!(got["callee"], got["caller"], "Date.now() is frozen for the whole transaction");
}

#[test]
fn a_nested_convex_error_keeps_its_data() {
    let s = start();
    let got = s.mutation_ok("nested:catchConvexError", json!({ "tag": "ce" }));
    assert_eq!(got, json!({ "isConvexError": true, "data": { "code": "NESTED", "tag": "ce" } }));
    assert_eq!(notes(&s, "ce"), json!([]));
    let e = s.mutation_err("nested:uncaughtConvexError", json!({ "tag": "ce2" }));
    assert_eq!(e.data, Some(json!({ "code": "NESTED", "tag": "ce2" })), "{}", e.message);
    assert_eq!(notes(&s, "ce2"), json!([]));
}
