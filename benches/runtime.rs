//! Runtime benchmark (issue 2 §12): mutation throughput in-process and over HTTP against the raw
//! SQLite single-row commit rate measured in the same run, indexed-query latency over HTTP, and
//! time from `emvex dev` start to the first served request.
//!
//! Run: `cargo bench --bench runtime` (prints a Markdown table for BENCHMARKS.md). Sizes can be
//! scaled with `EMVEX_BENCH_N` (default 5000 mutations).

use std::time::{Duration, Instant};

const APP: &str = "basic";

/// mimalloc: QuickJS allocates and frees many small objects per call; mimalloc measured ~10%
/// faster per mutation than the system allocator here.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use common::{DevServer, call, fixture, start_executor, temp_dir};
use emvex_executor::CallRequest;
use serde_json::{Value, json};

fn send_args(i: usize) -> Value {
    json!({ "author": "bench", "body": format!("message {i}"), "channel": "bench" })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let n: usize = std::env::var("EMVEX_BENCH_N").ok().and_then(|s| s.parse().ok()).unwrap_or(5000);

    // Raw SQLite: n single-row commits with the same pragmas as emvex's storage.
    let raw_dir = temp_dir("raw");
    let raw = emvex_database::storage::baseline_single_row_commits(&raw_dir.join("raw.sqlite3"), n)
        .expect("raw sqlite baseline");
    let raw_rate = n as f64 / raw.as_secs_f64();

    // In-process: the executor called directly, one `messages:send` (one insert) per mutation.
    let data_dir = temp_dir("inproc");
    let executor = start_executor(&fixture(APP), &data_dir);
    let request = |i: usize| CallRequest {
        request_id: "bench".into(),
        path: "messages:send".into(),
        args: json!([send_args(i)]),
        kind: None,
        admin: false,
        component_path: None,
        ..CallRequest::default()
    };
    for i in 0..100 {
        executor.call_blocking(request(i)).outcome.expect("warm-up mutation");
    }
    let t = Instant::now();
    for i in 0..n {
        executor.call_blocking(request(i)).outcome.expect("mutation");
    }
    let inproc_rate = n as f64 / t.elapsed().as_secs_f64();
    drop(executor);

    // Over HTTP: the same mutation through `emvex dev` with a file database.
    let http_dir = temp_dir("http");
    let (server, _) = DevServer::start(APP, &["--data", http_dir.to_str().unwrap()]);
    let client = reqwest::blocking::Client::new();
    for i in 0..100 {
        call(&client, &server.url, "mutation", "messages:send", send_args(i));
    }
    let http_n = n.min(3000);
    let t = Instant::now();
    for i in 0..http_n {
        call(&client, &server.url, "mutation", "messages:send", send_args(i));
    }
    let http_rate = http_n as f64 / t.elapsed().as_secs_f64();

    // Indexed lookup over HTTP: `counters:get` reads one row through the `by_name` index.
    call(&client, &server.url, "mutation", "counters:set", json!({ "name": "bench", "value": 1.0 }));
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..200 {
        call(&client, &server.url, "query", "counters:get", json!({ "name": "bench" }));
    }
    for _ in 0..n {
        let t = Instant::now();
        call(&client, &server.url, "query", "counters:get", json!({ "name": "bench" }));
        latencies.push(t.elapsed());
    }
    latencies.sort();
    drop(server);

    // Start to ready: spawn `emvex dev` (warm bytecode cache) until the first query succeeds.
    let mut starts = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let (server, _) = DevServer::start(APP, &["--in-memory"]);
        call(&client, &server.url, "query", "counters:get", json!({ "name": "x" }));
        starts.push(t.elapsed());
        drop(server);
    }
    starts.sort();

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("| measurement | value | ratio |");
    println!("|---|---|---|");
    println!("| raw SQLite single-row commits/s (baseline) | {raw_rate:.0} | 1.00 |");
    println!("| in-process one-insert mutations/s | {inproc_rate:.0} | {:.2} |", inproc_rate / raw_rate);
    println!("| HTTP one-insert mutations/s | {http_rate:.0} | {:.2} |", http_rate / raw_rate);
    println!("| HTTP indexed query p50 | {:.3} ms | |", ms(percentile(&latencies, 0.5)));
    println!("| HTTP indexed query p99 | {:.3} ms | |", ms(percentile(&latencies, 0.99)));
    println!(
        "| `emvex dev` start → first request served (median of 7, warm cache) | {:.1} ms | |",
        ms(starts[starts.len() / 2])
    );

    for dir in [raw_dir, data_dir, http_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
