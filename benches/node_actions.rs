//! Node.js actions benchmark (issue 10 §9): the round trip of a trivial `"use node"` action and
//! the cost of `ctx.runQuery` from one, against the same from a QuickJS action in the same run
//! (the baseline), in-process on `fixtures/node-actions` with one JS thread.
//!
//! Run: `cargo bench --bench node_actions` (prints a Markdown table for BENCHMARKS.md).

mod common;

use std::time::{Duration, Instant};

use common::{call_in_process, fixture, start_executor, temp_dir};
use emvex_executor::Executor;
use serde_json::{Value, json};

/// mimalloc, as in the `emvex` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROUNDS: usize = 200;
const QUERIES: usize = 50;

fn call(executor: &Executor, path: &str, args: Value) {
    call_in_process(executor, path, args);
}

/// Median time of one call of `path`.
fn median(executor: &Executor, path: &str, args: Value, rounds: usize) -> Duration {
    for _ in 0..5 {
        call(executor, path, args.clone());
    }
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            call(executor, path, args.clone());
            t.elapsed()
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let app = fixture("node-actions");
    let data = temp_dir("node-actions");
    let executor = start_executor(&app, &data);
    let quickjs = median(&executor, "plain:noop", json!({}), ROUNDS);
    let node = median(&executor, "hashing:noop", json!({}), ROUNDS);
    let per_query = |path: &str, noop: Duration| {
        let loop_time = median(&executor, path, json!({ "n": QUERIES as f64 }), ROUNDS / 10);
        loop_time.saturating_sub(noop) / QUERIES as u32
    };
    let quickjs_query = per_query("plain:queries", quickjs);
    let node_query = per_query("hashing:queries", node);
    let ratio = |a: Duration, b: Duration| format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64());
    println!("\n### Node.js actions against QuickJS actions (one JS thread, medians)\n");
    println!("| measure | QuickJS action (baseline) | Node.js action | Node / QuickJS |");
    println!("|---|---|---|---|");
    println!(
        "| round trip of an action returning a number | {} | {} | {} |",
        us(quickjs),
        us(node),
        ratio(node, quickjs)
    );
    println!(
        "| one `ctx.runQuery` from the action (of {QUERIES} in a row) | {} | {} | {} |",
        us(quickjs_query),
        us(node_query),
        ratio(node_query, quickjs_query)
    );
    drop(executor);
    let _ = std::fs::remove_dir_all(data);
}
