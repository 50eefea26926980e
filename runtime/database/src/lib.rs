//! `emvex-database`: storage and transactions over SQLite (spec `convex-runtime.md`
//! §3.3–§3.8, §4.4, §6.1–§6.2, §6.5–§6.7).
//!
//! - [`Database`]: the shared handle; one writer (mutations run one at a time), snapshot
//!   readers for queries, per-component schemas.
//! - [`Transaction`]: reads, writes, query streams, pagination, savepoints, commit.
//! - [`SchemaDefinition`]: parsed `schema.export()`.
//!
//! Only this crate sees `rusqlite`. Every component path (`""` = the root app) has its own
//! table namespace (user tables from 10001, system tables from 513).

#![forbid(unsafe_code)]

mod checkpoint;
mod database;
mod error;
mod query;
mod schema;
pub mod storage;
mod transaction;

#[cfg(test)]
mod tests;

pub use database::Database;
pub use error::DbError;
pub use schema::{IndexDefinition, SchemaDefinition, TableDefinition};
pub use transaction::{
    FIRST_SYSTEM_TABLE_NUMBER, FIRST_USER_TABLE_NUMBER, MAX_BYTES_READ, MAX_BYTES_WRITTEN, MAX_DATABASE_QUERIES,
    MAX_DOCUMENTS_READ, MAX_DOCUMENTS_WRITTEN, Transaction, TransactionMetrics,
};

use emvex_value::id::DocumentId;
use emvex_value::{Object, Value};

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

/// Arguments of `1.0/queryPage` (§3.8).
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub query: serde_json::Value,
    pub cursor: Option<String>,
    pub end_cursor: Option<String>,
    pub page_size: f64,
    pub maximum_rows_read: Option<f64>,
    pub maximum_bytes_read: Option<f64>,
}

/// Result of `1.0/queryPage` (§3.8).
#[derive(Debug, Clone)]
pub struct PageResult {
    pub page: Vec<Document>,
    pub is_done: bool,
    pub continue_cursor: String,
    pub split_cursor: Option<String>,
    pub page_status: Option<String>,
}
