//! `DbError`: the one error type of the database crate.
//!
//! Every error carries a stable `code` (for tests), the user-facing `message` (Convex's text
//! where Convex has one), optional ConvexError `data` (e.g. `{"isConvexSystemError": true,
//! "paginationError": "InvalidCursor"}`) and its [`ErrorClass`].
//!
//! Invariant: an error is [`ErrorClass::Internal`] exactly when it is a failure of emvex
//! itself — SQLite, I/O, corrupt storage (code `"StorageError"`, made by
//! [`DbError::storage`] and `From<rusqlite::Error>`); every other error is
//! [`ErrorClass::Developer`], caused by the request. Callers decide with
//! [`DbError::is_internal`], never by comparing codes.

pub use emvex_value::ErrorClass;
use emvex_value::ValueError;

/// A database error: stable `code`, human `message`, optional ConvexError `data`, class.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    pub code: &'static str,
    pub message: String,
    pub data: Option<serde_json::Value>,
    pub class: ErrorClass,
}

impl DbError {
    /// A developer error.
    pub fn new(code: &'static str, message: impl Into<String>) -> DbError {
        DbError { code, message: message.into(), data: None, class: ErrorClass::Developer }
    }

    /// A failure of the storage engine itself (I/O, corruption, SQL bug).
    pub fn storage(message: impl Into<String>) -> DbError {
        DbError { code: "StorageError", message: message.into(), data: None, class: ErrorClass::Internal }
    }

    /// Whether this is a failure of emvex itself rather than of the request.
    pub fn is_internal(&self) -> bool {
        self.class == ErrorClass::Internal
    }

    /// The pagination error Convex raises for a cursor minted by a different query.
    pub fn invalid_cursor() -> DbError {
        DbError {
            code: "InvalidCursor",
            message: "InvalidCursor: Tried to run a query starting from a cursor, but it looks like this \
                      cursor is from a different query."
                .to_string(),
            data: Some(serde_json::json!({"isConvexSystemError": true, "paginationError": "InvalidCursor"})),
            class: ErrorClass::Developer,
        }
    }
}

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
        assert!(e.is_internal());
        assert!(!DbError::new("InvalidQuery", "bad").is_internal());
        assert_eq!(e.to_string(), e.message);
    }
}
