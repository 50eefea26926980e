//! Turning a caught panic into the text an internal error shows.
//!
//! Owns: [`panic_text`]. Invariant: it never panics itself, whatever the payload.

/// The message a panic carried (`panic!("…")` with a literal or a formatted string), or
/// "unknown panic".
pub(crate) fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}
