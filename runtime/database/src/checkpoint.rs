//! Background WAL checkpointing.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the threshold, and it
//! fsyncs the database file there, so every few hundred mutations one of them pays for
//! copying the whole WAL back. emvex turns automatic checkpoints off on its connections and
//! runs a `PASSIVE` checkpoint from this thread instead, a few times a second. Durability is
//! unchanged: with `synchronous=NORMAL` in WAL mode a commit is safe against a process crash
//! as soon as it is in the WAL; the checkpoint only moves pages into the main file.
//!
//! Invariants: the thread has its own connection and never holds the writer; it stops (and
//! its connection closes) when the `Checkpointer` is dropped.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::DbError;

/// How often the WAL is checkpointed.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// Owns the checkpoint thread of one database file.
pub(crate) struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing `path` in the background.
    pub(crate) fn start(path: &Path) -> Result<Checkpointer, DbError> {
        let conn = crate::storage::open_file(path)?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("emvex-checkpoint".into())
            .spawn(move || run(conn, &thread_stop))
            .map_err(|e| DbError::storage(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { stop, thread: Some(thread) })
    }
}

fn run(conn: Connection, stop: &(Mutex<bool>, Condvar)) {
    let (lock, wake) = stop;
    let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let (guard, _) = wake
            .wait_timeout(stopped, CHECKPOINT_INTERVAL)
            .unwrap_or_else(|e| e.into_inner());
        stopped = guard;
        if *stopped {
            return;
        }
        // PASSIVE never blocks the writer or readers; a busy result just means "next time".
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
