//! Vector search benchmark (issue 10 §9): exact search over 100,000 vectors of 1,536 dimensions
//! (the size of OpenAI's `text-embedding-3-small` vectors), through the database's
//! `vector_search` (what `ctx.vectorSearch` calls), against the time to read the same amount of
//! memory once in the same run (the floor of an exact search).
//!
//! Measured: the first search (which loads the index from the documents), p50/p90 of searches
//! with `limit` 10 and 256, with a filter, and a search right after one new document committed
//! (the index catches up from the commit log). Sizes: `VECTORS` and `DIMENSIONS` env vars.
//!
//! Run: `cargo bench --bench vector_search` (prints a Markdown table for BENCHMARKS.md).

use std::hint::black_box;
use std::time::{Duration, Instant};

mod common;

use common::temp_dir;
use emvex_database::{Database, SchemaDefinition, VectorQuery};
use emvex_value::{Object, Value};
use serde_json::{Value as Json, json};

/// mimalloc, as in the `emvex` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 400;
const SEARCHES: usize = 40;
const GENRES: [&str; 8] = ["drama", "comedy", "horror", "documentary", "action", "romance", "thriller", "animation"];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// xorshift64*: the benchmark's data only needs to be varied and reproducible.
struct StdRng(u64);

impl StdRng {
    fn seed_from_u64(seed: u64) -> StdRng {
        StdRng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [-1, 1).
    fn next_signed_unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        bits as f64 / (1u64 << 52) as f64 - 1.0
    }
}

fn random_vector(rng: &mut StdRng, dims: usize) -> Vec<f64> {
    // Rounded like real embeddings printed to JSON (6 decimals).
    (0..dims).map(|_| (rng.next_signed_unit() * 1e6).round() / 1e6).collect()
}

fn document(rng: &mut StdRng, dims: usize, i: usize) -> Object {
    let mut doc = Object::new();
    doc.insert("title".into(), Value::String(format!("movie {i}")));
    doc.insert("genre".into(), Value::String(GENRES[i % GENRES.len()].into()));
    doc.insert("embedding".into(), Value::Array(random_vector(rng, dims).into_iter().map(Value::Float64).collect()));
    doc
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn query(vector: &[f64], extra: Json) -> VectorQuery {
    let mut q = json!({"indexName": "movies.by_embedding", "vector": vector});
    q.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
    VectorQuery::from_json(&q).expect("valid query")
}

/// p50 and p90 of `SEARCHES` searches with fresh random query vectors.
fn measure(db: &Database, rng: &mut StdRng, dims: usize, extra: Json) -> (Duration, Duration) {
    let mut samples: Vec<Duration> = (0..SEARCHES)
        .map(|_| {
            let q = query(&random_vector(rng, dims), extra.clone());
            let start = Instant::now();
            black_box(db.vector_search("", &q).expect("search"));
            start.elapsed()
        })
        .collect();
    (percentile(&mut samples, 0.5), percentile(&mut samples, 0.9))
}

/// A sum over 16 lanes (vectorised, like the search's dot product).
fn lane_sum(data: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    for chunk in data.chunks_exact(16) {
        for i in 0..16 {
            acc[i] += chunk[i];
        }
    }
    acc.iter().sum()
}

/// The floor: summing `floats` f32s laid out in memory once (best of 5), over as many threads
/// as the search uses.
fn memory_read(floats: usize) -> Duration {
    let data: Vec<f32> = (0..floats).map(|i| (i % 7) as f32).collect();
    (0..5)
        .map(|_| {
            let start = Instant::now();
            let half = data.len() / 2;
            let (a, b) = data.split_at(half);
            let sum = std::thread::scope(|s| {
                let left = s.spawn(|| lane_sum(a));
                let right = lane_sum(b);
                left.join().expect("sum thread") + right
            });
            black_box(sum);
            start.elapsed()
        })
        .min()
        .expect("five runs")
}

fn main() {
    let vectors = env_usize("VECTORS", 100_000);
    let dims = env_usize("DIMENSIONS", 1536);
    let dir = temp_dir("vector-search");
    let db = Database::open(&dir.join("db.sqlite3")).expect("open database");
    let schema = json!({"tables": [{"tableName": "movies", "indexes": [], "searchIndexes": [],
        "vectorIndexes": [{"indexDescriptor": "by_embedding", "vectorField": "embedding",
            "dimensions": dims, "filterFields": ["genre"]}],
        "documentType": {"type": "any"}}], "schemaValidation": false});
    db.apply_schema("", Some(&SchemaDefinition::from_export_json(&schema.to_string()).expect("schema")))
        .expect("apply schema");

    let mut rng = StdRng::seed_from_u64(1);
    let start = Instant::now();
    for batch in 0..vectors.div_ceil(BATCH) {
        let mut tx = db.begin_mutation().expect("begin");
        for i in batch * BATCH..((batch + 1) * BATCH).min(vectors) {
            tx.insert("", "movies", document(&mut rng, dims, i)).expect("insert");
        }
        tx.commit().expect("commit");
    }
    let load = start.elapsed();
    eprintln!("inserted {vectors} documents of {dims} dimensions in {load:?}");

    let start = Instant::now();
    db.vector_search("", &query(&random_vector(&mut rng, dims), json!({}))).expect("first search");
    let first = start.elapsed();

    let (p50_10, p90_10) = measure(&db, &mut rng, dims, json!({}));
    let (p50_256, p90_256) = measure(&db, &mut rng, dims, json!({"limit": 256}));
    let one_genre = json!({"$eq": [{"$field": "genre"}, {"$literal": "drama"}]});
    let (p50_filter, p90_filter) = measure(&db, &mut rng, dims, json!({"expressions": one_genre}));

    let mut after_commit: Vec<Duration> = (0..SEARCHES / 4)
        .map(|i| {
            let mut tx = db.begin_mutation().expect("begin");
            tx.insert("", "movies", document(&mut rng, dims, vectors + i)).expect("insert");
            tx.commit().expect("commit");
            let q = query(&random_vector(&mut rng, dims), json!({}));
            let start = Instant::now();
            black_box(db.vector_search("", &q).expect("search"));
            start.elapsed()
        })
        .collect();
    let p50_after_commit = percentile(&mut after_commit, 0.5);

    let floor = memory_read(vectors * dims);
    let ratio = |d: Duration| format!("{:.2}×", d.as_secs_f64() / floor.as_secs_f64());
    println!("\n### Vector search, {vectors} vectors × {dims} dimensions (exact, cosine)\n");
    println!("| measure | time | × reading the vectors once |");
    println!("|---|---|---|");
    println!(
        "| baseline: reading {:.0} MiB of f32 once (2 threads, best of 5) | {} | 1.00× |",
        (vectors * dims * 4) as f64 / (1 << 20) as f64,
        ms(floor)
    );
    println!("| search, limit 10: p50 / p90 | {} / {} | {} |", ms(p50_10), ms(p90_10), ratio(p50_10));
    println!("| search, limit 256: p50 / p90 | {} / {} | {} |", ms(p50_256), ms(p90_256), ratio(p50_256));
    println!(
        "| search, filter `genre == \"drama\"` (1 in 8): p50 / p90 | {} / {} | {} |",
        ms(p50_filter),
        ms(p90_filter),
        ratio(p50_filter)
    );
    println!(
        "| search right after a commit of one document: p50 | {} | {} |",
        ms(p50_after_commit),
        ratio(p50_after_commit)
    );
    println!("| first search (loads the index from {vectors} documents) | {} | |", ms(first));
    println!("| (setup: inserting the documents, {BATCH} per mutation) | {} | |", ms(load));
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
