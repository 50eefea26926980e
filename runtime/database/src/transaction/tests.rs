//! Behaviour tests of transactions: rollback, savepoints, snapshots, ids, clocks across
//! reopen, read limits, one writer at a time.

use emvex_value::Object;
use emvex_value::id::DocumentId;
use serde_json::json;

use crate::Database;
use crate::test_support::{collect, index_query, nums, obj, scan, schema, temp_path, wire};

#[test]
fn rollback_on_drop_leaves_nothing() {
    let db = Database::open_in_memory().unwrap();
    let id = {
        let mut tx = db.begin_mutation().unwrap();
        let id = tx.insert("", "tasks", obj(json!({"x": 1}))).unwrap();
        assert_eq!(tx.count("", "tasks").unwrap(), 1);
        id
    };
    let mut tx = db.begin_query().unwrap();
    assert_eq!(tx.get("", &id).unwrap(), None);
    assert_eq!(tx.table_number("", "tasks").unwrap(), None);
    assert_eq!(tx.count("", "tasks").unwrap(), 0);
    assert!(collect(&mut tx, "", &scan("tasks")).unwrap().is_empty());
}

#[test]
fn savepoints_nest_and_roll_back() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    let a = tx.insert("", "t", obj(json!({"n": 1}))).unwrap();
    tx.savepoint().unwrap();
    let b = tx.insert("", "t", obj(json!({"n": 2}))).unwrap();
    tx.savepoint().unwrap();
    let c = tx.insert("", "new_table", obj(json!({"n": 3}))).unwrap();
    tx.delete("", &a).unwrap();
    tx.rollback_to_savepoint().unwrap();
    assert!(tx.get("", &a).unwrap().is_some());
    assert!(tx.get("", &c).unwrap().is_none());
    assert_eq!(tx.table_number("", "new_table").unwrap(), None);
    tx.release_savepoint().unwrap();
    assert!(tx.get("", &b).unwrap().is_some());
    assert_eq!(tx.rollback_to_savepoint().unwrap_err().code, "NoSavepoint");
    // a table created after the rollback reuses the number
    let c2 = tx.insert("", "new_table", obj(json!({"n": 3}))).unwrap();
    assert_eq!(c2.table_number, c.table_number);
    tx.commit().unwrap();
    let mut tx = db.begin_query().unwrap();
    assert_eq!(nums(&collect(&mut tx, "", &scan("t")).unwrap(), "n"), vec![1.0, 2.0]);
}

#[test]
fn queries_are_read_only_and_see_a_snapshot() {
    let path = temp_path("snapshot");
    let db = Database::open(&path).unwrap();
    let mut tx = db.begin_mutation().unwrap();
    tx.insert("", "t", obj(json!({"n": 1}))).unwrap();
    tx.commit().unwrap();

    let mut q = db.begin_query().unwrap();
    assert_eq!(q.insert("", "t", Object::new()).unwrap_err().code, "ReadOnlyTransaction");
    assert_eq!(q.count("", "t").unwrap(), 1);
    // a concurrent commit is not visible to the open snapshot
    let mut tx = db.begin_mutation().unwrap();
    tx.insert("", "t", obj(json!({"n": 2}))).unwrap();
    let ts = tx.commit().unwrap();
    assert!(ts > q.snapshot_ts());
    assert_eq!(q.count("", "t").unwrap(), 1);
    assert_eq!(collect(&mut q, "", &scan("t")).unwrap().len(), 1);
    drop(q);
    let mut q = db.begin_query().unwrap();
    assert_eq!(q.snapshot_ts(), ts);
    assert_eq!(collect(&mut q, "", &scan("t")).unwrap().len(), 2);
    drop(q);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn seeded_ids_are_deterministic() {
    let ids: Vec<DocumentId> = (0..2)
        .map(|_| {
            let db = Database::open_in_memory().unwrap();
            let mut tx = db.begin_mutation().unwrap();
            tx.set_id_seed(42);
            tx.insert("", "t", Object::new()).unwrap()
        })
        .collect();
    assert_eq!(ids[0], ids[1]);
}

#[test]
fn reopen_file_keeps_data_and_monotonic_times() {
    let path = temp_path("reopen");
    let (id, ts1, ct1) = {
        let db = Database::open(&path).unwrap();
        db.apply_schema(
            "",
            Some(&schema(
                json!({"tables": [{"tableName": "t", "indexes": [{"indexDescriptor": "by_n", "fields": ["n"]}],
                "documentType": null}], "schemaValidation": true}),
            )),
        )
        .unwrap();
        let mut tx = db.begin_mutation().unwrap();
        let id = tx.insert("", "t", obj(json!({"n": 1}))).unwrap();
        let ct = tx.get("", &id).unwrap().unwrap().creation_time;
        let ts = tx.commit().unwrap();
        (id, ts, ct)
    };
    let db = Database::open(&path).unwrap();
    assert!(db.schema_json("").is_some());
    let mut tx = db.begin_mutation().unwrap();
    assert_eq!(tx.snapshot_ts(), ts1);
    assert_eq!(tx.get("", &id).unwrap().unwrap().body, obj(json!({"n": 1})));
    let n = collect(&mut tx, "", &index_query("t.by_n", json!([{"type": "Eq", "fieldPath": "n", "value": 1}]), "asc"))
        .unwrap();
    assert_eq!(n.len(), 1);
    let id2 = tx.insert("", "t", obj(json!({"n": 2}))).unwrap();
    let ct2 = tx.get("", &id2).unwrap().unwrap().creation_time;
    assert!(ct2 > ct1);
    let ts2 = tx.commit().unwrap();
    assert!(ts2 > ts1);
    drop(db);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn creation_times_increase_even_with_a_future_last_time() {
    // Simulate a clock that went backwards across a restart: the stored last commit ts and
    // creation time are in the future.
    let path = temp_path("future");
    drop(Database::open(&path).unwrap());
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "INSERT OR REPLACE INTO emvex_meta (key, value) VALUES ('last_creation_time', 4.0e12);
         INSERT OR REPLACE INTO emvex_meta (key, value) VALUES ('last_commit_ts', 4000000000000000000);",
    )
    .unwrap();
    drop(raw);
    let db = Database::open(&path).unwrap();
    let mut tx = db.begin_mutation().unwrap();
    let a = tx.insert("", "t", Object::new()).unwrap();
    let b = tx.insert("", "t", Object::new()).unwrap();
    let ca = tx.get("", &a).unwrap().unwrap().creation_time;
    let cb = tx.get("", &b).unwrap().unwrap().creation_time;
    assert!(ca > 4.0e12 && cb > ca);
    let ts = tx.commit().unwrap();
    assert!(ts > 4_000_000_000_000_000_000);
    let mut tx = db.begin_mutation().unwrap();
    let c = tx.insert("", "t", Object::new()).unwrap();
    assert!(tx.get("", &c).unwrap().unwrap().creation_time > cb);
    assert!(tx.commit().unwrap() > ts);
    drop(db);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn transaction_read_limits() {
    let db = Database::open_in_memory().unwrap();
    // bytes written limit: 17 documents of ~1 MiB
    let mut tx = db.begin_mutation().unwrap();
    let chunk = "y".repeat((1 << 20) - 100);
    let mut err = None;
    for _ in 0..17 {
        if let Err(e) = tx.insert("", "big", obj(json!({"s": chunk}))) {
            err = Some(e);
            break;
        }
    }
    assert_eq!(err.unwrap().code, "TooManyBytesWritten");
    drop(tx);
    // bytes read limit: 16 MiB of documents written in separate transactions
    for _ in 0..17 {
        let mut tx = db.begin_mutation().unwrap();
        tx.insert("", "big", obj(json!({"s": chunk}))).unwrap();
        tx.commit().unwrap();
    }
    let mut tx = db.begin_query().unwrap();
    let e = collect(&mut tx, "", &scan("big")).unwrap_err();
    assert_eq!(e.code, "TooManyBytesRead");
    // too many index intervals
    let mut tx = db.begin_query().unwrap();
    let mut last = Ok(0);
    for _ in 0..=crate::MAX_DATABASE_QUERIES {
        last = tx.query_stream("", &wire(&scan("missing")));
        if last.is_err() {
            break;
        }
        tx.query_cleanup(*last.as_ref().unwrap());
    }
    assert_eq!(last.unwrap_err().code, "TooManyReads");
}

#[test]
fn documents_read_limit() {
    let db = Database::open_in_memory().unwrap();
    for table in ["t", "u"] {
        for _ in 0..2 {
            let mut tx = db.begin_mutation().unwrap();
            for _ in 0..(crate::MAX_DOCUMENTS_READ / 4) {
                tx.insert("", table, Object::new()).unwrap();
            }
            tx.commit().unwrap();
        }
    }
    let mut tx = db.begin_mutation().unwrap();
    tx.insert("", "t", Object::new()).unwrap();
    tx.commit().unwrap();
    let mut tx = db.begin_query().unwrap();
    assert_eq!(collect(&mut tx, "", &scan("t")).unwrap().len() as u64, crate::MAX_DOCUMENTS_READ / 2 + 1);
    let e = collect(&mut tx, "", &scan("u")).unwrap_err();
    assert_eq!(e.code, "TooManyDocumentsRead");
    assert_eq!(e.message, "Too many documents read in a single function execution (limit: 32000).");
}

#[test]
fn mutations_run_one_at_a_time() {
    let db = Database::open_in_memory().unwrap();
    let tx = db.begin_mutation().unwrap();
    let db2 = db.clone();
    let (send, recv) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let mut tx2 = db2.begin_mutation().unwrap();
        send.send(()).unwrap();
        tx2.insert("", "t", Object::new()).unwrap();
        tx2.commit().unwrap()
    });
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(recv.try_recv().is_err(), "second mutation must wait for the first");
    let ts1 = tx.commit().unwrap();
    let ts2 = handle.join().unwrap();
    assert!(ts2 > ts1);
}

#[test]
fn a_reserved_commit_ts_is_the_one_committed_and_exceeds_every_earlier_commit() {
    let db = Database::open_in_memory().unwrap();
    let mut first = db.begin_mutation().unwrap();
    first.insert("", "tasks", obj(json!({"x": 1}))).unwrap();
    let first_ts = first.commit().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    let reserved = tx.commit_ts().unwrap();
    assert!(reserved > first_ts);
    assert_eq!(tx.commit_ts().unwrap(), reserved, "fixed by the first call");
    tx.insert("", "tasks", obj(json!({"x": 2}))).unwrap();
    assert_eq!(tx.commit().unwrap(), reserved);
    let mut query = db.begin_query().unwrap();
    assert_eq!(query.snapshot_ts(), reserved);
    assert_eq!(query.commit_ts().unwrap_err().code, "ReadOnlyTransaction");
}
