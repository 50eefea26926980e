//! Behaviour tests of the public API (Database + Transaction), in-memory and file-backed.

use std::collections::BTreeMap;

use emvex_value::id::DocumentId;
use emvex_value::{Object, Value};
use serde_json::{Value as Json, json};

use crate::{Database, DbError, Document, PageRequest, Query, SchemaDefinition, Transaction};

fn obj(j: Json) -> Object {
    Value::from_convex_json(&j).unwrap().into_object().unwrap()
}

fn int(n: i64) -> Json {
    json!({"$integer": emvex_value::base64_encode(&n.to_le_bytes())})
}

fn scan(table: &str) -> Json {
    json!({"source": {"type": "FullTableScan", "tableName": table, "order": null}, "operators": []})
}

fn scan_desc(table: &str) -> Json {
    json!({"source": {"type": "FullTableScan", "tableName": table, "order": "desc"}, "operators": []})
}

fn index_query(index: &str, range: Json, order: &str) -> Json {
    json!({"source": {"type": "IndexRange", "indexName": index, "range": range, "order": order}, "operators": []})
}

fn with_ops(mut q: Json, ops: Json) -> Json {
    q["operators"] = ops;
    q
}

/// A query in the `convex` package's serialized form.
fn wire(q: &Json) -> Query {
    Query::from_wire_json(q).unwrap()
}

fn collect(tx: &mut Transaction, component: &str, q: &Json) -> Result<Vec<Document>, DbError> {
    let id = tx.query_stream(component, &wire(q))?;
    let mut out = Vec::new();
    while let Some(d) = tx.query_next(id)? {
        out.push(d);
    }
    Ok(out)
}

fn field(d: &Document, f: &str) -> Option<Value> {
    d.body.get(f).cloned()
}

fn nums(docs: &[Document], f: &str) -> Vec<f64> {
    docs.iter()
        .map(|d| match d.body.get(f) {
            Some(Value::Float64(x)) => *x,
            other => panic!("field {f} is {other:?}"),
        })
        .collect()
}

fn schema(json: Json) -> SchemaDefinition {
    SchemaDefinition::from_export_json(&json.to_string()).unwrap()
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("emvex-db-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("db.sqlite3")
}

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
fn table_numbers_are_per_component() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    let a = tx.insert("", "a", Object::new()).unwrap();
    let b = tx.insert("", "b", Object::new()).unwrap();
    let c = tx.insert("workpool", "x", Object::new()).unwrap();
    let s = tx.insert_system("", "_scheduled_functions", Object::new()).unwrap();
    let s2 = tx.insert_system("", "_storage", Object::new()).unwrap();
    assert_eq!((a.table_number, b.table_number, c.table_number), (10001, 10002, 10001));
    assert_eq!((s.table_number, s2.table_number), (513, 514));
    assert_eq!(tx.table_name("", 10002).unwrap().as_deref(), Some("b"));
    assert_eq!(tx.table_name("workpool", 10001).unwrap().as_deref(), Some("x"));
    assert_eq!(tx.table_name("workpool", 10002).unwrap(), None);
    assert_eq!(tx.table_number("workpool", "a").unwrap(), None);
    // the same id is meaningful only in its component
    assert!(tx.get("", &c).unwrap().is_none());
    assert!(tx.get("workpool", &c).unwrap().is_some());
    assert!(tx.get("", &s).unwrap().is_some());
    assert_eq!(tx.insert_system("", "nope", Object::new()).unwrap_err().code, "InvalidTableName");
    use emvex_value::validator::TableNames;
    assert_eq!(tx.table_names("").table_name(10001).as_deref(), Some("a"));
    tx.commit().unwrap();
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
fn full_scans_follow_creation_order_and_desc() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    for i in 0..20 {
        tx.insert("", "t", obj(json!({"i": i}))).unwrap();
    }
    let asc = collect(&mut tx, "", &scan("t")).unwrap();
    assert_eq!(nums(&asc, "i"), (0..20).map(f64::from).collect::<Vec<_>>());
    let times: Vec<f64> = asc.iter().map(|d| d.creation_time).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]));
    let desc = collect(&mut tx, "", &scan_desc("t")).unwrap();
    assert_eq!(nums(&desc, "i"), (0..20).rev().map(f64::from).collect::<Vec<_>>());
    // nonexistent tables yield nothing; builtin indexes of missing tables too
    assert!(collect(&mut tx, "", &scan("missing")).unwrap().is_empty());
    assert!(collect(&mut tx, "", &index_query("missing.by_creation_time", json!([]), "asc")).unwrap().is_empty());
    let e = collect(&mut tx, "", &index_query("missing.by_x", json!([]), "asc")).unwrap_err();
    assert_eq!(e.message, "Index missing.by_x not found.");
    let e = tx.query_stream("", &wire(&index_query("t.by_x", json!([]), "asc"))).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("IndexNotFound", "Index t.by_x not found."));
}

#[test]
fn by_id_index_orders_by_id_string() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    let mut ids: Vec<String> = (0..10).map(|_| tx.insert("", "t", Object::new()).unwrap().encode()).collect();
    ids.sort();
    let got: Vec<String> = collect(&mut tx, "", &index_query("t.by_id", json!([]), "asc"))
        .unwrap()
        .iter()
        .map(|d| d.id.encode())
        .collect();
    assert_eq!(got, ids);
    let one = collect(
        &mut tx,
        "",
        &index_query("t.by_id", json!([{"type": "Eq", "fieldPath": "_id", "value": ids[3]}]), "asc"),
    )
    .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].id.encode(), ids[3]);
}

fn ranged_db() -> Database {
    let db = Database::open_in_memory().unwrap();
    db.apply_schema(
        "",
        Some(&schema(json!({"tables": [{"tableName": "t", "indexes": [
            {"indexDescriptor": "by_n", "fields": ["n"]},
            {"indexDescriptor": "by_a_b", "fields": ["a", "b"]}
        ], "documentType": null}], "schemaValidation": true}))),
    )
    .unwrap();
    let mut tx = db.begin_mutation().unwrap();
    for body in [
        json!({"tag": "f1", "n": 1}),
        json!({"tag": "f5", "n": 5}),
        json!({"tag": "f3", "n": 3}),
        json!({"tag": "missing"}),
        json!({"tag": "null", "n": null}),
        json!({"tag": "int", "n": int(7)}),
        json!({"tag": "bool", "n": true}),
        json!({"tag": "str", "n": "abc"}),
        json!({"tag": "f5b", "n": 5}),
        json!({"tag": "ab1", "a": 1, "b": 1}),
        json!({"tag": "ab2", "a": 1, "b": 2}),
        json!({"tag": "ab3", "a": 2, "b": 0}),
    ] {
        tx.insert("", "t", obj(body)).unwrap();
    }
    tx.commit().unwrap();
    db
}

fn tags(docs: &[Document]) -> Vec<String> {
    docs.iter().map(|d| d.body["tag"].as_str().unwrap().to_string()).collect()
}

fn range_tags(db: &Database, range: Json, order: &str) -> Vec<String> {
    let mut tx = db.begin_query().unwrap();
    tags(&collect(&mut tx, "", &index_query("t.by_n", range, order)).unwrap())
}

#[test]
fn index_range_operators_are_type_agnostic() {
    let db = ranged_db();
    let r = |t: &str, v: Json| json!({"type": t, "fieldPath": "n", "value": v});
    // full index order: undefined < null < int < floats < bool < string
    let all = ["missing", "null", "int", "f1", "f3", "f5", "f5b", "bool", "str"];
    let without_ab = |v: Vec<String>| v.into_iter().filter(|t| !t.starts_with("ab")).collect::<Vec<_>>();
    assert_eq!(without_ab(range_tags(&db, json!([]), "asc")), all);
    let mut rev = all.to_vec();
    rev.reverse();
    assert_eq!(without_ab(range_tags(&db, json!([]), "desc")), rev);
    assert_eq!(range_tags(&db, json!([r("Eq", json!(5))]), "asc"), ["f5", "f5b"]);
    assert_eq!(range_tags(&db, json!([r("Eq", json!(5))]), "desc"), ["f5b", "f5"]);
    assert_eq!(range_tags(&db, json!([r("Gt", json!(3))]), "asc"), ["f5", "f5b", "bool", "str"]);
    assert_eq!(range_tags(&db, json!([r("Gte", json!(3))]), "asc"), ["f3", "f5", "f5b", "bool", "str"]);
    assert_eq!(without_ab(range_tags(&db, json!([r("Lt", json!(3))]), "asc")), ["missing", "null", "int", "f1"]);
    assert_eq!(without_ab(range_tags(&db, json!([r("Lte", json!(3))]), "asc")), ["missing", "null", "int", "f1", "f3"]);
    assert_eq!(range_tags(&db, json!([r("Gt", json!(1)), r("Lt", json!(5))]), "asc"), ["f3"]);
    assert_eq!(range_tags(&db, json!([r("Gte", json!(1)), r("Lte", json!(5))]), "desc"), ["f5b", "f5", "f3", "f1"]);
    assert_eq!(range_tags(&db, json!([r("Eq", json!(null))]), "asc"), ["null"]);
    assert_eq!(range_tags(&db, json!([r("Eq", int(7))]), "asc"), ["int"]);
    let undef = without_ab(range_tags(&db, json!([r("Eq", json!({"$undefined": null}))]), "asc"));
    assert_eq!(undef, ["missing"]);
    assert!(range_tags(&db, json!([r("Gt", json!(10)), r("Lt", json!(2))]), "asc").is_empty());
}

#[test]
fn compound_index_ranges() {
    let db = ranged_db();
    let mut tx = db.begin_query().unwrap();
    let q = |range: Json| index_query("t.by_a_b", range, "asc");
    let eq = |f: &str, v: Json| json!({"type": "Eq", "fieldPath": f, "value": v});
    assert_eq!(tags(&collect(&mut tx, "", &q(json!([eq("a", json!(1))]))).unwrap()), ["ab1", "ab2"]);
    // equalities may be given in any order
    assert_eq!(tags(&collect(&mut tx, "", &q(json!([eq("b", json!(2)), eq("a", json!(1))]))).unwrap()), ["ab2"]);
    let gt = json!({"type": "Gt", "fieldPath": "b", "value": 1});
    assert_eq!(tags(&collect(&mut tx, "", &q(json!([eq("a", json!(1)), gt]))).unwrap()), ["ab2"]);
    let e = tx.query_stream("", &wire(&q(json!([eq("b", json!(1))])))).unwrap_err();
    assert_eq!(e.code, "InvalidIndexRange");
    assert!(e.message.starts_with("Tried to query index t.by_a_b but the query didn't use the index fields in order."));
    let e = tx.query_stream("", &wire(&q(json!([eq("zzz", json!(1))])))).unwrap_err();
    assert_eq!(e.code, "FieldNotInIndex");
}

#[test]
fn filters_and_limits_in_pipeline_order() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    for i in 0..10 {
        tx.insert("", "t", obj(json!({"i": i, "even": i % 2 == 0}))).unwrap();
    }
    let even = json!({"filter": {"$eq": [{"$field": "even"}, {"$literal": true}]}});
    let q = with_ops(scan("t"), json!([even.clone(), {"limit": 3}]));
    assert_eq!(nums(&collect(&mut tx, "", &q).unwrap(), "i"), vec![0.0, 2.0, 4.0]);
    let q = with_ops(scan("t"), json!([{"limit": 3}, even.clone()]));
    assert_eq!(nums(&collect(&mut tx, "", &q).unwrap(), "i"), vec![0.0, 2.0]);
    let q = with_ops(scan("t"), json!([{"limit": 0}]));
    assert!(collect(&mut tx, "", &q).unwrap().is_empty());
    // cross-type comparison: strings sort after numbers
    let q = with_ops(scan("t"), json!([{"filter": {"$lt": [{"$field": "i"}, {"$literal": "a"}]}}]));
    assert_eq!(collect(&mut tx, "", &q).unwrap().len(), 10);
    // arithmetic in filters
    let q = with_ops(
        scan("t"),
        json!([{"filter": {"$eq": [{"$mod": [{"$field": "i"}, {"$literal": 3}]}, {"$literal": 0}]}}]),
    );
    assert_eq!(nums(&collect(&mut tx, "", &q).unwrap(), "i"), vec![0.0, 3.0, 6.0, 9.0]);
    // eval errors surface from query_next, not query_stream
    let q = with_ops(scan("t"), json!([{"filter": {"$add": [{"$field": "missing"}, {"$literal": 1}]}}]));
    let id = tx.query_stream("", &wire(&q)).unwrap();
    let e = tx.query_next(id).unwrap_err();
    assert_eq!(e.code, "EvalError");
    assert!(e.message.starts_with("Cannot use value") || e.message.starts_with("Cannot add"), "{}", e.message);
    let q = with_ops(scan("t"), json!([{"filter": {"$field": "i"}}]));
    let id = tx.query_stream("", &wire(&q)).unwrap();
    assert!(tx.query_next(id).unwrap_err().message.contains("as a Boolean"));
}

#[test]
fn stream_lifecycle() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    tx.insert("", "t", obj(json!({"i": 0}))).unwrap();
    let a = tx.query_stream("", &wire(&scan("t"))).unwrap();
    let b = tx.query_stream("", &wire(&scan("t"))).unwrap();
    assert_eq!((a, b), (0, 1));
    assert!(tx.query_next(a).unwrap().is_some());
    assert!(tx.query_next(a).unwrap().is_none());
    // freed after done
    assert_eq!(tx.query_next(a).unwrap_err().message, "in-progress query not found");
    assert!(!tx.query_cleanup(a));
    assert!(tx.query_cleanup(b));
    assert_eq!(tx.query_next(99).unwrap_err().code, "QueryNotFound");
}

#[test]
fn writes_during_iteration_are_seen_by_unscanned_keys() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    for i in 0..3 {
        tx.insert("", "t", obj(json!({"i": i}))).unwrap();
    }
    let q = tx.query_stream("", &wire(&scan("t"))).unwrap();
    let first = tx.query_next(q).unwrap().unwrap();
    assert_eq!(field(&first, "i"), Some(Value::Float64(0.0)));
    // delete the next row and append a new one: the stream sees the live state
    let rows = collect(&mut tx, "", &scan("t")).unwrap();
    tx.delete("", &rows[1].id).unwrap();
    tx.insert("", "t", obj(json!({"i": 3}))).unwrap();
    let mut rest = Vec::new();
    while let Some(d) = tx.query_next(q).unwrap() {
        rest.push(d);
    }
    assert_eq!(nums(&rest, "i"), vec![2.0, 3.0]);
}

fn page_req(query: Json, cursor: Option<String>, size: f64) -> PageRequest {
    PageRequest {
        query: wire(&query),
        cursor,
        end_cursor: None,
        page_size: size,
        maximum_rows_read: None,
        maximum_bytes_read: None,
    }
}

#[test]
fn pagination_is_stable_across_inserts() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    for i in 0..10 {
        tx.insert("", "t", obj(json!({"i": i}))).unwrap();
    }
    tx.commit().unwrap();
    let q = scan("t");
    let mut tx = db.begin_mutation().unwrap();
    let p1 = tx.query_page("", &page_req(q.clone(), None, 4.0)).unwrap();
    assert_eq!(nums(&p1.page, "i"), vec![0.0, 1.0, 2.0, 3.0]);
    assert!(!p1.is_done);
    assert_eq!(p1.page_status, None);
    // inserting rows (at the end) and deleting an earlier row doesn't shift the next page
    tx.delete("", &p1.page[0].id).unwrap();
    tx.insert("", "t", obj(json!({"i": 10}))).unwrap();
    let p2 = tx.query_page("", &page_req(q.clone(), Some(p1.continue_cursor.clone()), 4.0)).unwrap();
    assert_eq!(nums(&p2.page, "i"), vec![4.0, 5.0, 6.0, 7.0]);
    let p3 = tx.query_page("", &page_req(q.clone(), Some(p2.continue_cursor.clone()), 4.0)).unwrap();
    assert_eq!(nums(&p3.page, "i"), vec![8.0, 9.0, 10.0]);
    assert!(p3.is_done);
    let p4 = tx.query_page("", &page_req(q.clone(), Some(p3.continue_cursor.clone()), 4.0)).unwrap();
    assert!(p4.page.is_empty() && p4.is_done);
    // endCursor: re-run page 2 with its end fixed, after inserting nothing in between
    let mut again = page_req(q.clone(), Some(p1.continue_cursor.clone()), 1.0);
    again.end_cursor = Some(p2.continue_cursor.clone());
    let r = tx.query_page("", &again).unwrap();
    assert_eq!(nums(&r.page, "i"), vec![4.0, 5.0, 6.0, 7.0]);
    assert_eq!(r.continue_cursor, p2.continue_cursor);
    assert!(!r.is_done);
    // a cursor from another query
    let other = with_ops(scan("t"), json!([{"filter": {"$literal": true}}]));
    let e = tx.query_page("", &page_req(other, Some(p1.continue_cursor.clone()), 4.0)).unwrap_err();
    assert_eq!(e.code, "InvalidCursor");
    assert_eq!(e.data.unwrap(), json!({"isConvexSystemError": true, "paginationError": "InvalidCursor"}));
    let e = tx.query_page("", &page_req(scan_desc("t"), Some(p1.continue_cursor), 4.0)).unwrap_err();
    assert_eq!(e.code, "InvalidCursor");
}

#[test]
fn pagination_on_an_index_ignores_rows_inserted_before_the_cursor() {
    let db = Database::open_in_memory().unwrap();
    db.apply_schema(
        "",
        Some(&schema(json!({"tables": [{"tableName": "t", "indexes": [{"indexDescriptor": "by_n", "fields": ["n"]}],
            "documentType": null}], "schemaValidation": true}))),
    )
    .unwrap();
    let mut tx = db.begin_mutation().unwrap();
    for n in [10, 20, 30, 40, 50] {
        tx.insert("", "t", obj(json!({"n": n}))).unwrap();
    }
    let q = index_query("t.by_n", json!([]), "asc");
    let p1 = tx.query_page("", &page_req(q.clone(), None, 2.0)).unwrap();
    assert_eq!(nums(&p1.page, "n"), vec![10.0, 20.0]);
    // rows inserted before the cursor are not returned; rows after it are
    tx.insert("", "t", obj(json!({"n": 15}))).unwrap();
    tx.insert("", "t", obj(json!({"n": 35}))).unwrap();
    let p2 = tx.query_page("", &page_req(q.clone(), Some(p1.continue_cursor.clone()), 2.0)).unwrap();
    assert_eq!(nums(&p2.page, "n"), vec![30.0, 35.0]);
    // the same cursor replayed with an end cursor reproduces the page exactly
    let mut replay = page_req(q.clone(), None, 1.0);
    replay.end_cursor = Some(p1.continue_cursor.clone());
    assert_eq!(nums(&tx.query_page("", &replay).unwrap().page, "n"), vec![10.0, 15.0, 20.0]);
    // a cursor from a different index range is rejected
    let other = index_query("t.by_n", json!([{"type": "Gt", "fieldPath": "n", "value": 0}]), "asc");
    assert_eq!(tx.query_page("", &page_req(other, Some(p1.continue_cursor), 2.0)).unwrap_err().code, "InvalidCursor");
}

#[test]
fn pagination_desc_filters_and_limits() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    for i in 0..10 {
        tx.insert("", "t", obj(json!({"i": i}))).unwrap();
    }
    let q = with_ops(scan_desc("t"), json!([{"filter": {"$neq": [{"$field": "i"}, {"$literal": 8}]}}]));
    let p1 = tx.query_page("", &page_req(q.clone(), None, 3.0)).unwrap();
    assert_eq!(nums(&p1.page, "i"), vec![9.0, 7.0, 6.0]);
    let p2 = tx.query_page("", &page_req(q.clone(), Some(p1.continue_cursor), 100.0)).unwrap();
    assert_eq!(nums(&p2.page, "i"), vec![5.0, 4.0, 3.0, 2.0, 1.0, 0.0]);
    assert!(p2.is_done);
    // maximumRowsRead counts scanned rows, including filtered ones
    let mut req = page_req(q.clone(), None, 100.0);
    req.maximum_rows_read = Some(3.0);
    let p = tx.query_page("", &req).unwrap();
    assert_eq!(nums(&p.page, "i"), vec![9.0, 7.0]);
    assert_eq!(p.page_status.as_deref(), Some("SplitRequired"));
    assert!(!p.is_done);
    let p = tx.query_page("", &page_req(q.clone(), Some(p.continue_cursor), 2.0)).unwrap();
    assert_eq!(nums(&p.page, "i"), vec![6.0, 5.0]);
    // argument errors
    let e = tx.query_page("", &page_req(q.clone(), None, 0.0)).unwrap_err();
    assert_eq!(e.message, "Must request at least 1 document while paginating");
    assert!(
        tx.query_page("", &page_req(q.clone(), None, 32001.0))
            .unwrap_err()
            .message
            .contains("Requested too many items")
    );
    let mut req = page_req(q, None, 1.0);
    req.maximum_rows_read = Some(0.0);
    assert!(tx.query_page("", &req).is_err());
}

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

#[test]
fn coarse_read_and_write_sets() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    let id = tx.insert("", "a", Object::new()).unwrap();
    tx.insert_system("c", "_scheduled_functions", Object::new()).unwrap();
    tx.get("", &id).unwrap();
    tx.count("", "b").unwrap();
    collect(&mut tx, "c", &scan("missing")).unwrap();
    let s = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
    assert_eq!(tx.tables_read(), s(&[("", "a"), ("", "b"), ("c", "missing")]));
    assert_eq!(tx.tables_written(), s(&[("", "a"), ("c", "_scheduled_functions")]));
}
