//! The pool's tables in its instance's namespace: the `globals` singleton (`maxParallelism`,
//! `logLevel`) and the `work` rows, with the index queries the pool runs.
//!
//! A `work` row is `{fnType, fnHandle, fnName, fnArgs, attempts, state, runAt, onComplete?,
//! retryBehavior?, canceled?}`: `attempts` counts finished attempts, `state` is `pending`
//! (waiting for its `runAt` and a slot), `canceling` (a cancel of pending work, to be finished
//! as `canceled` by the next drive) or `running` (an action attempt in flight). A finished item
//! has no row, as upstream.
//!
//! Invariants: `globals` has at most one row; `maxParallelism` stored there is a whole number
//! in 0..=200 (checked before any write, so a bad value never wedges the pool).

use std::collections::BTreeMap;

use emvex_database::{Document, Expr, Order, Query, RangeExpr};
use emvex_value::id::DocumentId;
use emvex_value::{Object, Value};

use crate::{InstanceTx, NativeError};

pub const WORK: &str = "work";
pub const GLOBALS: &str = "globals";
pub const BY_STATE: &str = "by_state_runAt";

pub const DEFAULT_MAX_PARALLELISM: f64 = 10.0;
pub const MAX_PARALLELISM: f64 = 200.0;
pub const SOFT_MAX_PARALLELISM: f64 = 100.0;
pub const DEFAULT_LOG_LEVEL: &str = "REPORT";

/// Log levels in increasing severity.
pub const LOG_LEVELS: [&str; 6] = ["DEBUG", "TRACE", "INFO", "REPORT", "WARN", "ERROR"];

/// Whether a message at `level` is printed when the pool is configured at `configured`.
pub fn should_log(configured: &str, level: &str) -> bool {
    let rank = |l: &str| LOG_LEVELS.iter().position(|x| *x == l).unwrap_or(3);
    rank(configured) <= rank(level)
}

/// The pool's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Globals {
    pub id: Option<DocumentId>,
    pub max_parallelism: f64,
    pub log_level: String,
}

/// The `globals` row, or the defaults when the pool was never configured.
pub fn globals(db: &mut InstanceTx<'_>) -> Result<Globals, NativeError> {
    let rows = db.collect(&scan(GLOBALS, 1))?;
    Ok(match rows.first() {
        Some(doc) => Globals {
            id: Some(doc.id),
            max_parallelism: number(&doc.body, "maxParallelism").unwrap_or(DEFAULT_MAX_PARALLELISM),
            log_level: string(&doc.body, "logLevel").unwrap_or(DEFAULT_LOG_LEVEL).to_string(),
        },
        None => Globals { id: None, max_parallelism: DEFAULT_MAX_PARALLELISM, log_level: DEFAULT_LOG_LEVEL.into() },
    })
}

/// Checks a `maxParallelism` before it is stored. Upstream accepts fractions and NaN and then
/// wedges its loop; emvex rejects them.
pub fn check_max_parallelism(n: f64) -> Result<(), NativeError> {
    if n.is_nan() || n.fract() != 0.0 {
        return Err(NativeError::developer(format!("maxParallelism must be a whole number, got {n}")));
    }
    if n > MAX_PARALLELISM {
        return Err(NativeError::developer("maxParallelism must be <= 200"));
    }
    if n < 0.0 {
        return Err(NativeError::developer("maxParallelism must be >= 0"));
    }
    Ok(())
}

/// Merges `maxParallelism`/`logLevel` (either may be absent) into `globals`, creating it with
/// the defaults first; writes only when something changes. Returns the new globals and
/// whether `maxParallelism` went up.
pub fn update_globals(
    db: &mut InstanceTx<'_>,
    max_parallelism: Option<f64>,
    log_level: Option<&str>,
) -> Result<(Globals, bool), NativeError> {
    if let Some(n) = max_parallelism {
        check_max_parallelism(n)?;
    }
    let old = globals(db)?;
    let new = Globals {
        id: old.id,
        max_parallelism: max_parallelism.unwrap_or(old.max_parallelism),
        log_level: log_level.map(str::to_string).unwrap_or_else(|| old.log_level.clone()),
    };
    let raised = new.max_parallelism > old.max_parallelism;
    if old.id.is_some() && new == old {
        return Ok((new, false));
    }
    let mut body = Object::new();
    body.insert("maxParallelism".into(), Value::Float64(new.max_parallelism));
    body.insert("logLevel".into(), Value::String(new.log_level.clone()));
    let id = match old.id {
        Some(id) => {
            db.replace(&id, body)?;
            id
        }
        None => db.insert(GLOBALS, body)?,
    };
    Ok((Globals { id: Some(id), ..new }, raised))
}

/// A full scan of `table`, at most `limit` rows.
pub fn scan(table: &str, limit: usize) -> Query {
    Query::full_table_scan(table).limit(limit as u64)
}

/// A bound on the `runAt` of work rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RunAt {
    /// Due by this time (`runAt <= t`).
    AtMost(f64),
    /// Due after this time (`runAt > t`).
    After(f64),
}

/// `work` rows in `state`, by `runAt` (then creation time), optionally only those within
/// `bound`.
pub fn work_in_state(state: &str, bound: Option<RunAt>, limit: usize) -> Query {
    let mut range = vec![RangeExpr::eq("state", state)];
    match bound {
        Some(RunAt::AtMost(at)) => range.push(RangeExpr::lte("runAt", at)),
        Some(RunAt::After(at)) => range.push(RangeExpr::gt("runAt", at)),
        None => {}
    }
    Query::index_range(WORK, BY_STATE, range).limit(limit as u64)
}

/// The newest `limit` work rows created at or before `before`, newest first.
pub fn work_created_before(before: f64, limit: usize) -> Query {
    Query::full_table_scan(WORK)
        .order(Order::Desc)
        .filter(Expr::field("_creationTime").lte(Expr::literal(before)))
        .limit(limit as u64)
}

/// A work item as stored.
#[derive(Clone, Debug)]
pub struct Work {
    pub id: DocumentId,
    pub creation_time: f64,
    pub body: Object,
}

impl Work {
    pub fn from_doc(doc: Document) -> Work {
        Work { id: doc.id, creation_time: doc.creation_time, body: doc.body }
    }

    pub fn fn_type(&self) -> &str {
        string(&self.body, "fnType").unwrap_or("action")
    }

    pub fn fn_name(&self) -> &str {
        string(&self.body, "fnName").unwrap_or("")
    }

    pub fn fn_handle(&self) -> &str {
        string(&self.body, "fnHandle").unwrap_or("")
    }

    pub fn fn_args(&self) -> Value {
        self.body.get("fnArgs").cloned().unwrap_or(Value::Object(Object::new()))
    }

    pub fn attempts(&self) -> f64 {
        number(&self.body, "attempts").unwrap_or(0.0)
    }

    pub fn state(&self) -> &str {
        string(&self.body, "state").unwrap_or("pending")
    }

    pub fn canceled(&self) -> bool {
        matches!(self.body.get("canceled"), Some(Value::Boolean(true)))
    }

    pub fn on_complete(&self) -> Option<&Object> {
        self.body.get("onComplete").and_then(Value::as_object)
    }

    pub fn retry_behavior(&self) -> Option<&Object> {
        self.body.get("retryBehavior").and_then(Value::as_object)
    }
}

/// Loads a work row.
pub fn load_work(db: &mut InstanceTx<'_>, id: &DocumentId) -> Result<Option<Work>, NativeError> {
    Ok(db.get(id)?.filter(|d| d.table == WORK).map(Work::from_doc))
}

/// Patches a work row (`None` removes a field).
pub fn patch_work(
    db: &mut InstanceTx<'_>,
    id: &DocumentId,
    fields: Vec<(&str, Option<Value>)>,
) -> Result<(), NativeError> {
    let patch: BTreeMap<String, Option<Value>> = fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    db.patch(id, patch)?;
    Ok(())
}

pub fn number(o: &Object, key: &str) -> Option<f64> {
    match o.get(key) {
        Some(Value::Float64(n)) => Some(*n),
        Some(Value::Int64(n)) => Some(*n as f64),
        _ => None,
    }
}

pub fn string<'o>(o: &'o Object, key: &str) -> Option<&'o str> {
    o.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_like_upstream() {
        assert!(!should_log("INFO", "DEBUG"));
        assert!(should_log("INFO", "WARN"));
        assert!(should_log("INFO", "INFO"));
        assert!(should_log("REPORT", "ERROR"));
        assert!(!should_log("ERROR", "REPORT"));
    }

    #[test]
    fn max_parallelism_is_checked() {
        assert!(check_max_parallelism(0.0).is_ok());
        assert!(check_max_parallelism(200.0).is_ok());
        let text = |n: f64| match check_max_parallelism(n) {
            Err(NativeError::Developer { message, .. }) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(text(201.0), "maxParallelism must be <= 200");
        assert_eq!(text(-1.0), "maxParallelism must be >= 0");
        assert!(text(1.5).contains("whole number"));
        assert!(text(f64::NAN).contains("whole number"));
    }
}
