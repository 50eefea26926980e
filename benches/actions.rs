//! Action concurrency benchmark (issue 3 §9): actions that each await a 10 ms timer, run one at a
//! time (the baseline, measured in the same run) and ten at a time, in-process on
//! `fixtures/actions`. The target is close to 10× the one-at-a-time rate.
//!
//! Run: `cargo bench --bench actions`.

mod common;

use std::time::Instant;

use common::{fixture, start_executor, temp_dir};
use emvex_executor::{CallRequest, Executor};
use serde_json::json;

/// mimalloc, as in the `emvex` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROUNDS: usize = 50;
const CONCURRENT: usize = 10;

fn sleep_request() -> CallRequest {
    CallRequest {
        request_id: "bench".into(),
        path: "actions:sleep".into(),
        args: json!([{ "ms": 10.0 }]),
        kind: None,
        admin: false,
        component_path: None,
    }
}

async fn one(executor: &Executor) {
    let response = executor.call(sleep_request()).await;
    if let Err(e) = response.outcome {
        panic!("actions:sleep failed: {e:?}");
    }
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
