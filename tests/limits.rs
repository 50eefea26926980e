//! Limits over HTTP: the 1 s timeout, the 64 MiB memory limit and deep recursion end as
//! clear errors and the next call works; document/array/nesting/argument size limits.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn next_call_works(s: &Server) {
    assert_eq!(s.query_ok("logs:silent", json!({})), json!("quiet"));
    let id = send_message(s, "after", "still alive", "general", 1.0);
    assert_eq!(s.query_ok("messages:get", json!({ "id": id }))["body"], json!("still alive"));
}

#[test]
fn runaway_loop_times_out_and_the_server_keeps_serving() {
    let s = Server::start();
    let start = Instant::now();
    let e = s.query_err("limits:runaway", json!({}));
    let took = start.elapsed();
    e.assert_contains("Function execution timed out (maximum duration: 1s)");
    assert!(took >= Duration::from_millis(900), "stopped before the 1 s limit: {took:?}");
    assert!(took < Duration::from_secs(15), "took far longer than the 1 s limit: {took:?}");
    next_call_works(&s);
}

#[test]
fn runaway_mutation_is_rolled_back() {
    let s = Server::start();
    s.mutation_err("limits:runawayMutation", json!({"name": "loop"}))
        .assert_contains("Function execution timed out (maximum duration: 1s)");
    assert_eq!(s.query_ok("errors:counterValues", json!({"name": "loop"})), json!([]));
    next_call_works(&s);
}

#[test]
fn memory_bomb_fails_even_when_caught() {
    let s = Server::start();
    let e = s.query_err("limits:memoryBomb", json!({}));
    e.assert_contains("JavaScript execution ran out of memory (maximum memory usage: 64 MB)");
    next_call_works(&s);
    // And again: the limit is per execution, not exhausted for good.
    s.query_err("limits:memoryBomb", json!({}))
        .assert_contains("JavaScript execution ran out of memory (maximum memory usage: 64 MB)");
    next_call_works(&s);
}

#[test]
fn deep_recursion_is_a_range_error() {
    let s = Server::start();
    let e = s.query_err("limits:deepRecursion", json!({}));
    e.assert_contains("Uncaught RangeError: Maximum call stack size exceeded");
    next_call_works(&s);
}

#[test]
fn abuse_in_parallel_does_not_stop_normal_calls() {
    let s = std::sync::Arc::new(Server::start());
    let bad: Vec<_> = ["limits:runaway", "limits:memoryBomb", "limits:deepRecursion"]
        .into_iter()
        .map(|f| {
            let s = s.clone();
            std::thread::spawn(move || {
                let r = s.query(f, json!({}));
                assert_eq!(r.json["status"], json!("error"), "{f}: {}", r.text);
            })
        })
        .collect();
    for i in 0..5 {
        send_message(&s, "p", &format!("m{i}"), "par", 0.0);
    }
    for h in bad {
        h.join().unwrap();
    }
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(5.0));
}

#[test]
fn document_size_limit() {
    let s = Server::start();
    s.mutation_ok("values:insertBig", json!({"n": 100_000}));
    let e = s.mutation("values:insertBig", json!({"n": 1_100_000}));
    assert_eq!(
        e.json["status"],
        json!("error"),
        "a document over 1 MiB must be rejected: {}",
        &e.text[..e.text.len().min(300)]
    );
    let sorted = s.query_ok("items:sorted", json!({"group": "big"}));
    assert_eq!(sorted.as_array().unwrap().len(), 1, "only the small document exists");
}

#[test]
fn array_length_limit() {
    let s = Server::start();
    s.mutation_ok("values:insertLongArray", json!({"n": 8192}));
    let e = s.mutation("values:insertLongArray", json!({"n": 8193}));
    assert_eq!(e.json["status"], json!("error"), "arrays over 8192 elements must be rejected: {}", e.text);
    assert_eq!(s.query_ok("items:sorted", json!({"group": "array"})).as_array().unwrap().len(), 1);
}

#[test]
fn document_nesting_limit() {
    let s = Server::start();
    s.mutation_ok("values:insertNested", json!({"depth": 10}));
    let e = s.mutation("values:insertNested", json!({"depth": 40}));
    assert_eq!(e.json["status"], json!("error"), "documents nested deeper than 16 must be rejected: {}", e.text);
    assert_eq!(s.query_ok("items:sorted", json!({"group": "nested"})).as_array().unwrap().len(), 1);
}

fn nested(depth: usize) -> Value {
    let mut v = json!("leaf");
    for _ in 0..depth {
        v = json!({ "inner": v });
    }
    v
}

#[test]
fn argument_nesting_limit() {
    let s = Server::start();
    assert_json_eq(&s.query_ok("values:echo", json!({"value": nested(20)})), &nested(20));
    let r = s.query("values:echo", json!({"value": nested(100)}));
    assert_ne!(r.json.get("status"), Some(&json!("success")), "values nested deeper than 64 must be rejected");
    next_call_works(&s);
}

#[test]
fn oversized_arguments_are_rejected() {
    let s = Server::start();
    let big = "x".repeat(17 * 1024 * 1024);
    let r = s.query("values:echo", json!({ "value": big }));
    assert_ne!(
        r.json.get("status"),
        Some(&json!("success")),
        "arguments over 16 MiB must be rejected (HTTP {})",
        r.status
    );
    next_call_works(&s);
}
