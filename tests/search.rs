//! Text search over HTTP, against `fixtures/search` (a `messages` table with the search
//! index `search_body` on `body`, filter fields `channel` and `author`): relevance order,
//! prefix matching of the last term, filter fields, `.filter()` after a search, the
//! transaction's own writes, upkeep on patch/replace/delete, pagination, Convex's errors
//! for bad searches and the 1024-candidate limit, and persistence across a restart.

mod common;

use common::*;
use serde_json::{Value, json};

const SEARCH_FIXTURE: &str = "fixtures/search";

fn start() -> Server {
    Server::start_app(SEARCH_FIXTURE, &["--in-memory"])
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn search(s: &Server, args: Value) -> Vec<String> {
    strings(&s.query_ok("messages:search", args))
}

fn seed(s: &Server) {
    for (body, channel) in [
        ("The quick brown fox jumps", "general"),
        ("fox fox fox: all about foxes and a fox", "animals"),
        ("A lazy dog sleeps", "general"),
        ("Foxglove is a flower", "garden"),
        ("Ünïcödé and café, naïve!", "general"),
    ] {
        s.mutation_ok("messages:send", json!({"body": body, "channel": channel}));
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn relevance_prefix_case_and_filters() {
    let s = start();
    seed(&s);
    // Case is folded, the last term is a prefix (`fox` also finds `foxes`, `Foxglove`), and
    // the densest match ranks first.
    let fox = search(&s, json!({"text": "FOX"}));
    assert_eq!(fox[0], "fox fox fox: all about foxes and a fox", "{fox:?}");
    assert_eq!(
        sorted(fox),
        sorted(vec![
            "fox fox fox: all about foxes and a fox".into(),
            "The quick brown fox jumps".into(),
            "Foxglove is a flower".into(),
        ])
    );
    // Only the last term is a prefix: `fox` before `dog` must match whole.
    assert_eq!(
        sorted(search(&s, json!({"text": "foxg dog"}))),
        vec!["A lazy dog sleeps".to_string()],
        "a non-final term is not a prefix"
    );
    // Any term may match.
    assert_eq!(search(&s, json!({"text": "sleeps flower"})).len(), 2);
    // Punctuation splits terms; diacritics are kept (no folding), non-ASCII letters are letters.
    assert_eq!(search(&s, json!({"text": "café"})), vec!["Ünïcödé and café, naïve!"]);
    assert_eq!(search(&s, json!({"text": "ÜNÏCÖDÉ"})), vec!["Ünïcödé and café, naïve!"]);
    assert!(search(&s, json!({"text": "cafe unicode"})).is_empty());
    // filterFields equality.
    assert_eq!(search(&s, json!({"text": "fox", "channel": "general"})), vec!["The quick brown fox jumps"]);
    assert!(search(&s, json!({"text": "fox", "channel": "nowhere"})).is_empty());
    // take(n) keeps the n most relevant.
    assert_eq!(search(&s, json!({"text": "fox", "limit": 1})), vec!["fox fox fox: all about foxes and a fox"]);
    // .filter() after a search.
    s.mutation_ok("messages:send", json!({"body": "a long fox tale indeed", "channel": "long"}));
    assert_eq!(
        strings(&s.query_ok("messages:searchLong", json!({"text": "fox", "minLength": 3}))),
        vec!["a long fox tale indeed"]
    );
}

#[test]
fn searches_follow_writes_and_own_writes() {
    let s = start();
    let id = s.mutation_ok("messages:send", json!({"body": "hello world", "channel": "general"}));
    assert_eq!(search(&s, json!({"text": "hello"})), vec!["hello world"]);
    s.mutation_ok("messages:edit", json!({"id": id, "body": "goodbye world"}));
    assert!(search(&s, json!({"text": "hello"})).is_empty());
    assert_eq!(search(&s, json!({"text": "goodbye"})), vec!["goodbye world"]);
    s.mutation_ok("messages:replace", json!({"id": id, "body": "goodbye moon", "channel": "space"}));
    assert!(search(&s, json!({"text": "goodbye", "channel": "general"})).is_empty());
    assert_eq!(search(&s, json!({"text": "goodbye", "channel": "space"})), vec!["goodbye moon"]);
    s.mutation_ok("messages:remove", json!({"id": id}));
    assert!(search(&s, json!({"text": "goodbye"})).is_empty());
    // A mutation's search sees the document it just inserted.
    let own = strings(&s.mutation_ok("messages:sendAndSearch", json!({"body": "fresh news", "text": "news"})));
    assert_eq!(own, vec!["fresh news"]);
}

#[test]
fn pagination_walks_relevance_order() {
    let s = start();
    let bodies: Vec<String> = (1..=7).map(|i| format!("{} pad{i}", vec!["term"; i].join(" "))).collect();
    s.mutation_ok("messages:sendMany", json!({"bodies": bodies, "channel": "c"}));
    let all = strings(&s.query_ok("messages:search", json!({"text": "term", "limit": 100})));
    assert_eq!(all.len(), 7);
    assert!(all[0].starts_with(&"term ".repeat(7)), "{all:?}");
    let mut cursor = Value::Null;
    let mut paged = Vec::new();
    loop {
        let p = s.query_ok(
            "messages:searchPage",
            json!({"text": "term", "paginationOpts": {"numItems": 3, "cursor": cursor}}),
        );
        paged.extend(strings(&p["page"]));
        if p["isDone"] == json!(true) {
            break;
        }
        cursor = p["continueCursor"].clone();
        assert!(paged.len() <= 7, "pagination does not end: {paged:?}");
    }
    assert_eq!(paged, all);
}

fn raw(s: &Server, args: Value) -> FnError {
    s.query("messages:rawSearch", args).fn_error("rawSearch")
}

#[test]
fn bad_searches_fail_with_convex_errors() {
    let s = start();
    let body = |t: &str| json!({"field": "body", "text": t});
    raw(&s, json!({"index": "search_body", "searches": [{"field": "title", "text": "x"}], "eqs": []})).assert_contains(
        "Search query against messages.search_body contains a search filter against \"title\", which doesn't \
         match the indexed `searchField` \"body\".",
    );
    raw(&s, json!({"index": "search_body", "searches": [body("a"), body("b")], "eqs": []}))
        .assert_contains("contains multiple search filters against \"body\". Only one is allowed.");
    raw(&s, json!({"index": "search_body", "searches": [], "eqs": [{"field": "channel", "value": "a"}]}))
        .assert_contains("does not contain any search filters. You must include a search filter like");
    raw(&s, json!({"index": "search_body", "searches": [body("a")], "eqs": [{"field": "body2", "value": "a"}]}))
        .assert_contains(
            "contains an equality filter on \"body2\" but that field isn't indexed for filtering in `filterFields`.",
        );
    let nine: Vec<Value> = (0..9).map(|_| json!({"field": "channel", "value": "a"})).collect();
    raw(&s, json!({"index": "search_body", "searches": [body("a")], "eqs": nine}))
        .assert_contains("has too many filter conditions. Max: 8 Actual: 9");
    raw(&s, json!({"index": "nope", "searches": [body("a")], "eqs": []}))
        .assert_contains("Index messages.nope not found.");
    raw(&s, json!({"index": "search_body", "searches": [body("a")], "eqs": [], "order": true}))
        .assert_contains("Search queries must always be in relevance order. Can not set order manually.");
}

#[test]
fn collecting_more_than_1024_candidates_fails_like_convex() {
    let s = start();
    for chunk in 0..3 {
        let bodies: Vec<String> = (0..350).map(|i| format!("bulk item {chunk} {i}")).collect();
        s.mutation_ok("messages:sendMany", json!({"bodies": bodies, "channel": "bulk"}));
    }
    s.query("messages:searchAll", json!({"text": "bulk"})).fn_error("searchAll").assert_contains(
        "Search query scanned too many documents (fetched 1024). Consider using a smaller limit, paginating the \
         query, or using a filter field to limit the number of documents pulled from the search index.",
    );
    // Exactly the matching documents when there are fewer.
    s.mutation_ok("messages:sendMany", json!({"bodies": ["rare word", "another rare one"], "channel": "bulk"}));
    assert_eq!(s.query_ok("messages:searchAll", json!({"text": "rare"})).as_f64(), Some(2.0));
    assert_eq!(search(&s, json!({"text": "bulk", "limit": 3})).len(), 3);
}

#[test]
fn search_indexes_persist_across_restarts() {
    let dir = TempDir::new("search-persist");
    {
        let s = Server::start_app(SEARCH_FIXTURE, &["--data", dir.path.to_str().unwrap()]);
        s.mutation_ok("messages:send", json!({"body": "persistent words", "channel": "c"}));
    }
    let s = Server::start_app(SEARCH_FIXTURE, &["--data", dir.path.to_str().unwrap()]);
    assert_eq!(search(&s, json!({"text": "persist"})), vec!["persistent words"]);
    s.mutation_ok("messages:send", json!({"body": "more persistent words", "channel": "c"}));
    assert_eq!(search(&s, json!({"text": "persistent"})).len(), 2);
}
