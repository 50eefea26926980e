//! Query execution (§3.4–§3.8): the typed [`Query`] and its builder ([`definition`]), the one
//! parser of JavaScript's serialized queries ([`wire`]), filter evaluation ([`filter`]),
//! index ranges ([`index_range`]), streams ([`stream`]: compile, pull), pagination
//! ([`page`], [`cursor`]), `get` and `count` ([`lookup`]), and [`reads`], the door to
//! storage.
//!
//! Invariant: query execution is the one place through which every read of documents and
//! index entries passes — query streams and pages, full scans, index ranges, `get` by id,
//! `count`, system tables, the reads writes make of the document they change and the passes
//! of schema application all end in a method of [`reads::Reads`]. Read sets (the key
//! intervals and ids a transaction read) are recorded there.

pub(crate) mod cursor;
pub(crate) mod definition;
pub(crate) mod filter;
pub(crate) mod index_range;
mod lookup;
pub(crate) mod page;
pub(crate) mod reads;
pub(crate) mod stream;
pub(crate) mod wire;

pub use definition::{ArithOp, CmpOp, Expr, Operator, Order, Query, RangeExpr, Source};
pub use page::{PageRequest, PageResult};

#[cfg(test)]
mod tests;
