//! Schema application (§2.9, §6.7): reconciling a component's stored indexes with its
//! schema (create declared tables, build new or changed indexes — database and text search
//! indexes — from existing documents, drop removed ones), validating existing documents when `schemaValidation` is on, and the
//! runtime's own indexes on system tables.
//!
//! Invariants: runs inside a mutation transaction, so a schema that fails (e.g. an existing
//! document does not match) changes nothing; user schemas never touch system tables or
//! their indexes; a new index holds every existing document before the call returns; every
//! table created or whose indexes change is marked changed as a whole in the write set
//! (conservative: every read of it is invalidated).
//! Documents are read through [`crate::query::reads::Reads`].

use std::collections::HashMap;

use emvex_value::Value;
use rusqlite::{Connection, params};

use super::definition::{SchemaDefinition, SearchIndexDefinition, TableDefinition};
use crate::catalog::{CatalogTableNames, IndexInfo, TableInfo, builtin_fields, full_index_fields};
use crate::document::DocEnv;
use crate::search::SearchIndexInfo;
use crate::transaction::CONNECTION;
use crate::{DbError, Transaction};

/// Removes an index and its entries.
fn drop_index(conn: &Connection, index_id: i64) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM emvex_index_entries WHERE index_id = ?1")?.execute(params![index_id])?;
    conn.prepare_cached("DELETE FROM emvex_indexes WHERE index_id = ?1")?.execute(params![index_id])?;
    Ok(())
}

impl Transaction {
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
        let info = self.catalog.load_or_create(self.conn.as_ref().expect(CONNECTION), component, table)?;
        let full = full_index_fields(fields.iter().map(|f| f.to_string()));
        if let Some(existing) = info.index(name) {
            if existing.fields == full {
                return Ok(());
            }
            drop_index(self.conn(), existing.index_id)?;
        }
        self.add_index(&info, name, full)?;
        self.write_set.record_table_changed(component, &info);
        self.catalog.mark_changed();
        self.write_gen += 1;
        Ok(())
    }

    /// Reconciles the indexes of `component` with `schema` and stores it (see
    /// [`crate::Database::apply_schema`]).
    pub(crate) fn apply_schema(&mut self, component: &str, schema: Option<&SchemaDefinition>) -> Result<(), DbError> {
        self.catalog.mark_changed();
        let declared: HashMap<&str, &TableDefinition> =
            schema.map(|s| s.tables.iter().map(|t| (t.name.as_str(), t)).collect()).unwrap_or_default();
        // Tables declared by the schema exist (empty) even before their first insert.
        for name in declared.keys() {
            if self.catalog.load(self.conn(), component, name)?.is_none() {
                let info = self.catalog.create(self.conn.as_ref().expect(CONNECTION), component, name)?;
                self.write_set.record_table_changed(component, &info);
            }
        }
        for name in self.list_tables(component)? {
            if name.starts_with('_') {
                continue;
            }
            let info = self.catalog.load(self.conn(), component, &name)?.expect("listed table exists");
            let wanted: Vec<(String, Vec<String>)> = declared
                .get(name.as_str())
                .map(|t| t.indexes.iter().map(|ix| (ix.name.clone(), full_index_fields(ix.fields.clone()))).collect())
                .unwrap_or_default();
            let mut changed = false;
            for ix in info.indexes.iter().filter(|ix| builtin_fields(&ix.name).is_none()) {
                if !wanted.iter().any(|(n, f)| *n == ix.name && *f == ix.fields) {
                    drop_index(self.conn(), ix.index_id)?;
                    changed = true;
                }
            }
            for (n, f) in &wanted {
                if !info.indexes.iter().any(|ix| ix.name == *n && ix.fields == *f) {
                    self.add_index(&info, n, f.clone())?;
                    changed = true;
                }
            }
            let wanted_search: &[SearchIndexDefinition] =
                declared.get(name.as_str()).map(|t| t.search_indexes.as_slice()).unwrap_or_default();
            let same = |ix: &SearchIndexInfo, def: &SearchIndexDefinition| {
                ix.name == def.name && ix.search_field == def.search_field && ix.filter_fields == def.filter_fields
            };
            for ix in &info.search_indexes {
                if !wanted_search.iter().any(|def| same(ix, def)) {
                    ix.drop_index(self.conn())?;
                    changed = true;
                }
            }
            for def in wanted_search {
                if !info.search_indexes.iter().any(|ix| same(ix, def)) {
                    self.add_search_index(&info, def)?;
                    changed = true;
                }
            }
            if changed {
                // Every read of the table is invalidated (an index appeared, changed or went).
                self.write_set.record_table_changed(component, &info);
                self.catalog.invalidate();
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

    /// Creates index `name` on the full key `fields` of `table` and fills it from the
    /// table's documents.
    fn add_index(&mut self, table: &TableInfo, name: &str, fields: Vec<String>) -> Result<(), DbError> {
        let conn = self.conn();
        conn.prepare_cached("INSERT INTO emvex_indexes (tid, name, fields) VALUES (?1, ?2, ?3)")?.execute(params![
            table.tid,
            name,
            serde_json::to_string(&fields).expect("json")
        ])?;
        let ix = IndexInfo::new(conn.last_insert_rowid(), name.to_string(), fields);
        let mut entries = Vec::new();
        let (conn, reads) = self.reader();
        reads.for_each_document(conn, table, |id, ct, body| {
            let id_value = Value::String(id.encode());
            let ct_value = Value::Float64(ct);
            let env = DocEnv { body: &body, id: &id_value, creation_time: &ct_value };
            entries.push((ix.key(&env), id.internal_id));
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

    /// Creates text search index `def` on `table` and fills it from the table's documents.
    fn add_search_index(&mut self, table: &TableInfo, def: &SearchIndexDefinition) -> Result<(), DbError> {
        let ix = SearchIndexInfo::create(self.conn(), table.tid, &def.name, &def.search_field, &def.filter_fields)?;
        let mut entries = Vec::new();
        let (conn, reads) = self.reader();
        reads.for_each_document(conn, table, |id, ct, body| {
            let id_value = Value::String(id.encode());
            let ct_value = Value::Float64(ct);
            let env = DocEnv { body: &body, id: &id_value, creation_time: &ct_value };
            if let Some(entry) = ix.entry(&env) {
                entries.push((id.internal_id, entry));
            }
            Ok(())
        })?;
        for (internal_id, entry) in entries {
            ix.insert(self.conn(), &internal_id, &entry)?;
        }
        Ok(())
    }

    /// Checks every document of `table` against its validator in `schema`.
    fn validate_existing(
        &mut self,
        component: &str,
        schema: &SchemaDefinition,
        table: &TableInfo,
    ) -> Result<(), DbError> {
        if !schema.schema_validation {
            return Ok(());
        }
        let Some(validator) = schema.table(&table.name).and_then(|t| t.document_type.as_ref()) else {
            return Ok(());
        };
        let conn = self.conn.as_ref().expect(CONNECTION);
        let names = CatalogTableNames { catalog: &self.catalog, conn, component };
        self.reads.for_each_document(conn, table, |id, _, body| {
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
