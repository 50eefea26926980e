//! Transaction limits (§6.5) and the counters behind `getTransactionMetrics`.
//!
//! Invariant: a counter is incremented before it is checked, so the error is raised by the
//! read, query or write that passes a limit, and `metrics()` afterwards shows the count that
//! passed it. Writes to system tables (names starting with `_`) are not counted.

use crate::DbError;

pub const MAX_DOCUMENTS_READ: u64 = 32_000;
pub const MAX_BYTES_READ: u64 = 1 << 24;
pub const MAX_DATABASE_QUERIES: u64 = 4096;
pub const MAX_DOCUMENTS_WRITTEN: u64 = 16_000;
pub const MAX_BYTES_WRITTEN: u64 = 1 << 24;

/// Counters behind `getTransactionMetrics` and the §6.5 limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransactionMetrics {
    pub documents_read: u64,
    pub bytes_read: u64,
    pub database_queries: u64,
    pub documents_written: u64,
    pub bytes_written: u64,
}

/// Fails with `code` and the message `message()` when `used` passed `max`.
fn check_limit<T: PartialOrd>(
    used: T,
    max: T,
    code: &'static str,
    message: impl FnOnce() -> String,
) -> Result<(), DbError> {
    if used > max { Err(DbError::new(code, message())) } else { Ok(()) }
}

impl TransactionMetrics {
    /// Counts one query, `get` or `count` (one index interval in Convex's terms).
    pub(crate) fn count_query(&mut self) -> Result<(), DbError> {
        self.database_queries += 1;
        check_limit(self.database_queries, MAX_DATABASE_QUERIES, "TooManyReads", || {
            format!("Too many reads in a single function execution (limit: {MAX_DATABASE_QUERIES}).")
        })
    }

    /// Counts one document of `bytes` read.
    pub(crate) fn count_read(&mut self, bytes: u64) -> Result<(), DbError> {
        self.documents_read += 1;
        self.bytes_read += bytes;
        check_limit(self.documents_read, MAX_DOCUMENTS_READ, "TooManyDocumentsRead", || {
            format!("Too many documents read in a single function execution (limit: {MAX_DOCUMENTS_READ}).")
        })?;
        check_limit(self.bytes_read, MAX_BYTES_READ, "TooManyBytesRead", || {
            format!("Too many bytes read in a single function execution (limit: {MAX_BYTES_READ} bytes).")
        })
    }

    /// Counts a write of `bytes` to a user document; `first_write` is whether this
    /// transaction had not written that document before.
    pub(crate) fn count_write(&mut self, first_write: bool, bytes: u64) -> Result<(), DbError> {
        if first_write {
            self.documents_written += 1;
        }
        self.bytes_written += bytes;
        check_limit(self.documents_written, MAX_DOCUMENTS_WRITTEN, "TooManyWrites", || {
            format!(
                "Too many writes in a single function execution (limit: {MAX_DOCUMENTS_WRITTEN}). Consider \
                         using smaller limits in your queries, paginating over results, or splitting the work \
                         across multiple mutations."
            )
        })?;
        check_limit(self.bytes_written, MAX_BYTES_WRITTEN, "TooManyBytesWritten", || {
            format!("Too many bytes written in a single function execution (limit: {MAX_BYTES_WRITTEN} bytes).")
        })
    }
}
