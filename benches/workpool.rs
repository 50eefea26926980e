//! Workpool benchmark (issue 4 §8): the workloads W1–W5 on `fixtures/workpool-ts`
//! (`convex/bench.ts`), driven over HTTP against `emvex dev`, once with the native component
//! and once with the npm package's own TypeScript implementation (the baseline, same run,
//! same machine), plus the resident memory of the native server holding 100,000 pending items.
//! Every workload checks its outcome (every item completed as it should, nothing ran that was
//! canceled, no lost counter update) before its time is reported.
//!
//! Run: `cargo bench --bench workpool` (prints a Markdown table for BENCHMARKS.md).

mod common;

use std::time::{Duration, Instant};

use common::{DevServer, call};
use serde_json::{Value, json};

/// mimalloc, as in the `emvex` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const APP: &str = "workpool-ts";
const DEADLINE: Duration = Duration::from_secs(600);
const PENDING_ITEMS: usize = 100_000;
const PENDING_BATCH: usize = 5_000;

struct Pool {
    server: DevServer,
    client: reqwest::blocking::Client,
}

impl Pool {
    fn start(implementation: &str) -> Pool {
        let (server, _) = DevServer::start(APP, &["--in-memory", "--workpool-impl", implementation]);
        let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(600)).build().expect("client");
        Pool { server, client }
    }

    fn mutation(&self, path: &str, args: Value) -> Value {
        call(&self.client, &self.server.url, "mutation", path, args)
    }

    fn count(&self, key: &str) -> f64 {
        call(&self.client, &self.server.url, "query", "bench:count", json!({ "key": key })).as_f64().unwrap_or(0.0)
    }

    /// Waits until `<run>:<kind>` reaches `n`; returns the time since `start`.
    fn wait(&self, start: Instant, key: &str, n: usize) -> Duration {
        loop {
            let seen = self.count(key);
            if seen >= n as f64 {
                return start.elapsed();
            }
            assert!(start.elapsed() < DEADLINE, "{key}: only {seen} of {n} within {DEADLINE:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn expect(&self, key: &str, n: f64) {
        let seen = self.count(key);
        assert_eq!(seen, n, "{key}: expected {n}, found {seen}");
    }

    /// Resident memory of the server process, in MiB.
    fn rss_mib(&self) -> f64 {
        common::rss_kib(self.server.child.id()) as f64 / 1024.0
    }
}

/// Runs W1–W5 on one implementation and returns their times.
fn workloads(implementation: &str) -> Vec<Duration> {
    let pool = Pool::start(implementation);
    // Warm-up: load every realm and the pool's first rows.
    let t = Instant::now();
    pool.mutation("bench:enqueueTrivial", json!({ "run": "warm" }));
    pool.wait(t, "warm:success", 1);

    // W1: 1,000 trivial actions through one enqueueActionBatch.
    let t = Instant::now();
    pool.mutation("bench:enqueueTrivialBatch", json!({ "run": "w1", "n": 1000.0 }));
    let w1 = pool.wait(t, "w1:success", 1000);
    pool.expect("w1:failed", 0.0);

    // W2: the same with 1,000 separate enqueue mutations over HTTP.
    let t = Instant::now();
    for _ in 0..1000 {
        pool.mutation("bench:enqueueTrivial", json!({ "run": "w2" }));
    }
    let w2 = pool.wait(t, "w2:success", 1000);
    pool.expect("w2:failed", 0.0);

    // W3: 200 actions that fail twice, then succeed.
    let t = Instant::now();
    pool.mutation("bench:enqueueFlaky", json!({ "run": "w3", "n": 200.0 }));
    let w3 = pool.wait(t, "w3:success", 200);
    pool.expect("w3:failed", 0.0);

    // W4: 500 increments of one counter, one at a time.
    let t = Instant::now();
    pool.mutation("bench:enqueueIncrements", json!({ "run": "w4", "n": 500.0 }));
    let w4 = pool.wait(t, "w4:success", 500);
    pool.expect("w4:counter", 500.0);

    // W5: 500 actions due in a minute, then cancelAll: all canceled, none ran.
    let t = Instant::now();
    pool.mutation("bench:enqueueLater", json!({ "run": "w5", "n": 500.0 }));
    // Past the enqueue's millisecond: upstream's cancelAll covers work created up to its
    // whole-millisecond Date.now() only (see tests/common `next_millisecond`).
    std::thread::sleep(Duration::from_millis(3));
    pool.mutation("bench:cancelAll", json!({}));
    let w5 = pool.wait(t, "w5:canceled", 500);
    pool.expect("w5:ran", 0.0);
    pool.expect("w5:success", 0.0);
    vec![w1, w2, w3, w4, w5]
}

/// Resident memory of a native server before and after enqueueing 100,000 items due in an hour.
fn pending_memory() -> (f64, f64) {
    let pool = Pool::start("native");
    let t = Instant::now();
    pool.mutation("bench:enqueueTrivial", json!({ "run": "warm" }));
    pool.wait(t, "warm:success", 1);
    let before = pool.rss_mib();
    for _ in 0..PENDING_ITEMS / PENDING_BATCH {
        let args = json!({ "run": "mem", "n": PENDING_BATCH as f64, "delayMs": 3_600_000.0 });
        pool.mutation("bench:enqueueTrivialBatch", args);
    }
    (before, pool.rss_mib())
}

fn main() {
    let names = [
        "W1 1,000 trivial actions, one enqueueActionBatch, maxParallelism 10 → 1,000th onComplete",
        "W2 the same with 1,000 enqueue mutations over HTTP",
        "W3 200 actions failing twice then succeeding (maxAttempts 3, initialBackoffMs 10)",
        "W4 500 enqueueMutation increments of one counter, maxParallelism 1",
        "W5 500 actions runAfter 60 s, then cancelAll → all canceled",
    ];
    let native = workloads("native");
    let ts = workloads("ts");
    println!("| workload | native | TypeScript implementation (baseline) | TS ÷ native |");
    println!("|---|---|---|---|");
    for ((name, n), t) in names.iter().zip(&native).zip(&ts) {
        println!(
            "| {name} | {:.3} s | {:.3} s | {:.1}× |",
            n.as_secs_f64(),
            t.as_secs_f64(),
            t.as_secs_f64() / n.as_secs_f64()
        );
    }
    let (before, after) = pending_memory();
    println!("| native server RSS: idle pool → {PENDING_ITEMS} pending items | {before:.0} MiB → {after:.0} MiB | | |");
}
