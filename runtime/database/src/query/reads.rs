//! [`Reads`]: the one door through which a transaction reads documents and index entries.
//!
//! Invariant: every read of `emvex_documents` and `emvex_index_entries` — query streams and
//! pages (index ranges, full scans as ranges of `by_creation_time`, text searches), `get` by id (a point
//! read), `count`, the reads writes make of the document they change, and the full-table
//! passes of schema application — is a method of [`Reads`], and nothing else in the crate
//! runs SQL on those two tables except to write them. So this is where a transaction's read
//! set is recorded: the coarse set of tables read ([`Reads::note_table`], for
//! `tables_read`) and the precise [`ReadSet`]: every method below records what its result
//! depends on (index intervals, document points, counts, whole tables, missing tables).
//!
//! Index range reads record, per batch, the part of the requested interval the batch
//! covered: up to and including its last key in scan order, or the whole rest of the
//! interval when the batch ran out. A stream's next batch starts right after the last key of
//! the previous one, so its recorded intervals are contiguous from the start of its range,
//! over-recording at most the unconsumed rest of one batch. Recording costs one interval per
//! batch, never an allocation per row.
//!
//! Reads see the transaction's own writes (they run on its connection).

use std::collections::{HashSet, VecDeque};

use emvex_value::Object;
use emvex_value::id::DocumentId;
use rusqlite::{Connection, OptionalExtension, params};

use super::definition::Order;
use super::index_range::KeyInterval;
use crate::DbError;
use crate::catalog::TableInfo;
use crate::document::{Document, internal_id_of, parse_body};
use crate::read_set::ReadSet;
use crate::search::{CompiledSearch, SearchCandidate, SearchIndexInfo};

/// The SQL of an index range read: entries of index `?1` with keys from `?2` up to the
/// `upper` bound (`?3`), joined with their documents of table `?4`, in `order`.
macro_rules! index_rows_sql {
    ($upper:literal, $order:literal) => {
        concat!(
            "SELECT e.key, e.internal_id, d.creation_time, d.body FROM emvex_index_entries e ",
            "CROSS JOIN emvex_documents d WHERE e.index_id = ?1 AND e.key >= ?2 AND ",
            $upper,
            " AND d.tid = ?4 AND d.internal_id = e.internal_id ORDER BY e.key ",
            $order
        )
    };
}

/// An index entry joined with its document, as read from storage.
pub(crate) struct IndexRow {
    pub key: Vec<u8>,
    pub internal_id: Vec<u8>,
    pub creation_time: f64,
    pub body: String,
}

/// A range read of one index: the keys in `interval`, in `order`.
#[derive(Debug, Clone)]
pub(crate) struct IndexScan {
    pub index_id: i64,
    pub interval: KeyInterval,
    pub order: Order,
}

/// A transaction's reads and its read set.
#[derive(Default)]
pub(crate) struct Reads {
    tables_read: HashSet<(String, String)>,
    read_set: ReadSet,
}

impl Reads {
    /// Records that `table` of `component` was read (whether or not it exists).
    pub fn note_table(&mut self, component: &str, table: &str) {
        if !self.tables_read.contains(&(component.to_string(), table.to_string())) {
            self.tables_read.insert((component.to_string(), table.to_string()));
        }
    }

    /// Records that `table` of `component` was looked up but does not exist or has no such
    /// index (so its creation, or a schema change, may change the result).
    pub fn note_missing_table(&mut self, component: &str, table: &str) {
        self.note_table(component, table);
        self.read_set.record_table_name(component, table);
    }

    /// Records that an id of table number `number` of `component` was read while no table
    /// had that number.
    pub fn note_missing_table_number(&mut self, component: &str, number: u32) {
        self.read_set.record_table_number(component, number);
    }

    /// The read set so far, normalized.
    pub fn read_set(&self) -> ReadSet {
        self.read_set.snapshot()
    }

    /// The tables `(component, table)` read so far, sorted.
    pub fn tables_read(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.tables_read.iter().cloned().collect();
        v.sort();
        v
    }

    /// Appends to `out` the first (in scan order) `max_rows` entries of `scan` over `table`,
    /// each with its document.
    pub fn index_rows(
        &mut self,
        conn: &Connection,
        table: &TableInfo,
        scan: &IndexScan,
        max_rows: usize,
        out: &mut VecDeque<IndexRow>,
    ) -> Result<(), DbError> {
        let sql = match (scan.order, scan.interval.hi.is_some()) {
            (Order::Asc, true) => index_rows_sql!("e.key < ?3", "ASC"),
            (Order::Asc, false) => index_rows_sql!("?3 IS NULL", "ASC"),
            (Order::Desc, true) => index_rows_sql!("e.key < ?3", "DESC"),
            (Order::Desc, false) => index_rows_sql!("?3 IS NULL", "DESC"),
        };
        // No `LIMIT ?`: SQLite re-prepares a statement whenever a bound LIMIT is rebound
        // (measured: every execution), so the batch is cut by reading only `max_rows` rows of
        // the lazily stepped, index-ordered result instead.
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![scan.index_id, scan.interval.lo, scan.interval.hi, table.tid], |r| {
            Ok(IndexRow { key: r.get(0)?, internal_id: r.get(1)?, creation_time: r.get(2)?, body: r.get(3)? })
        })?;
        let before = out.len();
        for row in rows.take(max_rows) {
            out.push_back(row?);
        }
        let consumed = match out.back() {
            Some(last) if out.len() - before >= max_rows => match scan.order {
                Order::Asc => {
                    let mut hi = Vec::with_capacity(last.key.len() + 1);
                    hi.extend_from_slice(&last.key);
                    hi.push(0);
                    KeyInterval { lo: scan.interval.lo.clone(), hi: Some(hi) }
                }
                Order::Desc => KeyInterval { lo: last.key.clone(), hi: scan.interval.hi.clone() },
            },
            // The batch ran out: the whole rest of the interval was read.
            _ => scan.interval.clone(),
        };
        self.read_set.record_range(scan.index_id, table.tid, consumed);
        Ok(())
    }

    /// The document `id` of `table`, if it exists.
    pub fn document(
        &mut self,
        conn: &Connection,
        table: &TableInfo,
        id: &DocumentId,
    ) -> Result<Option<Document>, DbError> {
        let row: Option<(f64, String)> = conn
            .prepare_cached("SELECT creation_time, body FROM emvex_documents WHERE tid = ?1 AND internal_id = ?2")?
            .query_row(params![table.tid, &id.internal_id[..]], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        self.read_set.record_document(table.tid, id.internal_id);
        match row {
            None => Ok(None),
            Some((creation_time, body)) => {
                Ok(Some(Document { id: *id, table: table.name.clone(), creation_time, body: parse_body(&body)? }))
            }
        }
    }

    /// The number of documents of `table`.
    pub fn document_count(&mut self, conn: &Connection, table: &TableInfo) -> Result<u64, DbError> {
        let n: Option<i64> = conn
            .prepare_cached("SELECT value FROM emvex_meta WHERE key = 'count:' || ?1")?
            .query_row(params![table.tid], |r| r.get(0))
            .optional()?;
        self.read_set.record_count(table.tid);
        Ok(n.unwrap_or(0).max(0) as u64)
    }

    /// The candidates of a text search over `index` of `table`, scored (unordered;
    /// [`crate::search::order_candidates`] gives Convex's order), at most
    /// [`crate::search::MAX_CANDIDATE_REVISIONS`]. Records the whole table: any write to it
    /// may change a search's result (relevance depends on every document of the index).
    pub fn search_candidates(
        &mut self,
        conn: &Connection,
        table: &TableInfo,
        index: &SearchIndexInfo,
        search: &CompiledSearch,
    ) -> Result<Vec<SearchCandidate>, DbError> {
        self.read_set.record_whole_table(table.tid);
        let mut terms = search.terms.clone();
        if let Some(prefix) = &search.prefix {
            terms.extend(index.expand_prefix(conn, prefix)?);
        }
        let Some(expr) = crate::search::match_expression(&terms) else {
            return Ok(Vec::new());
        };
        let mut stmt = conn.prepare_cached(&crate::search::candidates_sql(index, &search.filters))?;
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![&expr, &table.tid];
        for (_, key) in &search.filters {
            values.push(key);
        }
        let rows = stmt.query_map(values.as_slice(), |r| {
            Ok(SearchCandidate {
                text: r.get(0)?,
                score: 0.0,
                internal_id: r.get(1)?,
                creation_time: r.get(2)?,
                body: r.get(3)?,
            })
        })?;
        let mut candidates = rows.collect::<Result<Vec<_>, _>>()?;
        crate::search::score_candidates(conn, index, &terms, &mut candidates)?;
        Ok(candidates)
    }

    /// Calls `f` with every document of `table` (id, creation time, body), in storage order.
    pub fn for_each_document(
        &mut self,
        conn: &Connection,
        table: &TableInfo,
        mut f: impl FnMut(DocumentId, f64, Object) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        self.read_set.record_whole_table(table.tid);
        let mut stmt =
            conn.prepare_cached("SELECT internal_id, creation_time, body FROM emvex_documents WHERE tid = ?1")?;
        let mut rows = stmt.query(params![table.tid])?;
        while let Some(r) = rows.next()? {
            let internal: Vec<u8> = r.get(0)?;
            let ct: f64 = r.get(1)?;
            let body: String = r.get(2)?;
            f(DocumentId::new(table.number, internal_id_of(&internal)?), ct, parse_body(&body)?)?;
        }
        Ok(())
    }
}
