//! Text search benchmark (issue 10): `messages:search` (a `withSearchIndex` query, `take(10)`)
//! over 100,000 documents of `fixtures/search`, against an indexed equality query
//! (`messages:byChannel`, `withIndex(...).take(10)`) measured in the same run as the baseline.
//!
//! Run: `cargo bench --bench search` (prints a Markdown table for BENCHMARKS.md). The number
//! of documents can be scaled with `EMVEX_BENCH_DOCS` (default 100000).

use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use common::{DevServer, call, temp_dir};
use serde_json::json;

const APP: &str = "search";
const VOCABULARY: usize = 5000;
const CHANNELS: usize = 20;

/// A deterministic pseudo-random generator (xorshift64*), so every run indexes the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A word index skewed toward small indexes (like natural text: a few words are common).
    fn word(&mut self) -> usize {
        let a = (self.next() % VOCABULARY as u64) as usize;
        let b = (self.next() % VOCABULARY as u64) as usize;
        a.min(b)
    }
}

fn word(i: usize) -> String {
    format!("w{i}x")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn measure(n: usize, mut f: impl FnMut(usize)) -> Vec<Duration> {
    for i in 0..50 {
        f(i);
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i);
        out.push(t.elapsed());
    }
    out.sort();
    out
}

fn main() {
    let docs: usize = std::env::var("EMVEX_BENCH_DOCS").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let dir = temp_dir("search");
    let (server, _) = DevServer::start(APP, &["--data", dir.to_str().unwrap()]);
    let client = reqwest::blocking::Client::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let batch = 1000;
    let t = Instant::now();
    for start in (0..docs).step_by(batch) {
        let channel = format!("c{}", (start / batch) % CHANNELS);
        let bodies: Vec<String> = (start..(start + batch).min(docs))
            .map(|_| {
                let len = 6 + (rng.next() % 10) as usize;
                (0..len).map(|_| word(rng.word())).collect::<Vec<_>>().join(" ")
            })
            .collect();
        call(&client, &server.url, "mutation", "messages:sendMany", json!({ "bodies": bodies, "channel": channel }));
    }
    let load = t.elapsed();
    let n = 500;
    // Baseline: an indexed equality query returning 10 documents.
    let indexed = measure(n, |i| {
        call(
            &client,
            &server.url,
            "query",
            "messages:byChannel",
            json!({"channel": format!("c{}", i % CHANNELS), "limit": 10}),
        );
    });
    // Two-term searches (the last term a prefix) of mid-frequency words, 10 results.
    let mut qrng = Rng(42);
    let search = measure(n, |_| {
        let text = format!("{} {}", word(100 + qrng.word() % 900), &word(50 + qrng.word() % 500)[..3]);
        call(&client, &server.url, "query", "messages:search", json!({"text": text, "limit": 10}));
    });
    // The same searches restricted by a filter field.
    let filtered = measure(n, |i| {
        let text = format!("{} {}", word(100 + qrng.word() % 900), word(50 + qrng.word() % 500));
        call(
            &client,
            &server.url,
            "query",
            "messages:search",
            json!({"text": text, "channel": format!("c{}", i % CHANNELS), "limit": 10}),
        );
    });
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let base = ms(percentile(&indexed, 0.5));
    println!(
        "{docs} documents loaded in {:.1} s ({:.0} documents/s, search index kept on every insert)",
        load.as_secs_f64(),
        docs as f64 / load.as_secs_f64()
    );
    println!();
    println!("| measurement ({docs} documents, {n} calls each, over HTTP) | p50 | p99 | p50 ratio |");
    println!("|---|---|---|---|");
    for (name, lat) in [
        ("indexed equality query, take(10) (baseline)", &indexed),
        ("text search, 2 terms (last a prefix), take(10)", &search),
        ("text search, 2 terms + filter field, take(10)", &filtered),
    ] {
        println!(
            "| {name} | {:.3} ms | {:.3} ms | {:.2} |",
            ms(percentile(lat, 0.5)),
            ms(percentile(lat, 0.99)),
            ms(percentile(lat, 0.5)) / base
        );
    }
}
