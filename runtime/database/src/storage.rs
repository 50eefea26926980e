//! SQLite storage: opening connections with emvex's pragmas, the on-disk schema, and the
//! storage benchmark baseline. The layout below is known only to this crate: here, and in
//! the modules that run SQL on it (`database`, `transaction`, `catalog`, `query::reads` —
//! the only reader of documents and index entries —, `writes` and `schema::apply`).
//!
//! Layout (all tables `WITHOUT ROWID` where keyed by a natural key):
//! - `emvex_meta(key, value)`: `format_version`, `last_commit_ts` (ns, strictly increasing
//!   across commits and restarts), `last_creation_time` (ms, the largest `_creationTime`
//!   ever assigned) and `schema_epoch` (bumped by every commit that creates a table or
//!   changes indexes; keys the in-memory table-metadata cache).
//! - `emvex_meta` also holds `count:<tid>` = the number of documents of each table (kept
//!   next to the clock so a typical commit dirties one metadata page, not two).
//! - `emvex_tables(tid, component, name, number)`: one row per table of each
//!   component namespace; `tid` is a global surrogate key, `number` the per-component table
//!   number used in ids (user tables from 10001, system tables 513..=10000).
//! - `emvex_indexes(index_id, tid, name, fields)`: `fields` is the JSON array of the FULL key
//!   fields (`by_id` = `["_id"]`, `by_creation_time` = `["_creationTime","_id"]`, user index =
//!   `[f.., "_creationTime", "_id"]`).
//! - `emvex_documents(tid, internal_id, creation_time, body)`: body = Convex JSON text of the
//!   document without its system fields.
//! - `emvex_index_entries(index_id, key, internal_id)`: key = `sort_key::encode_tuple` of the
//!   indexed values; unique because every key ends with `_id`.
//! - `emvex_schemas(component, json)`: the active `schema.export()` text of each component.
//! - `emvex_search_indexes`, `emvex_search_rows` and one FTS5 table per text search index:
//!   see [`crate::search`].
//! - `emvex_session_requests(session_id, request_id, outcome, commit_ts, created_ms)`: the
//!   outcome of each WebSocket mutation that committed, written in the mutation's own
//!   transaction, so a re-sent mutation is answered instead of run twice (`session_requests`).

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};

use crate::DbError;

/// Version of the on-disk layout written by this code.
pub(crate) const FORMAT_VERSION: i64 = 1;

const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS emvex_meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS emvex_tables (
    tid INTEGER PRIMARY KEY,
    component TEXT NOT NULL,
    name TEXT NOT NULL,
    number INTEGER NOT NULL,
    UNIQUE (component, name),
    UNIQUE (component, number)
);
CREATE TABLE IF NOT EXISTS emvex_indexes (
    index_id INTEGER PRIMARY KEY,
    tid INTEGER NOT NULL,
    name TEXT NOT NULL,
    fields TEXT NOT NULL,
    UNIQUE (tid, name)
);
CREATE TABLE IF NOT EXISTS emvex_documents (
    tid INTEGER NOT NULL,
    internal_id BLOB NOT NULL,
    creation_time REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tid, internal_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS emvex_index_entries (
    index_id INTEGER NOT NULL,
    key BLOB NOT NULL,
    internal_id BLOB NOT NULL,
    PRIMARY KEY (index_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS emvex_schemas (component TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS emvex_search_indexes (
    index_id INTEGER PRIMARY KEY AUTOINCREMENT,
    tid INTEGER NOT NULL,
    name TEXT NOT NULL,
    search_field TEXT NOT NULL,
    filter_fields TEXT NOT NULL,
    UNIQUE (tid, name)
);
CREATE TABLE IF NOT EXISTS emvex_search_rows (
    index_id INTEGER NOT NULL,
    internal_id BLOB NOT NULL,
    row INTEGER NOT NULL,
    PRIMARY KEY (index_id, internal_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS emvex_session_requests (
    session_id TEXT NOT NULL,
    request_id INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    commit_ts INTEGER NOT NULL,
    created_ms REAL NOT NULL,
    PRIMARY KEY (session_id, request_id)
) WITHOUT ROWID;
";

/// How long a connection waits for a lock held by another process (e.g. `emvex run` next to
/// `emvex dev` on the same file).
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Applies the connection pragmas every emvex connection uses.
fn configure(conn: &Connection, file_backed: bool) -> Result<(), DbError> {
    if file_backed {
        // journal_mode returns a row; query it rather than execute.
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DbError::storage(format!("could not enable WAL mode (got {mode})")));
        }
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Checkpoints run on a background thread (see checkpoint.rs), not inside commits.
        conn.execute_batch("PRAGMA wal_autocheckpoint=0;")?;
    }
    conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Runs a parameterless statement through the connection's statement cache, so hot
/// statements such as `BEGIN` and `COMMIT` are parsed once per connection.
pub(crate) fn exec_cached(conn: &Connection, sql: &str) -> Result<(), DbError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Opens (and creates/migrates) a file-backed database connection.
pub(crate) fn open_file(path: &Path) -> Result<Connection, DbError> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbError::storage(format!("cannot create directory {}: {e}", dir.display())))?;
    }
    let conn = Connection::open(path)
        .map_err(|e| DbError::storage(format!("cannot open database {}: {e}", path.display())))?;
    configure(&conn, true)?;
    Ok(conn)
}

/// Creates the layout if missing and checks the format version.
pub(crate) fn migrate(conn: &Connection) -> Result<(), DbError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| -> Result<(), DbError> {
        conn.execute_batch(SCHEMA_SQL)?;
        let version: Option<i64> =
            conn.query_row("SELECT value FROM emvex_meta WHERE key = 'format_version'", [], |r| r.get(0)).optional()?;
        match version {
            None => {
                conn.execute(
                    "INSERT INTO emvex_meta (key, value) VALUES ('format_version', ?1)",
                    params![FORMAT_VERSION],
                )?;
            }
            Some(v) if v == FORMAT_VERSION => {}
            Some(v) => {
                return Err(DbError::new(
                    "UnsupportedFormat",
                    format!("database format version {v} is not supported (this build reads {FORMAT_VERSION})"),
                ));
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            conn.execute_batch("COMMIT")?;
            Ok(())
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

#[cfg(test)]
pub(crate) fn meta_get_i64(conn: &Connection, key: &str) -> Result<Option<i64>, DbError> {
    Ok(conn
        .prepare_cached("SELECT value FROM emvex_meta WHERE key = ?1")?
        .query_row(params![key], |r| r.get::<_, i64>(0))
        .optional()?)
}

/// The commit clock stored in `emvex_meta`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CommittedTimes {
    pub last_commit_ts: u64,
    pub last_creation_time: f64,
    pub schema_epoch: i64,
}

/// Reads the clock in one statement (inside a transaction, this pins the snapshot).
pub(crate) fn read_clock(conn: &Connection) -> Result<CommittedTimes, DbError> {
    let mut clock = CommittedTimes { last_commit_ts: 0, last_creation_time: 0.0, schema_epoch: 0 };
    let mut stmt = conn.prepare_cached(
        "SELECT key, value FROM emvex_meta WHERE key IN ('last_commit_ts', 'last_creation_time', 'schema_epoch')",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let key: String = r.get(0)?;
        match key.as_str() {
            "last_commit_ts" => clock.last_commit_ts = r.get::<_, i64>(1)?.max(0) as u64,
            "last_creation_time" => clock.last_creation_time = r.get(1)?,
            _ => clock.schema_epoch = r.get(1)?,
        }
    }
    Ok(clock)
}

/// Writes the clock in one statement.
pub(crate) fn write_clock(conn: &Connection, clock: &CommittedTimes) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO emvex_meta (key, value) VALUES ('last_commit_ts', ?1), \
         ('last_creation_time', ?2), ('schema_epoch', ?3)",
    )?
    .execute(params![clock.last_commit_ts as i64, clock.last_creation_time, clock.schema_epoch])?;
    Ok(())
}

#[cfg(test)]
pub(crate) fn meta_set(conn: &Connection, key: &str, value: rusqlite::types::Value) -> Result<(), DbError> {
    conn.prepare_cached("INSERT OR REPLACE INTO emvex_meta (key, value) VALUES (?1, ?2)")?
        .execute(params![key, value])?;
    Ok(())
}

/// Baseline for the benchmark: `n` single-row INSERT+COMMITs in a fresh SQLite file at `path`
/// (deleted first if present) with the same pragmas and background checkpointing emvex uses.
/// Returns the elapsed time.
pub fn baseline_single_row_commits(path: &Path, n: usize) -> Result<Duration, DbError> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(&p);
    }
    let conn = open_file(path)?;
    let checkpointer = crate::checkpoint::Checkpointer::start(path)?;
    conn.execute_batch("CREATE TABLE bench (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")?;
    let start = Instant::now();
    for i in 0..n {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        conn.prepare_cached("INSERT INTO bench (k, v) VALUES (?1, ?2)")?
            .execute(params![i as i64, "{\"text\":\"hello\"}"])?;
        conn.execute_batch("COMMIT")?;
        checkpointer.note_commit();
        checkpointer.rewind_if_large(&conn);
    }
    Ok(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_is_idempotent_and_versioned() {
        let conn = Connection::open_in_memory().unwrap();
        configure(&conn, false).unwrap();
        migrate(&conn).unwrap();
        migrate(&conn).unwrap();
        assert_eq!(meta_get_i64(&conn, "format_version").unwrap(), Some(FORMAT_VERSION));
        meta_set(&conn, "format_version", rusqlite::types::Value::Integer(99)).unwrap();
        let e = migrate(&conn).unwrap_err();
        assert_eq!(e.code, "UnsupportedFormat");
    }

    #[test]
    fn clock_roundtrips() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        assert_eq!(
            read_clock(&conn).unwrap(),
            CommittedTimes { last_commit_ts: 0, last_creation_time: 0.0, schema_epoch: 0 }
        );
        let c = CommittedTimes { last_commit_ts: 42, last_creation_time: 1.5, schema_epoch: 3 };
        write_clock(&conn, &c).unwrap();
        assert_eq!(read_clock(&conn).unwrap(), c);
    }

    #[test]
    fn baseline_runs() {
        let dir = std::env::temp_dir().join(format!("emvex-db-baseline-{}", std::process::id()));
        let path = dir.join("bench.sqlite3");
        let d = baseline_single_row_commits(&path, 50).unwrap();
        assert!(d > Duration::ZERO);
        let conn = Connection::open(&path).unwrap();
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM bench", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 50);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
