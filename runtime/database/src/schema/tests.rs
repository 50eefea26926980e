//! Behaviour tests of schema application: validation, index backfill and drop, system
//! indexes.

use std::collections::BTreeMap;

use emvex_value::Object;
use serde_json::{Value as Json, json};

use crate::test_support::{collect, index_query, nums, obj, scan, schema, wire};
use crate::{Database, SchemaDefinition};

#[test]
fn schema_validation_on_writes() {
    let db = Database::open_in_memory().unwrap();
    let s = schema(json!({"tables": [{"tableName": "users", "indexes": [], "documentType": {
        "type": "object", "value": {"name": {"fieldType": {"type": "string"}, "optional": false}}}}],
        "schemaValidation": true}));
    db.apply_schema("", Some(&s)).unwrap();
    let mut tx = db.begin_mutation().unwrap();
    // declared tables exist before any insert
    assert_eq!(tx.table_number("", "users").unwrap(), Some(10001));
    let id = tx.insert("", "users", obj(json!({"name": "ann"}))).unwrap();
    let e = tx.insert("", "users", obj(json!({"name": 5}))).unwrap_err();
    assert_eq!(e.code, "SchemaValidationError");
    assert!(
        e.message.starts_with(
            "Failed to insert or update a document in table \"users\" because it does not match the schema: "
        ),
        "{}",
        e.message
    );
    let mut p = BTreeMap::new();
    p.insert("name".to_string(), None);
    assert_eq!(tx.patch("", &id, p).unwrap_err().code, "SchemaValidationError");
    assert_eq!(tx.replace("", &id, obj(json!({"nope": 1}))).unwrap_err().code, "SchemaValidationError");
    // undeclared tables and other components are not validated
    tx.insert("", "free", obj(json!({"anything": 1}))).unwrap();
    tx.insert("comp", "users", obj(json!({"name": 5}))).unwrap();
    tx.commit().unwrap();
    // schemaValidation: false turns it off
    let mut s2 = s.json_text.clone();
    s2 = s2.replace("\"schemaValidation\":true", "\"schemaValidation\":false");
    db.apply_schema("", Some(&SchemaDefinition::from_export_json(&s2).unwrap())).unwrap();
    let mut tx = db.begin_mutation().unwrap();
    tx.insert("", "users", obj(json!({"name": 5}))).unwrap();
    tx.commit().unwrap();
    // turning it back on fails because an existing document does not match
    let e = db.apply_schema("", Some(&s)).unwrap_err();
    assert_eq!(e.code, "SchemaValidationError");
    assert!(e.message.contains("Schema validation failed"), "{}", e.message);
}

#[test]
fn v_id_in_schema_uses_component_table_names() {
    let db = Database::open_in_memory().unwrap();
    let s = schema(json!({"tables": [
        {"tableName": "users", "indexes": [], "documentType": null},
        {"tableName": "posts", "indexes": [], "documentType": {"type": "object", "value": {
            "author": {"fieldType": {"type": "id", "tableName": "users"}, "optional": false}}}}
    ], "schemaValidation": true}));
    db.apply_schema("", Some(&s)).unwrap();
    let mut tx = db.begin_mutation().unwrap();
    let u = tx.insert("", "users", Object::new()).unwrap();
    tx.insert("", "posts", obj(json!({"author": u.encode()}))).unwrap();
    let p = tx.insert("", "posts", obj(json!({"author": u.encode()}))).unwrap();
    let e = tx.insert("", "posts", obj(json!({"author": p.encode()}))).unwrap_err();
    assert_eq!(e.code, "SchemaValidationError");
}

#[test]
fn index_backfill_change_and_drop() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    for (i, owner) in ["bob", "ann", "bob"].iter().enumerate() {
        tx.insert("", "t", obj(json!({"owner": owner, "i": i, "k": 10 - i as i64}))).unwrap();
    }
    tx.commit().unwrap();
    let by = |fields: Json| {
        schema(json!({"tables": [{"tableName": "t", "indexes": [{"indexDescriptor": "by_x", "fields": fields}],
            "documentType": null}], "schemaValidation": true}))
    };
    db.apply_schema("", Some(&by(json!(["owner"])))).unwrap();
    let mut tx = db.begin_query().unwrap();
    let q = index_query("t.by_x", json!([{"type": "Eq", "fieldPath": "owner", "value": "bob"}]), "asc");
    assert_eq!(nums(&collect(&mut tx, "", &q).unwrap(), "i"), vec![0.0, 2.0]);
    drop(tx);
    // change the index fields: rebuilt
    db.apply_schema("", Some(&by(json!(["k"])))).unwrap();
    let mut tx = db.begin_mutation().unwrap();
    assert_eq!(
        nums(&collect(&mut tx, "", &index_query("t.by_x", json!([]), "asc")).unwrap(), "i"),
        vec![2.0, 1.0, 0.0]
    );
    // new writes maintain it
    tx.insert("", "t", obj(json!({"i": 3, "k": 0}))).unwrap();
    assert_eq!(
        nums(&collect(&mut tx, "", &index_query("t.by_x", json!([]), "asc")).unwrap(), "i"),
        vec![3.0, 2.0, 1.0, 0.0]
    );
    tx.commit().unwrap();
    // dropped with the schema
    db.apply_schema("", None).unwrap();
    let mut tx = db.begin_query().unwrap();
    assert_eq!(tx.query_stream("", &wire(&index_query("t.by_x", json!([]), "asc"))).unwrap_err().code, "IndexNotFound");
    assert_eq!(collect(&mut tx, "", &scan("t")).unwrap().len(), 4);
}

#[test]
fn system_indexes() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    for ts in [3.0, 1.0, 2.0] {
        tx.insert_system("", "_scheduled_functions", obj(json!({"ts": ts}))).unwrap();
    }
    tx.ensure_system_index("", "_scheduled_functions", "by_ts", &["ts"]).unwrap();
    tx.ensure_system_index("", "_scheduled_functions", "by_ts", &["ts"]).unwrap();
    tx.insert_system("", "_scheduled_functions", obj(json!({"ts": 0.5}))).unwrap();
    let q = index_query("_scheduled_functions.by_ts", json!([{"type": "Lte", "fieldPath": "ts", "value": 2}]), "asc");
    assert_eq!(nums(&collect(&mut tx, "", &q).unwrap(), "ts"), vec![0.5, 1.0, 2.0]);
    assert_eq!(tx.ensure_system_index("", "users", "by_x", &["x"]).unwrap_err().code, "InvalidTableName");
    tx.commit().unwrap();
    // user schemas do not touch system indexes
    db.apply_schema("", None).unwrap();
    let mut tx = db.begin_query().unwrap();
    assert_eq!(collect(&mut tx, "", &q).unwrap().len(), 3);
    // savepoints are allowed (and harmless) in queries
    tx.savepoint().unwrap();
    tx.rollback_to_savepoint().unwrap();
    assert_eq!(collect(&mut tx, "", &q).unwrap().len(), 3);
}
