//! The real `@convex-dev/workpool@0.4.16` client against `fixtures/workpool-ts`, twice: with
//! the npm package's own TypeScript component (`--workpool-impl ts`, with its nested
//! `@convex-dev/batch-worker`) and with emvex's native one (the default). In both, actions and
//! mutations enqueued through the real `Workpool` class run, `onComplete` receives `{workId,
//! context, result}` for success and failure, `status` moves from `pending` to `finished`, and
//! `cancel`/`cancelAll` end delayed work `canceled` without running it.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn start(implementation: &str) -> Server {
    Server::start_app("fixtures/workpool-ts", &["--in-memory", "--workpool-impl", implementation])
}

/// Runs each case against both implementations.
macro_rules! both {
    ($($case:ident),* $(,)?) => {
        mod ts {
            $(#[test] fn $case() { super::$case(super::start("ts")) })*
        }
        mod native {
            $(#[test] fn $case() { super::$case(super::start("native")) })*
        }
    };
}

both!(
    enqueued_actions_complete_with_their_context_and_result,
    enqueued_mutations_run,
    cancel_and_cancel_all_end_delayed_work_canceled_without_running_it,
    the_pool_prints_its_report_event_at_the_default_level,
    oversized_arguments_are_refused_and_nothing_is_written,
    malformed_work_ids_are_refused_by_the_validator,
);

/// Spec §5: a string that is not a `work` id is refused by `v.id("work")` before the pool
/// looks at it, in `status` and `cancel` alike.
fn malformed_work_ids_are_refused_by_the_validator(s: Server) {
    let text = "ArgumentValidationError: Value does not match validator.\nPath: .id\nValue: \"nope\"\nValidator: v.id(\"work\")";
    s.query_err("example:status", json!({"id": "nope"})).assert_contains(text);
    s.mutation_err("example:cancel", json!({"id": "nope"})).assert_contains(text);
}

/// Spec §5: arguments over 1,000,000 bytes (Convex's size) are refused with upstream's text and
/// the enqueue writes nothing; just under the limit they are accepted.
fn oversized_arguments_are_refused_and_nothing_is_written(s: Server) {
    let err = s.mutation_err("example:enqueueBig", json!({"bytes": 1_000_100.0}));
    err.assert_contains("Function arguments for function example:sendEmail too large:");
    err.assert_contains("bytes (max: 1000000 bytes)");
    let ok = s.mutation_ok("example:enqueueBig", json!({"bytes": 999_000.0}));
    let rows = wait_results(&s, 0);
    assert!(rows.is_empty());
    poll("the accepted item finishes", Duration::from_secs(20), || {
        let st = s.query_ok("example:status", json!({"id": ok}));
        if st == json!({"state": "finished"}) { Ok(()) } else { Err(st.to_string()) }
    });
}

/// Spec §4.13: at the default `logLevel` (REPORT) an active pool prints a `report` event —
/// single-line JSON with upstream's fields — and no per-item INFO events.
fn the_pool_prints_its_report_event_at_the_default_level(s: Server) {
    s.mutation_ok("example:enqueueEmail", json!({"to": "r@example.com"}));
    wait_results(&s, 1);
    let report = poll("a report event", Duration::from_secs(20), || {
        let out = s.stdout();
        match out.lines().find(|l| l.contains(r#""event":"report""#)) {
            Some(line) => Ok(line.to_string()),
            None => Err(out),
        }
    });
    let json_text = report
        .split_once("[INFO] '")
        .and_then(|(_, rest)| rest.strip_suffix('\''))
        .unwrap_or_else(|| panic!("{report}"));
    let event: Value = serde_json::from_str(json_text).unwrap_or_else(|e| panic!("{e}: {json_text}"));
    for field in [
        "completed",
        "succeeded",
        "failed",
        "retries",
        "canceled",
        "lastReportTs",
        "running",
        "backlog",
        "failureRate",
        "permanentFailureRate",
    ] {
        assert!(event.get(field).is_some(), "report without {field}: {event}");
    }
    assert_eq!(event["component"], json!("workpool"));
    assert!(!s.stdout().contains(r#""event":"enqueued""#), "INFO events stay hidden at REPORT");
}

/// The `results` rows (one per `onComplete`), once there are `n` of them.
fn wait_results(s: &Server, n: usize) -> Vec<Value> {
    poll(&format!("{n} onComplete calls"), Duration::from_secs(20), || {
        let rows = s.query_ok("example:results", json!({}));
        let rows = rows.as_array().cloned().unwrap_or_default();
        if rows.len() >= n { Ok(rows) } else { Err(format!("{} so far", rows.len())) }
    })
}

fn result_for<'a>(rows: &'a [Value], work_id: &Value) -> &'a Value {
    rows.iter().find(|r| &r["workId"] == work_id).unwrap_or_else(|| panic!("no result for {work_id} in {rows:?}"))
}

fn enqueued_actions_complete_with_their_context_and_result(s: Server) {
    let ok = s.mutation_ok("example:enqueueEmail", json!({"to": "a@example.com"}));
    let bad = s.mutation_ok("example:enqueueEmail", json!({"to": "b@example.com", "fail": true}));
    let rows = wait_results(&s, 2);
    let success = result_for(&rows, &ok);
    assert_eq!(success["kind"], json!("success"));
    assert_eq!(success["returnValue"], json!("sent to a@example.com"));
    assert_eq!(success["context"], json!({"to": "a@example.com"}));
    let failure = result_for(&rows, &bad);
    assert_eq!(failure["kind"], json!("failed"));
    assert!(failure["error"].as_str().unwrap_or_default().contains("could not send to b@example.com"), "{failure}");
    assert_eq!(s.query_ok("example:status", json!({"id": ok})), json!({"state": "finished"}));
}

fn enqueued_mutations_run(s: Server) {
    for _ in 0..3 {
        s.mutation_ok("example:enqueueIncrement", json!({"name": "n"}));
    }
    poll("three increments", Duration::from_secs(20), || {
        let v = s.query_ok("example:counter", json!({"name": "n"}));
        if v == json!(3.0) { Ok(()) } else { Err(v.to_string()) }
    });
}

fn cancel_and_cancel_all_end_delayed_work_canceled_without_running_it(s: Server) {
    let first = s.mutation_ok("example:enqueueLater", json!({"to": "x", "delayMs": 60000.0}));
    assert_eq!(
        s.query_ok("example:status", json!({"id": first})),
        json!({"state": "pending", "previousAttempts": 0.0})
    );
    s.mutation_ok("example:cancel", json!({"id": first}));
    let rows = wait_results(&s, 1);
    assert_eq!(result_for(&rows, &first)["kind"], json!("canceled"));
    let others = [
        s.mutation_ok("example:enqueueLater", json!({"to": "y", "delayMs": 60000.0})),
        s.mutation_ok("example:enqueueLater", json!({"to": "z", "delayMs": 60000.0})),
    ];
    next_millisecond();
    s.mutation_ok("example:cancelAll", json!({}));
    let rows = wait_results(&s, 3);
    for id in &others {
        assert_eq!(result_for(&rows, id)["kind"], json!("canceled"), "{rows:?}");
    }
    assert!(rows.iter().all(|r| r["returnValue"].is_null()), "no canceled action ran: {rows:?}");
}
