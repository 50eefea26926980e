//! The typed query (§3.4–§3.6): a source (a full table scan or an index range with typed
//! range expressions) in an order, then a pipeline of operators (filters and limits), with a
//! small builder for Rust callers:
//!
//! ```
//! use emvex_database::{Expr, Order, Query, RangeExpr};
//! let due = Query::index_range("work", "by_state_runAt", vec![
//!     RangeExpr::eq("state", "pending"),
//!     RangeExpr::lte("runAt", 5.0),
//! ])
//! .limit(10);
//! let old = Query::full_table_scan("work")
//!     .order(Order::Desc)
//!     .filter(Expr::field("_creationTime").lte(Expr::literal(1.0)))
//!     .limit(3);
//! # let _ = (due, old);
//! ```
//!
//! JavaScript's serialized form is parsed into this type in one place,
//! [`Query::from_wire_json`] (module `wire`). A query is not yet bound to a table: whether its
//! table, index and range fit together is checked when it is compiled
//! ([`crate::Transaction::query_stream`]).

use emvex_value::Value;

use crate::document::split_path;
use crate::search::SearchFilter;

/// Scan order of a query's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// One bound of an index range: `field op value` (`None` = undefined).
#[derive(Debug, Clone, PartialEq)]
pub enum RangeExpr {
    Eq(String, Option<Value>),
    Gt(String, Option<Value>),
    Gte(String, Option<Value>),
    Lt(String, Option<Value>),
    Lte(String, Option<Value>),
}

impl RangeExpr {
    /// `field == value`.
    pub fn eq(field: impl Into<String>, value: impl Into<Value>) -> RangeExpr {
        RangeExpr::Eq(field.into(), Some(value.into()))
    }

    /// `field > value`.
    pub fn gt(field: impl Into<String>, value: impl Into<Value>) -> RangeExpr {
        RangeExpr::Gt(field.into(), Some(value.into()))
    }

    /// `field >= value`.
    pub fn gte(field: impl Into<String>, value: impl Into<Value>) -> RangeExpr {
        RangeExpr::Gte(field.into(), Some(value.into()))
    }

    /// `field < value`.
    pub fn lt(field: impl Into<String>, value: impl Into<Value>) -> RangeExpr {
        RangeExpr::Lt(field.into(), Some(value.into()))
    }

    /// `field <= value`.
    pub fn lte(field: impl Into<String>, value: impl Into<Value>) -> RangeExpr {
        RangeExpr::Lte(field.into(), Some(value.into()))
    }
}

/// Where a query's documents come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// All documents of `table` by `_creationTime`.
    FullTableScan { table: String, order: Order },
    /// The documents of `table.index` whose key is in `range`, by index key.
    IndexRange { table: String, index: String, range: Vec<RangeExpr>, order: Order },
    /// The documents of text search index `table.index` matching `filters`, in relevance
    /// order (module `crate::search`).
    Search { table: String, index: String, filters: Vec<SearchFilter> },
}

/// A pipeline step, applied in order to the documents of the source.
#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    /// Keeps the documents for which the expression is `true`.
    Filter(Expr),
    /// Passes at most this many documents.
    Limit(u64),
}

/// A query: a source and its pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub source: Source,
    pub operators: Vec<Operator>,
}

impl Query {
    /// All documents of `table`, oldest first.
    pub fn full_table_scan(table: impl Into<String>) -> Query {
        Query { source: Source::FullTableScan { table: table.into(), order: Order::Asc }, operators: Vec::new() }
    }

    /// The documents of index `table.index` within `range`, in ascending key order.
    pub fn index_range(table: impl Into<String>, index: impl Into<String>, range: Vec<RangeExpr>) -> Query {
        Query {
            source: Source::IndexRange { table: table.into(), index: index.into(), range, order: Order::Asc },
            operators: Vec::new(),
        }
    }

    /// The documents of text search index `table.index` matching `filters` (one
    /// [`SearchFilter::Search`] and any number of [`SearchFilter::Eq`]), most relevant first.
    pub fn search(table: impl Into<String>, index: impl Into<String>, filters: Vec<SearchFilter>) -> Query {
        Query { source: Source::Search { table: table.into(), index: index.into(), filters }, operators: Vec::new() }
    }

    /// Sets the scan order of the source (a search is always in relevance order).
    pub fn order(mut self, order: Order) -> Query {
        match &mut self.source {
            Source::FullTableScan { order: o, .. } | Source::IndexRange { order: o, .. } => *o = order,
            Source::Search { .. } => {}
        }
        self
    }

    /// Appends a filter.
    pub fn filter(mut self, expr: Expr) -> Query {
        self.operators.push(Operator::Filter(expr));
        self
    }

    /// Appends a limit.
    pub fn limit(mut self, n: u64) -> Query {
        self.operators.push(Operator::Limit(n));
        self
    }

    /// The table the query reads.
    pub fn table(&self) -> &str {
        match &self.source {
            Source::FullTableScan { table, .. } | Source::IndexRange { table, .. } | Source::Search { table, .. } => {
                table
            }
        }
    }
}

/// A filter expression (§3.6), evaluated against each document (module `filter`).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// The value at a field path (`["a", "b"]` for `a.b`); undefined when missing.
    Field(Vec<String>),
    /// A constant (`None` = undefined).
    Literal(Option<Value>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// A comparison under Convex's total order of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
}

/// Arithmetic on two numbers of the same type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl Expr {
    /// The field at dotted `path` (`"a.b"`).
    pub fn field(path: &str) -> Expr {
        Expr::Field(split_path(path))
    }

    /// A constant value.
    pub fn literal(value: impl Into<Value>) -> Expr {
        Expr::Literal(Some(value.into()))
    }

    fn cmp(self, op: CmpOp, other: Expr) -> Expr {
        Expr::Cmp(op, Box::new(self), Box::new(other))
    }

    /// `self == other`.
    pub fn eq(self, other: Expr) -> Expr {
        self.cmp(CmpOp::Eq, other)
    }

    /// `self != other`.
    pub fn neq(self, other: Expr) -> Expr {
        self.cmp(CmpOp::Neq, other)
    }

    /// `self < other`.
    pub fn lt(self, other: Expr) -> Expr {
        self.cmp(CmpOp::Lt, other)
    }

    /// `self <= other`.
    pub fn lte(self, other: Expr) -> Expr {
        self.cmp(CmpOp::Lte, other)
    }

    /// `self > other`.
    pub fn gt(self, other: Expr) -> Expr {
        self.cmp(CmpOp::Gt, other)
    }

    /// `self >= other`.
    pub fn gte(self, other: Expr) -> Expr {
        self.cmp(CmpOp::Gte, other)
    }
}
