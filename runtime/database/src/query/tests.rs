//! Behaviour tests of queries: full scans, index ranges, filters and limits, streams,
//! pagination and the read set.

use emvex_value::{Object, Value};
use serde_json::{Value as Json, json};

use crate::test_support::{collect, field, index_query, int, nums, obj, scan, scan_desc, schema, wire, with_ops};
use crate::{Database, Document, PageRequest};

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
    PageRequest::new(wire(&query), cursor, size)
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
