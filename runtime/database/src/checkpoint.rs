//! Background WAL checkpointing.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the threshold, and it
//! fsyncs the database file there, so every few hundred mutations one of them pays for
//! copying the whole WAL back. emvex turns automatic checkpoints off on its connections and
//! runs a `PASSIVE` checkpoint from this thread instead: after every [`COMMITS_PER_CHECKPOINT`]
//! commits (so the WAL stays small and SQLite rewinds it instead of growing the file) and at
//! least every [`CHECKPOINT_INTERVAL`]. Past [`MAX_WAL_FRAMES`] the writer finishes the job and
//! rewinds the WAL, so the file stays bounded under a steady load. Durability is unchanged: with `synchronous=NORMAL` in
//! WAL mode a commit is safe against a process crash as soon as it is in the WAL; the
//! checkpoint only moves pages into the main file.
//!
//! Invariants: the thread has its own connection and never holds the writer; it stops (and
//! its connection closes) when the `Checkpointer` is dropped.

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::DbError;

/// The longest time between checkpoints.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);
/// Commits after which the checkpoint thread is woken early (a few MiB of WAL at most).
const COMMITS_PER_CHECKPOINT: u32 = 100;

/// WAL size (in pages) above which the writer rewinds the WAL after its commit.
const MAX_WAL_FRAMES: i64 = 4096;

/// What the checkpoint thread waits on: a stop flag, and whether a checkpoint is due.
#[derive(Default)]
struct Signal {
    stopped: bool,
    due: bool,
}

/// Owns the checkpoint thread of one database file.
pub(crate) struct Checkpointer {
    signal: Arc<(Mutex<Signal>, Condvar)>,
    commits: AtomicU32,
    /// WAL size in pages as last seen by the thread's checkpoint.
    wal_frames: Arc<AtomicI64>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing `path` in the background.
    pub(crate) fn start(path: &Path) -> Result<Checkpointer, DbError> {
        let conn = crate::storage::open_file(path)?;
        let signal = Arc::new((Mutex::new(Signal::default()), Condvar::new()));
        let thread_signal = signal.clone();
        let wal_frames = Arc::new(AtomicI64::new(0));
        let thread_frames = wal_frames.clone();
        let thread = std::thread::Builder::new()
            .name("emvex-checkpoint".into())
            .spawn(move || run(conn, &thread_signal, &thread_frames))
            .map_err(|e| DbError::storage(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { signal, commits: AtomicU32::new(0), wal_frames, thread: Some(thread) })
    }

    /// Called by the writer after a commit, on its own connection (outside any transaction).
    /// A PASSIVE checkpoint never catches up with a steady stream of commits, and SQLite only
    /// rewinds the WAL once one has; so when the WAL has grown past [`MAX_WAL_FRAMES`] the
    /// writer itself copies the (small) remainder and rewinds it, keeping the file bounded.
    /// It does not wait for readers on older snapshots: if one is in the way, it tries again
    /// after a later commit.
    pub(crate) fn rewind_if_large(&self, writer: &Connection) {
        if self.wal_frames.load(Ordering::Relaxed) <= MAX_WAL_FRAMES {
            return;
        }
        let _ = writer.busy_timeout(Duration::ZERO);
        let busy = writer.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
        let _ = writer.busy_timeout(crate::storage::BUSY_TIMEOUT);
        if matches!(busy, Ok(0)) {
            self.wal_frames.store(0, Ordering::Relaxed);
        }
    }

    /// Counts a commit; every [`COMMITS_PER_CHECKPOINT`] commits wakes the thread.
    pub(crate) fn note_commit(&self) {
        if self.commits.fetch_add(1, Ordering::Relaxed) + 1 >= COMMITS_PER_CHECKPOINT {
            self.commits.store(0, Ordering::Relaxed);
            let (lock, wake) = &*self.signal;
            lock.lock().unwrap_or_else(|e| e.into_inner()).due = true;
            wake.notify_one();
        }
    }
}

fn run(conn: Connection, signal: &(Mutex<Signal>, Condvar), wal_frames: &AtomicI64) {
    let (lock, wake) = signal;
    let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if !state.due && !state.stopped {
            state = wake.wait_timeout(state, CHECKPOINT_INTERVAL).unwrap_or_else(|e| e.into_inner()).0;
        }
        if state.stopped {
            return;
        }
        state.due = false;
        drop(state);
        // PASSIVE never blocks the writer or readers; it reports the WAL's size in pages.
        if let Ok(frames) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
            wal_frames.store(frames, Ordering::Relaxed);
        }
        state = lock.lock().unwrap_or_else(|e| e.into_inner());
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (lock, wake) = &*self.signal;
        lock.lock().unwrap_or_else(|e| e.into_inner()).stopped = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpointer without its thread, so only the writer's rewinds touch the WAL.
    fn idle_checkpointer() -> Checkpointer {
        Checkpointer {
            signal: Arc::new((Mutex::new(Signal::default()), Condvar::new())),
            commits: AtomicU32::new(0),
            wal_frames: Arc::new(AtomicI64::new(0)),
            thread: None,
        }
    }

    /// Writes `n` commits of ~3 KB each, calling `rewind_if_large` after each as the writer
    /// does, with the WAL size reported as `reported_frames`; returns the WAL file's size.
    fn wal_size_after(dir: &Path, n: i64, reported_frames: i64) -> u64 {
        let path = dir.join(format!("db-{reported_frames}.sqlite3"));
        let conn = crate::storage::open_file(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)").unwrap();
        let checkpointer = idle_checkpointer();
        for i in 0..n {
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            conn.execute("INSERT INTO t (k, v) VALUES (?1, randomblob(3000))", [i]).unwrap();
            conn.execute_batch("COMMIT").unwrap();
            checkpointer.wal_frames.store(reported_frames, Ordering::Relaxed);
            checkpointer.rewind_if_large(&conn);
        }
        let rows: i64 = conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, n, "every commit is kept");
        std::fs::metadata(dir.join(format!("db-{reported_frames}.sqlite3-wal"))).unwrap().len()
    }

    #[test]
    fn the_writer_rewinds_the_wal_only_when_it_is_large() {
        let dir = std::env::temp_dir().join(format!("emvex-ckpt-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // At the bound nothing is checkpointed: the WAL holds all 300 commits (> 300 pages).
        let kept = wal_size_after(&dir, 300, MAX_WAL_FRAMES);
        assert!(kept > 300 * 4096, "WAL of {kept} bytes");
        // Above it every commit is checkpointed and the WAL rewound: it stays a few pages.
        let rewound = wal_size_after(&dir, 300, MAX_WAL_FRAMES + 1);
        assert!(rewound < 20 * 4096, "WAL of {rewound} bytes");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
