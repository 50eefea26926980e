//! Storage-only cost of a one-insert mutation: `n` transactions that each insert one document
//! into a table shaped like the fixture's `messages` (three schema indexes besides `by_id` and
//! `by_creation_time`) and commit, plus empty mutation and query transactions for comparison.
//! Run: `cargo run --release -p emvex-database --example insert_cost`.

use std::time::Instant;

use emvex_database::{Database, SchemaDefinition};
use emvex_value::{Object, Value};

const SCHEMA: &str = r#"{"tables":[{"tableName":"messages","indexes":[
  {"indexDescriptor":"by_channel","fields":["channel"]},
  {"indexDescriptor":"by_channel_author","fields":["channel","author"]},
  {"indexDescriptor":"by_author_likes","fields":["author","likes"]}],
  "searchIndexes":[],"vectorIndexes":[],"documentType":{"type":"any"}}],"schemaValidation":true}"#;

fn per_second(n: usize, t: Instant) -> f64 {
    n as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let dir = std::env::temp_dir().join(format!("emvex-insert-cost-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Database::open(&dir.join("db.sqlite3")).expect("open");
    db.apply_schema("", Some(&SchemaDefinition::from_export_json(SCHEMA).expect("schema"))).expect("apply");
    let n = 20_000;

    let t = Instant::now();
    for i in 0..n {
        let mut tx = db.begin_mutation().expect("begin");
        let mut doc = Object::new();
        doc.insert("author".into(), Value::String("bench".into()));
        doc.insert("body".into(), Value::String(format!("message {i}")));
        doc.insert("channel".into(), Value::String("bench".into()));
        doc.insert("likes".into(), Value::Float64(0.0));
        tx.insert("", "messages", doc).expect("insert");
        tx.commit().expect("commit");
    }
    println!("insert + commit: {:.0}/s", per_second(n, t));

    let t = Instant::now();
    for _ in 0..n {
        db.begin_mutation().expect("begin").commit().expect("commit");
    }
    println!("empty mutation transaction: {:.0}/s", per_second(n, t));

    let t = Instant::now();
    for _ in 0..n {
        drop(db.begin_query().expect("begin"));
    }
    println!("query transaction: {:.0}/s", per_second(n, t));
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
