//! Behaviour tests of writes: CRUD, system fields, document and write limits.

use std::collections::BTreeMap;

use emvex_value::{Object, Value};
use serde_json::json;

use crate::Database;
use crate::test_support::{collect, field, nums, obj, scan};

#[test]
fn crud_and_read_your_writes() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    let id = tx.insert("", "tasks", obj(json!({"text": "a", "n": 1}))).unwrap();
    assert_eq!(id.table_number, 10001);
    let d = tx.get("", &id).unwrap().unwrap();
    assert_eq!(d.table, "tasks");
    assert_eq!(field(&d, "text"), Some(Value::String("a".into())));
    assert!(d.creation_time > 1.6e12);
    let v = d.to_value();
    assert_eq!(v.as_object().unwrap()["_id"], Value::String(id.encode()));

    let mut patch = BTreeMap::new();
    patch.insert("n".to_string(), Some(Value::Float64(2.0)));
    patch.insert("text".to_string(), None);
    let d = tx.patch("", &id, patch).unwrap();
    assert_eq!(d.body, obj(json!({"n": 2})));
    assert_eq!(tx.get("", &id).unwrap().unwrap().body, obj(json!({"n": 2})));
    // visible through queries too
    assert_eq!(nums(&collect(&mut tx, "", &scan("tasks")).unwrap(), "n"), vec![2.0]);

    let d = tx.replace("", &id, obj(json!({"other": true}))).unwrap();
    assert_eq!(d.body, obj(json!({"other": true})));
    assert_eq!(tx.count("", "tasks").unwrap(), 1);
    let deleted = tx.delete("", &id).unwrap();
    assert_eq!(deleted.body, obj(json!({"other": true})));
    assert_eq!(tx.get("", &id).unwrap(), None);
    assert_eq!(tx.count("", "tasks").unwrap(), 0);
    assert!(collect(&mut tx, "", &scan("tasks")).unwrap().is_empty());

    for (r, verb) in [
        (tx.patch("", &id, BTreeMap::new()).map(|_| ()), "Update"),
        (tx.replace("", &id, Object::new()).map(|_| ()), "Replace"),
        (tx.delete("", &id).map(|_| ()), "Delete"),
    ] {
        let e = r.unwrap_err();
        assert_eq!(e.code, "NonexistentDocument");
        assert_eq!(e.message, format!("{verb} on nonexistent document ID {}", id.encode()));
    }
    tx.commit().unwrap();
}

#[test]
fn system_fields_on_writes() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    let id = tx.insert("", "t", obj(json!({"a": 1}))).unwrap();
    let d = tx.get("", &id).unwrap().unwrap();
    assert_eq!(tx.insert("", "t", obj(json!({"_id": "x"}))).unwrap_err().code, "InvalidDocument");
    let e = tx.insert("", "t", obj(json!({"_foo": 1}))).unwrap_err();
    assert!(e.message.contains("starts with an underscore"), "{}", e.message);
    // same system values are fine, different ones are not
    let same = obj(json!({"_id": id.encode(), "_creationTime": d.creation_time, "a": 2}));
    assert_eq!(tx.replace("", &id, same).unwrap().body, obj(json!({"a": 2})));
    let mut p = BTreeMap::new();
    p.insert("_creationTime".to_string(), Some(Value::Float64(1.0)));
    assert_eq!(tx.patch("", &id, p).unwrap_err().code, "InvalidDocument");
    // user tables cannot start with _
    let e = tx.insert("", "_secret", Object::new()).unwrap_err();
    assert_eq!(e.code, "InvalidTableName");
    assert!(e.message.contains("metadata prefix"));
    assert!(tx.insert("", "1bad", Object::new()).is_err());
}

#[test]
fn document_limits() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    let big = "x".repeat(1 << 20);
    let e = tx.insert("", "t", obj(json!({"s": big}))).unwrap_err();
    assert!(e.message.contains("too large"), "{}: {}", e.code, e.message);
    let mut nested = json!(1);
    for _ in 0..20 {
        nested = json!({"a": nested});
    }
    let e = tx.insert("", "t", obj(json!({"n": nested}))).unwrap_err();
    assert!(e.message.contains("nest"), "{}: {}", e.code, e.message);
}

#[test]
fn transaction_write_limits() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    for _ in 0..crate::MAX_DOCUMENTS_WRITTEN {
        tx.insert("", "t", Object::new()).unwrap();
    }
    let e = tx.insert("", "t", Object::new()).unwrap_err();
    assert_eq!(e.code, "TooManyWrites");
    assert!(e.message.starts_with("Too many writes in a single function execution (limit: 16000)"));
    assert_eq!(tx.metrics().documents_written, crate::MAX_DOCUMENTS_WRITTEN + 1);
}
