//! The table catalog: which tables and indexes each component namespace has, their table
//! numbers, and creating tables (user tables on first insert, system tables for the runtime).
//!
//! Reads only catalog rows (`emvex_tables`, `emvex_indexes`, `emvex_search_indexes`), never documents or index
//! entries (those go through [`crate::query::reads`]).
//!
//! Invariants: every component path (`""` = the root app) has its own namespace; user tables
//! are numbered from [`FIRST_USER_TABLE_NUMBER`], system tables (names starting with `_`) from
//! [`FIRST_SYSTEM_TABLE_NUMBER`] below it; every table has the built-in indexes `by_id` and
//! `by_creation_time`. Metadata cached by a transaction is the stored metadata as of its last
//! change; once a transaction changes the catalog (`mark_changed`) it no longer uses or
//! publishes the shared cache of the database, which is valid for one schema epoch.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use emvex_value::id::DocumentId;
use emvex_value::validator::TableNames;
use emvex_value::{Object, Value, sort_key};
use rusqlite::{Connection, OptionalExtension, params};

use crate::DbError;
use crate::database::Inner;
use crate::document::{DocEnv, SYSTEM_FIELD_CREATION_TIME, SYSTEM_FIELD_ID, split_path};
use crate::search::SearchIndexInfo;

/// First table number of user tables in every component namespace (§4.5).
pub const FIRST_USER_TABLE_NUMBER: u32 = 10001;
/// First table number of system tables in every component namespace (§4.5).
pub const FIRST_SYSTEM_TABLE_NUMBER: u32 = 513;

/// An index of a table.
#[derive(Debug, Clone)]
pub(crate) struct IndexInfo {
    pub index_id: i64,
    pub name: String,
    /// Full key fields, e.g. `["a", "_creationTime", "_id"]`.
    pub fields: Vec<String>,
    pub paths: Vec<Vec<String>>,
}

impl IndexInfo {
    pub fn new(index_id: i64, name: String, fields: Vec<String>) -> IndexInfo {
        let paths = fields.iter().map(|f| split_path(f)).collect();
        IndexInfo { index_id, name, fields, paths }
    }

    /// The key of a document in this index.
    pub fn key(&self, env: &DocEnv<'_>) -> Vec<u8> {
        let values: Vec<Option<&Value>> = self.paths.iter().map(|p| env.get(p)).collect();
        sort_key::encode_tuple(&values)
    }
}

/// A table of a component namespace with its indexes.
#[derive(Debug, Clone)]
pub(crate) struct TableInfo {
    pub tid: i64,
    pub name: String,
    pub number: u32,
    pub indexes: Vec<IndexInfo>,
    /// Text search indexes (`searchIndex` in `schema.ts`).
    pub search_indexes: Vec<SearchIndexInfo>,
}

impl TableInfo {
    pub fn index(&self, name: &str) -> Option<&IndexInfo> {
        self.indexes.iter().find(|i| i.name == name)
    }

    pub fn search_index(&self, name: &str) -> Option<&SearchIndexInfo> {
        self.search_indexes.iter().find(|i| i.name == name)
    }

    /// All index keys of a document, one per index (same order as `indexes`).
    pub fn document_keys(&self, id: &DocumentId, creation_time: f64, body: &Object) -> Vec<Vec<u8>> {
        let id_value = Value::String(id.encode());
        let ct_value = Value::Float64(creation_time);
        let env = DocEnv { body, id: &id_value, creation_time: &ct_value };
        self.indexes.iter().map(|ix| ix.key(&env)).collect()
    }
}

/// The full key fields of a built-in index (`by_id`, `by_creation_time`).
pub(crate) fn builtin_fields(index: &str) -> Option<Vec<String>> {
    match index {
        "by_id" => Some(vec![SYSTEM_FIELD_ID.to_string()]),
        "by_creation_time" => Some(vec![SYSTEM_FIELD_CREATION_TIME.to_string(), SYSTEM_FIELD_ID.to_string()]),
        _ => None,
    }
}

/// The full key fields of a declared index: its fields, then `_creationTime` and `_id`.
pub(crate) fn full_index_fields(fields: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut full: Vec<String> = fields.into_iter().collect();
    full.push(SYSTEM_FIELD_CREATION_TIME.to_string());
    full.push(SYSTEM_FIELD_ID.to_string());
    full
}

/// One transaction's view of the catalog, with its cache.
pub(crate) struct TableCatalog {
    inner: Arc<Inner>,
    /// The schema epoch of the snapshot.
    epoch: i64,
    /// Set once this transaction creates a table or changes indexes (then the shared table
    /// cache of the database is not used).
    changed: bool,
    tables: RefCell<HashMap<(String, String), Arc<TableInfo>>>,
}

impl TableCatalog {
    pub fn new(inner: Arc<Inner>, epoch: i64) -> TableCatalog {
        TableCatalog { inner, epoch, changed: false, tables: RefCell::new(HashMap::new()) }
    }

    /// The schema epoch a commit of this transaction stores.
    pub fn epoch_after_commit(&self) -> i64 {
        self.epoch + i64::from(self.changed)
    }

    /// After a commit: the committed epoch becomes this transaction's epoch.
    pub fn committed(&mut self) {
        if self.changed {
            self.epoch = self.epoch_after_commit();
            self.changed = false;
            self.invalidate();
        }
    }

    /// Records that this transaction changed tables or indexes.
    pub fn mark_changed(&mut self) {
        self.changed = true;
        self.invalidate();
    }

    /// Forgets cached metadata (after a rollback or an index change).
    pub fn invalidate(&mut self) {
        self.tables.get_mut().clear();
    }

    /// At the end of the transaction: metadata read at an unchanged epoch is committed
    /// state, shared with later transactions.
    pub fn publish(&mut self) {
        if !self.changed {
            self.inner.publish_tables(self.epoch, std::mem::take(self.tables.get_mut()));
        }
    }

    /// The table `table` of `component`, if it exists.
    pub fn load(&self, conn: &Connection, component: &str, table: &str) -> Result<Option<Arc<TableInfo>>, DbError> {
        let key = (component.to_string(), table.to_string());
        if let Some(t) = self.tables.borrow().get(&key) {
            return Ok(Some(t.clone()));
        }
        if !self.changed
            && let Some(t) = self.inner.cached_table(self.epoch, component, table)
        {
            self.tables.borrow_mut().insert(key, t.clone());
            return Ok(Some(t));
        }
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
            indexes.push(IndexInfo::new(index_id, name, fields));
        }
        let search_indexes = crate::search::load_indexes(conn, tid)?;
        let info = Arc::new(TableInfo { tid, name: table.to_string(), number, indexes, search_indexes });
        self.tables.borrow_mut().insert(key, info.clone());
        Ok(Some(info))
    }

    /// Creates table `table` (a system table if its name starts with `_`) with the next free
    /// number of its range and the built-in indexes.
    pub fn create(&mut self, conn: &Connection, component: &str, table: &str) -> Result<Arc<TableInfo>, DbError> {
        let system = table.starts_with('_');
        let (lo, hi) = if system {
            (FIRST_SYSTEM_TABLE_NUMBER, FIRST_USER_TABLE_NUMBER - 1)
        } else {
            (FIRST_USER_TABLE_NUMBER, u32::MAX >> 1)
        };
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
        self.mark_changed();
        self.load(conn, component, table)?.ok_or_else(|| DbError::storage("table vanished after creation"))
    }

    /// The table `table` of `component`, created if it does not exist yet.
    pub fn load_or_create(
        &mut self,
        conn: &Connection,
        component: &str,
        table: &str,
    ) -> Result<Arc<TableInfo>, DbError> {
        match self.load(conn, component, table)? {
            Some(t) => Ok(t),
            None => self.create(conn, component, table),
        }
    }

    /// The table number `number` of `component`, if it exists.
    pub fn by_number(
        &self,
        conn: &Connection,
        component: &str,
        number: u32,
    ) -> Result<Option<Arc<TableInfo>>, DbError> {
        match self.name_of(conn, component, number)? {
            Some(name) => self.load(conn, component, &name),
            None => Ok(None),
        }
    }

    /// The name of table number `number` of `component`, if it exists.
    pub fn name_of(&self, conn: &Connection, component: &str, number: u32) -> Result<Option<String>, DbError> {
        if let Some(t) = self.tables.borrow().iter().find(|((c, _), t)| c == component && t.number == number) {
            return Ok(Some(t.1.name.clone()));
        }
        if !self.changed
            && let Some(name) = self.inner.cached_table_name(self.epoch, component, number)
        {
            return Ok(Some(name));
        }
        Ok(conn
            .prepare_cached("SELECT name FROM emvex_tables WHERE component = ?1 AND number = ?2")?
            .query_row(params![component, number], |r| r.get(0))
            .optional()?)
    }

    /// The names of all tables of `component` (user and system), sorted.
    pub fn list(&self, conn: &Connection, component: &str) -> Result<Vec<String>, DbError> {
        let mut stmt = conn.prepare_cached("SELECT name FROM emvex_tables WHERE component = ?1 ORDER BY name")?;
        let names = stmt.query_map(params![component], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(names)
    }
}

/// Table numbers of one component resolved through a transaction's catalog, for `v.id("t")`
/// validation.
pub(crate) struct CatalogTableNames<'a> {
    pub catalog: &'a TableCatalog,
    pub conn: &'a Connection,
    pub component: &'a str,
}

impl TableNames for CatalogTableNames<'_> {
    fn table_name(&self, table_number: u32) -> Option<String> {
        self.catalog.name_of(self.conn, self.component, table_number).ok().flatten()
    }
}

#[cfg(test)]
mod tests;
