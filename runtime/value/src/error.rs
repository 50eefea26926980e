//! The error type shared by the whole crate: a stable machine-readable `code` plus the
//! human message (Convex's text where Convex has one). `Display` prints the message only.

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
