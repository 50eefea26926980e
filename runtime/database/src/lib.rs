//! `emvex-database`: storage and transactions over SQLite (spec `convex-runtime.md`
//! §3.3–§3.8, §4.4, §6.1–§6.2, §6.5–§6.7).
//!
//! - [`Database`]: the shared handle; one writer (mutations run one at a time), snapshot
//!   readers for queries, per-component schemas.
//! - [`Transaction`]: reads, writes, query streams, pagination, savepoints, commit.
//! - [`Query`]: a typed query (source, range, filters, limits) with a builder; JavaScript's
//!   serialized form is parsed by [`Query::from_wire_json`] only.
//! - [`SchemaDefinition`]: parsed `schema.export()`.
//!
//! Layer map (dependencies point down the list):
//! - `database` — the handle, connection pool, schema cache, table-metadata cache;
//! - `transaction` — one transaction: connection, snapshot, savepoints, commit;
//! - `schema` — `definition` (parsing `schema.export()`) and `apply` (reconciling indexes,
//!   backfill, validating existing documents, system indexes);
//! - `writes` — insert / patch / replace / delete, index maintenance, write limits; they
//!   record each written document's old and new index keys in the transaction's
//!   [`WriteSet`] (`write_set`);
//! - reactivity — [`ReadSet`] (`read_set`: what a transaction read, recorded by
//!   `query::reads`), [`WriteSet`], the [`CommitLog`] (`commit_log`: recent commits' write
//!   sets in commit order, commit listeners) and the [`SubscriptionIndex`]
//!   (`subscription_index`: which registered read sets a write set hits, by lookup);
//! - `query` — the typed query (`definition`), the wire parser (`wire`), `filter`,
//!   `index_range`, `stream` (compile, pull), `page` and `cursor`, `lookup` (`get`, `count`)
//!   and `reads`, the one door through which every read of documents and index entries
//!   passes (where read sets are recorded);
//! - `search` — text search indexes over FTS5 (tokenizer, index upkeep, match expressions);
//! - `files` — the bytes of stored files (`_storage`), outside SQLite;
//! - `vector` — vector search: each vector index in memory, kept in step with commits
//!   through the commit log;
//! - `catalog` — tables, table numbers and indexes of each component namespace;
//! - `limits` — transaction limits and metrics; `document` — stored documents;
//!   `error` — [`DbError`]; `storage` / `checkpoint` — SQLite layout, pragmas, clock rows,
//!   WAL checkpoints.
//!
//! Only this crate sees `rusqlite`. Every component path (`""` = the root app) has its own
//! table namespace (user tables from 10001, system tables from 513).

#![forbid(unsafe_code)]

mod catalog;
mod checkpoint;
mod commit_log;
mod database;
mod document;
mod error;
pub mod files;
mod limits;
mod query;
mod read_set;
mod schema;
mod search;
mod session_requests;
pub mod storage;
mod subscription_index;
mod transaction;
mod vector;
mod write_set;
mod writes;

#[cfg(test)]
mod reactivity_tests;
#[cfg(test)]
mod test_support;

pub use catalog::{FIRST_SYSTEM_TABLE_NUMBER, FIRST_USER_TABLE_NUMBER};
pub use commit_log::{CommitListener, CommitLog};
pub use database::Database;
pub use document::Document;
pub use error::{DbError, ErrorClass};
pub use files::{FileReader, FileStore, FileWriter, StagedFile};
pub use limits::{
    MAX_BYTES_READ, MAX_BYTES_WRITTEN, MAX_DATABASE_QUERIES, MAX_DOCUMENTS_READ, MAX_DOCUMENTS_WRITTEN,
    TransactionMetrics,
};
pub use query::{ArithOp, CmpOp, Expr, Operator, Order, PageRequest, PageResult, Query, RangeExpr, Source};
pub use read_set::ReadSet;
pub use schema::{
    IndexDefinition, MAX_VECTOR_DIMENSIONS, MIN_VECTOR_DIMENSIONS, SchemaDefinition, SearchIndexDefinition,
    TableDefinition, VectorIndexDefinition,
};
pub use search::SearchFilter;
pub use session_requests::{CompletedRequest, SessionRequest};
pub use subscription_index::SubscriptionIndex;
pub use transaction::Transaction;
pub use vector::{DEFAULT_VECTOR_LIMIT, MAX_VECTOR_FILTER_CONDITIONS, MAX_VECTOR_RESULTS, VectorMatch, VectorQuery};
pub use write_set::WriteSet;
