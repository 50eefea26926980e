//! Vector search on `fixtures/search` over real HTTP: `ctx.vectorSearch` from an action ranks
//! by cosine similarity, filters on `filterFields`, sees commits made before it, and refuses
//! what Convex refuses with Convex's messages.

mod common;

use common::Server;
use serde_json::{Value, json};

const APP: &str = "fixtures/search";

fn add(s: &Server, title: &str, genre: &str, embedding: [f64; 3]) -> Value {
    s.mutation_ok("movies:add", json!({ "title": title, "genre": genre, "embedding": embedding }))
}

fn titles(found: &Value) -> Vec<String> {
    found.as_array().unwrap().iter().map(|m| m["title"].as_str().unwrap().to_string()).collect()
}

fn similar(s: &Server, args: Value) -> Value {
    s.action("movies:similar", args).ok_value("movies:similar")
}

#[test]
fn ranks_by_cosine_similarity_and_filters_by_genre() {
    let s = Server::start_app(APP, &["--in-memory"]);
    add(&s, "Alien", "horror", [1.0, 0.0, 0.0]);
    add(&s, "Amelie", "romance", [0.0, 1.0, 0.0]);
    let heat = add(&s, "Heat", "thriller", [0.7, 0.7, 0.0]);
    add(&s, "Up", "animation", [0.0, 0.0, -1.0]);

    let found = similar(&s, json!({ "vector": [2.0, 0.1, 0.0] }));
    assert_eq!(titles(&found), ["Alien", "Heat", "Amelie", "Up"]);
    let scores: Vec<f64> = found.as_array().unwrap().iter().map(|m| m["score"].as_f64().unwrap()).collect();
    assert!((scores[0] - 0.99875).abs() < 1e-3, "cosine similarity, not a distance: {scores:?}");
    assert!(scores[3].abs() < 1e-6, "orthogonal scores 0: {scores:?}");
    assert_eq!(titles(&similar(&s, json!({ "vector": [1.0, 0.0, 0.0], "limit": 2 }))), ["Alien", "Heat"]);
    let filtered = similar(&s, json!({ "vector": [1.0, 0.0, 0.0], "genres": ["romance", "thriller"] }));
    assert_eq!(titles(&filtered), ["Heat", "Amelie"]);

    // Later commits are seen by the next search.
    s.mutation_ok("movies:remove", json!({ "id": heat }));
    add(&s, "Solaris", "drama", [1.0, 0.05, 0.0]);
    assert_eq!(titles(&similar(&s, json!({ "vector": [1.0, 0.0, 0.0], "limit": 2 }))), ["Alien", "Solaris"]);
}

#[test]
fn refuses_bad_searches_with_convex_messages() {
    let s = Server::start_app(APP, &["--in-memory"]);
    add(&s, "Alien", "horror", [1.0, 0.0, 0.0]);
    let e = s.action("movies:similar", json!({ "vector": [1.0, 0.0] })).fn_error("wrong dimensions");
    assert!(e.message.contains("Expected a vector with dimensions 3, received 2."), "{}", e.message);
    let e = s.action("movies:similar", json!({ "vector": [1.0, 0.0, 0.0], "limit": 257 })).fn_error("limit");
    assert!(e.message.contains("Vector queries can fetch at most 256 results, requested 257."), "{}", e.message);
    let e = s.action("movies:filterOnTitle", json!({})).fn_error("filter field");
    assert!(
        e.message
            .contains("contains a filter on \"title\" but that field isn't indexed for filtering in `filterFields`."),
        "{}",
        e.message
    );
    let e = s.action("movies:similar", json!({ "vector": [] })).fn_error("empty vector");
    assert!(e.message.contains("`vector` must be a non-empty Array in vectorSearch"), "{}", e.message);
}
