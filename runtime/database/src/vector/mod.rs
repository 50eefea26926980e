//! Vector search (`ctx.vectorSearch` in actions, spec §3.15): exact cosine-similarity search
//! over the vector indexes a schema declares.
//!
//! Each vector index is kept in memory as a [`matrix::VectorMatrix`] of normalised `f32`
//! vectors (what Convex indexes too), built from the table's documents by the first search
//! and then kept in step with the committed data: before each search it applies the commits
//! since it was last brought up to date, taken from the [`crate::CommitLog`] (each written
//! document of the table is re-read at the search's snapshot), and it is rebuilt when the log
//! no longer reaches back far enough, when the table's storage changed as a whole, or when the
//! schema changed the index. Nothing is persisted: a restart rebuilds on the first search.
//! Submodules: `query` (the parsed query and Convex's checks), `matrix` (the vectors in memory
//! and the scan), `fields` (reading the indexed fields from a stored document), `slots` (where
//! the loaded indexes are kept).
//!
//! Invariants: a search reads one committed snapshot (at least as new as the last commit
//! before the search began) and never a transaction's uncommitted writes; a document is
//! indexed when its vector field is an array of exactly `dimensions` Float64 numbers, and
//! otherwise skipped, as Convex does.

mod fields;
mod matrix;
mod query;
pub(crate) mod slots;

use std::collections::BTreeSet;

use emvex_value::id::DocumentId;
use rusqlite::{Connection, OptionalExtension, params};

use crate::catalog::TableInfo;
use crate::database::Database;
use crate::document::internal_id_of;
use crate::schema::VectorIndexDefinition;
use crate::{DbError, Transaction};
use fields::{Extracted, Extractor};
use matrix::VectorMatrix;
pub use query::{DEFAULT_VECTOR_LIMIT, MAX_VECTOR_FILTER_CONDITIONS, MAX_VECTOR_RESULTS, VectorQuery};
use slots::LoadedIndex;

/// One result of a vector search.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatch {
    pub id: DocumentId,
    /// Cosine similarity to the query vector, in [-1, 1].
    pub score: f32,
}

impl Database {
    /// Runs a vector search of `component` (`1.0/actions/vectorSearch`'s `query`) on the
    /// latest committed data: the best `limit` matches by cosine similarity, best first.
    /// A table that does not exist yet gives no results; an index the schema does not
    /// declare is `IndexNotFound`.
    pub fn vector_search(&self, component: &str, query: &VectorQuery) -> Result<Vec<VectorMatch>, DbError> {
        let def = self
            .inner
            .schema(component)
            .and_then(|s| s.table(&query.table)?.vector_indexes.iter().find(|i| i.name == query.index).cloned())
            .ok_or_else(|| {
                DbError::new("IndexNotFound", format!("Index {}.{} not found.", query.table, query.index))
            })?;
        let compiled = query.compile(&def)?;
        let tx = self.begin_query()?;
        let Some(table) = tx.catalog.load(tx.conn(), component, &query.table)? else {
            return Ok(Vec::new());
        };
        let entry = self.inner.vector_indexes.entry(component, &query.table, &query.index);
        let mut loaded = entry.lock().unwrap_or_else(|e| e.into_inner());
        bring_up_to_date(&mut loaded, &tx, &table, &def)?;
        let matrix = &loaded.as_ref().expect("brought up to date").matrix;
        Ok(matrix
            .top_k(&compiled.unit_vector, compiled.limit, &compiled.filter)
            .into_iter()
            .map(|m| VectorMatch {
                id: DocumentId { table_number: table.number, internal_id: m.internal_id },
                score: m.score,
            })
            .collect())
    }
}

/// Makes `loaded` reflect `tx`'s snapshot (or a later one another search already reached).
fn bring_up_to_date(
    loaded: &mut Option<LoadedIndex>,
    tx: &Transaction,
    table: &TableInfo,
    def: &VectorIndexDefinition,
) -> Result<(), DbError> {
    let snapshot = tx.snapshot_ts();
    let current = loaded.as_ref().is_some_and(|l| l.def == *def && l.tid == table.tid);
    if current {
        let l = loaded.as_mut().expect("current");
        if l.as_of_ts >= snapshot {
            return Ok(());
        }
        if let Some(changed) = changed_documents(tx, table.tid, l.as_of_ts, snapshot) {
            let extractor = Extractor::new(def);
            for internal_id in changed {
                let extracted = match read_body(tx.conn(), table, &internal_id)? {
                    Some(text) => extractor.extract(&text)?,
                    None => None,
                };
                match extracted {
                    Some((vector, filters)) => l.matrix.upsert(internal_id, &vector, filters),
                    None => l.matrix.remove(&internal_id),
                }
            }
            l.as_of_ts = snapshot;
            return Ok(());
        }
    }
    *loaded =
        Some(LoadedIndex { def: def.clone(), tid: table.tid, as_of_ts: snapshot, matrix: build(tx, table, def)? });
    Ok(())
}

/// The documents of table `tid` written by commits in `(after_ts, up_to_ts]`; `None` when the
/// commit log no longer covers that range or a commit changed the table as a whole.
fn changed_documents(tx: &Transaction, tid: i64, after_ts: u64, up_to_ts: u64) -> Option<BTreeSet<[u8; 16]>> {
    let mut changed = BTreeSet::new();
    for (_, writes) in tx.inner.commit_log.commits_between(after_ts, up_to_ts)? {
        if writes.table(tid).any(|t| t.all) {
            return None;
        }
        changed.extend(writes.documents.iter().filter(|(t, _)| *t == tid).map(|(_, id)| *id));
    }
    Some(changed)
}

/// Documents parsed per batch while loading an index (split over two threads).
const LOAD_BATCH: usize = 1024;

/// Indexes every document of `table` at `tx`'s snapshot. The bodies are read in batches and
/// each batch is parsed on two threads (parsing is most of the work).
fn build(tx: &Transaction, table: &TableInfo, def: &VectorIndexDefinition) -> Result<VectorMatrix, DbError> {
    let extractor = Extractor::new(def);
    let mut matrix = VectorMatrix::new(def.dimensions as usize);
    let mut stmt = tx.conn().prepare("SELECT internal_id, body FROM emvex_documents WHERE tid = ?1")?;
    let mut rows = stmt.query(params![table.tid])?;
    let mut batch: Vec<([u8; 16], String)> = Vec::with_capacity(LOAD_BATCH);
    loop {
        let row = rows.next()?;
        if let Some(row) = row {
            batch.push((internal_id_of(&row.get::<_, Vec<u8>>(0)?)?, row.get(1)?));
            if batch.len() < LOAD_BATCH {
                continue;
            }
        }
        for (internal_id, extracted) in extract_batch(&extractor, &batch)? {
            if let Some((vector, filters)) = extracted {
                matrix.upsert(internal_id, &vector, filters);
            }
        }
        batch.clear();
        if row.is_none() {
            return Ok(matrix);
        }
    }
}

type ExtractedRow = ([u8; 16], Option<Extracted>);

/// Extracts a batch of bodies, half on another thread.
fn extract_batch(extractor: &Extractor, batch: &[([u8; 16], String)]) -> Result<Vec<ExtractedRow>, DbError> {
    let extract_all = |rows: &[([u8; 16], String)]| -> Result<Vec<ExtractedRow>, DbError> {
        rows.iter().map(|(id, text)| Ok((*id, extractor.extract(text)?))).collect()
    };
    let (first, second) = batch.split_at(batch.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| extract_all(first));
        let mut second = extract_all(second)?;
        let mut all = other.join().expect("a vector extraction thread does not panic")?;
        all.append(&mut second);
        Ok(all)
    })
}

/// The stored body text of one document, if it exists at `conn`'s snapshot.
fn read_body(conn: &Connection, table: &TableInfo, internal_id: &[u8; 16]) -> Result<Option<String>, DbError> {
    Ok(conn
        .prepare_cached("SELECT body FROM emvex_documents WHERE tid = ?1 AND internal_id = ?2")?
        .query_row(params![table.tid, &internal_id[..]], |r| r.get(0))
        .optional()?)
}

#[cfg(test)]
mod tests;
