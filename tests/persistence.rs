//! Durability with `--data DIR`: data survives a restart, creation times keep growing,
//! and `kill -9` in the middle of a burst of mutations leaves only whole mutations.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::json;

#[test]
fn data_survives_a_restart() {
    let data = TempDir::new("persist-restart");
    let (id, doc) = {
        let s = Server::start_with_data(&data.path);
        let id = send_message(&s, "ann", "durable", "general", 4.0);
        s.mutation_ok("counters:set", json!({"name": "c", "value": 9}));
        let doc = s.query_ok("messages:get", json!({ "id": id }));
        (id, doc)
        // dropped: SIGKILL
    };
    let s = Server::start_with_data(&data.path);
    assert_json_eq(&s.query_ok("messages:get", json!({ "id": id })), &doc);
    assert_eq!(s.query_ok("counters:get", json!({"name": "c"})).as_f64(), Some(9.0));
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(1.0));
    // Indexes survive too.
    let by_channel = s.query_ok("messages:byChannel", json!({"channel": "general"}));
    assert_eq!(by_channel.as_array().unwrap().len(), 1);
    // New ids in the same table keep its table number.
    let id2 = send_message(&s, "bob", "after restart", "general", 0.0);
    assert_eq!(decode_id(&id).unwrap().0, decode_id(&id2).unwrap().0);
}

#[test]
fn creation_times_keep_growing_across_restarts() {
    let data = TempDir::new("persist-clock");
    let first = {
        let s = Server::start_with_data(&data.path);
        let id = send_message(&s, "a", "1", "c", 0.0);
        s.query_ok("messages:get", json!({ "id": id }))["_creationTime"].as_f64().unwrap()
    };
    let s = Server::start_with_data(&data.path);
    let id = send_message(&s, "a", "2", "c", 0.0);
    let second = s.query_ok("messages:get", json!({ "id": id }))["_creationTime"].as_f64().unwrap();
    assert!(second > first, "creation time went backwards across a restart: {first} then {second}");
    let list = s.query_ok("messages:list", json!({}));
    let bodies: Vec<&str> = list.as_array().unwrap().iter().map(|d| d["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["1", "2"]);
}

#[test]
fn data_dir_is_created_when_missing() {
    let root = TempDir::new("persist-newdir");
    let dir = root.path.join("a/b/c");
    {
        let s = Server::start_with_data(&dir);
        send_message(&s, "a", "in a new dir", "c", 0.0);
    }
    assert!(dir.is_dir(), "--data DIR must be created");
    let s = Server::start_with_data(&dir);
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(1.0));
}

#[test]
fn in_memory_data_is_gone_after_a_restart() {
    {
        let s = Server::start();
        send_message(&s, "a", "ephemeral", "c", 0.0);
    }
    let s = Server::start();
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(0.0));
}

#[test]
fn kill_9_mid_burst_leaves_only_whole_mutations() {
    const BATCH: f64 = 20.0;
    let data = TempDir::new("persist-kill9");
    let s = Server::start_with_data(&data.path);
    let url = s.url.clone();
    let acked: Arc<Mutex<Vec<i64>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let acked = acked.clone();
            let stop = stop.clone();
            let url = url.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
                let mut i = 0i64;
                while !stop.load(Ordering::SeqCst) {
                    let batch = w * 1_000_000 + i;
                    i += 1;
                    let body = call_body("counters:insertBatch", json!({"batch": batch, "size": BATCH}));
                    let resp = client
                        .post(format!("{url}/api/mutation"))
                        .header("Content-Type", "application/json")
                        .body(body.to_string())
                        .send();
                    match resp.and_then(|r| r.json::<serde_json::Value>()) {
                        Ok(v) if v["status"] == json!("success") => acked.lock().unwrap().push(batch),
                        Ok(v) => panic!("mutation failed before the kill: {v}"),
                        Err(_) => break, // the server died
                    }
                }
            })
        })
        .collect();
    // Let the burst run, then kill the server without warning.
    std::thread::sleep(Duration::from_millis(1500));
    s.kill9();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty(), "no mutation completed before the kill");

    let s = Server::start_with_data(&data.path);
    let sizes = batch_sizes(&s);
    for (batch, n) in &sizes {
        assert_eq!(*n, BATCH, "batch {batch} is partial after kill -9: {n} rows");
    }
    for batch in &acked {
        assert!(
            sizes.contains_key(&(*batch as f64).to_string()),
            "batch {batch} was acknowledged but is missing after restart"
        );
    }
    // At most the in-flight mutations (one per writer) committed without an ack.
    assert!(sizes.len() <= acked.len() + 3, "{} batches stored, {} acked", sizes.len(), acked.len());
    // The restarted server accepts writes.
    s.mutation_ok("counters:insertBatch", json!({"batch": -1, "size": 1}));
}
