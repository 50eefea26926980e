//! [`CommitLog`]: the write sets of recent commits, in commit order, and the listeners told
//! of each commit (spec `sync-protocol.md` §5.1 "write log", §5.2 G1).
//!
//! Invariants:
//! - entries are appended by the single writer right after its `COMMIT`, before it lets go
//!   of the writer connection, so they are in commit (= ts) order;
//! - the log covers `(covered_after, latest_ts]`: every commit with a ts in that range that
//!   wrote something has its entry here. Mutations that wrote nothing have no entry but
//!   still move `latest_ts` and are told to the listeners (with an empty write set). Entries beyond [`MAX_COMMITS`] or [`MAX_BYTES`] are dropped from
//!   the front, moving `covered_after` up;
//! - a question about commits the log does not cover is answered `None`, never `false`.
//!
//! Commits made by another process on the same file are not seen (their ts is beyond
//! `latest_ts`, so questions about them are answered `None`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};

use crate::{ReadSet, WriteSet};

/// The most commits kept.
pub const MAX_COMMITS: usize = 10_000;
/// The most heap bytes of write sets kept (approximate).
pub const MAX_BYTES: usize = 64 << 20;

/// A commit listener: called with the commit ts and its write set.
pub type CommitListener = Box<dyn Fn(u64, &Arc<WriteSet>) + Send + Sync>;

struct LogState {
    entries: VecDeque<(u64, Arc<WriteSet>)>,
    bytes: usize,
    /// Every commit after this ts is covered.
    covered_after: u64,
    /// The last commit ts (with or without writes).
    latest_ts: u64,
}

/// The recent commits of a database and its commit listeners. `Send + Sync`.
pub struct CommitLog {
    state: Mutex<LogState>,
    listeners: RwLock<Vec<CommitListener>>,
}

impl std::fmt::Debug for CommitLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("CommitLog")
            .field("entries", &s.entries.len())
            .field("covered_after", &s.covered_after)
            .field("latest_ts", &s.latest_ts)
            .finish()
    }
}

impl CommitLog {
    /// An empty log whose last commit is `last_commit_ts` (commits up to it are not covered).
    pub(crate) fn new(last_commit_ts: u64) -> CommitLog {
        CommitLog {
            state: Mutex::new(LogState {
                entries: VecDeque::new(),
                bytes: 0,
                covered_after: last_commit_ts,
                latest_ts: last_commit_ts,
            }),
            listeners: RwLock::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ts of the last mutation commit (0 for a new database).
    pub fn latest_ts(&self) -> u64 {
        self.lock().latest_ts
    }

    /// The number of commits held.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no commit is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether some commit with `after_ts < ts <= up_to_ts` wrote something `read_set`
    /// depends on. `None` when the log does not cover that whole range (older entries were
    /// dropped, or `up_to_ts` is past the last commit appended): the caller must re-run.
    pub fn overlaps_between(&self, read_set: &ReadSet, after_ts: u64, up_to_ts: u64) -> Option<bool> {
        self.first_overlap_between(read_set, after_ts, up_to_ts).map(|first| first.is_some())
    }

    /// The first commit with `after_ts < ts <= up_to_ts` that wrote something `read_set`
    /// depends on (a result read at `after_ts` holds until just before it); `Some(None)` when
    /// there is none, `None` when the log does not cover the range (as for
    /// [`CommitLog::overlaps_between`]).
    pub fn first_overlap_between(&self, read_set: &ReadSet, after_ts: u64, up_to_ts: u64) -> Option<Option<u64>> {
        let s = self.lock();
        if after_ts < s.covered_after || up_to_ts > s.latest_ts {
            return None;
        }
        let start = s.entries.partition_point(|(ts, _)| *ts <= after_ts);
        let mut within = s.entries.range(start..).take_while(|(ts, _)| *ts <= up_to_ts);
        Some(within.find(|(_, w)| read_set.overlaps(w)).map(|(ts, _)| *ts))
    }

    /// The commits with `after_ts < ts <= up_to_ts`, in order; `None` when the log does not
    /// cover that range (see [`CommitLog::overlaps_between`]).
    pub fn commits_between(&self, after_ts: u64, up_to_ts: u64) -> Option<Vec<(u64, Arc<WriteSet>)>> {
        let s = self.lock();
        if after_ts < s.covered_after || up_to_ts > s.latest_ts {
            return None;
        }
        let start = s.entries.partition_point(|(ts, _)| *ts <= after_ts);
        Some(s.entries.range(start..).take_while(|(ts, _)| *ts <= up_to_ts).cloned().collect())
    }

    /// Registers a listener, called on the committing thread after every mutation commit
    /// (with an empty write set when it wrote nothing), in commit order, while that commit still holds the single
    /// writer. It must be cheap and must not block: typically it sends the ts on a channel
    /// or wakes a task. It must never begin a mutation (that would wait for itself).
    pub fn on_commit(&self, listener: CommitListener) {
        self.listeners.write().unwrap_or_else(|e| e.into_inner()).push(listener);
    }

    /// Appends a commit (writer only, right after `COMMIT`) and tells the listeners.
    pub(crate) fn append(&self, ts: u64, mut writes: WriteSet) {
        let entry = {
            let mut s = self.lock();
            s.latest_ts = s.latest_ts.max(ts);
            if writes.is_empty() {
                // Not stored (it can change no result), but listeners still learn the new ts:
                // a query may already have read at it.
                Arc::new(writes)
            } else {
                writes.finish();
                let bytes = writes.heap_bytes() + std::mem::size_of::<WriteSet>();
                let writes = Arc::new(writes);
                s.entries.push_back((ts, writes.clone()));
                s.bytes += bytes;
                while s.entries.len() > MAX_COMMITS || (s.bytes > MAX_BYTES && s.entries.len() > 1) {
                    let (old_ts, old) = s.entries.pop_front().expect("non-empty");
                    s.bytes -= old.heap_bytes() + std::mem::size_of::<WriteSet>();
                    s.covered_after = old_ts;
                }
                writes
            }
        };
        for listener in self.listeners.read().unwrap_or_else(|e| e.into_inner()).iter() {
            listener(ts, &entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::TableInfo;

    fn one_write(tid: i64) -> WriteSet {
        let t = TableInfo { tid, name: format!("t{tid}"), number: 10001, indexes: vec![], search_indexes: vec![] };
        let mut w = WriteSet::default();
        w.record_document("", &t, [1; 16], &[], &[], true);
        w
    }

    fn reads_count(tid: i64) -> ReadSet {
        let mut r = ReadSet::default();
        r.record_count(tid);
        r
    }

    #[test]
    fn answers_within_its_coverage_only() {
        let log = CommitLog::new(10);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        log.on_commit(Box::new(move |ts, _| s2.lock().unwrap().push(ts)));
        log.append(11, one_write(1));
        log.append(12, WriteSet::default());
        log.append(13, one_write(2));
        assert_eq!(*seen.lock().unwrap(), vec![11, 12, 13], "an empty commit is told too");
        assert_eq!(log.latest_ts(), 13);
        assert_eq!(log.len(), 2);
        assert_eq!(log.overlaps_between(&reads_count(1), 10, 13), Some(true));
        assert_eq!(log.overlaps_between(&reads_count(1), 11, 13), Some(false));
        assert_eq!(log.overlaps_between(&reads_count(2), 10, 12), Some(false));
        assert_eq!(log.overlaps_between(&reads_count(2), 12, 13), Some(true));
        assert_eq!(log.overlaps_between(&reads_count(2), 9, 13), None);
        assert_eq!(log.overlaps_between(&reads_count(2), 12, 14), None);
        assert_eq!(log.first_overlap_between(&reads_count(1), 10, 13), Some(Some(11)));
        assert_eq!(log.first_overlap_between(&reads_count(2), 10, 13), Some(Some(13)));
        assert_eq!(log.first_overlap_between(&reads_count(2), 10, 12), Some(None));
        assert_eq!(log.commits_between(10, 13).unwrap().len(), 2);
    }

    #[test]
    fn drops_old_entries_and_stops_covering_them() {
        let log = CommitLog::new(0);
        for ts in 1..=(MAX_COMMITS as u64 + 5) {
            log.append(ts, one_write(1));
        }
        assert_eq!(log.len(), MAX_COMMITS);
        assert_eq!(log.overlaps_between(&reads_count(1), 4, 6), None);
        assert_eq!(log.overlaps_between(&reads_count(1), 5, 6), Some(true));
    }
}
