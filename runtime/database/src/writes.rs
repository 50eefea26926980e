//! Writes (§3.3): insert, patch, replace and delete of documents, keeping every index and
//! the table's document count in step, validating documents against limits and the
//! component's schema, what counts toward the write limits ([`WriteTally`]) and the
//! transaction's [`crate::WriteSet`] (the old and new index keys of every written document,
//! recorded by `record_write`).
//!
//! Invariants (at every statement boundary): every document is in every index of its table,
//! keyed by `encode_tuple` of the index's full fields (missing field = undefined), and in
//! every text search index of its table that its search field has terms for, and the
//! `count:<tid>` row of `emvex_meta` equals the table's number of documents. `_creationTime`s
//! assigned by a transaction strictly increase. System fields are never written by callers.
//! Only mutation transactions write.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use emvex_value::id::DocumentId;
use emvex_value::{Object, Value};
use rusqlite::{Connection, params};

use crate::catalog::TableInfo;
use crate::document::{SYSTEM_FIELD_CREATION_TIME, SYSTEM_FIELD_ID, body_text, document_size};
use crate::schema::SchemaDefinition;
use crate::search;
use crate::transaction::{CONNECTION, TxKind};
use crate::{DbError, Document, Transaction};

/// What a transaction has written, for the write limits and `tables_written`.
#[derive(Default)]
pub(crate) struct WriteTally {
    /// User documents written (by table id and internal id), for the write limits.
    documents: HashSet<(i64, [u8; 16])>,
    /// Tables `(component, table)` written, system tables included.
    tables: HashSet<(String, String)>,
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

impl Transaction {
    pub(crate) fn check_writable(&self) -> Result<(), DbError> {
        if self.kind == TxKind::Query {
            return Err(DbError::new(
                "ReadOnlyTransaction",
                "Cannot write to the database in a query: only mutations can write.",
            ));
        }
        Ok(())
    }

    /// The tables `(component, table)` this transaction has written (system tables
    /// included), sorted. Take it before `commit`.
    pub fn tables_written(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.tally.tables.iter().cloned().collect();
        v.sort();
        v
    }

    /// Records a write of document `id`: its index keys before (`old_keys`, empty for an
    /// insert) and after (`new_keys`, empty for a delete), for the write set; and its size,
    /// for the write limits.
    fn record_write(
        &mut self,
        component: &str,
        table: &TableInfo,
        id: &DocumentId,
        old_keys: &[Vec<u8>],
        new_keys: &[Vec<u8>],
        bytes: u64,
    ) -> Result<(), DbError> {
        self.write_gen += 1;
        let membership_changed = old_keys.is_empty() != new_keys.is_empty();
        self.write_set.record_document(component, table, id.internal_id, old_keys, new_keys, membership_changed);
        if !self.tally.tables.contains(&(component.to_string(), table.name.clone())) {
            self.tally.tables.insert((component.to_string(), table.name.clone()));
        }
        if table.name.starts_with('_') {
            return Ok(());
        }
        let first_write = self.tally.documents.insert((table.tid, id.internal_id));
        self.metrics.count_write(first_write, bytes)
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
        let info = self.catalog.load_or_create(self.conn.as_ref().expect(CONNECTION), component, table)?;
        let body = self.validate_document(component, &info, body)?;
        let id = DocumentId::random(info.number, &mut self.rng);
        let creation_time = self.next_creation_time;
        self.next_creation_time = creation_time.next_up();
        self.assigned_creation_time = Some(creation_time);
        let keys = info.document_keys(&id, creation_time, &body);
        let search = search::document_entries(&info.search_indexes, &id, creation_time, &body);
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
        search::update_all(conn, &info.search_indexes, &id, &[], &search)?;
        add_count(conn, info.tid, 1)?;
        self.record_write(component, &info, &id, &[], &keys, size)?;
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
        let table = self.catalog.by_number(self.conn(), component, id.table_number)?.ok_or_else(missing)?;
        let (conn, reads) = self.reader();
        let doc = reads.document(conn, &table, id)?.ok_or_else(missing)?;
        self.metrics.count_read(document_size(&doc.body, id.encode().len()))?;
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
        patch: BTreeMap<String, Option<Value>>,
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
        let old_keys = table.document_keys(&old.id, old.creation_time, &old.body);
        let new_keys = table.document_keys(&old.id, old.creation_time, &body);
        let old_search = search::document_entries(&table.search_indexes, &old.id, old.creation_time, &old.body);
        let new_search = search::document_entries(&table.search_indexes, &old.id, old.creation_time, &body);
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
        search::update_all(conn, &table.search_indexes, &old.id, &old_search, &new_search)?;
        self.record_write(component, table, &old.id, &old_keys, &new_keys, size)?;
        Ok(Document { id: old.id, table: old.table, creation_time: old.creation_time, body })
    }

    /// Deletes a document; returns it (§3.3).
    pub fn delete(&mut self, component: &str, id: &DocumentId) -> Result<Document, DbError> {
        self.check_writable()?;
        let (table, old) = self.existing(component, id, "Delete")?;
        let keys = table.document_keys(&old.id, old.creation_time, &old.body);
        let old_search = search::document_entries(&table.search_indexes, &old.id, old.creation_time, &old.body);
        let size = document_size(&old.body, id.encode().len());
        let conn = self.conn();
        conn.prepare_cached("DELETE FROM emvex_documents WHERE tid = ?1 AND internal_id = ?2")?
            .execute(params![table.tid, &id.internal_id[..]])?;
        for (ix, key) in table.indexes.iter().zip(&keys) {
            conn.prepare_cached("DELETE FROM emvex_index_entries WHERE index_id = ?1 AND key = ?2")?
                .execute(params![ix.index_id, key])?;
        }
        search::update_all(conn, &table.search_indexes, id, &old_search, &[])?;
        add_count(conn, table.tid, -1)?;
        self.record_write(component, &table, id, &keys, &[], size)?;
        Ok(old)
    }
}

#[cfg(test)]
mod tests;
