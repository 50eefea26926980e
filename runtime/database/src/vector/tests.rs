//! Behaviour of vector search over the database: indexing rules, keeping up with commits,
//! schema changes, components, filters.

use std::collections::BTreeMap;

use emvex_value::Value;
use emvex_value::id::DocumentId;
use serde_json::{Value as Json, json};

use super::{VectorMatch, VectorQuery};
use crate::Database;
use crate::test_support::{int, obj, schema};

fn movies_schema(dimensions: u32) -> Json {
    json!({"tables": [{"tableName": "movies", "indexes": [], "searchIndexes": [],
        "vectorIndexes": [{"indexDescriptor": "by_embedding", "vectorField": "embedding",
            "dimensions": dimensions, "filterFields": ["genre"]}],
        "documentType": {"type": "any"}}], "schemaValidation": false})
}

fn db(component: &str) -> Database {
    let db = Database::open_in_memory().unwrap();
    db.apply_schema(component, Some(&schema(movies_schema(2)))).unwrap();
    db
}

fn insert(db: &Database, component: &str, doc: Json) -> DocumentId {
    let mut tx = db.begin_mutation().unwrap();
    let id = tx.insert(component, "movies", obj(doc)).unwrap();
    tx.commit().unwrap();
    id
}

fn search(db: &Database, component: &str, vector: Json, extra: Json) -> Vec<VectorMatch> {
    let mut q = json!({"indexName": "movies.by_embedding", "vector": vector});
    q.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    db.vector_search(component, &VectorQuery::from_json(&q).unwrap()).unwrap()
}

fn ids(found: &[VectorMatch]) -> Vec<DocumentId> {
    found.iter().map(|m| m.id).collect()
}

#[test]
fn finds_by_cosine_similarity_and_follows_later_commits() {
    let db = db("");
    let east = insert(&db, "", json!({"embedding": [1.0, 0.0], "genre": "drama"}));
    let north = insert(&db, "", json!({"embedding": [0.0, 3.0], "genre": "comedy"}));
    let found = search(&db, "", json!([2, 0.1]), json!({}));
    assert_eq!(ids(&found), [east, north]);
    assert!(found[0].score > 0.99 && found[1].score < 0.1);

    // Later commits are seen by the next search: an insert, a patch, a delete.
    let north_east = insert(&db, "", json!({"embedding": [1.0, 1.0], "genre": "drama"}));
    let mut tx = db.begin_mutation().unwrap();
    tx.patch(
        "",
        &north,
        BTreeMap::from([("embedding".to_string(), Some(Value::Array(vec![Value::Float64(1.0), Value::Float64(0.1)])))]),
    )
    .unwrap();
    tx.delete("", &east).unwrap();
    tx.commit().unwrap();
    assert_eq!(ids(&search(&db, "", json!([1, 0]), json!({}))), [north, north_east]);
    assert_eq!(ids(&search(&db, "", json!([1, 0]), json!({"limit": 1}))), [north]);

    // An uncommitted write is not seen.
    let mut tx = db.begin_mutation().unwrap();
    tx.insert("", "movies", obj(json!({"embedding": [1.0, 0.0]}))).unwrap();
    drop(tx);
    assert_eq!(search(&db, "", json!([1, 0]), json!({})).len(), 2);
}

#[test]
fn indexes_only_vectors_of_the_declared_dimensions_of_float64() {
    let db = db("");
    let good = insert(&db, "", json!({"embedding": [0.5, 0.5]}));
    insert(&db, "", json!({"embedding": [1.0, 0.0, 0.0]}));
    insert(&db, "", json!({"embedding": [int(1), int(0)]}));
    insert(&db, "", json!({"embedding": "not a vector"}));
    insert(&db, "", json!({"title": "no embedding"}));
    assert_eq!(ids(&search(&db, "", json!([1, 0]), json!({}))), [good]);
}

#[test]
fn filters_on_filter_fields() {
    let db = db("");
    let drama = insert(&db, "", json!({"embedding": [1.0, 0.0], "genre": "drama"}));
    let comedy = insert(&db, "", json!({"embedding": [0.9, 0.1], "genre": "comedy"}));
    let untagged = insert(&db, "", json!({"embedding": [0.8, 0.2]}));
    let eq = |v: Json| json!({"$eq": [{"$field": "genre"}, {"$literal": v}]});
    assert_eq!(ids(&search(&db, "", json!([1, 0]), json!({"expressions": eq(json!("comedy"))}))), [comedy]);
    let either = json!({"$or": [eq(json!("comedy")), eq(json!("drama"))]});
    assert_eq!(ids(&search(&db, "", json!([1, 0]), json!({"expressions": either}))), [drama, comedy]);
    let undefined = eq(json!({"$undefined": null}));
    assert_eq!(ids(&search(&db, "", json!([1, 0]), json!({"expressions": undefined}))), [untagged]);
}

#[test]
fn a_schema_change_rebuilds_and_a_missing_table_or_index_answers_as_convex() {
    let db = db("");
    // No document yet: the table does not exist, so nothing is found.
    assert_eq!(search(&db, "", json!([1, 0]), json!({})), []);
    let two = insert(&db, "", json!({"embedding": [1.0, 0.0]}));
    assert_eq!(ids(&search(&db, "", json!([1, 0]), json!({}))), [two]);
    let three = insert(&db, "", json!({"embedding": [1.0, 0.0, 0.0]}));
    db.apply_schema("", Some(&schema(movies_schema(3)))).unwrap();
    assert_eq!(ids(&search(&db, "", json!([1, 0, 0]), json!({}))), [three]);
    let q = VectorQuery::from_json(&json!({"indexName": "movies.by_embedding", "vector": [1, 0]})).unwrap();
    assert_eq!(db.vector_search("", &q).unwrap_err().code, "VectorDimensionsMismatch");
    let q = VectorQuery::from_json(&json!({"indexName": "movies.by_title", "vector": [1, 0, 0]})).unwrap();
    let e = db.vector_search("", &q).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("IndexNotFound", "Index movies.by_title not found."));
}

#[test]
fn each_component_has_its_own_index() {
    let db = db("child");
    db.apply_schema("", Some(&schema(movies_schema(2)))).unwrap();
    let in_child = insert(&db, "child", json!({"embedding": [1.0, 0.0]}));
    let in_root = insert(&db, "", json!({"embedding": [0.0, 1.0]}));
    assert_eq!(ids(&search(&db, "child", json!([0, 1]), json!({}))), [in_child]);
    assert_eq!(ids(&search(&db, "", json!([1, 0]), json!({}))), [in_root]);
}
