//! The "no missed update" property (spec `sync-protocol.md` §5.2 G1/G4): random tables,
//! indexes, documents and query shapes; then random write batches committed one transaction
//! at a time. After every commit every query is re-run, and whenever its result changed,
//! the read set of its previous run overlaps the commit's write set, the subscription index
//! returns it, and the commit log says so too.

use std::collections::BTreeMap;

use emvex_value::Value;
use emvex_value::id::DocumentId;
use proptest::prelude::*;
use serde_json::json;

use crate::test_support::{obj, schema};
use crate::{Database, Expr, Order, PageRequest, Query, RangeExpr, ReadSet, SubscriptionIndex, Transaction};

const TABLES: [&str; 3] = ["t0", "t1", "later"];

#[derive(Debug, Clone)]
enum Bounds {
    All,
    Eq(u8),
    Gt(u8),
    Lte(u8),
    Between(u8, u8),
}

#[derive(Debug, Clone)]
enum IndexChoice {
    CreationTime,
    ById,
    ByX(Bounds),
    /// `x == eq`, then bounds on `y`.
    ByXY(u8, Bounds),
}

#[derive(Debug, Clone)]
enum Shape {
    /// A stream, pulling at most `take` rows (a partial scan), through an optional filter on
    /// `y` and an optional limit.
    Stream {
        table: usize,
        index: IndexChoice,
        desc: bool,
        take: Option<usize>,
        filter_y: Option<u8>,
        limit: Option<u64>,
    },
    /// `get` of the `pick`-th initial document, or (`missing`) of an id nobody wrote.
    Get {
        pick: usize,
        missing: Option<(u32, [u8; 16])>,
    },
    Count {
        table: usize,
    },
    /// One page; with `journal`, re-runs pass the previous run's journal.
    Page {
        table: usize,
        index: IndexChoice,
        desc: bool,
        size: u8,
        journal: bool,
    },
}

#[derive(Debug, Clone)]
enum Op {
    Insert { table: usize, x: Option<u8>, y: u8 },
    Patch { pick: usize, x: Option<u8> },
    Replace { pick: usize, x: Option<u8>, y: u8 },
    Delete { pick: usize },
}

fn bounds() -> impl Strategy<Value = Bounds> {
    prop_oneof![
        Just(Bounds::All),
        (0u8..5).prop_map(Bounds::Eq),
        (0u8..5).prop_map(Bounds::Gt),
        (0u8..5).prop_map(Bounds::Lte),
        (0u8..5, 0u8..5).prop_map(|(a, b)| Bounds::Between(a.min(b), a.max(b))),
    ]
}

fn index_choice() -> impl Strategy<Value = IndexChoice> {
    prop_oneof![
        Just(IndexChoice::CreationTime),
        Just(IndexChoice::ById),
        bounds().prop_map(IndexChoice::ByX),
        (0u8..5, bounds()).prop_map(|(x, b)| IndexChoice::ByXY(x, b)),
    ]
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        4 => (0..3usize, index_choice(), any::<bool>(), proptest::option::of(0..6usize),
              proptest::option::of(0u8..3), proptest::option::of(1..4u64))
            .prop_map(|(table, index, desc, take, filter_y, limit)| Shape::Stream { table, index, desc, take, filter_y, limit }),
        2 => (0..30usize, proptest::option::weighted(0.3, (10001u32..10004, any::<[u8; 16]>())))
            .prop_map(|(pick, missing)| Shape::Get { pick, missing }),
        1 => (0..3usize).prop_map(|table| Shape::Count { table }),
        3 => (0..3usize, index_choice(), any::<bool>(), 1u8..5, any::<bool>())
            .prop_map(|(table, index, desc, size, journal)| Shape::Page { table, index, desc, size, journal }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, proptest::option::weighted(0.8, 0u8..5), 0u8..3).prop_map(|(table, x, y)| Op::Insert { table, x, y }),
        2 => (any::<usize>(), proptest::option::weighted(0.8, 0u8..5)).prop_map(|(pick, x)| Op::Patch { pick, x }),
        1 => (any::<usize>(), proptest::option::weighted(0.8, 0u8..5), 0u8..3).prop_map(|(pick, x, y)| Op::Replace { pick, x, y }),
        2 => any::<usize>().prop_map(|pick| Op::Delete { pick }),
    ]
}

fn body(x: Option<u8>, y: u8) -> emvex_value::Object {
    match x {
        Some(x) => obj(json!({"x": x, "y": y})),
        None => obj(json!({"y": y})),
    }
}

fn range_of(field: &str, b: &Bounds) -> Vec<RangeExpr> {
    let v = |n: u8| f64::from(n);
    match b {
        Bounds::All => vec![],
        Bounds::Eq(n) => vec![RangeExpr::eq(field, v(*n))],
        Bounds::Gt(n) => vec![RangeExpr::gt(field, v(*n))],
        Bounds::Lte(n) => vec![RangeExpr::lte(field, v(*n))],
        Bounds::Between(a, b) => vec![RangeExpr::gte(field, v(*a)), RangeExpr::lt(field, v(*b))],
    }
}

fn query_of(table: usize, index: &IndexChoice, desc: bool) -> Query {
    let t = TABLES[table];
    // "later" has no declared indexes: its index queries use the built-in ones.
    let q = match index {
        IndexChoice::CreationTime => Query::full_table_scan(t),
        IndexChoice::ById => Query::index_range(t, "by_id", vec![]),
        IndexChoice::ByX(b) if table < 2 => Query::index_range(t, "by_x", range_of("x", b)),
        IndexChoice::ByXY(x, b) if table < 2 => {
            let mut r = vec![RangeExpr::eq("x", f64::from(*x))];
            r.extend(range_of("y", b));
            Query::index_range(t, "by_xy", r)
        }
        _ => Query::index_range(t, "by_creation_time", vec![]),
    };
    q.order(if desc { Order::Desc } else { Order::Asc })
}

fn doc_json(d: &crate::Document) -> String {
    d.to_value().to_convex_json().to_string()
}

/// A subscription: its shape, resolved id (for gets), journal, last result and read set.
struct Subscription {
    shape: Shape,
    get_id: Option<DocumentId>,
    journal: Option<String>,
    result: String,
    read_set: ReadSet,
    ts: u64,
}

fn run(tx: &mut Transaction, sub: &mut Subscription) -> String {
    match &sub.shape {
        Shape::Stream { table, index, desc, take, filter_y, limit } => {
            let mut q = query_of(*table, index, *desc);
            if let Some(y) = filter_y {
                q = q.filter(Expr::field("y").eq(Expr::literal(f64::from(*y))));
            }
            if let Some(n) = limit {
                q = q.limit(*n);
            }
            let id = match tx.query_stream("", &q) {
                Ok(id) => id,
                Err(e) => return format!("error {}", e.code),
            };
            let mut rows = Vec::new();
            while take.is_none_or(|n| rows.len() < n) {
                match tx.query_next(id) {
                    Ok(Some(d)) => rows.push(doc_json(&d)),
                    Ok(None) => break,
                    Err(e) => return format!("error {}", e.code),
                }
            }
            tx.query_cleanup(id);
            rows.join("\n")
        }
        Shape::Get { .. } => {
            let id = sub.get_id.expect("resolved at subscribe");
            format!("{:?}", tx.get("", &id).unwrap().map(|d| doc_json(&d)))
        }
        Shape::Count { table } => tx.count("", TABLES[*table]).unwrap().to_string(),
        Shape::Page { table, index, desc, size, journal } => {
            tx.set_journal(if *journal { sub.journal.clone() } else { None });
            let request = PageRequest::new(query_of(*table, index, *desc), None, f64::from(*size));
            match tx.query_page("", &request) {
                Ok(p) => {
                    sub.journal = tx.journal();
                    let rows: Vec<String> = p.page.iter().map(doc_json).collect();
                    format!("{} {} {}", rows.join("\n"), p.is_done, p.continue_cursor)
                }
                Err(e) => format!("error {}", e.code),
            }
        }
    }
}

/// Runs `sub` at a fresh snapshot, updating its result, read set and ts; returns the
/// previous result.
fn rerun(db: &Database, sub: &mut Subscription) -> String {
    let mut tx = db.begin_query().unwrap();
    let result = run(&mut tx, sub);
    sub.read_set = tx.read_set();
    sub.ts = tx.snapshot_ts();
    std::mem::replace(&mut sub.result, result)
}

fn apply(tx: &mut Transaction, op: &Op, live: &mut Vec<DocumentId>) {
    let pick = |live: &Vec<DocumentId>, p: usize| (!live.is_empty()).then(|| live[p % live.len()]);
    match op {
        Op::Insert { table, x, y } => live.push(tx.insert("", TABLES[*table], body(*x, *y)).unwrap()),
        Op::Patch { pick: p, x } => {
            if let Some(id) = pick(live, *p) {
                let value = x.map(|x| Value::Float64(f64::from(x)));
                tx.patch("", &id, BTreeMap::from([("x".to_string(), value)])).unwrap();
            }
        }
        Op::Replace { pick: p, x, y } => {
            if let Some(id) = pick(live, *p) {
                tx.replace("", &id, body(*x, *y)).unwrap();
            }
        }
        Op::Delete { pick: p } => {
            if let Some(id) = pick(live, *p) {
                tx.delete("", &id).unwrap();
                live.retain(|d| *d != id);
            }
        }
    }
}

fn check_no_missed_update(initial: Vec<(usize, Option<u8>, u8)>, shapes: Vec<Shape>, batches: Vec<Vec<Op>>) {
    let db = Database::open_in_memory().unwrap();
    let index = |name: &str, fields: serde_json::Value| json!({"indexDescriptor": name, "fields": fields});
    let table = |name: &str| {
        json!({"tableName": name, "indexes": [index("by_x", json!(["x"])), index("by_xy", json!(["x", "y"]))],
               "documentType": null})
    };
    db.apply_schema("", Some(&schema(json!({"tables": [table("t0"), table("t1")], "schemaValidation": true}))))
        .unwrap();
    let mut live = Vec::new();
    let mut tx = db.begin_mutation().unwrap();
    for (t, x, y) in initial {
        // "later" is created by the write batches only.
        live.push(tx.insert("", TABLES[t % 2], body(x, y)).unwrap());
    }
    tx.commit().unwrap();
    let ever = live.clone();

    let mut subs: Vec<Subscription> = shapes
        .into_iter()
        .map(|shape| {
            let get_id = match &shape {
                Shape::Get { missing: Some((number, internal)), .. } => Some(DocumentId::new(*number, *internal)),
                Shape::Get { pick, .. } if !ever.is_empty() => Some(ever[pick % ever.len()]),
                Shape::Get { .. } => Some(DocumentId::new(10001, [7; 16])),
                _ => None,
            };
            Subscription { shape, get_id, journal: None, result: String::new(), read_set: ReadSet::default(), ts: 0 }
        })
        .collect();
    let mut index = SubscriptionIndex::new();
    for (i, sub) in subs.iter_mut().enumerate() {
        rerun(&db, sub);
        index.insert(i, &sub.read_set);
    }

    for batch in &batches {
        let before = db.latest_commit_ts();
        let mut tx = db.begin_mutation().unwrap();
        for op in batch {
            apply(&mut tx, op, &mut live);
        }
        let ts = tx.commit().unwrap();
        let commits = db.commit_log().commits_between(before, ts).expect("the log covers the last commit");
        let writes = commits.first().map(|(_, w)| (**w).clone()).unwrap_or_default();
        let affected = index.affected(&writes);
        let expected: Vec<usize> = (0..subs.len()).filter(|i| subs[*i].read_set.overlaps(&writes)).collect();
        assert_eq!(affected, expected, "the subscription index agrees with ReadSet::overlaps");
        for (i, sub) in subs.iter_mut().enumerate() {
            let (old_read_set, old_ts) = (sub.read_set.clone(), sub.ts);
            let old = rerun(&db, sub);
            let overlaps = old_read_set.overlaps(&writes);
            assert_eq!(
                db.commit_log().overlaps_between(&old_read_set, old_ts, sub.ts),
                Some(overlaps),
                "the commit log agrees for {:?}",
                sub.shape
            );
            if old != sub.result {
                assert!(
                    overlaps,
                    "missed update: {:?} changed from\n{old}\nto\n{}\nafter {batch:?}\nread set {old_read_set:?}\nwrites {writes:?}",
                    sub.shape, sub.result
                );
                assert!(affected.contains(&i));
            }
            index.insert(i, &sub.read_set);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// G1: a query whose result changed after a commit always depends on that commit.
    #[test]
    fn no_missed_update_property(
        initial in proptest::collection::vec((0..2usize, proptest::option::weighted(0.8, 0u8..5), 0u8..3), 0..16),
        shapes in proptest::collection::vec(shape(), 1..12),
        batches in proptest::collection::vec(proptest::collection::vec(op(), 1..4), 1..8),
    ) {
        check_no_missed_update(initial, shapes, batches);
    }
}
