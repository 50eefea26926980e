//! Query streams (§3.7): compiling a [`Query`] against the catalog, and pulling documents
//! through its pipeline (source → filters and limits in order), a batch of index rows at a
//! time.
//!
//! A text search's source is its candidates, read whole when it is compiled (as Convex
//! does on its first pull) and then pulled in relevance order.
//!
//! Invariants: every structural error (unknown index, bad range, a search's bad filters) is
//! raised by `compile`, so
//! `queryStream` fails synchronously and pulling can only fail with `EvalError`, a limit
//! error or a storage error. A stream resumes strictly after the last key it pulled,
//! so writes of the transaction are seen by keys not yet scanned (buffered rows are dropped
//! whenever the transaction writes). Source rows come from [`Reads::index_rows`] only.

use std::collections::VecDeque;
use std::sync::Arc;

use emvex_value::Value;
use emvex_value::id::DocumentId;

use super::definition::{Operator, Order, Query, Source};
use super::index_range::{KeyInterval, compile_range};
use super::reads::{IndexRow, IndexScan};
use crate::catalog::{TableInfo, builtin_fields};
use crate::document::{DocEnv, Document, document_size, internal_id_of, parse_body};
use crate::search::{MAX_CANDIDATE_REVISIONS, SearchCandidate, SearchFilter, order_candidates};
use crate::{DbError, Transaction};

/// The state of one in-progress query stream.
pub(crate) struct QueryState {
    table: Option<Arc<TableInfo>>,
    /// The whole range of the query's index (pagination may narrow it).
    pub scan: IndexScan,
    /// The full key fields of the index (for cursor fingerprints).
    pub index_fields: Vec<String>,
    operators: Arc<Vec<Operator>>,
    limit_counts: Vec<u64>,
    /// Last key pulled from the source (rows at or before it, in scan order, are consumed).
    pub last_key: Option<Vec<u8>>,
    source_done: bool,
    buffer: VecDeque<IndexRow>,
    buffer_gen: u64,
    batch: u32,
    pub scanned_rows: u64,
    pub scanned_bytes: u64,
    /// A text search's candidates (the source instead of an index range).
    search: Option<SearchSource>,
}

/// The source of a search query: its candidates in relevance order with their position keys,
/// computed when the query is compiled.
struct SearchSource {
    candidates: VecDeque<(Vec<u8>, SearchCandidate)>,
    /// Candidates pulled so far (Convex fails the pull after [`MAX_CANDIDATE_REVISIONS`]).
    pulled: usize,
}

/// What pulling a stream produced.
pub(crate) enum Pull {
    Row(Vec<u8>, Document),
    Done,
    /// The page's scan budget (`maximumRowsRead` / `maximumBytesRead`) is used up.
    Budget,
}

/// A page's scan budget.
#[derive(Clone, Copy)]
pub(crate) struct Budget {
    pub rows: u64,
    pub bytes: u64,
}

fn index_not_found(table: &str, index: &str) -> DbError {
    DbError::new("IndexNotFound", format!("Index {table}.{index} not found."))
}

impl Transaction {
    /// Binds `query` to its table and index (§3.4–§3.6); counts as one database query.
    pub(crate) fn compile(&mut self, component: &str, query: &Query) -> Result<QueryState, DbError> {
        let (table_name, index_name, range, order) = match &query.source {
            Source::FullTableScan { table, order } => (table.as_str(), "by_creation_time", None, *order),
            Source::IndexRange { table, index, range, order } => (table.as_str(), index.as_str(), Some(range), *order),
            Source::Search { table, index, filters } => {
                return self.compile_search(component, query, table, index, filters);
            }
        };
        self.reads.note_table(component, table_name);
        let table = self.catalog.load(self.conn(), component, table_name)?;
        let compiled = (|| {
            let (index_id, fields) = match &table {
                Some(t) => match t.index(index_name) {
                    Some(ix) => (ix.index_id, ix.fields.clone()),
                    None => return Err(index_not_found(table_name, index_name)),
                },
                None => match builtin_fields(index_name) {
                    Some(f) => (-1, f),
                    None => return Err(index_not_found(table_name, index_name)),
                },
            };
            let interval = match range {
                Some(r) => compile_range(&format!("{table_name}.{index_name}"), &fields, r)?,
                None => KeyInterval::all(),
            };
            Ok((index_id, fields, interval))
        })();
        // A missing table, a missing index or a range the index's fields reject: the result
        // changes when the table is created or its schema changes.
        if table.is_none() || compiled.is_err() {
            self.reads.note_missing_table(component, table_name);
        }
        let (index_id, fields, interval) = compiled?;
        self.metrics.count_query()?;
        Ok(QueryState {
            table,
            scan: IndexScan { index_id, interval, order },
            index_fields: fields,
            operators: Arc::new(query.operators.clone()),
            limit_counts: vec![0; query.operators.len()],
            last_key: None,
            source_done: false,
            buffer: VecDeque::new(),
            buffer_gen: self.write_gen,
            batch: 4,
            scanned_rows: 0,
            scanned_bytes: 0,
            search: None,
        })
    }

    /// Binds a text search to its search index and reads its candidates (module
    /// `crate::search`): the whole result, in relevance order, as of this call.
    fn compile_search(
        &mut self,
        component: &str,
        query: &Query,
        table_name: &str,
        index_name: &str,
        filters: &[SearchFilter],
    ) -> Result<QueryState, DbError> {
        self.reads.note_table(component, table_name);
        let table = self.catalog.load(self.conn(), component, table_name)?;
        let printable = format!("{table_name}.{index_name}");
        let bound = (|| -> Result<_, DbError> {
            let table = table.clone().ok_or_else(|| index_not_found(table_name, index_name))?;
            let index =
                table.search_index(index_name).cloned().ok_or_else(|| index_not_found(table_name, index_name))?;
            let compiled = crate::search::compile(&printable, &index, filters)?;
            Ok((table, index, compiled))
        })();
        if bound.is_err() {
            self.reads.note_missing_table(component, table_name);
        }
        let (table, index, compiled) = bound?;
        self.metrics.count_query()?;
        let (conn, reads) = self.reader();
        let candidates = reads.search_candidates(conn, &table, &index, &compiled)?;
        let mut index_fields = vec![format!("search:{}", index.search_field)];
        index_fields.extend(index.filter_fields.iter().cloned());
        Ok(QueryState {
            table: Some(table),
            scan: IndexScan { index_id: -1, interval: KeyInterval::all(), order: Order::Asc },
            index_fields,
            operators: Arc::new(query.operators.clone()),
            limit_counts: vec![0; query.operators.len()],
            last_key: None,
            source_done: false,
            buffer: VecDeque::new(),
            buffer_gen: self.write_gen,
            batch: 4,
            scanned_rows: 0,
            scanned_bytes: 0,
            search: Some(SearchSource { candidates: order_candidates(candidates).into(), pulled: 0 }),
        })
    }

    /// The next candidate of a search source after `last_key` and before the end of the
    /// scan's interval (a page's end cursor), as an index row.
    fn search_next(st: &mut QueryState) -> Result<Option<IndexRow>, DbError> {
        let search = st.search.as_mut().expect("a search source");
        // As Convex: the pull after the last allowed candidate fails, even if none is left.
        if search.pulled == MAX_CANDIDATE_REVISIONS {
            return Err(DbError::new(
                "SearchQueryScannedTooManyDocumentsError",
                format!(
                    "Search query scanned too many documents (fetched {MAX_CANDIDATE_REVISIONS}). Consider using \
                     a smaller limit, paginating the query, or using a filter field to limit the number of \
                     documents pulled from the search index."
                ),
            ));
        }
        while let Some((key, _)) = search.candidates.front() {
            if st.last_key.as_ref().is_some_and(|last| key <= last) {
                search.candidates.pop_front();
                continue;
            }
            if st.scan.interval.hi.as_ref().is_some_and(|hi| key >= hi) {
                return Ok(None);
            }
            search.pulled += 1;
            let (key, c) = search.candidates.pop_front().expect("front exists");
            return Ok(Some(IndexRow {
                key,
                internal_id: c.internal_id,
                creation_time: c.creation_time,
                body: c.body,
            }));
        }
        Ok(None)
    }

    /// Reads the next batch of source rows after `last_key` into the buffer.
    fn fetch_batch(&mut self, st: &mut QueryState) -> Result<(), DbError> {
        let Some(table) = &st.table else {
            return Ok(());
        };
        let mut rest = st.scan.clone();
        if let Some(last) = &st.last_key {
            match rest.order {
                Order::Asc => {
                    let mut after = last.clone();
                    after.push(0);
                    if after > rest.interval.lo {
                        rest.interval.lo = after;
                    }
                }
                Order::Desc => {
                    if rest.interval.hi.as_ref().is_none_or(|h| last < h) {
                        rest.interval.hi = Some(last.clone());
                    }
                }
            }
        }
        let (conn, reads) = self.reader();
        reads.index_rows(conn, table, &rest, st.batch as usize, &mut st.buffer)?;
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
        let next = if st.search.is_some() {
            Self::search_next(st)?
        } else {
            if st.buffer_gen != self.write_gen {
                st.buffer.clear();
                st.buffer_gen = self.write_gen;
            }
            if st.buffer.is_empty() {
                self.fetch_batch(st)?;
            }
            st.buffer.pop_front()
        };
        let Some(row) = next else {
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
        self.metrics.count_read(size)?;
        Ok(Pull::Row(row.key, Document { id, table: table.name.clone(), creation_time: row.creation_time, body }))
    }

    fn pull_through(&mut self, st: &mut QueryState, ops: &[Operator], budget: Option<Budget>) -> Result<Pull, DbError> {
        let Some((op, upstream)) = ops.split_last() else {
            return self.source_next(st, budget);
        };
        let level = upstream.len();
        match op {
            Operator::Filter(expr) => loop {
                match self.pull_through(st, upstream, budget)? {
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
                let r = self.pull_through(st, upstream, budget)?;
                if matches!(r, Pull::Row(..)) {
                    st.limit_counts[level] += 1;
                }
                Ok(r)
            }
        }
    }

    /// The next document that passes the whole pipeline of `st`.
    pub(crate) fn pull(&mut self, st: &mut QueryState, budget: Option<Budget>) -> Result<Pull, DbError> {
        let ops = st.operators.clone();
        self.pull_through(st, &ops, budget)
    }

    /// Compiles a query (§3.4–§3.6; every structural error is raised here) and registers a
    /// stream; returns its id (small integers from 0).
    pub fn query_stream(&mut self, component: &str, query: &Query) -> Result<u32, DbError> {
        let st = self.compile(component, query)?;
        let id = self.next_stream_id;
        self.next_stream_id += 1;
        self.streams.insert(id, st);
        Ok(id)
    }

    /// Next document of a stream, `None` when exhausted (the stream is then freed).
    pub fn query_next(&mut self, query_id: u32) -> Result<Option<Document>, DbError> {
        let mut st = self
            .streams
            .remove(&query_id)
            .ok_or_else(|| DbError::new("QueryNotFound", "in-progress query not found"))?;
        match self.pull(&mut st, None)? {
            Pull::Row(_, doc) => {
                self.streams.insert(query_id, st);
                Ok(Some(doc))
            }
            Pull::Done | Pull::Budget => Ok(None),
        }
    }

    /// Frees a stream; returns whether it was still live.
    pub fn query_cleanup(&mut self, query_id: u32) -> bool {
        self.streams.remove(&query_id).is_some()
    }
}
