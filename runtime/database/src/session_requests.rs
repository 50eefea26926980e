//! Exactly-once WebSocket mutations (`spec/sync-protocol.md` §3.6): the outcome of every
//! mutation a client session sent, keyed by `(sessionId, requestId)`.
//!
//! A client re-sends every unresolved mutation with the same ids after a reconnect, including
//! ones that already committed. So a mutation transaction first looks its ids up
//! ([`Transaction::completed_request`]); when the mutation succeeds, its outcome is recorded
//! ([`Transaction::record_request`]) and written by `commit` in the same SQLite transaction as
//! the mutation's own writes, with the commit timestamp. Both commit or neither does, across
//! `kill -9` too.
//!
//! Invariants: a record exists only for a committed mutation and holds its commit ts; records
//! older than [`RETENTION_MS`] are deleted when the database opens (Convex keeps them two
//! weeks).

use rusqlite::{Connection, OptionalExtension, params};

use crate::{DbError, Transaction};

/// How long outcomes are kept: two weeks, as Convex.
pub const RETENTION_MS: f64 = 14.0 * 24.0 * 3600.0 * 1000.0;

/// Identifies one mutation of one client session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionRequest {
    pub session_id: String,
    pub request_id: u32,
}

/// The recorded outcome of a committed mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedRequest {
    /// What the caller stored (emvex stores the result and log lines as JSON text).
    pub outcome: String,
    /// The mutation's commit timestamp.
    pub commit_ts: u64,
}

/// A record waiting for its transaction's commit timestamp.
pub(crate) struct PendingRecord {
    request: SessionRequest,
    outcome: String,
}

impl Transaction {
    /// The outcome of `request` if a mutation with these ids already committed.
    pub fn completed_request(&self, request: &SessionRequest) -> Result<Option<CompletedRequest>, DbError> {
        let row: Option<(String, i64)> = self
            .conn()
            .prepare_cached(
                "SELECT outcome, commit_ts FROM emvex_session_requests WHERE session_id = ?1 AND request_id = ?2",
            )?
            .query_row(params![request.session_id, request.request_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.map(|(outcome, ts)| CompletedRequest { outcome, commit_ts: ts as u64 }))
    }

    /// Records `outcome` for `request`, written when (and only if) this transaction commits.
    pub fn record_request(&mut self, request: SessionRequest, outcome: String) -> Result<(), DbError> {
        self.check_writable()?;
        self.pending_request = Some(PendingRecord { request, outcome });
        Ok(())
    }

    /// Writes the pending record with the commit timestamp (called by `commit`, before COMMIT).
    pub(crate) fn write_pending_request(&mut self, commit_ts: u64) -> Result<(), DbError> {
        let Some(record) = self.pending_request.take() else {
            return Ok(());
        };
        let created_ms = self.clock().now_ms();
        self.conn()
            .prepare_cached(
                "INSERT OR REPLACE INTO emvex_session_requests \
                 (session_id, request_id, outcome, commit_ts, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                record.request.session_id,
                record.request.request_id,
                record.outcome,
                commit_ts as i64,
                created_ms
            ])?;
        Ok(())
    }
}

/// Deletes records created before `cutoff_ms`.
pub(crate) fn forget_before(conn: &Connection, cutoff_ms: f64) -> Result<(), DbError> {
    conn.execute("DELETE FROM emvex_session_requests WHERE created_ms < ?1", params![cutoff_ms])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Database;

    fn request(id: u32) -> SessionRequest {
        SessionRequest { session_id: "session-a".into(), request_id: id }
    }

    #[test]
    fn a_recorded_outcome_commits_with_the_mutation_and_keeps_its_ts() {
        let db = Database::open_in_memory().unwrap();
        let mut tx = db.begin_mutation().unwrap();
        assert_eq!(tx.completed_request(&request(1)).unwrap(), None);
        tx.insert("", "rows", Default::default()).unwrap();
        tx.record_request(request(1), "{\"result\":1}".into()).unwrap();
        let ts = tx.commit().unwrap();
        let tx = db.begin_mutation().unwrap();
        let done = tx.completed_request(&request(1)).unwrap().unwrap();
        assert_eq!(done, CompletedRequest { outcome: "{\"result\":1}".into(), commit_ts: ts });
        assert_eq!(tx.completed_request(&request(2)).unwrap(), None);
        let other = SessionRequest { session_id: "session-b".into(), request_id: 1 };
        assert_eq!(tx.completed_request(&other).unwrap(), None);
    }

    #[test]
    fn a_rolled_back_mutation_leaves_no_record() {
        let db = Database::open_in_memory().unwrap();
        let mut tx = db.begin_mutation().unwrap();
        tx.record_request(request(7), "x".into()).unwrap();
        drop(tx);
        assert_eq!(db.begin_mutation().unwrap().completed_request(&request(7)).unwrap(), None);
    }

    #[test]
    fn queries_cannot_record() {
        let db = Database::open_in_memory().unwrap();
        let mut tx = db.begin_query().unwrap();
        assert_eq!(tx.record_request(request(1), "x".into()).unwrap_err().code, "ReadOnlyTransaction");
    }

    #[test]
    fn old_records_are_forgotten() {
        let db = Database::open_in_memory().unwrap();
        let mut tx = db.begin_mutation().unwrap();
        tx.record_request(request(1), "x".into()).unwrap();
        tx.commit().unwrap();
        let tx = db.begin_mutation().unwrap();
        forget_before(tx.conn(), f64::MAX).unwrap();
        assert_eq!(tx.completed_request(&request(1)).unwrap(), None);
    }
}
