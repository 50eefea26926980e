//! Tests of text search: the tokenizer and query compilation (unit), and searches through
//! real transactions (relevance order, prefix, filters, own writes, upkeep on every write,
//! backfill and drop by schema changes, the candidate limit, pagination, read sets).

use std::collections::BTreeMap;

use emvex_value::Value;
use serde_json::{Value as Json, json};

use super::*;
use crate::test_support::{obj, schema, wire};
use crate::{Database, Document, PageRequest, Query, Transaction};
#[test]
fn tokenizer_matches_convex() {
    assert_eq!(tokenize("Hello, World! it's 2024"), vec!["hello", "world", "it", "s", "2024"]);
    assert_eq!(tokenize("foo_bar-baz.qux@x.com"), vec!["foo", "bar", "baz", "qux", "x", "com"]);
    // Non-ASCII letters are token characters; case is folded, diacritics are kept.
    assert_eq!(tokenize("Ça VA Ünïcödé ΑΒΓ 東京"), vec!["ça", "va", "ünïcödé", "αβγ", "東京"]);
    // Tokens of 32 bytes or more are dropped.
    let long = "a".repeat(32);
    let kept = "b".repeat(31);
    assert_eq!(tokenize(&format!("x {long} {kept}")), vec!["x".to_string(), kept]);
    assert!(tokenize("  ...  ").is_empty());
}

#[test]
fn query_terms_keep_sixteen_and_split_off_the_last() {
    assert_eq!(query_terms("Hello wor"), (vec!["hello".to_string()], Some("wor".to_string())));
    assert_eq!(query_terms("!!"), (vec![], None));
    let many: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    let (terms, last) = query_terms(&many.join(" "));
    assert_eq!(terms.len(), MAX_QUERY_TERMS - 1);
    assert_eq!(last.as_deref(), Some("t15"));
    assert_eq!(match_expression(&["a".into(), "b".into(), "a".into()]).unwrap(), "\"a\" OR \"b\"");
    assert_eq!(match_expression(&[]), None);
}

#[test]
fn compile_checks_fields_like_convex() {
    let ix = SearchIndexInfo::new(1, "s".into(), "body".into(), vec!["channel".into()]);
    let ok = compile(
        "m.s",
        &ix,
        &[SearchFilter::Search("body".into(), "hi".into()), SearchFilter::Eq("channel".into(), None)],
    )
    .unwrap();
    assert_eq!(ok.filters.len(), 1);
    let code = |filters: &[SearchFilter]| compile("m.s", &ix, filters).unwrap_err().code;
    assert_eq!(code(&[SearchFilter::Search("title".into(), "x".into())]), "IncorrectSearchField");
    assert_eq!(
        code(&[SearchFilter::Search("body".into(), "x".into()), SearchFilter::Search("body".into(), "y".into())]),
        "DuplicateSearchFiltersError"
    );
    assert_eq!(code(&[SearchFilter::Eq("channel".into(), None)]), "MissingSearchFilterError");
    assert_eq!(
        code(&[SearchFilter::Search("body".into(), "x".into()), SearchFilter::Eq("other".into(), None)]),
        "IncorrectFilterFieldError"
    );
    let mut many = vec![SearchFilter::Search("body".into(), "x".into())];
    many.extend((0..9).map(|_| SearchFilter::Eq("channel".into(), None)));
    assert_eq!(code(&many), "TooManyFilterConditionsInSearchQueryError");
}

fn search_schema(search_indexes: Json) -> crate::SchemaDefinition {
    schema(json!({"tables": [{"tableName": "messages", "indexes": [], "searchIndexes": search_indexes,
        "documentType": {"type": "any"}}], "schemaValidation": true}))
}

fn db_with_search() -> Database {
    let db = Database::open_in_memory().unwrap();
    let s = search_schema(json!([{"indexDescriptor": "search_body", "searchField": "body",
        "filterFields": ["channel"]}]));
    db.apply_schema("", Some(&s)).unwrap();
    db
}

fn search_query(text: &str, eqs: &[(&str, Json)]) -> Json {
    let mut filters = vec![json!({"type": "Search", "fieldPath": "body", "value": text})];
    for (f, v) in eqs {
        filters.push(json!({"type": "Eq", "fieldPath": f, "value": v}));
    }
    json!({"source": {"type": "Search", "indexName": "messages.search_body", "filters": filters}, "operators": []})
}

fn bodies(docs: &[Document]) -> Vec<String> {
    docs.iter()
        .map(|d| match d.body.get("body") {
            Some(Value::String(s)) => s.clone(),
            other => panic!("body is {other:?}"),
        })
        .collect()
}

fn search(tx: &mut Transaction, text: &str, eqs: &[(&str, Json)]) -> Vec<String> {
    bodies(&crate::test_support::collect(tx, "", &search_query(text, eqs)).unwrap())
}

fn insert(tx: &mut Transaction, body: &str, channel: &str) -> emvex_value::id::DocumentId {
    tx.insert("", "messages", obj(json!({"body": body, "channel": channel}))).unwrap()
}

#[test]
fn relevance_prefix_case_and_filters() {
    let db = db_with_search();
    let mut tx = db.begin_mutation().unwrap();
    insert(&mut tx, "The quick brown fox", "a");
    insert(&mut tx, "fox fox FOX, a fox story", "b");
    insert(&mut tx, "lazy dog", "a");
    insert(&mut tx, "Foxglove in bloom", "a");
    tx.commit().unwrap();
    let mut q = db.begin_query().unwrap();
    // Case is folded; the document where the term is densest ranks first; a term before the
    // last one matches whole only (not `Foxglove`).
    assert_eq!(search(&mut q, "FOX zzz", &[]), vec!["fox fox FOX, a fox story", "The quick brown fox"]);
    // The last term is also a prefix (the rare `foxglove` weighs most).
    assert_eq!(
        search(&mut q, "FOX", &[]),
        vec!["Foxglove in bloom", "fox fox FOX, a fox story", "The quick brown fox"]
    );
    // Any term may match.
    let prefixed = search(&mut q, "lazy fo", &[]);
    assert_eq!(prefixed.len(), 4, "{prefixed:?}");
    assert!(prefixed.contains(&"Foxglove in bloom".to_string()));
    // Only the last term is a prefix.
    assert_eq!(search(&mut q, "fo dog", &[]), vec!["lazy dog"]);
    // Equality filters on filter fields.
    assert_eq!(search(&mut q, "fox", &[("channel", json!("b"))]), vec!["fox fox FOX, a fox story"]);
    assert_eq!(search(&mut q, "fox", &[("channel", json!("a"))]), vec!["Foxglove in bloom", "The quick brown fox"]);
    // A prefix expands to at most 16 indexed terms, the first in lexicographic order.
    drop(q);
    let mut tx = db.begin_mutation().unwrap();
    for i in 10..30 {
        insert(&mut tx, &format!("pre{i}"), "p");
    }
    let found = search(&mut tx, "pre", &[]);
    assert_eq!(found.len(), MAX_PREFIX_MATCHES_PER_QUERY_TERM, "{found:?}");
    assert!(!found.contains(&"pre26".to_string()) && found.contains(&"pre25".to_string()), "{found:?}");
    assert!(search(&mut tx, "fox", &[("channel", json!("zzz"))]).is_empty());
    // No terms: nothing matches.
    assert!(search(&mut tx, " ?! ", &[]).is_empty());
}

#[test]
fn ties_are_newest_first() {
    let db = db_with_search();
    let mut tx = db.begin_mutation().unwrap();
    for i in 0..3 {
        tx.insert("", "messages", obj(json!({"body": "same words", "channel": "c", "n": i}))).unwrap();
    }
    tx.commit().unwrap();
    let mut q = db.begin_query().unwrap();
    let docs = crate::test_support::collect(&mut q, "", &search_query("same", &[])).unwrap();
    let ns: Vec<Option<Value>> = docs.iter().map(|d| d.body.get("n").cloned()).collect();
    assert_eq!(ns, vec![Some(Value::Float64(2.0)), Some(Value::Float64(1.0)), Some(Value::Float64(0.0))]);
}

#[test]
fn searches_see_the_transactions_own_writes_and_every_write_kind() {
    let db = db_with_search();
    let mut tx = db.begin_mutation().unwrap();
    let id = insert(&mut tx, "hello world", "a");
    assert_eq!(search(&mut tx, "hello", &[]), vec!["hello world"]);
    let mut patch = BTreeMap::new();
    patch.insert("body".to_string(), Some(Value::String("goodbye world".into())));
    tx.patch("", &id, patch).unwrap();
    assert!(search(&mut tx, "hello", &[]).is_empty());
    assert_eq!(search(&mut tx, "goodbye", &[]), vec!["goodbye world"]);
    // A replace that moves it to another channel.
    tx.replace("", &id, obj(json!({"body": "goodbye world", "channel": "b"}))).unwrap();
    assert!(search(&mut tx, "goodbye", &[("channel", json!("a"))]).is_empty());
    assert_eq!(search(&mut tx, "goodbye", &[("channel", json!("b"))]).len(), 1);
    // A non-string search field is not indexed.
    tx.replace("", &id, obj(json!({"body": 5, "channel": "b"}))).unwrap();
    assert!(search(&mut tx, "goodbye", &[]).is_empty());
    tx.replace("", &id, obj(json!({"body": "back again", "channel": "b"}))).unwrap();
    tx.commit().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    assert_eq!(search(&mut tx, "again", &[]), vec!["back again"]);
    tx.delete("", &id).unwrap();
    assert!(search(&mut tx, "again", &[]).is_empty());
    tx.commit().unwrap();
    // A missing filter field is undefined.
    let mut tx = db.begin_mutation().unwrap();
    tx.insert("", "messages", obj(json!({"body": "no channel"}))).unwrap();
    assert_eq!(search(&mut tx, "channel", &[("channel", json!({"$undefined": null}))]), vec!["no channel"]);
    assert!(search(&mut tx, "channel", &[("channel", json!(null))]).is_empty());
}

#[test]
fn schema_changes_backfill_and_drop_search_indexes() {
    let db = Database::open_in_memory().unwrap();
    db.apply_schema("", Some(&search_schema(json!([])))).unwrap();
    let mut tx = db.begin_mutation().unwrap();
    insert(&mut tx, "existing message", "a");
    tx.commit().unwrap();
    let mut q = db.begin_query().unwrap();
    let e = q.query_stream("", &wire(&search_query("existing", &[]))).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("IndexNotFound", "Index messages.search_body not found."));
    drop(q);
    // Adding the index backfills it.
    let s = search_schema(json!([{"indexDescriptor": "search_body", "searchField": "body", "filterFields": []}]));
    db.apply_schema("", Some(&s)).unwrap();
    let mut q = db.begin_query().unwrap();
    assert_eq!(search(&mut q, "existing", &[]), vec!["existing message"]);
    drop(q);
    // Changing its filter fields rebuilds it; removing it drops its FTS5 table.
    let s = search_schema(json!([{"indexDescriptor": "search_body", "searchField": "body",
        "filterFields": ["channel"]}]));
    db.apply_schema("", Some(&s)).unwrap();
    let mut q = db.begin_query().unwrap();
    assert_eq!(search(&mut q, "existing", &[("channel", json!("a"))]), vec!["existing message"]);
    drop(q);
    db.apply_schema("", Some(&search_schema(json!([])))).unwrap();
    let q = db.begin_query().unwrap();
    let fts: i64 = q
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name LIKE 'emvex_search_fts_%' AND type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(fts, 0);
    let rows: i64 = q.conn().query_row("SELECT COUNT(*) FROM emvex_search_rows", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 0);
}

#[test]
fn bad_searches_fail_with_convex_errors() {
    let db = db_with_search();
    let mut q = db.begin_query().unwrap();
    let code = |q: &mut Transaction, filters: Json| {
        let query = json!({"source": {"type": "Search", "indexName": "messages.search_body", "filters": filters},
            "operators": []});
        q.query_stream("", &wire(&query)).unwrap_err()
    };
    let e = code(&mut q, json!([{"type": "Search", "fieldPath": "title", "value": "x"}]));
    assert_eq!(e.code, "IncorrectSearchField");
    assert_eq!(
        e.message,
        "Search query against messages.search_body contains a search filter against \"title\", which doesn't match \
         the indexed `searchField` \"body\"."
    );
    let e = code(&mut q, json!([{"type": "Eq", "fieldPath": "channel", "value": "a"}]));
    assert_eq!(e.code, "MissingSearchFilterError");
    let e = code(
        &mut q,
        json!([{"type": "Search", "fieldPath": "body", "value": "x"},
        {"type": "Eq", "fieldPath": "author", "value": "a"}]),
    );
    assert_eq!(e.code, "IncorrectFilterFieldError");
    let order = json!({"source": {"type": "Search", "indexName": "messages.search_body", "order": "desc",
        "filters": []}, "operators": []});
    assert_eq!(
        Query::from_wire_json(&order).unwrap_err().message,
        "Search queries must always be in relevance order. Can not set order manually."
    );
}

#[test]
fn at_most_1024_candidates_are_read() {
    let db = db_with_search();
    let mut tx = db.begin_mutation().unwrap();
    for i in 0..MAX_CANDIDATE_REVISIONS + 1 {
        insert(&mut tx, &format!("common word {i}"), "a");
    }
    tx.commit().unwrap();
    let mut q = db.begin_query().unwrap();
    let e = crate::test_support::collect(&mut q, "", &search_query("common", &[])).unwrap_err();
    assert_eq!(e.code, "SearchQueryScannedTooManyDocumentsError");
    assert!(e.message.starts_with("Search query scanned too many documents (fetched 1024)."), "{}", e.message);
    // A limit stops before the cap.
    let limited = crate::test_support::with_ops(search_query("common", &[]), json!([{"limit": 5}]));
    assert_eq!(crate::test_support::collect(&mut q, "", &limited).unwrap().len(), 5);
}

#[test]
fn pages_follow_relevance_order() {
    let db = db_with_search();
    let mut tx = db.begin_mutation().unwrap();
    for i in 0..7 {
        // More repetitions = more relevant.
        insert(&mut tx, &format!("{} filler{i}", vec!["term"; i + 1].join(" ")), "a");
    }
    tx.commit().unwrap();
    let mut q = db.begin_query().unwrap();
    let all = search(&mut q, "term", &[]);
    assert_eq!(all.len(), 7);
    assert!(all[0].starts_with(&"term ".repeat(7)));
    let mut cursor = None;
    let mut paged = Vec::new();
    loop {
        let page = q.query_page("", &PageRequest::new(wire(&search_query("term", &[])), cursor.clone(), 3.0)).unwrap();
        paged.extend(bodies(&page.page));
        if page.is_done {
            break;
        }
        cursor = Some(page.continue_cursor);
    }
    assert_eq!(paged, all);
}

#[test]
fn a_search_depends_on_every_write_to_its_table() {
    let db = db_with_search();
    let mut q = db.begin_query().unwrap();
    search(&mut q, "anything", &[]);
    let reads = q.read_set();
    drop(q);
    let before = db.latest_commit_ts();
    let mut tx = db.begin_mutation().unwrap();
    insert(&mut tx, "unrelated", "b");
    let ts = tx.commit().unwrap();
    let commits = db.commit_log().commits_between(before, ts).unwrap();
    assert!(reads.overlaps(&commits[0].1));
}

#[test]
fn each_component_has_its_own_search_indexes() {
    let db = db_with_search();
    let s = search_schema(json!([{"indexDescriptor": "search_body", "searchField": "body", "filterFields": []}]));
    db.apply_schema("child", Some(&s)).unwrap();
    let mut tx = db.begin_mutation().unwrap();
    insert(&mut tx, "root words", "a");
    tx.insert("child", "messages", obj(json!({"body": "child words"}))).unwrap();
    let q = wire(&search_query("words", &[]));
    let ids = |tx: &mut Transaction, component: &str| {
        let id = tx.query_stream(component, &q).unwrap();
        let mut out = Vec::new();
        while let Some(d) = tx.query_next(id).unwrap() {
            out.push(d);
        }
        bodies(&out)
    };
    assert_eq!(ids(&mut tx, ""), vec!["root words"]);
    assert_eq!(ids(&mut tx, "child"), vec!["child words"]);
    // The child's index has no filter fields: an `eq` is refused there only.
    let filtered = wire(&search_query("words", &[("channel", json!("a"))]));
    assert_eq!(tx.query_stream("child", &filtered).unwrap_err().code, "IncorrectFilterFieldError");
    assert!(tx.query_stream("", &filtered).is_ok());
}

#[test]
fn relevance_uses_convex_bm25_idf() {
    // `apple` is in 4 of 5 documents, `cherry` in 3: FTS5's IDF gives both ~0 (so `apple`'s
    // three occurrences would win); tantivy's (Convex's) weighs the rarer `cherry` more.
    let db = db_with_search();
    let mut tx = db.begin_mutation().unwrap();
    for body in ["apple apple apple", "cherry cherry x", "apple cherry y", "apple cherry z", "apple w v"] {
        insert(&mut tx, body, "a");
    }
    tx.commit().unwrap();
    let mut q = db.begin_query().unwrap();
    assert_eq!(
        search(&mut q, "apple cherry", &[]),
        vec!["apple cherry z", "apple cherry y", "cherry cherry x", "apple apple apple", "apple w v"]
    );
    // The statistics follow deletes: with only one document left, it is found alone.
    drop(q);
    let mut tx = db.begin_mutation().unwrap();
    let ids: Vec<_> = crate::test_support::collect(&mut tx, "", &search_query("apple cherry", &[]))
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    for id in &ids[1..] {
        tx.delete("", id).unwrap();
    }
    let table = tx.catalog.load(tx.conn(), "", "messages").unwrap().unwrap();
    let index = table.search_index("search_body").unwrap();
    assert_eq!(index.stats(tx.conn()).unwrap(), (1, 3));
    assert_eq!(index.doc_freq(tx.conn(), "apple").unwrap(), 1);
}
