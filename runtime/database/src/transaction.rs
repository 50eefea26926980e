//! `Transaction`: one query's or mutation's view of the database (§6.1) — its connection and
//! snapshot, savepoints, commit and the limits it counts. What it does is spread over one
//! module per concern: the table catalog (`catalog`), reads and queries (`query`), writes
//! (`writes`) and schema application (`schema::apply`).
//!
//! A mutation transaction owns the single writer connection inside `BEGIN IMMEDIATE`, so
//! read-your-own-writes and all-or-nothing come from SQLite; nested mutations use SQLite
//! savepoints. A query transaction owns a reader connection inside a deferred `BEGIN` whose
//! first statement pins a WAL snapshot; writes on it fail with `ReadOnlyTransaction`.
//!
//! Invariants:
//! - `_creationTime`s assigned by a transaction strictly increase and exceed every
//!   `_creationTime` ever committed; commit timestamps strictly increase across restarts;
//! - dropping a transaction without `commit` rolls everything back and returns the
//!   connection to its pool;
//! - `write_gen` changes whenever the stored state may have changed under an open query
//!   stream (a write, a rollback to a savepoint, an index change), so streams drop rows they
//!   buffered before it.

use std::collections::HashMap;
use std::sync::Arc;

use emvex_value::id::DocumentId;
use emvex_value::validator::TableNames;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rusqlite::Connection;

use crate::DbError;
use crate::catalog::{CatalogTableNames, TableCatalog};
use crate::database::Inner;
use crate::limits::TransactionMetrics;
use crate::query::reads::Reads;
use crate::query::stream::QueryState;
use crate::session_requests::PendingRecord;
use crate::storage;
use crate::writes::WriteTally;
use crate::{ReadSet, WriteSet};

/// The message of the (impossible) missing-connection panic.
pub(crate) const CONNECTION: &str = "transaction connection is present until drop";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxKind {
    Mutation,
    Query,
}

/// One query's or mutation's transaction. `'static + Send`; not `Sync`.
pub struct Transaction {
    pub(crate) inner: Arc<Inner>,
    pub(crate) conn: Option<Connection>,
    pub(crate) kind: TxKind,
    pub(crate) snapshot_ts: u64,
    pub(crate) catalog: TableCatalog,
    pub(crate) next_creation_time: f64,
    pub(crate) assigned_creation_time: Option<f64>,
    pub(crate) rng: StdRng,
    savepoints: u32,
    pub(crate) streams: HashMap<u32, QueryState>,
    pub(crate) next_stream_id: u32,
    pub(crate) write_gen: u64,
    pub(crate) metrics: TransactionMetrics,
    pub(crate) reads: Reads,
    pub(crate) tally: WriteTally,
    pub(crate) write_set: WriteSet,
    /// The journal given to this execution (`set_journal`) and whether a page used it.
    journal_in: Option<String>,
    journal_used: bool,
    /// The journal this execution produced (the continue cursor of its page).
    journal_out: Option<String>,
    /// The outcome of a client's mutation, written by `commit` (see `session_requests`).
    pub(crate) pending_request: Option<PendingRecord>,
    /// Stored files whose `_storage` document this transaction deleted: (component, document,
    /// file key). Removed after the commit, if the document is still gone then.
    files_to_remove: Vec<(String, DocumentId, String)>,
    /// The timestamp this mutation commits at, once something asked for it (`commit_ts`).
    reserved_commit_ts: Option<u64>,
    finished: bool,
}

impl Transaction {
    /// The database's clock (`_creationTime`s, commit timestamps, and the time functions see).
    pub fn clock(&self) -> &emvex_clock::Clock {
        &self.inner.clock
    }

    pub(crate) fn new(
        inner: Arc<Inner>,
        conn: Connection,
        kind: TxKind,
        clock: storage::CommittedTimes,
    ) -> Transaction {
        let snapshot_ts = clock.last_commit_ts;
        let now_ms = (inner.clock.now_ns().max(snapshot_ts)) as f64 / 1e6;
        let next_creation_time = now_ms.max(clock.last_creation_time.next_up());
        Transaction {
            catalog: TableCatalog::new(inner.clone(), clock.schema_epoch),
            inner,
            conn: Some(conn),
            kind,
            snapshot_ts,
            next_creation_time,
            assigned_creation_time: None,
            rng: StdRng::from_os_rng(),
            savepoints: 0,
            streams: HashMap::new(),
            next_stream_id: 0,
            write_gen: 0,
            metrics: TransactionMetrics::default(),
            reads: Reads::default(),
            tally: WriteTally::default(),
            write_set: WriteSet::default(),
            journal_in: None,
            journal_used: false,
            journal_out: None,
            pending_request: None,
            files_to_remove: Vec::new(),
            reserved_commit_ts: None,
            finished: false,
        }
    }

    pub(crate) fn conn(&self) -> &Connection {
        self.conn.as_ref().expect(CONNECTION)
    }

    /// The connection and the read door, borrowed together.
    pub(crate) fn reader(&mut self) -> (&Connection, &mut Reads) {
        (self.conn.as_ref().expect(CONNECTION), &mut self.reads)
    }

    /// The timestamp this mutation will commit at (`db.vars.commitTs`): fixed by the first
    /// call, and the one `commit` then uses. It exceeds every committed timestamp, since the
    /// mutation holds the single writer from its start to its commit. A query transaction
    /// never commits anything, so it has none (`ReadOnlyTransaction`).
    pub fn commit_ts(&mut self) -> Result<u64, DbError> {
        self.check_writable()?;
        let now = self.inner.clock.now_ns();
        Ok(*self.reserved_commit_ts.get_or_insert(now.max(self.snapshot_ts + 1)))
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

    /// The tables `(component, table)` this transaction has read (gets, counts, queries,
    /// including queries of tables that do not exist yet), sorted. A coarse read set: a
    /// query result can only change when one of these tables is written.
    pub fn tables_read(&self) -> Vec<(String, String)> {
        self.reads.tables_read()
    }

    /// The read set so far (a normalized copy): every index interval, document, count and
    /// table this transaction's results depend on. A commit whose [`WriteSet`] does not
    /// [`overlap`](ReadSet::overlaps) it cannot change them.
    pub fn read_set(&self) -> ReadSet {
        self.reads.read_set()
    }

    // ----- pagination journals (sync-protocol.md §6.2–6.3) ---------------------------------

    /// Gives this execution the journal of its previous run (`None`: a first run). The first
    /// page read after this call (`query_page` without `endCursor`) ends at the journal's end
    /// cursor, as if it had been passed as `endCursor`; a journal that cannot be decoded or
    /// belongs to another query fails that page with `InvalidCursor`. Clears the output
    /// journal.
    pub fn set_journal(&mut self, journal: Option<String>) {
        self.journal_in = journal;
        self.journal_used = false;
        self.journal_out = None;
    }

    /// The journal this execution produced: the continue cursor of its page, `None` if it
    /// did not paginate. Pass it to `set_journal` when re-running the same query.
    pub fn journal(&self) -> Option<String> {
        self.journal_out.clone()
    }

    /// For the page being read: the end cursor the journal imposes, if any (taken once per
    /// execution: the execution's single page).
    pub(crate) fn take_journal_end(&mut self) -> Option<String> {
        if self.journal_used {
            return None;
        }
        self.journal_used = true;
        self.journal_in.clone()
    }

    /// Records the journal of the execution's page (its continue cursor); the first page
    /// wins.
    pub(crate) fn set_journal_out(&mut self, continue_cursor: &str) {
        if self.journal_out.is_none() {
            self.journal_out = Some(continue_cursor.to_string());
        }
    }

    // ----- the catalog --------------------------------------------------------------------

    /// The number of `table` in `component`, if the table exists.
    pub fn table_number(&self, component: &str, table: &str) -> Result<Option<u32>, DbError> {
        Ok(self.catalog.load(self.conn(), component, table)?.map(|t| t.number))
    }

    /// The name of table number `table_number` in `component`, if it exists.
    pub fn table_name(&self, component: &str, table_number: u32) -> Result<Option<String>, DbError> {
        self.catalog.name_of(self.conn(), component, table_number)
    }

    /// The names of all tables of `component` (user and system), sorted.
    pub fn list_tables(&self, component: &str) -> Result<Vec<String>, DbError> {
        self.catalog.list(self.conn(), component)
    }

    /// A view resolving table numbers of `component` for `v.id("t")` validation.
    pub fn table_names<'a>(&'a self, component: &'a str) -> impl TableNames + 'a {
        CatalogTableNames { catalog: &self.catalog, conn: self.conn(), component }
    }

    // ----- savepoints and commit ----------------------------------------------------------

    /// Opens a nested subtransaction (SQLite SAVEPOINT). Nestable; allowed in queries too
    /// (where there is nothing to undo).
    pub fn savepoint(&mut self) -> Result<(), DbError> {
        self.savepoints += 1;
        self.conn().execute_batch(&format!("SAVEPOINT emvex_sp{}", self.savepoints))?;
        Ok(())
    }

    /// Undoes everything since the innermost open savepoint and closes it. The read and
    /// write sets keep what was recorded under it (conservative: reads still influenced the
    /// caller, and undone writes can only cause extra invalidations).
    pub fn rollback_to_savepoint(&mut self) -> Result<(), DbError> {
        if self.savepoints == 0 {
            return Err(DbError::new("NoSavepoint", "No open savepoint to roll back to"));
        }
        let n = self.savepoints;
        self.conn().execute_batch(&format!("ROLLBACK TO emvex_sp{n}; RELEASE emvex_sp{n}"))?;
        self.savepoints -= 1;
        self.catalog.invalidate();
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

    /// Removes the stored file `key` of `component` once this transaction commits, if the
    /// `_storage` document `doc` is deleted then (a deletion undone by a savepoint rollback keeps
    /// the file; a transaction that does not commit removes nothing). The file goes after the
    /// commit: a crash in between leaves a file no document names, removed at the next start.
    pub fn remove_file_on_commit(&mut self, component: &str, doc: DocumentId, key: &str) {
        self.files_to_remove.push((component.to_string(), doc, key.to_string()));
    }

    /// Whether document `id` of `component` exists in this transaction (bookkeeping, not a read
    /// of the function: nothing is recorded in the read set or the metrics).
    fn document_exists(&self, component: &str, id: &DocumentId) -> Result<bool, DbError> {
        let Some(table) = self.catalog.by_number(self.conn(), component, id.table_number)? else { return Ok(false) };
        let mut stmt =
            self.conn().prepare_cached("SELECT 1 FROM emvex_documents WHERE tid = ?1 AND internal_id = ?2")?;
        Ok(stmt.exists(rusqlite::params![table.tid, &id.internal_id[..]])?)
    }

    /// Commits. Returns the commit timestamp (ns), strictly greater than every earlier one;
    /// for a query transaction, its snapshot timestamp. A mutation that wrote something is
    /// appended with its [`WriteSet`] to the database's commit log; the listeners are called
    /// for every mutation commit (see `Database::on_commit`).
    pub fn commit(mut self) -> Result<u64, DbError> {
        let ts = match self.kind {
            TxKind::Query => {
                storage::exec_cached(self.conn(), "COMMIT")?;
                self.snapshot_ts
            }
            TxKind::Mutation => {
                let mut files_to_remove = Vec::new();
                for (component, doc, key) in std::mem::take(&mut self.files_to_remove) {
                    if self.document_exists(&component, &doc)? {
                        continue;
                    }
                    files_to_remove.push((component, key));
                }
                let ts = self.commit_ts()?;
                let clock = storage::CommittedTimes {
                    last_commit_ts: ts,
                    last_creation_time: self.assigned_creation_time.unwrap_or(self.next_creation_time.next_down()),
                    schema_epoch: self.catalog.epoch_after_commit(),
                };
                self.write_pending_request(ts)?;
                let conn = self.conn();
                storage::write_clock(conn, &clock)?;
                storage::exec_cached(conn, "COMMIT")?;
                self.inner.checkpointer.note_commit();
                self.inner.checkpointer.rewind_if_large(conn);
                self.inner.set_writer_clock(clock);
                self.catalog.committed();
                // Still holding the writer: the log gets commits in commit order.
                self.inner.commit_log.append(ts, std::mem::take(&mut self.write_set));
                for (component, key) in files_to_remove {
                    // A failure leaves a file no document names: removed at the next start.
                    let _ = self.inner.files.remove(&component, &key);
                }
                ts
            }
        };
        self.finished = true;
        Ok(ts)
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.finished {
                let _ = storage::exec_cached(&conn, "ROLLBACK");
            }
            // Metadata read at an unchanged epoch is committed state: share it.
            self.catalog.publish();
            self.inner.release(conn, self.kind);
        }
    }
}

#[cfg(test)]
mod tests;
