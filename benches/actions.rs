//! Action concurrency benchmark (issue 3 §9): actions that each await a 10 ms timer, run one at a
//! time (the baseline, measured in the same run) and ten at a time, in-process on
//! `fixtures/actions`. The target is close to 10× the one-at-a-time rate. Then CPU-bound
//! actions (20 ms busy loops, two at a time) on one JS thread (baseline) and on two.
//!
//! Run: `cargo bench --bench actions`.

mod common;

use std::time::Instant;

use common::{fixture, start_executor, start_executor_with_workers, temp_dir};
use emvex_executor::{CallRequest, Executor};
use serde_json::json;

/// mimalloc, as in the `emvex` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROUNDS: usize = 50;
const CONCURRENT: usize = 10;

const CPU_ROUNDS: usize = 25;

fn request(path: &str) -> CallRequest {
    CallRequest {
        request_id: "bench".into(),
        path: path.into(),
        args: json!([{ "ms": if path == "actions:busy" { 20.0 } else { 10.0 } }]),
        kind: None,
        admin: false,
        component_path: None,
        ..CallRequest::default()
    }
}

async fn call(executor: &Executor, path: &str) {
    let response = executor.call(request(path)).await;
    if let Err(e) = response.outcome {
        panic!("{path} failed: {e:?}");
    }
}

async fn one(executor: &Executor) {
    call(executor, "actions:sleep").await;
}

/// Rate of 20 ms busy actions run two at a time on an executor with `workers` JS threads.
async fn busy_rate(executor: &Executor) -> f64 {
    call(executor, "actions:busy").await;
    let t = Instant::now();
    for _ in 0..CPU_ROUNDS {
        futures_join_all(vec![call(executor, "actions:busy"), call(executor, "actions:busy")]).await;
    }
    (CPU_ROUNDS * 2) as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let app = fixture("actions");
    let data = temp_dir("actions");
    let executor = start_executor(&app, &data);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        for _ in 0..5 {
            one(&executor).await;
        }
        let t = Instant::now();
        for _ in 0..ROUNDS {
            one(&executor).await;
        }
        let sequential = (ROUNDS as f64) / t.elapsed().as_secs_f64();

        let t = Instant::now();
        for _ in 0..ROUNDS {
            let calls: Vec<_> = (0..CONCURRENT).map(|_| one(&executor)).collect();
            futures_join_all(calls).await;
        }
        let concurrent = (ROUNDS * CONCURRENT) as f64 / t.elapsed().as_secs_f64();

        println!("| measurement | value | ratio |");
        println!("|---|---|---|");
        println!("| actions awaiting a 10 ms timer, one at a time (baseline) | {sequential:.0}/s | 1.00 |");
        println!("| the same, {CONCURRENT} at a time | {concurrent:.0}/s | {:.2} |", concurrent / sequential);
    });
    drop(executor);
    let one_thread = start_executor_with_workers(&app, &data, 1);
    let single = runtime.block_on(busy_rate(&one_thread));
    drop(one_thread);
    let two_threads = start_executor_with_workers(&app, &data, 2);
    let double = runtime.block_on(busy_rate(&two_threads));
    drop(two_threads);
    println!("| 20 ms CPU-bound actions, two at a time, `--workers 1` (baseline) | {single:.1}/s | 1.00 |");
    println!("| the same with `--workers 2` | {double:.1}/s | {:.2} |", double / single);
    let _ = std::fs::remove_dir_all(data);
}

/// Awaits every future (they make progress together on this thread).
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pinned.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pinned.is_empty() { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
}
