//! `paginate()` over HTTP: page loops with continueCursor/isDone, descending index order,
//! filters, stability across inserts, endCursor, cursor from another query, limits.

mod common;

use common::*;
use serde_json::{Value, json};

fn page(s: &Server, path: &str, num_items: f64, cursor: Value, extra: Value) -> Value {
    let mut args = json!({"paginationOpts": {"numItems": num_items, "cursor": cursor}});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            if k == "endCursor" {
                args["paginationOpts"]["endCursor"] = v;
            } else {
                args[k] = v;
            }
        }
    }
    s.query_ok(path, args)
}

fn items(p: &Value) -> Vec<f64> {
    p["page"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// Loops over every page; returns the pages' contents.
fn all_pages(s: &Server, path: &str, n: f64, extra: Value) -> Vec<Vec<f64>> {
    let mut cursor = Value::Null;
    let mut pages = Vec::new();
    for _ in 0..100 {
        let p = page(s, path, n, cursor.clone(), extra.clone());
        assert!(p["continueCursor"].is_string(), "continueCursor must be a string: {p}");
        assert!(p["isDone"].is_boolean(), "isDone must be a boolean: {p}");
        pages.push(items(&p));
        if p["isDone"] == json!(true) {
            return pages;
        }
        cursor = p["continueCursor"].clone();
    }
    panic!("pagination never finished: {pages:?}");
}

#[test]
fn page_loop_visits_every_row_once() {
    let s = Server::start();
    s.mutation_ok("pagination:seed", json!({"from": 0, "to": 25}));
    let pages = all_pages(&s, "pagination:all", 10.0, json!({}));
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 5], "{pages:?}");
    let flat: Vec<f64> = pages.concat();
    assert_eq!(flat, (0..25).map(f64::from).collect::<Vec<_>>());
}

#[test]
fn empty_table_is_one_done_page() {
    let s = Server::start();
    let p = page(&s, "pagination:all", 5.0, Value::Null, json!({}));
    assert_eq!(items(&p), Vec::<f64>::new());
    assert_eq!(p["isDone"], json!(true));
    assert!(p["continueCursor"].is_string());
}

#[test]
fn page_result_shape() {
    let s = Server::start();
    s.mutation_ok("pagination:seed", json!({"from": 0, "to": 3}));
    let p = s.query_ok("pagination:docs", json!({"paginationOpts": {"numItems": 2, "cursor": null}}));
    let obj = p.as_object().unwrap();
    for key in ["page", "isDone", "continueCursor"] {
        assert!(obj.contains_key(key), "missing {key} in {p}");
    }
    assert_eq!(p["isDone"], json!(false));
    let docs = p["page"].as_array().unwrap();
    assert_eq!(docs.len(), 2);
    assert!(docs[0]["_id"].is_string() && docs[0]["_creationTime"].is_number());
    assert_eq!(docs[0]["i"].as_f64(), Some(0.0));
    // splitCursor/pageStatus, when present, are null for a small page without limits.
    for key in ["splitCursor", "pageStatus"] {
        if let Some(v) = obj.get(key) {
            assert_eq!(v, &json!(null), "{key} should be null: {p}");
        }
    }
}

#[test]
fn descending_index_pages() {
    let s = Server::start();
    s.mutation_ok("pagination:seed", json!({"from": 0, "to": 12}));
    let pages = all_pages(&s, "pagination:byIDesc", 5.0, json!({}));
    assert_eq!(pages.concat(), (0..12).rev().map(f64::from).collect::<Vec<_>>());
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [5, 5, 2]);
}

#[test]
fn filtered_pages_count_matching_rows() {
    let s = Server::start();
    s.mutation_ok("pagination:seed", json!({"from": 0, "to": 30}));
    let pages = all_pages(&s, "pagination:oddFiltered", 4.0, json!({"min": 11}));
    let flat = pages.concat();
    assert_eq!(flat, (11..30).filter(|i| i % 2 == 1).map(f64::from).collect::<Vec<_>>());
    // Every page but the last is full.
    for p in &pages[..pages.len() - 1] {
        assert_eq!(p.len(), 4, "{pages:?}");
    }
}

#[test]
fn cursors_are_stable_across_inserts() {
    let s = Server::start();
    s.mutation_ok("pagination:seed", json!({"from": 0, "to": 25}));
    let p1 = page(&s, "pagination:byIDesc", 10.0, Value::Null, json!({}));
    assert_eq!(items(&p1), (15..25).rev().map(f64::from).collect::<Vec<_>>());
    // Rows before the cursor (100) and after the last page (-1) are inserted meanwhile.
    s.mutation_ok("pagination:seed", json!({"from": 100, "to": 101}));
    s.mutation_ok("pagination:seed", json!({"from": -1, "to": 0}));
    let p2 = page(&s, "pagination:byIDesc", 10.0, p1["continueCursor"].clone(), json!({}));
    assert_eq!(items(&p2), (5..15).rev().map(f64::from).collect::<Vec<_>>());
    assert_eq!(p2["isDone"], json!(false));
    let p3 = page(&s, "pagination:byIDesc", 10.0, p2["continueCursor"].clone(), json!({}));
    assert_eq!(items(&p3), [4.0, 3.0, 2.0, 1.0, 0.0, -1.0]);
    assert_eq!(p3["isDone"], json!(true));
}

#[test]
fn end_cursor_keeps_page_boundaries() {
    let s = Server::start();
    s.mutation_ok("pagination:seed", json!({"from": 0, "to": 25}));
    let p1 = page(&s, "pagination:byIDesc", 10.0, Value::Null, json!({}));
    let end = p1["continueCursor"].clone();
    // A row inside the first page's range appears when the page is re-run up to its end cursor.
    s.mutation_ok("pagination:seed", json!({"from": 20, "to": 21}));
    let again = page(&s, "pagination:byIDesc", 10.0, Value::Null, json!({ "endCursor": end.clone() }));
    assert_eq!(items(&again), [24.0, 23.0, 22.0, 21.0, 20.0, 20.0, 19.0, 18.0, 17.0, 16.0, 15.0]);
    assert_eq!(again["continueCursor"], end, "continueCursor must equal endCursor");
}

#[test]
fn cursor_from_another_query_is_rejected() {
    let s = Server::start();
    s.mutation_ok("pagination:seed", json!({"from": 0, "to": 10}));
    let p = page(&s, "pagination:all", 3.0, Value::Null, json!({}));
    let e =
        s.query_err("pagination:byIDesc", json!({"paginationOpts": {"numItems": 3, "cursor": p["continueCursor"]}}));
    e.assert_contains("InvalidCursor");
    let data = e.data.expect("InvalidCursor carries errorData");
    assert_eq!(data["paginationError"], json!("InvalidCursor"), "{data}");
    // A garbage cursor is an error too, not a crash.
    let e = s.query("pagination:all", json!({"paginationOpts": {"numItems": 3, "cursor": "garbage"}}));
    assert_eq!(e.json["status"], json!("error"), "{}", e.text);
}

#[test]
fn only_one_paginated_query_per_function() {
    let s = Server::start();
    s.query_err("pagination:twice", json!({})).assert_contains(
        "This query or mutation function ran multiple paginated queries. Convex only supports a single paginated query in each function.",
    );
}

#[test]
fn bad_pagination_options() {
    let s = Server::start();
    s.query_err("pagination:all", json!({"paginationOpts": {"numItems": -1, "cursor": null}}))
        .assert_contains("`options.numItems` must be a positive number. Received `-1`.");
    let e = s.query_err("pagination:all", json!({"paginationOpts": {"numItems": "ten", "cursor": null}}));
    e.assert_contains("ArgumentValidationError");
    e.assert_contains("Path: .paginationOpts.numItems");
    let e = s.query_err("pagination:all", json!({"paginationOpts": {"numItems": 1}}));
    e.assert_contains("Object is missing the required field `cursor`");
}
