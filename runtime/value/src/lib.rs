//! `emvex-value`: the Convex value model.
//!
//! Owns everything about Convex values that does not need storage or a JS engine:
//! the [`Value`] type and its total order (§4.3 of `convex-runtime.md`), the Convex JSON
//! encoding (§4.2) and the lossy "clean" export format, the order-preserving index-key
//! encoding ([`sort_key`]), document ids in the v6 format ([`id`]), size and name limits
//! ([`limits`]), argument / schema validators ([`validator`]), and the kinds and visibility of
//! functions ([`function`]).
//!
//! Invariant: every fallible function returns a [`ValueError`] whose `code` is a stable
//! identifier (for tests and error mapping) and whose `message` is the user-facing text,
//! copied from Convex where Convex has one.

#![forbid(unsafe_code)]

mod base64_util;
mod commit_ts;
mod error;
pub mod function;
pub mod id;
pub mod limits;
pub mod sort_key;
#[cfg(test)]
mod test_strategies;
pub mod validator;
mod value;

pub use commit_ts::{contains_commit_ts, resolve_commit_ts};
pub use error::{ErrorClass, ValueError};
pub use value::{Object, Value, compare_maybe, maybe_value_from_convex_json};

/// Standard base64 (with `=` padding), the encoding Convex uses for `$integer`, `$float`
/// and `$bytes`.
pub fn base64_encode(bytes: &[u8]) -> String {
    base64_util::encode(bytes)
}

/// Decode base64 the way the `convex` client does: standard or URL-safe alphabet, length
/// a multiple of 4.
pub fn base64_decode(s: &str) -> Result<Vec<u8>, ValueError> {
    base64_util::decode(s)
}
