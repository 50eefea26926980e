//! Helpers shared by the crate's behaviour tests (one `tests` module per concern): building
//! documents, queries in the `convex` package's serialized form, schemas and temporary files.

use emvex_value::{Object, Value};
use serde_json::{Value as Json, json};

use crate::{DbError, Document, Query, SchemaDefinition, Transaction};

pub(crate) fn obj(j: Json) -> Object {
    Value::from_convex_json(&j).unwrap().into_object().unwrap()
}

pub(crate) fn int(n: i64) -> Json {
    json!({"$integer": emvex_value::base64_encode(&n.to_le_bytes())})
}

pub(crate) fn scan(table: &str) -> Json {
    json!({"source": {"type": "FullTableScan", "tableName": table, "order": null}, "operators": []})
}

pub(crate) fn scan_desc(table: &str) -> Json {
    json!({"source": {"type": "FullTableScan", "tableName": table, "order": "desc"}, "operators": []})
}

pub(crate) fn index_query(index: &str, range: Json, order: &str) -> Json {
    json!({"source": {"type": "IndexRange", "indexName": index, "range": range, "order": order}, "operators": []})
}

pub(crate) fn with_ops(mut q: Json, ops: Json) -> Json {
    q["operators"] = ops;
    q
}

/// A query in the `convex` package's serialized form.
pub(crate) fn wire(q: &Json) -> Query {
    Query::from_wire_json(q).unwrap()
}

pub(crate) fn collect(tx: &mut Transaction, component: &str, q: &Json) -> Result<Vec<Document>, DbError> {
    let id = tx.query_stream(component, &wire(q))?;
    let mut out = Vec::new();
    while let Some(d) = tx.query_next(id)? {
        out.push(d);
    }
    Ok(out)
}

pub(crate) fn field(d: &Document, f: &str) -> Option<Value> {
    d.body.get(f).cloned()
}

pub(crate) fn nums(docs: &[Document], f: &str) -> Vec<f64> {
    docs.iter()
        .map(|d| match d.body.get(f) {
            Some(Value::Float64(x)) => *x,
            other => panic!("field {f} is {other:?}"),
        })
        .collect()
}

pub(crate) fn schema(json: Json) -> SchemaDefinition {
    SchemaDefinition::from_export_json(&json.to_string()).unwrap()
}

pub(crate) fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("emvex-db-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("db.sqlite3")
}
