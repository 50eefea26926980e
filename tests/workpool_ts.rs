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

both!(enqueued_actions_complete_with_their_context_and_result, enqueued_mutations_run, cancel_and_cancel_all_end_delayed_work_canceled_without_running_it);

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
    assert_eq!(s.query_ok("example:status", json!({"id": first})), json!({"state": "pending", "previousAttempts": 0.0}));
    s.mutation_ok("example:cancel", json!({"id": first}));
    let rows = wait_results(&s, 1);
    assert_eq!(result_for(&rows, &first)["kind"], json!("canceled"));
    let others = [
        s.mutation_ok("example:enqueueLater", json!({"to": "y", "delayMs": 60000.0})),
        s.mutation_ok("example:enqueueLater", json!({"to": "z", "delayMs": 60000.0})),
    ];
    s.mutation_ok("example:cancelAll", json!({}));
    let rows = wait_results(&s, 3);
    for id in &others {
        assert_eq!(result_for(&rows, id)["kind"], json!("canceled"), "{rows:?}");
    }
    assert!(rows.iter().all(|r| r["returnValue"].is_null()), "no canceled action ran: {rows:?}");
}
