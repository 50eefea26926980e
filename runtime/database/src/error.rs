//! `DbError`: the one error type of the database crate.
//!
//! Every error carries a stable `code` (for tests and for mapping by the executor), the
//! user-facing `message` (Convex's text where Convex has one) and optional ConvexError `data`
//! (e.g. `{"isConvexSystemError": true, "paginationError": "InvalidCursor"}`).
//! Code `"StorageError"` is reserved for failures of SQLite itself; every other code is a
//! developer error caused by the request.

use std::fmt;

use emvex_value::ValueError;

/// A database error: stable `code`, human `message`, optional ConvexError `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct DbError {
    pub code: &'static str,
    pub message: String,
    pub data: Option<serde_json::Value>,
}

impl DbError {
    pub fn new(code: &'static str, message: impl Into<String>) -> DbError {
        DbError { code, message: message.into(), data: None }
    }

    /// A failure of the storage engine itself (I/O, corruption, SQL bug).
    pub fn storage(message: impl Into<String>) -> DbError {
        DbError::new("StorageError", message)
    }

    /// The pagination error Convex raises for a cursor minted by a different query.
    pub fn invalid_cursor() -> DbError {
        DbError {
            code: "InvalidCursor",
            message: "InvalidCursor: Tried to run a query starting from a cursor, but it looks like this \
                      cursor is from a different query."
                .to_string(),
            data: Some(serde_json::json!({"isConvexSystemError": true, "paginationError": "InvalidCursor"})),
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        DbError::storage(format!("SQLite error: {e}"))
    }
}

impl From<ValueError> for DbError {
    fn from(e: ValueError) -> DbError {
        DbError::new(e.code, e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_cursor_has_pagination_data() {
        let e = DbError::invalid_cursor();
        assert_eq!(e.code, "InvalidCursor");
        assert!(e.message.starts_with("InvalidCursor: Tried to run a query starting from a cursor"));
        assert_eq!(e.data.unwrap()["paginationError"], "InvalidCursor");
    }

    #[test]
    fn sqlite_errors_are_storage_errors() {
        let e: DbError = rusqlite::Error::InvalidQuery.into();
        assert_eq!(e.code, "StorageError");
    }
}
