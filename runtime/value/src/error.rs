//! The error type shared by the whole crate: a stable machine-readable `code` plus the
//! human message (Convex's text where Convex has one). `Display` prints the message only.
//! Also [`ErrorClass`], the one "developer or internal" distinction every layer's errors use.

use std::fmt;

/// An error about a value, an id, a name or a limit.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueError {
    /// Stable identifier, e.g. `"InvalidFieldName"`, `"ValueTooLarge"`, `"InvalidId"`.
    pub code: &'static str,
    /// User-facing message.
    pub message: String,
}

impl ValueError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ValueError { code, message: message.into() }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ValueError {}

/// Whom an error is for, the same in every layer (syscall host errors, native component
/// errors, function failures, call errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The app's code or input is wrong (bad arguments, a thrown error, a broken rule): the
    /// calling function can catch it, the client sees it as the function's error.
    Developer,
    /// emvex itself failed (storage, engine): it ends the running query or mutation, and a
    /// client sees a server error.
    Internal,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_message() {
        let e = ValueError::new("X", "hello");
        assert_eq!(e.to_string(), "hello");
        assert_eq!(e.code, "X");
    }
}
