//! Behaviour tests of reactivity through real transactions: what reads record, what commits
//! write, the commit log, pagination journals, and the "no missed update" property.

use std::sync::{Arc, Mutex};

use emvex_value::{Object, Value};
use serde_json::json;

use crate::test_support::{index_query, obj, scan, schema, wire};
use crate::{
    Database, DbError, Order, PageRequest, PageResult, Query, RangeExpr, ReadSet, SubscriptionIndex, Transaction,
    WriteSet,
};

mod no_missed_update;

fn db_with_index() -> Database {
    let db = Database::open_in_memory().unwrap();
    db.apply_schema(
        "",
        Some(&schema(json!({"tables": [{"tableName": "t", "indexes": [
            {"indexDescriptor": "by_n", "fields": ["n"]}], "documentType": null}], "schemaValidation": true}))),
    )
    .unwrap();
    db
}

/// Commits one mutation; returns its write set (empty if it wrote nothing).
fn commit_with(db: &Database, f: impl FnOnce(&mut Transaction)) -> WriteSet {
    let before = db.latest_commit_ts();
    let mut tx = db.begin_mutation().unwrap();
    f(&mut tx);
    let ts = tx.commit().unwrap();
    assert_eq!(db.latest_commit_ts(), ts);
    let commits = db.commit_log().commits_between(before, ts).unwrap();
    assert!(commits.len() <= 1);
    commits.first().map(|(_, w)| (**w).clone()).unwrap_or_default()
}

fn insert_n(n: f64) -> impl FnOnce(&mut Transaction) {
    move |tx| {
        tx.insert("", "t", obj(json!({"n": n}))).unwrap();
    }
}

/// The read set of pulling `rows` rows of `query`.
fn read_rows(db: &Database, query: &Query, rows: usize) -> ReadSet {
    let mut tx = db.begin_query().unwrap();
    let id = tx.query_stream("", query).unwrap();
    for _ in 0..rows {
        if tx.query_next(id).unwrap().is_none() {
            break;
        }
    }
    tx.read_set()
}

#[test]
fn a_partial_scan_depends_only_on_the_keys_it_consumed() {
    let db = db_with_index();
    commit_with(&db, |tx| (0..40).for_each(|n| insert_n(f64::from(n * 10))(tx)));
    let by_n = Query::index_range("t", "by_n", vec![]);
    // Two rows pulled: the first batch (4 rows, up to n = 30) is recorded.
    let rs = read_rows(&db, &by_n, 2);
    assert!(rs.heap_bytes() < 400, "{}", rs.heap_bytes());
    assert!(rs.overlaps(&commit_with(&db, insert_n(5.0))));
    assert!(rs.overlaps(&commit_with(&db, insert_n(25.0))));
    assert!(!rs.overlaps(&commit_with(&db, insert_n(35.0))));
    assert!(!rs.overlaps(&commit_with(&db, insert_n(1000.0))));
    // Descending: from the end down to the last key returned.
    let rs = read_rows(&db, &by_n.clone().order(Order::Desc), 2);
    assert!(rs.overlaps(&commit_with(&db, insert_n(2000.0))));
    assert!(!rs.overlaps(&commit_with(&db, insert_n(3.0))));
    // A scan that ran out depends on the whole range, even past the last key.
    let bounded = Query::index_range("t", "by_n", vec![RangeExpr::gt("n", 100.0), RangeExpr::lt("n", 120.0)]);
    let rs = read_rows(&db, &bounded, 10);
    assert!(rs.overlaps(&commit_with(&db, insert_n(119.0))));
    assert!(!rs.overlaps(&commit_with(&db, insert_n(120.0))));
    assert!(!rs.overlaps(&commit_with(&db, insert_n(100.0))));
    // A patch moving a document out of (or into) the range hits through its old (new) key.
    let mut tx = db.begin_query().unwrap();
    let inside = crate::test_support::collect(
        &mut tx,
        "",
        &index_query(
            "t.by_n",
            json!([
        {"type": "Eq", "fieldPath": "n", "value": 110.0}]),
            "asc",
        ),
    )
    .unwrap();
    drop(tx);
    let id = inside[0].id;
    let moved = commit_with(&db, |tx| {
        tx.replace("", &id, obj(json!({"n": 5000}))).unwrap();
    });
    assert!(rs.overlaps(&moved));
    // A write that changes nothing is no commit entry.
    assert!(
        commit_with(&db, |tx| {
            tx.patch("", &id, Default::default()).unwrap();
        })
        .is_empty()
    );
}

#[test]
fn gets_counts_and_missing_tables() {
    let db = db_with_index();
    let mut a = None;
    commit_with(&db, |tx| {
        a = Some(tx.insert("", "t", obj(json!({"n": 1}))).unwrap());
    });
    let a = a.unwrap();
    let mut tx = db.begin_query().unwrap();
    assert!(tx.get("", &a).unwrap().is_some());
    let get_a = tx.read_set();
    let mut tx = db.begin_query().unwrap();
    tx.count("", "t").unwrap();
    let count = tx.read_set();
    let mut tx = db.begin_query().unwrap();
    assert!(crate::test_support::collect(&mut tx, "", &scan("later")).unwrap().is_empty());
    let missing = tx.read_set();
    let mut tx = db.begin_query().unwrap();
    assert!(tx.query_stream("", &wire(&index_query("t.by_m", json!([]), "asc"))).is_err());
    let missing_index = tx.read_set();

    let insert = commit_with(&db, insert_n(2.0));
    assert!(!get_a.overlaps(&insert) && count.overlaps(&insert) && !missing.overlaps(&insert));
    let patch = commit_with(&db, |tx| {
        tx.patch("", &a, [("n".to_string(), Some(Value::Float64(3.0)))].into()).unwrap();
    });
    assert!(get_a.overlaps(&patch) && !count.overlaps(&patch));
    let create = commit_with(&db, |tx| {
        tx.insert("", "later", Object::new()).unwrap();
    });
    assert!(missing.overlaps(&create) && !get_a.overlaps(&create));
    // A document that does not exist yet is a point too (here: deleted, then read).
    let delete = commit_with(&db, |tx| {
        tx.delete("", &a).unwrap();
    });
    assert!(get_a.overlaps(&delete) && count.overlaps(&delete));
    let mut tx = db.begin_query().unwrap();
    assert!(tx.get("", &a).unwrap().is_none());
    assert!(!tx.read_set().is_empty());
    // A missing index depends on any write to its table (conservative), and on schema
    // changes, which invalidate every read of the tables they change.
    assert!(missing_index.overlaps(&insert));
    db.apply_schema(
        "",
        Some(&schema(json!({"tables": [{"tableName": "t", "indexes": [
            {"indexDescriptor": "by_n", "fields": ["n"]}, {"indexDescriptor": "by_m", "fields": ["m"]}],
            "documentType": null}], "schemaValidation": true}))),
    )
    .unwrap();
    let log = db.commit_log();
    let ts = db.latest_commit_ts();
    let last = log.commits_between(ts - 1, ts).unwrap();
    assert!(missing_index.overlaps(&last[0].1) && count.overlaps(&last[0].1));
    // System tables count like user tables.
    let mut tx = db.begin_query().unwrap();
    tx.count("", "_jobs").unwrap();
    let jobs = tx.read_set();
    let w = commit_with(&db, |tx| {
        tx.insert_system("", "_jobs", Object::new()).unwrap();
    });
    assert!(jobs.overlaps(&w));
}

#[test]
fn commit_log_listeners_and_the_subscription_index_agree() {
    let db = db_with_index();
    let seen: Arc<Mutex<Vec<(u64, bool)>>> = Arc::default();
    let s2 = seen.clone();
    db.on_commit(Box::new(move |ts, w| {
        s2.lock().unwrap().push((ts, w.is_empty()));
    }));
    let start = db.latest_commit_ts();
    let rs = read_rows(&db, &Query::index_range("t", "by_n", vec![RangeExpr::eq("n", 7.0)]), 10);
    let mut index = SubscriptionIndex::new();
    index.insert(1u32, &rs);
    let w = commit_with(&db, insert_n(8.0));
    assert!(index.affected(&w).is_empty());
    assert_eq!(db.commit_log().overlaps_between(&rs, start, db.latest_commit_ts()), Some(false));
    let w = commit_with(&db, insert_n(7.0));
    assert_eq!(index.affected(&w), vec![1]);
    assert_eq!(db.commit_log().overlaps_between(&rs, start, db.latest_commit_ts()), Some(true));
    assert_eq!(db.commit_log().overlaps_between(&rs, start, db.latest_commit_ts() + 1), None);
    // A query's commit is not told; an empty mutation is, with an empty write set, and makes
    // no entry (a query may read at its ts: the sync layer must see that ts).
    let entries = db.commit_log().len();
    db.begin_query().unwrap().commit().unwrap();
    let empty = db.begin_mutation().unwrap().commit().unwrap();
    assert_eq!(db.commit_log().len(), entries);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.iter().map(|(_, e)| *e).collect::<Vec<_>>(), vec![false, false, true]);
    assert_eq!(seen.last().unwrap().0, empty);
}

fn page(tx: &mut Transaction, query: &Query, cursor: Option<String>, size: f64) -> Result<PageResult, DbError> {
    tx.query_page("", &PageRequest::new(query.clone(), cursor, size))
}

#[test]
fn journals_keep_a_page_range_fixed() {
    let db = db_with_index();
    commit_with(&db, |tx| (0..10).for_each(|n| insert_n(f64::from(n * 10))(tx)));
    let q = Query::index_range("t", "by_n", vec![]);
    let mut tx = db.begin_query().unwrap();
    tx.set_journal(None);
    let first = page(&mut tx, &q, None, 3.0).unwrap();
    let journal = tx.journal().expect("a paginating execution has a journal");
    assert_eq!(journal, first.continue_cursor);
    let rs = tx.read_set();
    drop(tx);
    // An insert inside the page's range: the re-run with the journal grows, same end.
    let w = commit_with(&db, insert_n(15.0));
    assert!(rs.overlaps(&w));
    // The first batch read 4 rows (up to 30): past that, no dependency.
    let w = commit_with(&db, insert_n(35.0));
    assert!(!rs.overlaps(&w), "past the rows read");
    let mut tx = db.begin_query().unwrap();
    tx.set_journal(Some(journal.clone()));
    let again = page(&mut tx, &q, None, 3.0).unwrap();
    assert_eq!(again.page.len(), 4);
    assert_eq!(again.continue_cursor, first.continue_cursor);
    assert_eq!(tx.journal(), Some(journal.clone()));
    // Without the journal the page would have moved.
    let mut tx = db.begin_query().unwrap();
    assert_eq!(page(&mut tx, &q, None, 3.0).unwrap().page.len(), 3);
    assert_eq!(tx.journal().map(|j| j != journal), Some(true));
    // No pagination, no journal; bad or foreign journals are InvalidCursor.
    let mut tx = db.begin_query().unwrap();
    tx.set_journal(Some(journal.clone()));
    tx.count("", "t").unwrap();
    assert_eq!(tx.journal(), None);
    for bad in ["not a journal".to_string(), journal.clone()] {
        let mut tx = db.begin_query().unwrap();
        tx.set_journal(Some(bad));
        let other = Query::index_range("t", "by_n", vec![RangeExpr::gt("n", 0.0)]);
        let e = page(&mut tx, &other, None, 3.0).unwrap_err();
        assert_eq!(e, DbError::invalid_cursor());
    }
    // The last page's journal is "end": it grows as rows are appended.
    let mut tx = db.begin_query().unwrap();
    let all = page(&mut tx, &q, None, 100.0).unwrap();
    assert!(all.is_done);
    let end = tx.journal().unwrap();
    commit_with(&db, insert_n(500.0));
    let mut tx = db.begin_query().unwrap();
    tx.set_journal(Some(end));
    let grown = page(&mut tx, &q, None, 100.0).unwrap();
    assert_eq!(grown.page.len(), all.page.len() + 1);
    assert!(grown.is_done);
}
