//! `Transaction`: one query or mutation's view of the database (§6.1), plus reads, writes,
//! query streaming (§3.7) and pagination (§3.8).
//!
//! A mutation transaction owns the single writer connection inside `BEGIN IMMEDIATE`, so
//! read-your-own-writes and all-or-nothing come from SQLite; nested mutations use SQLite
//! savepoints. A query transaction owns a reader connection inside a deferred `BEGIN` whose
//! first statement pins a WAL snapshot; writes on it fail with `ReadOnlyTransaction`.
//!
//! Invariants:
//! - every document is in every index of its table, keyed by `encode_tuple` of the index's
//!   full fields (missing field = undefined), and the `count:<tid>` row of `emvex_meta` equals its number
//!   of documents, at every statement boundary;
//! - `_creationTime`s assigned by a transaction strictly increase and exceed every
//!   `_creationTime` ever committed; commit timestamps strictly increase across restarts;
//! - dropping a transaction without `commit` rolls everything back and returns the
//!   connection to its pool.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use emvex_value::id::DocumentId;
use emvex_value::validator::TableNames;
use emvex_value::{Object, Value, sort_key};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value as Json;

use crate::database::Inner;
use crate::query::{self, DocEnv, KeyInterval, Operator, Order, Position, Source};
use crate::schema::SchemaDefinition;
use crate::storage;
use crate::{DbError, Document, PageRequest, PageResult};

/// First table number of user tables in every component namespace (§4.5).
pub const FIRST_USER_TABLE_NUMBER: u32 = 10001;
/// First table number of system tables in every component namespace (§4.5).
pub const FIRST_SYSTEM_TABLE_NUMBER: u32 = 513;

/// Transaction limits (§6.5).
pub const MAX_DOCUMENTS_READ: u64 = 32_000;
pub const MAX_BYTES_READ: u64 = 1 << 24;
pub const MAX_DATABASE_QUERIES: u64 = 4096;
pub const MAX_DOCUMENTS_WRITTEN: u64 = 16_000;
pub const MAX_BYTES_WRITTEN: u64 = 1 << 24;
/// Maximum `pageSize` of one `paginate()` call.
pub const MAX_PAGE_SIZE: f64 = 32_000.0;

const SYSTEM_FIELD_ID: &str = "_id";
const SYSTEM_FIELD_CREATION_TIME: &str = "_creationTime";

/// Counters behind `getTransactionMetrics` and the §6.5 limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransactionMetrics {
    pub documents_read: u64,
    pub bytes_read: u64,
    pub database_queries: u64,
    pub documents_written: u64,
    pub bytes_written: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxKind {
    Mutation,
    Query,
}

#[derive(Debug, Clone)]
pub(crate) struct IndexInfo {
    pub index_id: i64,
    pub name: String,
    /// Full key fields, e.g. `["a", "_creationTime", "_id"]`.
    pub fields: Vec<String>,
    pub paths: Vec<Vec<String>>,
}

#[derive(Debug, Clone)]
pub(crate) struct TableInfo {
    pub tid: i64,
    pub name: String,
    pub number: u32,
    pub indexes: Vec<IndexInfo>,
}

impl TableInfo {
    fn index(&self, name: &str) -> Option<&IndexInfo> {
        self.indexes.iter().find(|i| i.name == name)
    }
}

fn builtin_fields(index: &str) -> Option<Vec<String>> {
    match index {
        "by_id" => Some(vec![SYSTEM_FIELD_ID.to_string()]),
        "by_creation_time" => Some(vec![SYSTEM_FIELD_CREATION_TIME.to_string(), SYSTEM_FIELD_ID.to_string()]),
        _ => None,
    }
}

/// A row fetched from an index but not yet returned.
struct RawRow {
    key: Vec<u8>,
    internal_id: Vec<u8>,
    creation_time: f64,
    body: String,
}

/// The state of one in-progress query stream.
struct QueryState {
    table: Option<Arc<TableInfo>>,
    index_id: i64,
    interval: KeyInterval,
    order: Order,
    operators: Arc<Vec<Operator>>,
    limit_counts: Vec<u64>,
    /// Last key pulled from the source (rows at or before it, in scan order, are consumed).
    last_key: Option<Vec<u8>>,
    source_done: bool,
    buffer: VecDeque<RawRow>,
    buffer_gen: u64,
    batch: u32,
    scanned_rows: u64,
    scanned_bytes: u64,
    fingerprint: [u8; 32],
}

enum Pull {
    Row(Vec<u8>, Document),
    Done,
    /// The page's scan budget (`maximumRowsRead` / `maximumBytesRead`) is used up.
    Budget,
}

#[derive(Clone, Copy)]
struct Budget {
    rows: u64,
    bytes: u64,
}

/// One query's or mutation's transaction. `'static + Send`; not `Sync`.
pub struct Transaction {
    pub(crate) inner: Arc<Inner>,
    pub(crate) conn: Option<Connection>,
    pub(crate) kind: TxKind,
    pub(crate) snapshot_ts: u64,
    /// The schema epoch of the snapshot; `epoch_changed` once this transaction creates a
    /// table or changes indexes (then the shared table cache is not used).
    epoch: i64,
    epoch_changed: bool,
    next_creation_time: f64,
    assigned_creation_time: Option<f64>,
    rng: StdRng,
    savepoints: u32,
    tables: RefCell<HashMap<(String, String), Arc<TableInfo>>>,
    queries: HashMap<u32, QueryState>,
    next_query_id: u32,
    write_gen: u64,
    metrics: TransactionMetrics,
    written: HashSet<(i64, [u8; 16])>,
    tables_read: HashSet<(String, String)>,
    tables_written: HashSet<(String, String)>,
    finished: bool,
}

fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn internal_id_of(bytes: &[u8]) -> Result<[u8; 16], DbError> {
    bytes.try_into().map_err(|_| DbError::storage("corrupt internal id in storage"))
}

fn parse_body(text: &str) -> Result<Object, DbError> {
    let json: Json =
        serde_json::from_str(text).map_err(|e| DbError::storage(format!("corrupt document in storage: {e}")))?;
    Value::from_convex_json(&json)
        .map_err(|e| DbError::storage(format!("corrupt document in storage: {}", e.message)))?
        .into_object()
        .ok_or_else(|| DbError::storage("corrupt document in storage: not an object"))
}

fn body_text(body: Object) -> (String, Object) {
    let v = Value::Object(body);
    let text = v.to_convex_json().to_string();
    (text, v.into_object().expect("object"))
}

/// Convex size of a whole document (body plus `_id` and `_creationTime`).
fn document_size(body: &Object, encoded_id_len: usize) -> u64 {
    let body_size = 2 + body.iter().map(|(k, v)| k.len() + 1 + v.size()).sum::<usize>();
    (body_size + SYSTEM_FIELD_ID.len() + 1 + 2 + encoded_id_len + SYSTEM_FIELD_CREATION_TIME.len() + 1 + 9) as u64
}

fn index_key(index: &IndexInfo, env: &DocEnv<'_>) -> Vec<u8> {
    let values: Vec<Option<&Value>> = index.paths.iter().map(|p| env.get(p)).collect();
    sort_key::encode_tuple(&values)
}

/// All index keys of a document, one per index of `table` (same order as `table.indexes`).
fn document_keys(table: &TableInfo, id: &DocumentId, creation_time: f64, body: &Object) -> Vec<Vec<u8>> {
    let id_value = Value::String(id.encode());
    let ct_value = Value::Float64(creation_time);
    let env = DocEnv { body, id: &id_value, creation_time: &ct_value };
    table.indexes.iter().map(|ix| index_key(ix, &env)).collect()
}

/// Adds `delta` to the stored document count of table `tid`.
fn add_count(conn: &Connection, tid: i64, delta: i64) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO emvex_meta (key, value) VALUES ('count:' || ?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = value + ?2",
    )?
    .execute(params![tid, delta])?;
    Ok(())
}

/// Fails with `code` and the message `message()` when `used` passed `max` (spec §6.5).
fn check_limit<T: PartialOrd>(
    used: T,
    max: T,
    code: &'static str,
    message: impl FnOnce() -> String,
) -> Result<(), DbError> {
    if used > max { Err(DbError::new(code, message())) } else { Ok(()) }
}

impl Transaction {
    pub(crate) fn new(inner: Arc<Inner>, conn: Connection, kind: TxKind, clock: storage::Clock) -> Transaction {
        let snapshot_ts = clock.last_commit_ts;
        let now_ms = (now_ns().max(snapshot_ts)) as f64 / 1e6;
        let next_creation_time = now_ms.max(clock.last_creation_time.next_up());
        Transaction {
            inner,
            conn: Some(conn),
            kind,
            snapshot_ts,
            epoch: clock.schema_epoch,
            epoch_changed: false,
            next_creation_time,
            assigned_creation_time: None,
            rng: StdRng::from_os_rng(),
            savepoints: 0,
            tables: RefCell::new(HashMap::new()),
            queries: HashMap::new(),
            next_query_id: 0,
            write_gen: 0,
            metrics: TransactionMetrics::default(),
            written: HashSet::new(),
            tables_read: HashSet::new(),
            tables_written: HashSet::new(),
            finished: false,
        }
    }

    fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("transaction connection is present until drop")
    }

    /// Seeds the generator of new document ids (for deterministic ids per execution).
    /// Without it, ids come from an OS-seeded generator.
    pub fn set_id_seed(&mut self, seed: u64) {
        self.rng = StdRng::seed_from_u64(seed);
    }

    /// The snapshot timestamp (ns): the commit ts of the last transaction visible to this one.
    pub fn snapshot_ts(&self) -> u64 {
        self.snapshot_ts
    }

    /// Whether this is a read-only (query) transaction.
    pub fn is_read_only(&self) -> bool {
        self.kind == TxKind::Query
    }

    /// Counters for `getTransactionMetrics` (§6.5).
    pub fn metrics(&self) -> TransactionMetrics {
        self.metrics
    }

    // ----- tables -------------------------------------------------------------------------

    fn load_table(&self, component: &str, table: &str) -> Result<Option<Arc<TableInfo>>, DbError> {
        let key = (component.to_string(), table.to_string());
        if let Some(t) = self.tables.borrow().get(&key) {
            return Ok(Some(t.clone()));
        }
        if !self.epoch_changed
            && let Some(t) = self.inner.cached_table(self.epoch, component, table)
        {
            self.tables.borrow_mut().insert(key, t.clone());
            return Ok(Some(t));
        }
        let conn = self.conn();
        let row: Option<(i64, u32)> = conn
            .prepare_cached("SELECT tid, number FROM emvex_tables WHERE component = ?1 AND name = ?2")?
            .query_row(params![component, table], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((tid, number)) = row else {
            return Ok(None);
        };
        let mut stmt =
            conn.prepare_cached("SELECT index_id, name, fields FROM emvex_indexes WHERE tid = ?1 ORDER BY index_id")?;
        let rows = stmt
            .query_map(params![tid], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
        let mut indexes = Vec::new();
        for row in rows {
            let (index_id, name, fields) = row?;
            let fields: Vec<String> = serde_json::from_str(&fields)
                .map_err(|e| DbError::storage(format!("corrupt index fields in storage: {e}")))?;
            let paths = fields.iter().map(|f| query::split_path(f)).collect();
            indexes.push(IndexInfo { index_id, name, fields, paths });
        }
        let info = Arc::new(TableInfo { tid, name: table.to_string(), number, indexes });
        self.tables.borrow_mut().insert(key, info.clone());
        Ok(Some(info))
    }

    fn invalidate_tables(&mut self) {
        self.tables.borrow_mut().clear();
    }

    fn create_table(&mut self, component: &str, table: &str) -> Result<Arc<TableInfo>, DbError> {
        let system = table.starts_with('_');
        let (lo, hi) = if system {
            (FIRST_SYSTEM_TABLE_NUMBER, FIRST_USER_TABLE_NUMBER - 1)
        } else {
            (FIRST_USER_TABLE_NUMBER, u32::MAX >> 1)
        };
        let conn = self.conn();
        let max: Option<u32> = conn
            .prepare_cached("SELECT MAX(number) FROM emvex_tables WHERE component = ?1 AND number BETWEEN ?2 AND ?3")?
            .query_row(params![component, lo, hi], |r| r.get(0))?;
        let number = match max {
            None => lo,
            Some(n) if n < hi => n + 1,
            Some(_) => {
                return Err(DbError::new("TooManyTables", format!("Too many tables in component \"{component}\"")));
            }
        };
        conn.prepare_cached("INSERT INTO emvex_tables (component, name, number) VALUES (?1, ?2, ?3)")?
            .execute(params![component, table, number])?;
        let tid = conn.last_insert_rowid();
        for name in ["by_id", "by_creation_time"] {
            let fields = builtin_fields(name).expect("builtin");
            conn.prepare_cached("INSERT INTO emvex_indexes (tid, name, fields) VALUES (?1, ?2, ?3)")?
                .execute(params![tid, name, serde_json::to_string(&fields).expect("json")])?;
        }
        self.epoch_changed = true;
        self.invalidate_tables();
        self.load_table(component, table)?.ok_or_else(|| DbError::storage("table vanished after creation"))
    }

    fn table_by_number(&self, component: &str, number: u32) -> Result<Option<Arc<TableInfo>>, DbError> {
        match self.table_name(component, number)? {
            Some(name) => self.load_table(component, &name),
            None => Ok(None),
        }
    }

    /// The number of `table` in `component`, if the table exists.
    pub fn table_number(&self, component: &str, table: &str) -> Result<Option<u32>, DbError> {
        Ok(self.load_table(component, table)?.map(|t| t.number))
    }

    /// The name of table number `table_number` in `component`, if it exists.
    pub fn table_name(&self, component: &str, table_number: u32) -> Result<Option<String>, DbError> {
        if let Some(t) = self.tables.borrow().iter().find(|((c, _), t)| c == component && t.number == table_number) {
            return Ok(Some(t.1.name.clone()));
        }
        if !self.epoch_changed
            && let Some(name) = self.inner.cached_table_name(self.epoch, component, table_number)
        {
            return Ok(Some(name));
        }
        Ok(self
            .conn()
            .prepare_cached("SELECT name FROM emvex_tables WHERE component = ?1 AND number = ?2")?
            .query_row(params![component, table_number], |r| r.get(0))
            .optional()?)
    }

    /// The names of all tables of `component` (user and system), sorted.
    pub fn list_tables(&self, component: &str) -> Result<Vec<String>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT name FROM emvex_tables WHERE component = ?1 ORDER BY name")?;
        let names = stmt.query_map(params![component], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(names)
    }

    /// A view resolving table numbers of `component` for `v.id("t")` validation.
    pub fn table_names<'a>(&'a self, component: &'a str) -> impl TableNames + 'a {
        TxTableNames { tx: self, component }
    }

    // ----- reads --------------------------------------------------------------------------

    fn record_query(&mut self) -> Result<(), DbError> {
        self.metrics.database_queries += 1;
        check_limit(self.metrics.database_queries, MAX_DATABASE_QUERIES, "TooManyReads", || {
            format!("Too many reads in a single function execution (limit: {MAX_DATABASE_QUERIES}).")
        })?;
        Ok(())
    }

    fn record_read(&mut self, bytes: u64) -> Result<(), DbError> {
        self.metrics.documents_read += 1;
        self.metrics.bytes_read += bytes;
        check_limit(self.metrics.documents_read, MAX_DOCUMENTS_READ, "TooManyDocumentsRead", || {
            format!("Too many documents read in a single function execution (limit: {MAX_DOCUMENTS_READ}).")
        })?;
        check_limit(self.metrics.bytes_read, MAX_BYTES_READ, "TooManyBytesRead", || {
            format!("Too many bytes read in a single function execution (limit: {MAX_BYTES_READ} bytes).")
        })?;
        Ok(())
    }

    fn read_document(&self, table: &TableInfo, id: &DocumentId) -> Result<Option<Document>, DbError> {
        let row: Option<(f64, String)> = self
            .conn()
            .prepare_cached("SELECT creation_time, body FROM emvex_documents WHERE tid = ?1 AND internal_id = ?2")?
            .query_row(params![table.tid, &id.internal_id[..]], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match row {
            None => Ok(None),
            Some((creation_time, body)) => {
                Ok(Some(Document { id: *id, table: table.name.clone(), creation_time, body: parse_body(&body)? }))
            }
        }
    }

    /// Reads a document by id in `component`'s namespace; `None` if the id's table is not a
    /// table of this component or the document does not exist (§3.3 `1.0/get`).
    pub fn get(&mut self, component: &str, id: &DocumentId) -> Result<Option<Document>, DbError> {
        self.record_query()?;
        let Some(table) = self.table_by_number(component, id.table_number)? else {
            return Ok(None);
        };
        self.note_read(component, &table.name);
        let doc = self.read_document(&table, id)?;
        if let Some(d) = &doc {
            self.record_read(document_size(&d.body, id.encode().len()))?;
        }
        Ok(doc)
    }

    /// Number of documents in the table (0 if it does not exist), including this
    /// transaction's writes.
    pub fn count(&mut self, component: &str, table: &str) -> Result<u64, DbError> {
        self.record_query()?;
        self.note_read(component, table);
        let Some(info) = self.load_table(component, table)? else {
            return Ok(0);
        };
        let n: Option<i64> = self
            .conn()
            .prepare_cached("SELECT value FROM emvex_meta WHERE key = 'count:' || ?1")?
            .query_row(params![info.tid], |r| r.get(0))
            .optional()?;
        Ok(n.unwrap_or(0).max(0) as u64)
    }

    // ----- writes -------------------------------------------------------------------------

    fn check_writable(&self) -> Result<(), DbError> {
        if self.kind == TxKind::Query {
            return Err(DbError::new(
                "ReadOnlyTransaction",
                "Cannot write to the database in a query: only mutations can write.",
            ));
        }
        Ok(())
    }

    fn note_read(&mut self, component: &str, table: &str) {
        if !self.tables_read.contains(&(component.to_string(), table.to_string())) {
            self.tables_read.insert((component.to_string(), table.to_string()));
        }
    }

    /// The tables `(component, table)` this transaction has read (gets, counts, queries,
    /// including queries of tables that do not exist yet), sorted. A coarse read set: a
    /// query result can only change when one of these tables is written.
    pub fn tables_read(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.tables_read.iter().cloned().collect();
        v.sort();
        v
    }

    /// The tables `(component, table)` this transaction has written (system tables
    /// included), sorted. Take it before `commit`.
    pub fn tables_written(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.tables_written.iter().cloned().collect();
        v.sort();
        v
    }

    fn record_write(&mut self, component: &str, table: &TableInfo, id: &DocumentId, bytes: u64) -> Result<(), DbError> {
        self.write_gen += 1;
        if !self.tables_written.contains(&(component.to_string(), table.name.clone())) {
            self.tables_written.insert((component.to_string(), table.name.clone()));
        }
        if table.name.starts_with('_') {
            return Ok(());
        }
        if self.written.insert((table.tid, id.internal_id)) {
            self.metrics.documents_written += 1;
        }
        self.metrics.bytes_written += bytes;
        check_limit(self.metrics.documents_written, MAX_DOCUMENTS_WRITTEN, "TooManyWrites", || {
            format!(
                "Too many writes in a single function execution (limit: {MAX_DOCUMENTS_WRITTEN}). Consider \
                         using smaller limits in your queries, paginating over results, or splitting the work \
                         across multiple mutations."
            )
        })?;
        check_limit(self.metrics.bytes_written, MAX_BYTES_WRITTEN, "TooManyBytesWritten", || {
            format!("Too many bytes written in a single function execution (limit: {MAX_BYTES_WRITTEN} bytes).")
        })?;
        Ok(())
    }

    /// Checks limits and (for user tables) the component's schema.
    fn validate_document(&self, component: &str, table: &TableInfo, body: Object) -> Result<Object, DbError> {
        emvex_value::limits::check_document(&body)?;
        if table.name.starts_with('_') {
            return Ok(body);
        }
        let schema = self.inner.schema(component);
        let Some(schema) = schema else {
            return Ok(body);
        };
        self.check_against_schema(component, &schema, &table.name, body)
    }

    fn check_against_schema(
        &self,
        component: &str,
        schema: &SchemaDefinition,
        table: &str,
        body: Object,
    ) -> Result<Object, DbError> {
        if !schema.schema_validation {
            return Ok(body);
        }
        let Some(validator) = schema.table(table).and_then(|t| t.document_type.as_ref()) else {
            return Ok(body);
        };
        let value = Value::Object(body);
        if let Err(e) = validator.check(&value, &self.table_names(component)) {
            return Err(DbError::new(
                "SchemaValidationError",
                format!(
                    "Failed to insert or update a document in table \"{table}\" because it does not match the \
                     schema: {}",
                    e.message
                ),
            ));
        }
        Ok(value.into_object().expect("object"))
    }

    /// Inserts a document into a user table, creating the table on first insert. Assigns
    /// `_id` and `_creationTime`; validates limits and the schema.
    pub fn insert(&mut self, component: &str, table: &str, body: Object) -> Result<DocumentId, DbError> {
        self.check_writable()?;
        if table.starts_with('_') {
            return Err(DbError::new(
                "InvalidTableName",
                format!("Invalid table name: \"{table}\" starts with metadata prefix '_'"),
            ));
        }
        emvex_value::limits::check_table_name(table)?;
        self.insert_inner(component, table, body)
    }

    /// Inserts into a system table (name starting with `_`), for the runtime's own use.
    /// System tables are never schema-validated and do not count toward user write limits.
    pub fn insert_system(&mut self, component: &str, table: &str, body: Object) -> Result<DocumentId, DbError> {
        self.check_writable()?;
        if !table.starts_with('_') || table.len() < 2 || table.len() > 64 {
            return Err(DbError::new("InvalidTableName", format!("Invalid system table name: \"{table}\"")));
        }
        self.insert_inner(component, table, body)
    }

    fn insert_inner(&mut self, component: &str, table: &str, body: Object) -> Result<DocumentId, DbError> {
        for f in [SYSTEM_FIELD_ID, SYSTEM_FIELD_CREATION_TIME] {
            if body.contains_key(f) {
                return Err(DbError::new(
                    "InvalidDocument",
                    format!("Cannot insert a document with the system field '{f}': it is assigned by the database"),
                ));
            }
        }
        let info = match self.load_table(component, table)? {
            Some(t) => t,
            None => self.create_table(component, table)?,
        };
        let body = self.validate_document(component, &info, body)?;
        let id = DocumentId::random(info.number, &mut self.rng);
        let creation_time = self.next_creation_time;
        self.next_creation_time = creation_time.next_up();
        self.assigned_creation_time = Some(creation_time);
        let keys = document_keys(&info, &id, creation_time, &body);
        let size = document_size(&body, id.encode().len());
        let (text, _body) = body_text(body);
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO emvex_documents (tid, internal_id, creation_time, body) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![info.tid, &id.internal_id[..], creation_time, text])?;
        let mut ins =
            conn.prepare_cached("INSERT INTO emvex_index_entries (index_id, key, internal_id) VALUES (?1, ?2, ?3)")?;
        for (ix, key) in info.indexes.iter().zip(&keys) {
            ins.execute(params![ix.index_id, key, &id.internal_id[..]])?;
        }
        drop(ins);
        add_count(conn, info.tid, 1)?;
        self.record_write(component, &info, &id, size)?;
        Ok(id)
    }

    fn existing(
        &mut self,
        component: &str,
        id: &DocumentId,
        verb: &str,
    ) -> Result<(Arc<TableInfo>, Document), DbError> {
        let missing =
            || DbError::new("NonexistentDocument", format!("{verb} on nonexistent document ID {}", id.encode()));
        let table = self.table_by_number(component, id.table_number)?.ok_or_else(missing)?;
        let doc = self.read_document(&table, id)?.ok_or_else(missing)?;
        self.record_read(document_size(&doc.body, id.encode().len()))?;
        Ok((table, doc))
    }

    fn check_system_field(doc: &Document, field: &str, value: Option<&Value>) -> Result<(), DbError> {
        let ok = match (field, value) {
            (SYSTEM_FIELD_ID, Some(Value::String(s))) => *s == doc.id.encode(),
            (SYSTEM_FIELD_CREATION_TIME, Some(Value::Float64(f))) => f.to_bits() == doc.creation_time.to_bits(),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(DbError::new(
                "InvalidDocument",
                format!("Cannot change the system field '{field}' of document {}", doc.id.encode()),
            ))
        }
    }

    /// Shallow-merges `patch` into the document (`None` removes the field) (§3.3).
    pub fn patch(
        &mut self,
        component: &str,
        id: &DocumentId,
        patch: std::collections::BTreeMap<String, Option<Value>>,
    ) -> Result<Document, DbError> {
        self.check_writable()?;
        let (table, old) = self.existing(component, id, "Update")?;
        let mut body = old.body.clone();
        for (k, v) in patch {
            if k == SYSTEM_FIELD_ID || k == SYSTEM_FIELD_CREATION_TIME {
                Self::check_system_field(&old, &k, v.as_ref())?;
                continue;
            }
            match v {
                Some(v) => {
                    body.insert(k, v);
                }
                None => {
                    body.remove(&k);
                }
            }
        }
        if body == old.body {
            return Ok(old);
        }
        self.update_inner(component, &table, old, body)
    }

    /// Replaces the document's body; system fields, if present, must be unchanged (§3.3).
    pub fn replace(&mut self, component: &str, id: &DocumentId, mut body: Object) -> Result<Document, DbError> {
        self.check_writable()?;
        let (table, old) = self.existing(component, id, "Replace")?;
        for f in [SYSTEM_FIELD_ID, SYSTEM_FIELD_CREATION_TIME] {
            if let Some(v) = body.remove(f) {
                Self::check_system_field(&old, f, Some(&v))?;
            }
        }
        self.update_inner(component, &table, old, body)
    }

    fn update_inner(
        &mut self,
        component: &str,
        table: &TableInfo,
        old: Document,
        body: Object,
    ) -> Result<Document, DbError> {
        let body = self.validate_document(component, table, body)?;
        let old_keys = document_keys(table, &old.id, old.creation_time, &old.body);
        let new_keys = document_keys(table, &old.id, old.creation_time, &body);
        let size = document_size(&body, old.id.encode().len());
        let (text, body) = body_text(body);
        let conn = self.conn();
        conn.prepare_cached("UPDATE emvex_documents SET body = ?3 WHERE tid = ?1 AND internal_id = ?2")?
            .execute(params![table.tid, &old.id.internal_id[..], text])?;
        for ((ix, ok), nk) in table.indexes.iter().zip(&old_keys).zip(&new_keys) {
            if ok != nk {
                conn.prepare_cached("DELETE FROM emvex_index_entries WHERE index_id = ?1 AND key = ?2")?
                    .execute(params![ix.index_id, ok])?;
                conn.prepare_cached(
                    "INSERT INTO emvex_index_entries (index_id, key, internal_id) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![ix.index_id, nk, &old.id.internal_id[..]])?;
            }
        }
        self.record_write(component, table, &old.id, size)?;
        Ok(Document { id: old.id, table: old.table, creation_time: old.creation_time, body })
    }

    /// Deletes a document; returns it (§3.3).
    pub fn delete(&mut self, component: &str, id: &DocumentId) -> Result<Document, DbError> {
        self.check_writable()?;
        let (table, old) = self.existing(component, id, "Delete")?;
        let keys = document_keys(&table, &old.id, old.creation_time, &old.body);
        let size = document_size(&old.body, id.encode().len());
        let conn = self.conn();
        conn.prepare_cached("DELETE FROM emvex_documents WHERE tid = ?1 AND internal_id = ?2")?
            .execute(params![table.tid, &id.internal_id[..]])?;
        for (ix, key) in table.indexes.iter().zip(&keys) {
            conn.prepare_cached("DELETE FROM emvex_index_entries WHERE index_id = ?1 AND key = ?2")?
                .execute(params![ix.index_id, key])?;
        }
        add_count(conn, table.tid, -1)?;
        self.record_write(component, &table, id, size)?;
        Ok(old)
    }

    /// Makes sure system table `table` (name starting with `_`) exists and has an index
    /// `name` on `fields` (plus the implicit `_creationTime`, `_id`), building it from the
    /// existing documents if needed. For the runtime's own tables (e.g. the scheduler's);
    /// user-table indexes come from the schema (`Database::apply_schema`).
    pub fn ensure_system_index(
        &mut self,
        component: &str,
        table: &str,
        name: &str,
        fields: &[&str],
    ) -> Result<(), DbError> {
        self.check_writable()?;
        if !table.starts_with('_') {
            return Err(DbError::new(
                "InvalidTableName",
                format!("ensure_system_index only manages system tables, not \"{table}\""),
            ));
        }
        if builtin_fields(name).is_some() || fields.is_empty() {
            return Err(DbError::new("InvalidIndex", format!("Invalid system index {table}.{name}")));
        }
        let info = match self.load_table(component, table)? {
            Some(t) => t,
            None => self.create_table(component, table)?,
        };
        let mut full: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        full.push(SYSTEM_FIELD_CREATION_TIME.to_string());
        full.push(SYSTEM_FIELD_ID.to_string());
        if let Some(existing) = info.index(name) {
            if existing.fields == full {
                return Ok(());
            }
            let conn = self.conn();
            conn.prepare_cached("DELETE FROM emvex_index_entries WHERE index_id = ?1")?
                .execute(params![existing.index_id])?;
            conn.prepare_cached("DELETE FROM emvex_indexes WHERE index_id = ?1")?
                .execute(params![existing.index_id])?;
        }
        let conn = self.conn();
        conn.prepare_cached("INSERT INTO emvex_indexes (tid, name, fields) VALUES (?1, ?2, ?3)")?.execute(params![
            info.tid,
            name,
            serde_json::to_string(&full).expect("json")
        ])?;
        let ix = IndexInfo {
            index_id: conn.last_insert_rowid(),
            name: name.to_string(),
            paths: full.iter().map(|p| query::split_path(p)).collect(),
            fields: full,
        };
        self.backfill(&info, &ix)?;
        self.epoch_changed = true;
        self.invalidate_tables();
        self.write_gen += 1;
        Ok(())
    }

    // ----- queries ------------------------------------------------------------------------

    fn compile(&mut self, component: &str, query_json: &Json) -> Result<QueryState, DbError> {
        let parsed = query::parse_query(query_json)?;
        let (table_name, index_name, range, order) = match &parsed.source {
            Source::FullTableScan { table, order } => (table.clone(), "by_creation_time".to_string(), None, *order),
            Source::IndexRange { table, index, range, order } => (table.clone(), index.clone(), Some(range), *order),
        };
        self.note_read(component, &table_name);
        let table = self.load_table(component, &table_name)?;
        let (index_id, fields) = match &table {
            Some(t) => match t.index(&index_name) {
                Some(ix) => (ix.index_id, ix.fields.clone()),
                None => return Err(index_not_found(&table_name, &index_name)),
            },
            None => match builtin_fields(&index_name) {
                Some(f) => (-1, f),
                None => return Err(index_not_found(&table_name, &index_name)),
            },
        };
        let interval = match range {
            Some(r) => query::compile_range(&format!("{table_name}.{index_name}"), &fields, r)?,
            None => KeyInterval::all(),
        };
        self.record_query()?;
        let n_ops = parsed.operators.len();
        Ok(QueryState {
            table,
            index_id,
            interval,
            order,
            operators: Arc::new(parsed.operators),
            limit_counts: vec![0; n_ops],
            last_key: None,
            source_done: false,
            buffer: VecDeque::new(),
            buffer_gen: self.write_gen,
            batch: 4,
            scanned_rows: 0,
            scanned_bytes: 0,
            fingerprint: query::fingerprint(&parsed.canonical, &fields),
        })
    }

    fn fetch_batch(&self, st: &mut QueryState) -> Result<(), DbError> {
        let Some(table) = &st.table else {
            return Ok(());
        };
        let mut lo = st.interval.lo.clone();
        let mut hi = st.interval.hi.clone();
        if let Some(last) = &st.last_key {
            match st.order {
                Order::Asc => {
                    let mut after = last.clone();
                    after.push(0);
                    if after > lo {
                        lo = after;
                    }
                }
                Order::Desc => {
                    if hi.as_ref().is_none_or(|h| last < h) {
                        hi = Some(last.clone());
                    }
                }
            }
        }
        let sql = match (st.order, hi.is_some()) {
            (Order::Asc, true) => {
                "SELECT e.key, e.internal_id, d.creation_time, d.body FROM emvex_index_entries e \
                 CROSS JOIN emvex_documents d WHERE e.index_id = ?1 AND e.key >= ?2 AND e.key < ?3 \
                 AND d.tid = ?4 AND d.internal_id = e.internal_id ORDER BY e.key ASC"
            }
            (Order::Asc, false) => {
                "SELECT e.key, e.internal_id, d.creation_time, d.body FROM emvex_index_entries e \
                 CROSS JOIN emvex_documents d WHERE e.index_id = ?1 AND e.key >= ?2 AND ?3 IS NULL \
                 AND d.tid = ?4 AND d.internal_id = e.internal_id ORDER BY e.key ASC"
            }
            (Order::Desc, true) => {
                "SELECT e.key, e.internal_id, d.creation_time, d.body FROM emvex_index_entries e \
                 CROSS JOIN emvex_documents d WHERE e.index_id = ?1 AND e.key >= ?2 AND e.key < ?3 \
                 AND d.tid = ?4 AND d.internal_id = e.internal_id ORDER BY e.key DESC"
            }
            (Order::Desc, false) => {
                "SELECT e.key, e.internal_id, d.creation_time, d.body FROM emvex_index_entries e \
                 CROSS JOIN emvex_documents d WHERE e.index_id = ?1 AND e.key >= ?2 AND ?3 IS NULL \
                 AND d.tid = ?4 AND d.internal_id = e.internal_id ORDER BY e.key DESC"
            }
        };
        // No `LIMIT ?`: SQLite re-prepares a statement whenever a bound LIMIT is rebound
        // (measured: every execution), so the batch is cut by reading only `batch` rows of the
        // lazily stepped, index-ordered result instead.
        let mut stmt = self.conn().prepare_cached(sql)?;
        let rows = stmt.query_map(params![st.index_id, lo, hi, table.tid], |r| {
            Ok(RawRow { key: r.get(0)?, internal_id: r.get(1)?, creation_time: r.get(2)?, body: r.get(3)? })
        })?;
        for row in rows.take(st.batch as usize) {
            st.buffer.push_back(row?);
        }
        st.batch = (st.batch * 2).min(256);
        Ok(())
    }

    fn source_next(&mut self, st: &mut QueryState, budget: Option<Budget>) -> Result<Pull, DbError> {
        if st.source_done {
            return Ok(Pull::Done);
        }
        if let Some(b) = budget
            && (st.scanned_rows >= b.rows || st.scanned_bytes >= b.bytes)
        {
            return Ok(Pull::Budget);
        }
        if st.buffer_gen != self.write_gen {
            st.buffer.clear();
            st.buffer_gen = self.write_gen;
        }
        if st.buffer.is_empty() {
            self.fetch_batch(st)?;
        }
        let Some(row) = st.buffer.pop_front() else {
            st.source_done = true;
            return Ok(Pull::Done);
        };
        let table = st.table.as_ref().expect("rows only come from existing tables");
        let id = DocumentId::new(table.number, internal_id_of(&row.internal_id)?);
        let body = parse_body(&row.body)?;
        let size = document_size(&body, id.encode().len());
        st.last_key = Some(row.key.clone());
        st.scanned_rows += 1;
        st.scanned_bytes += size;
        self.record_read(size)?;
        Ok(Pull::Row(row.key, Document { id, table: table.name.clone(), creation_time: row.creation_time, body }))
    }

    fn pull(&mut self, st: &mut QueryState, ops: &[Operator], budget: Option<Budget>) -> Result<Pull, DbError> {
        let Some((op, upstream)) = ops.split_last() else {
            return self.source_next(st, budget);
        };
        let level = upstream.len();
        match op {
            Operator::Filter(expr) => loop {
                match self.pull(st, upstream, budget)? {
                    Pull::Row(key, doc) => {
                        let id_value = Value::String(doc.id.encode());
                        let ct_value = Value::Float64(doc.creation_time);
                        let env = DocEnv { body: &doc.body, id: &id_value, creation_time: &ct_value };
                        if expr.matches(&env)? {
                            return Ok(Pull::Row(key, doc));
                        }
                    }
                    other => return Ok(other),
                }
            },
            Operator::Limit(n) => {
                if st.limit_counts[level] >= *n {
                    return Ok(Pull::Done);
                }
                let r = self.pull(st, upstream, budget)?;
                if matches!(r, Pull::Row(..)) {
                    st.limit_counts[level] += 1;
                }
                Ok(r)
            }
        }
    }

    /// Compiles a query (§3.4–§3.6; every structural error is raised here) and registers a
    /// stream; returns its id (small integers from 0).
    pub fn query_stream(&mut self, component: &str, query: &Json) -> Result<u32, DbError> {
        let st = self.compile(component, query)?;
        let id = self.next_query_id;
        self.next_query_id += 1;
        self.queries.insert(id, st);
        Ok(id)
    }

    /// Next document of a stream, `None` when exhausted (the stream is then freed).
    pub fn query_next(&mut self, query_id: u32) -> Result<Option<Document>, DbError> {
        let mut st = self
            .queries
            .remove(&query_id)
            .ok_or_else(|| DbError::new("QueryNotFound", "in-progress query not found"))?;
        let ops = st.operators.clone();
        match self.pull(&mut st, &ops, None)? {
            Pull::Row(_, doc) => {
                self.queries.insert(query_id, st);
                Ok(Some(doc))
            }
            Pull::Done | Pull::Budget => Ok(None),
        }
    }

    /// Frees a stream; returns whether it was still live.
    pub fn query_cleanup(&mut self, query_id: u32) -> bool {
        self.queries.remove(&query_id).is_some()
    }

    /// One page of a paginated query (§3.8).
    pub fn query_page(&mut self, component: &str, request: &PageRequest) -> Result<PageResult, DbError> {
        let bad = |m: String| DbError::new("InvalidPaginationArgument", m);
        let page_size = request.page_size;
        if request.end_cursor.is_none() {
            if page_size.is_nan() || page_size < 1.0 {
                return Err(bad("Must request at least 1 document while paginating".into()));
            }
            if page_size > MAX_PAGE_SIZE {
                return Err(bad(format!(
                    "Requested too many items ({page_size}) in a single page; the maximum is {MAX_PAGE_SIZE}."
                )));
            }
        }
        let limit_arg = |name: &str, v: Option<f64>| -> Result<u64, DbError> {
            match v {
                None => Ok(u64::MAX),
                Some(n) if n.is_nan() || n < 1.0 => Err(bad(format!("{name} must be at least 1, got {n}"))),
                Some(n) => Ok(n as u64),
            }
        };
        let max_rows = limit_arg("maximumRowsRead", request.maximum_rows_read)?;
        let max_bytes = limit_arg("maximumBytesRead", request.maximum_bytes_read)?;
        let mut st = self.compile(component, &request.query)?;
        let fp = st.fingerprint;
        let start = match &request.cursor {
            None => None,
            Some(c) => Some(query::decode_cursor(c, &fp)?),
        };
        let end = match &request.end_cursor {
            None => None,
            Some(c) => Some(query::decode_cursor(c, &fp)?),
        };
        match start {
            Some(Position::End) => {
                return Ok(PageResult {
                    page: Vec::new(),
                    is_done: true,
                    continue_cursor: query::encode_cursor(&fp, &Position::End),
                    split_cursor: None,
                    page_status: None,
                });
            }
            Some(Position::After(k)) => st.last_key = Some(k),
            None => {}
        }
        if let Some(Position::After(k)) = &end {
            match st.order {
                Order::Asc => {
                    let mut after = k.clone();
                    after.push(0);
                    if st.interval.hi.as_ref().is_none_or(|h| after < *h) {
                        st.interval.hi = Some(after);
                    }
                }
                Order::Desc => {
                    if *k > st.interval.lo {
                        st.interval.lo = k.clone();
                    }
                }
            }
        }
        let budget = if end.is_some() { None } else { Some(Budget { rows: max_rows, bytes: max_bytes }) };
        let ops = st.operators.clone();
        let mut page = Vec::new();
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut page_status = None;
        let continue_pos = loop {
            if end.is_none() && page.len() as f64 >= page_size.floor() {
                break Position::After(keys.last().cloned().unwrap_or_default());
            }
            match self.pull(&mut st, &ops, budget)? {
                Pull::Row(k, doc) => {
                    keys.push(k);
                    page.push(doc);
                }
                Pull::Done => break end.clone().unwrap_or(Position::End),
                Pull::Budget => {
                    page_status = Some("SplitRequired".to_string());
                    break match &st.last_key {
                        Some(k) => Position::After(k.clone()),
                        None => start_position(&request.cursor, &fp)?,
                    };
                }
            }
        };
        if page_status.is_none()
            && (page.len() > 6144
                || st.scanned_rows > MAX_DOCUMENTS_READ * 3 / 4
                || st.scanned_bytes > MAX_BYTES_READ * 3 / 4)
        {
            page_status = Some("SplitRecommended".to_string());
        }
        let split_cursor = if page_status.is_some() && keys.len() >= 2 {
            Some(query::encode_cursor(&fp, &Position::After(keys[keys.len() / 2 - 1].clone())))
        } else {
            None
        };
        Ok(PageResult {
            page,
            is_done: continue_pos == Position::End,
            continue_cursor: query::encode_cursor(&fp, &continue_pos),
            split_cursor,
            page_status,
        })
    }

    // ----- savepoints and commit ----------------------------------------------------------

    /// Opens a nested subtransaction (SQLite SAVEPOINT). Nestable; allowed in queries too
    /// (where there is nothing to undo).
    pub fn savepoint(&mut self) -> Result<(), DbError> {
        self.savepoints += 1;
        self.conn().execute_batch(&format!("SAVEPOINT emvex_sp{}", self.savepoints))?;
        Ok(())
    }

    /// Undoes everything since the innermost open savepoint and closes it.
    pub fn rollback_to_savepoint(&mut self) -> Result<(), DbError> {
        if self.savepoints == 0 {
            return Err(DbError::new("NoSavepoint", "No open savepoint to roll back to"));
        }
        let n = self.savepoints;
        self.conn().execute_batch(&format!("ROLLBACK TO emvex_sp{n}; RELEASE emvex_sp{n}"))?;
        self.savepoints -= 1;
        self.invalidate_tables();
        self.write_gen += 1;
        Ok(())
    }

    /// Keeps everything since the innermost open savepoint and closes it.
    pub fn release_savepoint(&mut self) -> Result<(), DbError> {
        if self.savepoints == 0 {
            return Err(DbError::new("NoSavepoint", "No open savepoint to release"));
        }
        let n = self.savepoints;
        self.conn().execute_batch(&format!("RELEASE emvex_sp{n}"))?;
        self.savepoints -= 1;
        Ok(())
    }

    /// Commits. Returns the commit timestamp (ns), strictly greater than every earlier one;
    /// for a query transaction, its snapshot timestamp.
    pub fn commit(mut self) -> Result<u64, DbError> {
        let ts = match self.kind {
            TxKind::Query => {
                storage::exec_cached(self.conn(), "COMMIT")?;
                self.snapshot_ts
            }
            TxKind::Mutation => {
                let ts = now_ns().max(self.snapshot_ts + 1);
                let clock = storage::Clock {
                    last_commit_ts: ts,
                    last_creation_time: self.assigned_creation_time.unwrap_or(self.next_creation_time.next_down()),
                    schema_epoch: self.epoch + i64::from(self.epoch_changed),
                };
                let conn = self.conn();
                storage::write_clock(conn, &clock)?;
                storage::exec_cached(conn, "COMMIT")?;
                self.inner.checkpointer.note_commit();
                self.inner.checkpointer.rewind_if_large(conn);
                self.inner.set_writer_clock(clock);
                if self.epoch_changed {
                    self.epoch = clock.schema_epoch;
                    self.epoch_changed = false;
                    self.invalidate_tables();
                }
                ts
            }
        };
        self.finished = true;
        Ok(ts)
    }

    // ----- schema (called by Database::apply_schema inside a mutation transaction) ---------

    pub(crate) fn apply_schema_inner(
        &mut self,
        component: &str,
        schema: Option<&SchemaDefinition>,
    ) -> Result<(), DbError> {
        self.epoch_changed = true;
        self.invalidate_tables();
        let declared: HashMap<&str, &crate::schema::TableDefinition> =
            schema.map(|s| s.tables.iter().map(|t| (t.name.as_str(), t)).collect()).unwrap_or_default();
        // Tables declared by the schema exist (empty) even before their first insert.
        for name in declared.keys() {
            if self.load_table(component, name)?.is_none() {
                self.create_table(component, name)?;
            }
        }
        for name in self.list_tables(component)? {
            if name.starts_with('_') {
                continue;
            }
            let info = self.load_table(component, &name)?.expect("listed table exists");
            let wanted: Vec<(String, Vec<String>)> = declared
                .get(name.as_str())
                .map(|t| {
                    t.indexes
                        .iter()
                        .map(|ix| {
                            let mut f = ix.fields.clone();
                            f.push(SYSTEM_FIELD_CREATION_TIME.to_string());
                            f.push(SYSTEM_FIELD_ID.to_string());
                            (ix.name.clone(), f)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut changed = false;
            for ix in info.indexes.iter().filter(|ix| builtin_fields(&ix.name).is_none()) {
                if !wanted.iter().any(|(n, f)| *n == ix.name && *f == ix.fields) {
                    let conn = self.conn();
                    conn.prepare_cached("DELETE FROM emvex_index_entries WHERE index_id = ?1")?
                        .execute(params![ix.index_id])?;
                    conn.prepare_cached("DELETE FROM emvex_indexes WHERE index_id = ?1")?
                        .execute(params![ix.index_id])?;
                    changed = true;
                }
            }
            for (n, f) in &wanted {
                if !info.indexes.iter().any(|ix| ix.name == *n && ix.fields == *f) {
                    let conn = self.conn();
                    conn.prepare_cached("INSERT INTO emvex_indexes (tid, name, fields) VALUES (?1, ?2, ?3)")?
                        .execute(params![info.tid, n, serde_json::to_string(f).expect("json")])?;
                    let index_id = conn.last_insert_rowid();
                    let ix = IndexInfo {
                        index_id,
                        name: n.clone(),
                        fields: f.clone(),
                        paths: f.iter().map(|p| query::split_path(p)).collect(),
                    };
                    self.backfill(&info, &ix)?;
                    changed = true;
                }
            }
            if changed {
                self.invalidate_tables();
            }
            if let Some(schema) = schema {
                self.validate_existing(component, schema, &info)?;
            }
        }
        let conn = self.conn();
        match schema {
            Some(s) => conn
                .prepare_cached("INSERT OR REPLACE INTO emvex_schemas (component, json) VALUES (?1, ?2)")?
                .execute(params![component, s.json_text])?,
            None => {
                conn.prepare_cached("DELETE FROM emvex_schemas WHERE component = ?1")?.execute(params![component])?
            }
        };
        self.write_gen += 1;
        Ok(())
    }

    fn for_each_document(
        &self,
        table: &TableInfo,
        mut f: impl FnMut(DocumentId, f64, Object) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT internal_id, creation_time, body FROM emvex_documents WHERE tid = ?1")?;
        let mut rows = stmt.query(params![table.tid])?;
        while let Some(r) = rows.next()? {
            let internal: Vec<u8> = r.get(0)?;
            let ct: f64 = r.get(1)?;
            let body: String = r.get(2)?;
            f(DocumentId::new(table.number, internal_id_of(&internal)?), ct, parse_body(&body)?)?;
        }
        Ok(())
    }

    fn backfill(&self, table: &TableInfo, ix: &IndexInfo) -> Result<(), DbError> {
        let mut entries = Vec::new();
        self.for_each_document(table, |id, ct, body| {
            let id_value = Value::String(id.encode());
            let ct_value = Value::Float64(ct);
            let env = DocEnv { body: &body, id: &id_value, creation_time: &ct_value };
            entries.push((index_key(ix, &env), id.internal_id));
            Ok(())
        })?;
        let mut ins = self
            .conn()
            .prepare_cached("INSERT INTO emvex_index_entries (index_id, key, internal_id) VALUES (?1, ?2, ?3)")?;
        for (key, internal) in entries {
            ins.execute(params![ix.index_id, key, &internal[..]])?;
        }
        Ok(())
    }

    fn validate_existing(&self, component: &str, schema: &SchemaDefinition, table: &TableInfo) -> Result<(), DbError> {
        if !schema.schema_validation {
            return Ok(());
        }
        let Some(validator) = schema.table(&table.name).and_then(|t| t.document_type.as_ref()) else {
            return Ok(());
        };
        let names = self.table_names(component);
        self.for_each_document(table, |id, _, body| {
            if let Err(e) = validator.check(&Value::Object(body), &names) {
                return Err(DbError::new(
                    "SchemaValidationError",
                    format!(
                        "Schema validation failed.\nDocument with ID \"{}\" in table \"{}\" does not match the \
                         schema: {}",
                        id.encode(),
                        table.name,
                        e.message
                    ),
                ));
            }
            Ok(())
        })
    }
}

fn start_position(cursor: &Option<String>, fp: &[u8; 32]) -> Result<Position, DbError> {
    match cursor {
        Some(c) => query::decode_cursor(c, fp),
        None => Ok(Position::After(Vec::new())),
    }
}

fn index_not_found(table: &str, index: &str) -> DbError {
    DbError::new("IndexNotFound", format!("Index {table}.{index} not found."))
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.finished {
                let _ = storage::exec_cached(&conn, "ROLLBACK");
            }
            // Metadata read at an unchanged epoch is committed state: share it.
            if !self.epoch_changed {
                self.inner.publish_tables(self.epoch, std::mem::take(self.tables.get_mut()));
            }
            self.inner.release(conn, self.kind);
        }
    }
}

struct TxTableNames<'a> {
    tx: &'a Transaction,
    component: &'a str,
}

impl TableNames for TxTableNames<'_> {
    fn table_name(&self, table_number: u32) -> Option<String> {
        self.tx.table_name(self.component, table_number).ok().flatten()
    }
}
