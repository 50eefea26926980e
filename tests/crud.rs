//! Storage and transactions over HTTP: insert/get/patch (incl. removing a field with
//! `undefined`)/replace/delete, strictly increasing `_creationTime`, read-your-writes,
//! all-or-nothing mutations, schema validation with Convex's text, concurrent writers.

mod common;

use common::*;
use serde_json::{Value, json};

fn now_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64
}

#[test]
fn insert_then_get() {
    let s = Server::start();
    let before = now_ms();
    let id = send_message(&s, "ann", "hello", "general", 3.0);
    let doc = s.query_ok("messages:get", json!({ "id": id }));
    assert_eq!(doc["_id"], json!(id));
    assert_eq!(doc["author"], json!("ann"));
    assert_eq!(doc["body"], json!("hello"));
    assert_eq!(doc["channel"], json!("general"));
    assert_eq!(doc["likes"].as_f64(), Some(3.0));
    assert!(doc.get("tags").is_none(), "absent optional field must not appear: {doc}");
    let ct = doc["_creationTime"].as_f64().expect("_creationTime is a number");
    assert!(ct > before - 60_000.0 && ct < now_ms() + 60_000.0, "_creationTime {ct} is not near now {before}");
}

#[test]
fn get_of_deleted_or_unknown_document_is_null() {
    let s = Server::start();
    let id = send_message(&s, "ann", "hello", "general", 0.0);
    assert_eq!(s.mutation_ok("messages:remove", json!({ "id": id })), json!(null));
    assert_eq!(s.query_ok("messages:get", json!({ "id": id })), json!(null));
    assert_eq!(s.query_ok("messages:list", json!({})), json!([]));
}

#[test]
fn creation_times_strictly_increase() {
    let s = Server::start();
    let first: Vec<f64> = s
        .mutation_ok("messages:creationTimes", json!({"n": 5}))
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let second: Vec<f64> = s
        .mutation_ok("messages:creationTimes", json!({"n": 5}))
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let all: Vec<f64> = first.iter().chain(second.iter()).copied().collect();
    assert_eq!(all.len(), 10);
    for w in all.windows(2) {
        assert!(w[0] < w[1], "creation times not strictly increasing: {all:?}");
    }
    // A full table scan returns documents in creation order.
    let listed: Vec<f64> = s
        .query_ok("messages:list", json!({}))
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["_creationTime"].as_f64().unwrap())
        .collect();
    assert_eq!(listed, all);
}

#[test]
fn list_orders_ascending_and_descending() {
    let s = Server::start();
    for b in ["a", "b", "c", "d"] {
        send_message(&s, "ann", b, "general", 0.0);
    }
    let bodies = |v: Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|d| d["body"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(bodies(s.query_ok("messages:list", json!({}))), ["a", "b", "c", "d"]);
    assert_eq!(bodies(s.query_ok("messages:listDesc", json!({}))), ["d", "c", "b", "a"]);
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(4.0));
}

#[test]
fn patch_updates_fields_and_keeps_the_rest() {
    let s = Server::start();
    let id = send_message(&s, "ann", "hello", "general", 1.0);
    let original = s.query_ok("messages:get", json!({ "id": id }));
    let doc = s.mutation_ok("messages:update", json!({"id": id, "likes": 10}));
    assert_eq!(doc["likes"].as_f64(), Some(10.0));
    assert_eq!(doc["body"], json!("hello"));
    assert_eq!(doc["_creationTime"], original["_creationTime"]);
    let read = s.query_ok("messages:get", json!({ "id": id }));
    assert_json_eq(&read, &doc);
}

#[test]
fn patch_with_undefined_removes_the_field() {
    let s = Server::start();
    let id = s
        .mutation_ok("messages:send", json!({"author": "ann", "body": "x", "channel": "c", "tags": ["a", "b"]}))
        .as_str()
        .unwrap()
        .to_string();
    let doc = s.query_ok("messages:get", json!({ "id": id }));
    assert_eq!(doc["tags"], json!(["a", "b"]));
    let cleared = s.mutation_ok("messages:clearTags", json!({ "id": id }));
    assert!(cleared.get("tags").is_none(), "tags must be removed: {cleared}");
    let read = s.query_ok("messages:get", json!({ "id": id }));
    assert!(read.get("tags").is_none(), "tags must be removed after commit: {read}");
    assert_eq!(read["body"], json!("x"));
}

#[test]
fn replace_swaps_the_body_and_keeps_system_fields() {
    let s = Server::start();
    let id = s
        .mutation_ok("messages:send", json!({"author": "ann", "body": "x", "channel": "c", "likes": 5, "tags": ["t"]}))
        .as_str()
        .unwrap()
        .to_string();
    let original = s.query_ok("messages:get", json!({ "id": id }));
    let replaced = s.mutation_ok("messages:replace", json!({"id": id, "author": "bob", "body": "y", "channel": "d"}));
    assert_json_eq(
        &replaced,
        &json!({
            "_id": id,
            "_creationTime": original["_creationTime"],
            "author": "bob",
            "body": "y",
            "channel": "d",
            "likes": 0,
        }),
    );
}

#[test]
fn delete_removes_from_reads_and_indexes() {
    let s = Server::start();
    let a = send_message(&s, "ann", "a", "general", 0.0);
    let b = send_message(&s, "ann", "b", "general", 0.0);
    s.mutation_ok("messages:remove", json!({ "id": a }));
    let left = s.query_ok("messages:byChannel", json!({"channel": "general"}));
    let ids: Vec<&str> = left.as_array().unwrap().iter().map(|d| d["_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [b.as_str()]);
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(1.0));
}

#[test]
fn writes_to_a_missing_document_fail_with_convex_text() {
    let s = Server::start();
    let id = send_message(&s, "ann", "a", "general", 0.0);
    s.mutation_ok("messages:remove", json!({ "id": id }));
    s.mutation_err("messages:update", json!({"id": id, "likes": 1}))
        .assert_contains(&format!("Update on nonexistent document ID {id}"));
    s.mutation_err("messages:replace", json!({"id": id, "author": "a", "body": "b", "channel": "c"}))
        .assert_contains(&format!("Replace on nonexistent document ID {id}"));
    s.mutation_err("messages:remove", json!({ "id": id }))
        .assert_contains(&format!("Delete on nonexistent document ID {id}"));
    // The same error is catchable inside the function.
    let caught = s.mutation_ok("errors:catchPatchMissing", json!({}));
    assert!(caught.as_str().unwrap().contains("Update on nonexistent document ID"), "caught: {caught}");
}

#[test]
fn read_your_writes_inside_a_mutation() {
    let s = Server::start();
    send_message(&s, "ann", "a", "other", 0.0);
    let r = s.mutation_ok("messages:readYourWrites", json!({"channel": "ryw"}));
    assert_json_eq(&r, &json!({"before": 1, "after": 2, "likes": 2, "indexBodies": ["one"], "afterDelete": null}));
    // The document was deleted again before commit.
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(1.0));
    assert_eq!(s.query_ok("messages:byChannel", json!({"channel": "ryw"})), json!([]));
}

#[test]
fn schema_validation_uses_convex_text() {
    let s = Server::start();
    s.mutation_err("messages:insertInvalid", json!({})).assert_contains(
        "Failed to insert or update a document in table \"messages\" because it does not match the schema: Object is missing the required field `channel`.",
    );
    s.mutation_err("messages:insertExtraField", json!({})).assert_contains(
        "Failed to insert or update a document in table \"messages\" because it does not match the schema: Object contains extra field `color` that is not in the validator.",
    );
    let id = send_message(&s, "ann", "a", "general", 0.0);
    let e = s.mutation_err("messages:patchBadType", json!({ "id": id }));
    e.assert_contains(
        "Failed to insert or update a document in table \"messages\" because it does not match the schema: Value does not match validator.",
    );
    e.assert_contains("Path: .likes");
    e.assert_contains("Value: \"many\"");
    e.assert_contains("Validator: v.float64()");
    // Nothing changed.
    let doc = s.query_ok("messages:get", json!({ "id": id }));
    assert_eq!(doc["likes"].as_f64(), Some(0.0));
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(1.0));
}

#[test]
fn failed_mutation_commits_nothing() {
    let s = Server::start();
    let e = s.mutation_err("errors:insertThenThrow", json!({"name": "rb"}));
    e.assert_contains("Uncaught Error: rolled back rb");
    assert_eq!(s.query_ok("errors:counterValues", json!({"name": "rb"})), json!([]));
    let e = s.mutation_err("errors:insertThenInvalid", json!({"name": "rb2"}));
    e.assert_contains("does not match the schema");
    assert_eq!(s.query_ok("errors:counterValues", json!({"name": "rb2"})), json!([]));
    // A later mutation still works and commits.
    s.mutation_ok("counters:set", json!({"name": "rb", "value": 1}));
    assert_json_eq(&s.query_ok("errors:counterValues", json!({"name": "rb"})), &json!([1]));
}

#[test]
fn get_with_a_table_checks_the_id_table() {
    let s = Server::start();
    let id = send_message(&s, "ann", "a", "general", 0.0);
    let doc = s.query_ok("messages:getFromTable", json!({"table": "messages", "id": id}));
    assert_eq!(doc["_id"], json!(id));
    let e = s.query_err("messages:getFromTable", json!({"table": "counters", "id": id}));
    e.assert_contains("Id<\"counters\">");
}

#[test]
fn concurrent_mutations_all_commit_whole() {
    let s = std::sync::Arc::new(Server::start());
    let mut handles = Vec::new();
    for t in 0..4 {
        let s = s.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..10 {
                s.mutation_ok("counters:insertBatch", json!({"batch": t * 100 + i, "size": 5}));
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let map = batch_sizes(&s);
    assert_eq!(map.len(), 40, "{map:?}");
    for (batch, n) in &map {
        assert_eq!(*n, 5.0, "batch {batch} has {n} rows");
    }
}

#[test]
fn queries_see_a_consistent_snapshot_during_writes() {
    let s = std::sync::Arc::new(Server::start());
    let writer = {
        let s = s.clone();
        std::thread::spawn(move || {
            for i in 0..20 {
                let bodies: Vec<String> = (0..10).map(|j| format!("{i}-{j}")).collect();
                s.mutation_ok("messages:sendMany", json!({"channel": "burst", "bodies": bodies}));
            }
        })
    };
    let mut checks = 0;
    while !writer.is_finished() || checks == 0 {
        let r = s.query_ok("messages:snapshotCheck", json!({}));
        let counted = r["counted"].as_f64().unwrap();
        assert_eq!(r["listed"].as_f64(), Some(counted), "count and scan disagree: {r}");
        assert_eq!(r["byIndex"].as_f64(), Some(counted), "index and count disagree: {r}");
        assert_eq!(counted % 10.0, 0.0, "a query saw part of a mutation: {r}");
        checks += 1;
    }
    writer.join().unwrap();
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(200.0));
}
