//! Documents and their stored form: the [`Document`] the API hands out, the JSON text a body
//! is stored as, a document's Convex size, and field-path access shared by filters and index
//! keys.
//!
//! Invariants: a stored body is the Convex JSON text of an object without the system fields
//! `_id` and `_creationTime`; anything else in storage is reported as a `StorageError`
//! (corruption), never as a developer error.

use emvex_value::id::DocumentId;
use emvex_value::{Object, Value};
use serde_json::Value as Json;

use crate::DbError;

pub(crate) const SYSTEM_FIELD_ID: &str = "_id";
pub(crate) const SYSTEM_FIELD_CREATION_TIME: &str = "_creationTime";

/// A stored document: its id, table name, `_creationTime` and body (without system fields).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: DocumentId,
    pub table: String,
    pub creation_time: f64,
    pub body: Object,
}

impl Document {
    /// The full document value: body plus `_id` (encoded string) and `_creationTime`.
    pub fn to_value(&self) -> Value {
        let mut obj = self.body.clone();
        obj.insert("_id".to_string(), Value::String(self.id.encode()));
        obj.insert("_creationTime".to_string(), Value::Float64(self.creation_time));
        Value::Object(obj)
    }

    /// Like [`Document::to_value`], consuming the document.
    pub fn into_value(self) -> Value {
        let mut obj = self.body;
        obj.insert("_id".to_string(), Value::String(self.id.encode()));
        obj.insert("_creationTime".to_string(), Value::Float64(self.creation_time));
        Value::Object(obj)
    }
}

/// What field paths are resolved against: a document's body plus its system fields.
pub(crate) struct DocEnv<'a> {
    pub body: &'a Object,
    pub id: &'a Value,
    pub creation_time: &'a Value,
}

impl<'a> DocEnv<'a> {
    /// The value at a field path (`None` = undefined).
    pub fn get(&self, path: &[String]) -> Option<&'a Value> {
        let (first, rest) = path.split_first()?;
        let mut cur = match first.as_str() {
            SYSTEM_FIELD_ID => self.id,
            SYSTEM_FIELD_CREATION_TIME => self.creation_time,
            name => self.body.get(name)?,
        };
        for part in rest {
            cur = cur.as_object()?.get(part)?;
        }
        Some(cur)
    }
}

/// Splits a dotted field path.
pub(crate) fn split_path(path: &str) -> Vec<String> {
    path.split('.').map(str::to_string).collect()
}

/// The 16-byte internal id stored in a row.
pub(crate) fn internal_id_of(bytes: &[u8]) -> Result<[u8; 16], DbError> {
    bytes.try_into().map_err(|_| DbError::storage("corrupt internal id in storage"))
}

/// Parses a stored body.
pub(crate) fn parse_body(text: &str) -> Result<Object, DbError> {
    let json: Json =
        serde_json::from_str(text).map_err(|e| DbError::storage(format!("corrupt document in storage: {e}")))?;
    Value::from_convex_json(&json)
        .map_err(|e| DbError::storage(format!("corrupt document in storage: {}", e.message)))?
        .into_object()
        .ok_or_else(|| DbError::storage("corrupt document in storage: not an object"))
}

/// The stored text of a body, handing the body back.
pub(crate) fn body_text(body: Object) -> (String, Object) {
    let v = Value::Object(body);
    let text = v.to_convex_json().to_string();
    (text, v.into_object().expect("object"))
}

/// Convex size of a whole document (body plus `_id` and `_creationTime`).
pub(crate) fn document_size(body: &Object, encoded_id_len: usize) -> u64 {
    let body_size = 2 + body.iter().map(|(k, v)| k.len() + 1 + v.size()).sum::<usize>();
    (body_size + SYSTEM_FIELD_ID.len() + 1 + 2 + encoded_id_len + SYSTEM_FIELD_CREATION_TIME.len() + 1 + 9) as u64
}
