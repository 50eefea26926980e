//! `Database`: the shared handle (file or in-memory), its connections and active schemas.
//!
//! Invariants: there is exactly one writer connection and at most one transaction holds it
//! at a time (`begin_mutation` blocks until it is free), so mutations run one at a time.
//! Queries are served from a pool of reader connections, each transaction pinned to a WAL
//! snapshot, so a query never waits for a mutation. An "in-memory" database is a private
//! temporary file (same code path and semantics, including snapshot reads while a mutation
//! is open), deleted when the last handle is dropped. The cached schema of a component always
//! equals the stored one. Every mutation commit is appended to the [`CommitLog`] (in commit
//! order, by the writer) before the writer is released.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use rusqlite::{Connection, params};

use crate::DbError;
use crate::catalog::TableInfo;
use crate::checkpoint::Checkpointer;
use crate::commit_log::{CommitListener, CommitLog};
use crate::files::{FileStore, files_root};
use crate::schema::SchemaDefinition;
use crate::storage::{self, CommittedTimes};
use crate::transaction::{Transaction, TxKind};
use crate::vector::slots::VectorIndexes;
use emvex_clock::Clock;

/// The database handle: cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Database {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Declared first so it stops before the connections close.
    pub(crate) checkpointer: Checkpointer,
    file: PathBuf,
    /// For in-memory databases: the private directory to delete on drop.
    temp_dir: Option<PathBuf>,
    writer: Mutex<Option<Connection>>,
    writer_free: Condvar,
    readers: Mutex<Vec<Connection>>,
    schemas: RwLock<HashMap<String, Arc<SchemaDefinition>>>,
    /// The committed clock as last written by the writer (exact: only the writer changes it).
    writer_clock: Mutex<Option<CommittedTimes>>,
    /// Where `_creationTime`s and commit timestamps read wall time.
    pub(crate) clock: Clock,
    /// Table metadata shared across transactions, valid for one `schema_epoch`.
    table_cache: Mutex<TableCache>,
    /// The write sets of recent commits and the commit listeners.
    pub(crate) commit_log: CommitLog,
    /// The bytes of stored files (`files/` beside the database file; in memory for in-memory
    /// databases).
    pub(crate) files: FileStore,
    /// The vector indexes loaded in memory (see `vector`).
    pub(crate) vector_indexes: VectorIndexes,
}

/// Committed table metadata of one schema epoch.
#[derive(Default)]
pub(crate) struct TableCache {
    pub epoch: i64,
    pub tables: HashMap<(String, String), Arc<TableInfo>>,
}

impl Inner {
    /// A cached table, if the cache is for `epoch`.
    pub(crate) fn cached_table(&self, epoch: i64, component: &str, table: &str) -> Option<Arc<TableInfo>> {
        let cache = self.table_cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.epoch != epoch {
            return None;
        }
        cache.tables.get(&(component.to_string(), table.to_string())).cloned()
    }

    /// A cached table name by number, if the cache is for `epoch`.
    pub(crate) fn cached_table_name(&self, epoch: i64, component: &str, number: u32) -> Option<String> {
        let cache = self.table_cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.epoch != epoch {
            return None;
        }
        cache.tables.iter().find(|((c, _), t)| c == component && t.number == number).map(|(_, t)| t.name.clone())
    }

    /// Publishes table metadata read at `epoch` (ignored if the cache is newer).
    pub(crate) fn publish_tables(&self, epoch: i64, tables: HashMap<(String, String), Arc<TableInfo>>) {
        let mut cache = self.table_cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.epoch > epoch {
            return;
        }
        if cache.epoch < epoch {
            *cache = TableCache { epoch, tables: HashMap::new() };
        }
        cache.tables.extend(tables);
    }

    /// Records a committed clock (writer only).
    pub(crate) fn set_writer_clock(&self, clock: CommittedTimes) {
        *self.writer_clock.lock().unwrap_or_else(|e| e.into_inner()) = Some(clock);
    }

    pub(crate) fn schema(&self, component: &str) -> Option<Arc<SchemaDefinition>> {
        self.schemas.read().unwrap_or_else(|e| e.into_inner()).get(component).cloned()
    }

    fn take_writer(&self) -> Connection {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(conn) = guard.take() {
                return conn;
            }
            guard = self.writer_free.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Returns a connection taken by a transaction of `kind`.
    pub(crate) fn release(&self, conn: Connection, kind: TxKind) {
        if kind == TxKind::Query {
            self.readers.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
        } else {
            *self.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn);
            self.writer_free.notify_one();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(dir) = &self.temp_dir {
            // Close every connection before deleting the files.
            drop(self.writer.get_mut().unwrap_or_else(|e| e.into_inner()).take());
            self.readers.get_mut().unwrap_or_else(|e| e.into_inner()).clear();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("file", &self.inner.file).finish()
    }
}

fn load_schemas(conn: &Connection) -> Result<HashMap<String, Arc<SchemaDefinition>>, DbError> {
    let mut stmt = conn.prepare("SELECT component, json FROM emvex_schemas")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = HashMap::new();
    for row in rows {
        let (component, json) = row?;
        out.insert(component, Arc::new(SchemaDefinition::from_export_json(&json)?));
    }
    Ok(out)
}

impl Database {
    fn from_connection(
        conn: Connection,
        file: PathBuf,
        temp_dir: Option<PathBuf>,
        clock: Clock,
    ) -> Result<Database, DbError> {
        let cleanup = |e: DbError| {
            if let Some(dir) = &temp_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            e
        };
        storage::migrate(&conn).map_err(cleanup)?;
        crate::session_requests::forget_before(&conn, clock.now_ms() - crate::session_requests::RETENTION_MS)
            .map_err(cleanup)?;
        let schemas = load_schemas(&conn).map_err(cleanup)?;
        let last_commit_ts = storage::read_clock(&conn).map_err(cleanup)?.last_commit_ts;
        let checkpointer = Checkpointer::start(&file).map_err(cleanup)?;
        let files = if temp_dir.is_some() { FileStore::memory() } else { FileStore::dir(files_root(&file)) };
        Ok(Database {
            inner: Arc::new(Inner {
                checkpointer,
                clock,
                file,
                temp_dir,
                writer: Mutex::new(Some(conn)),
                writer_free: Condvar::new(),
                readers: Mutex::new(Vec::new()),
                schemas: RwLock::new(schemas),
                writer_clock: Mutex::new(None),
                table_cache: Mutex::new(TableCache::default()),
                commit_log: CommitLog::new(last_commit_ts),
                files,
                vector_indexes: VectorIndexes::default(),
            }),
        })
    }

    /// The clock `_creationTime`s and commit timestamps read.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Opens (creating or migrating) the database file at `path`, on the real clock.
    pub fn open(path: &Path) -> Result<Database, DbError> {
        Database::open_with_clock(path, Clock::real())
    }

    /// Opens (creating or migrating) the database file at `path`; `_creationTime`s and commit
    /// timestamps read `clock`.
    pub fn open_with_clock(path: &Path, clock: Clock) -> Result<Database, DbError> {
        let conn = storage::open_file(path)?;
        Database::from_connection(conn, path.to_path_buf(), None, clock)
    }

    /// A private, throw-away database: a temporary file deleted when the last handle (and
    /// transaction) is dropped. Behaves exactly like a file database.
    pub fn open_in_memory() -> Result<Database, DbError> {
        Database::open_in_memory_with_clock(Clock::real())
    }

    /// [`Database::open_in_memory`] on `clock`.
    pub fn open_in_memory_with_clock(clock: Clock) -> Result<Database, DbError> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // A unique name, not a reading of time: it stays on the system clock.
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("emvex-mem-{}-{n}-{nanos}", std::process::id()));
        let file = dir.join("db.sqlite3");
        let conn = match storage::open_file(&file) {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        Database::from_connection(conn, file, Some(dir), clock)
    }

    /// The ts of the last mutation commit of this process (or, before any, the last one
    /// stored): the same ts space as [`Transaction::snapshot_ts`] and
    /// [`Transaction::commit`].
    pub fn latest_commit_ts(&self) -> u64 {
        self.inner.commit_log.latest_ts()
    }

    /// The write sets of recent commits: asks whether commits after a query's snapshot can
    /// have changed its result ([`CommitLog::overlaps_between`]).
    pub fn commit_log(&self) -> &CommitLog {
        &self.inner.commit_log
    }

    /// Registers `listener`, called on the committing thread right after every mutation
    /// commit, with its ts and write set (empty when it wrote nothing), in commit order. It runs while
    /// the commit still holds the single writer: it must be cheap and non-blocking (send on a
    /// channel, wake a task) and must never begin a mutation.
    pub fn on_commit(&self, listener: CommitListener) {
        self.inner.commit_log.on_commit(listener);
    }

    /// The bytes of stored files (see `files`).
    pub fn files(&self) -> &FileStore {
        &self.inner.files
    }

    /// Removes stored files no `_storage` document names (left by a crash between writing a
    /// file and committing its document, or between deleting a document and its file), and
    /// unfinished uploads. Call at start, before serving. Returns how many it removed.
    pub fn sweep_files(&self) -> Result<usize, DbError> {
        let conn = self.inner.take_writer();
        let result = crate::files::sweep(&self.inner.files, &conn);
        self.inner.release(conn, TxKind::Mutation);
        result
    }

    /// The database file (a temporary one for in-memory databases).
    pub fn path(&self) -> &Path {
        &self.inner.file
    }

    fn start(&self, conn: Connection, kind: TxKind) -> Result<Transaction, DbError> {
        let begin = if kind == TxKind::Mutation { "BEGIN IMMEDIATE" } else { "BEGIN" };
        if let Err(e) = storage::exec_cached(&conn, begin) {
            self.inner.release(conn, kind);
            return Err(e);
        }
        // A query's first read pins its snapshot. The writer's clock is cached exactly.
        let cached = match kind {
            TxKind::Mutation => *self.inner.writer_clock.lock().unwrap_or_else(|e| e.into_inner()),
            TxKind::Query => None,
        };
        let clock = match cached {
            Some(c) => Ok(c),
            None => storage::read_clock(&conn),
        };
        match clock {
            Ok(clock) => {
                if kind == TxKind::Mutation {
                    self.inner.set_writer_clock(clock);
                }
                Ok(Transaction::new(self.inner.clone(), conn, kind, clock))
            }
            Err(e) => {
                let _ = storage::exec_cached(&conn, "ROLLBACK");
                self.inner.release(conn, kind);
                Err(e)
            }
        }
    }

    /// Begins a mutation: takes the single writer (blocking until it is free) and opens
    /// `BEGIN IMMEDIATE`. Do not call while the same thread holds another mutation.
    pub fn begin_mutation(&self) -> Result<Transaction, DbError> {
        let conn = self.inner.take_writer();
        self.start(conn, TxKind::Mutation)
    }

    /// Begins a read-only transaction on a consistent snapshot.
    pub fn begin_query(&self) -> Result<Transaction, DbError> {
        let pooled = self.inner.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = storage::open_file(&self.inner.file)?;
                c.execute_batch("PRAGMA query_only=ON")?;
                c
            }
        };
        self.start(conn, TxKind::Query)
    }

    /// Reconciles the component's stored indexes with `schema` (creates declared tables,
    /// backfills new or changed indexes, drops removed ones), checks existing documents
    /// against it when `schemaValidation` is on, and makes it the schema writes are
    /// validated against. `None` removes the schema and every user index of the component.
    pub fn apply_schema(&self, component: &str, schema: Option<&SchemaDefinition>) -> Result<(), DbError> {
        let mut tx = self.begin_mutation()?;
        tx.apply_schema(component, schema)?;
        tx.commit()?;
        self.inner.vector_indexes.forget_component(component);
        // Re-parse from the stored text so the cache owns its copy.
        let mut cache = self.inner.schemas.write().unwrap_or_else(|e| e.into_inner());
        match schema {
            Some(s) => {
                cache.insert(component.to_string(), Arc::new(SchemaDefinition::from_export_json(&s.json_text)?));
            }
            None => {
                cache.remove(component);
            }
        }
        Ok(())
    }

    /// The export text of the active schema of `component`, if any.
    pub fn schema_json(&self, component: &str) -> Option<String> {
        self.inner.schema(component).map(|s| s.json_text.clone())
    }

    /// Names of the components that have data or a schema.
    pub fn components(&self) -> Result<Vec<String>, DbError> {
        let tx = self.begin_query()?;
        let conn = tx.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT component FROM emvex_tables UNION SELECT component FROM emvex_schemas ORDER BY 1",
        )?;
        let names = stmt.query_map(params![], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_times_and_commit_timestamps_read_the_database_clock() {
        let (clock, hand) = Clock::manual(1_700_000_000_000);
        let db = Database::open_in_memory_with_clock(clock).unwrap();
        let mut tx = db.begin_mutation().unwrap();
        let id = tx.insert("", "t", Default::default()).unwrap();
        let first = tx.get("", &id).unwrap().unwrap();
        assert_eq!(first.creation_time, 1_700_000_000_000.0);
        assert_eq!(tx.commit().unwrap(), 1_700_000_000_000_000_000);
        // The clock stands still: the next commit and creation time still move past the last.
        let mut tx = db.begin_mutation().unwrap();
        let id = tx.insert("", "t", Default::default()).unwrap();
        let second = tx.get("", &id).unwrap().unwrap().creation_time;
        assert!(second > first.creation_time && second < 1_700_000_000_000.01, "{second}");
        assert_eq!(tx.commit().unwrap(), 1_700_000_000_000_000_001);
        hand.advance(std::time::Duration::from_millis(5));
        let mut tx = db.begin_mutation().unwrap();
        let id = tx.insert("", "t", Default::default()).unwrap();
        assert_eq!(tx.get("", &id).unwrap().unwrap().creation_time, 1_700_000_000_005.0);
    }

    #[test]
    fn in_memory_database_is_deleted_on_drop() {
        let db = Database::open_in_memory().unwrap();
        let dir = db.path().parent().unwrap().to_path_buf();
        let tx = db.begin_query().unwrap();
        assert!(dir.exists());
        drop(db);
        // the open transaction keeps the database alive
        assert!(dir.exists());
        drop(tx);
        assert!(!dir.exists());
    }

    #[test]
    fn query_while_mutation_is_open_on_same_thread() {
        let db = Database::open_in_memory().unwrap();
        let mut m = db.begin_mutation().unwrap();
        m.insert("", "t", emvex_value::Object::new()).unwrap();
        let mut q = db.begin_query().unwrap();
        assert_eq!(q.count("", "t").unwrap(), 0);
        drop(q);
        m.commit().unwrap();
    }

    #[test]
    fn database_is_send_sync_and_transaction_is_send() {
        fn send_sync<T: Send + Sync + 'static>() {}
        fn send<T: Send + 'static>() {}
        send_sync::<Database>();
        send::<Transaction>();
    }
}
