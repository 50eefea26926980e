//! Scheduler benchmark (issue 3 §9): dispatch latency of scheduled mutations (due time → start)
//! and the time to run 10,000 `runAfter(0)` mutations, in-process on `fixtures/scheduling`, with
//! the raw SQLite single-row commit rate of the same run as the baseline.
//!
//! Run: `cargo bench --bench scheduler` (prints a Markdown table for BENCHMARKS.md).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use common::{call_in_process, fixture, start_executor, temp_dir};
use emvex_executor::Executor;
use emvex_value::Value;
use serde_json::{Value as Json, json};

const APP: &str = "scheduling";

/// mimalloc, as in the `emvex` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BURSTS: usize = 10;
const BURST_SIZE: usize = 1000;
const LATENCY_JOBS: usize = 200;

fn call(executor: &Executor, path: &str, args: Json) -> Value {
    call_in_process(executor, path, args)
}

fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as f64
}

fn main() {
    let raw_dir = temp_dir("sched-raw");
    let raw_n = BURSTS * BURST_SIZE;
    let raw = emvex_database::storage::baseline_single_row_commits(&raw_dir.join("raw.sqlite3"), raw_n)
        .expect("raw sqlite baseline");

    let data_dir = temp_dir("sched");
    let executor = start_executor(&fixture(APP), &data_dir);

    // Throughput: 10 mutations each scheduling 1,000 runAfter(0) jobs; until the last has run.
    let started = Instant::now();
    for _ in 0..BURSTS {
        call(&executor, "jobs:burst", json!({ "run": "bench", "count": BURST_SIZE as f64 }));
    }
    // Watch the `burst` table's row count straight from the database: a query through the
    // worker would compete with the jobs being measured.
    let deadline = Instant::now() + Duration::from_secs(120);
    let total = BURSTS * BURST_SIZE;
    loop {
        let mut tx = executor.database().begin_query().expect("read transaction");
        let done = tx.count("", "burst").expect("count") as usize;
        drop(tx);
        if done >= total {
            break;
        }
        assert!(Instant::now() < deadline, "only {done} of {total} scheduled jobs ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    let burst_time = started.elapsed();
    // Every index ran exactly once per burst.
    let counts = call(&executor, "jobs:burstCounts", json!({ "run": "bench" }));
    let exactly_once = matches!(&counts, Value::Array(rows) if rows.len() == BURST_SIZE && rows.iter().all(|r| {
        r.as_object().and_then(|o| o.get("rows")) == Some(&Value::Float64(BURSTS as f64))
    }));
    assert!(exactly_once, "some burst job ran more or less than once");

    // Dispatch latency: jobs due 5 ms apart, each recording the frozen Date.now() it started at.
    let first_due = now_ms() + 500.0;
    for i in 0..LATENCY_JOBS {
        let at = first_due + (i as f64) * 5.0;
        call(&executor, "jobs:scheduleAt", json!({ "label": format!("lat-{i}"), "at": at }));
    }
    std::thread::sleep(Duration::from_millis(700 + 5 * LATENCY_JOBS as u64));
    let mut latencies: Vec<f64> = (0..LATENCY_JOBS)
        .map(|i| {
            let at = first_due + (i as f64) * 5.0;
            let runs = call(&executor, "jobs:runs", json!({ "label": format!("lat-{i}") }));
            let ran_at = match &runs {
                Value::Array(rows) if rows.len() == 1 => match rows[0].as_object().and_then(|o| o.get("ranAt")) {
                    Some(Value::Float64(t)) => *t,
                    other => panic!("ranAt missing: {other:?}"),
                },
                other => panic!("job lat-{i} ran {other:?}"),
            };
            assert!(ran_at >= at.floor(), "job lat-{i} ran before it was due");
            ran_at - at.floor()
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];

    let raw_rate = raw_n as f64 / raw.as_secs_f64();
    let sched_rate = (BURSTS * BURST_SIZE) as f64 / burst_time.as_secs_f64();
    println!("| measurement | value | ratio |");
    println!("|---|---|---|");
    println!("| raw SQLite single-row commits/s (baseline) | {raw_rate:.0} | 1.00 |");
    println!(
        "| 10,000 `runAfter(0)` mutations: schedule → last one committed | {:.2} s ({sched_rate:.0} jobs/s) | {:.3} |",
        burst_time.as_secs_f64(),
        sched_rate / raw_rate
    );
    println!("| dispatch latency p50 (due → start, ms resolution) | {:.0} ms | |", pct(0.5));
    println!("| dispatch latency p99 | {:.0} ms | |", pct(0.99));
    drop(executor);
    for dir in [raw_dir, data_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
