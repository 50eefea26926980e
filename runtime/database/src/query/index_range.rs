//! Index ranges (§3.5): compiling the range expressions of a query against an index's key
//! fields to a byte interval over `sort_key::encode_tuple` keys.
//!
//! Invariants: every structural error of a range (bounds on fields out of index order, on
//! several fields, defined twice, on fields not in the index) is raised by
//! [`compile_range`], so `queryStream` fails synchronously. A compiled interval is `[lo, hi)`
//! on key bytes (`hi = None` = unbounded) and contains exactly the keys whose tuple satisfies
//! the range under Convex's total order.

use std::collections::BTreeMap;

use emvex_value::{Value, sort_key};

use super::definition::RangeExpr;
use super::filter::show;
use crate::DbError;

/// Renders index fields the way Convex's messages do: `["a", "b", "_creationTime"]` (the
/// trailing `_id` is implicit and not shown, except for `by_id` itself).
pub(crate) fn display_fields(full_fields: &[String]) -> String {
    let shown: &[String] = if full_fields.len() > 1 && full_fields.last().map(String::as_str) == Some("_id") {
        &full_fields[..full_fields.len() - 1]
    } else {
        full_fields
    };
    let quoted: Vec<String> = shown.iter().map(|f| format!("{f:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A byte interval `[lo, hi)` over index keys; `hi = None` is unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyInterval {
    pub lo: Vec<u8>,
    pub hi: Option<Vec<u8>>,
}

impl KeyInterval {
    pub fn all() -> KeyInterval {
        KeyInterval { lo: Vec::new(), hi: None }
    }
}

fn prefix_interval(prefix: Vec<u8>) -> KeyInterval {
    let hi = sort_key::prefix_end(&prefix);
    KeyInterval { lo: prefix, hi }
}

fn encode(values: &[&Option<Value>]) -> Vec<u8> {
    let refs: Vec<Option<&Value>> = values.iter().map(|v| v.as_ref()).collect();
    sort_key::encode_tuple(&refs)
}

/// Compiles an index range (§3.5) against the index's full key fields
/// (`[fields.., "_creationTime", "_id"]`). `index_name` is `table.index` for messages.
pub(crate) fn compile_range(
    index_name: &str,
    full_fields: &[String],
    range: &[RangeExpr],
) -> Result<KeyInterval, DbError> {
    // Split into equalities and one inequality field with lower/upper bounds.
    let mut equalities: BTreeMap<&str, &Option<Value>> = BTreeMap::new();
    let mut ineq_field: Option<&str> = None;
    let mut lower: Option<(&Option<Value>, bool)> = None; // (value, inclusive)
    let mut upper: Option<(&Option<Value>, bool)> = None;
    for expr in range {
        let (field, value, is_upper, inclusive, cmp) = match expr {
            RangeExpr::Eq(f, v) => {
                if let Some(old) = equalities.insert(f.as_str(), v) {
                    return Err(already_defined("equality", f, "==", old.as_ref()));
                }
                continue;
            }
            RangeExpr::Gt(f, v) => (f, v, false, false, ">"),
            RangeExpr::Gte(f, v) => (f, v, false, true, ">="),
            RangeExpr::Lt(f, v) => (f, v, true, false, "<"),
            RangeExpr::Lte(f, v) => (f, v, true, true, "<="),
        };
        let slot = if is_upper { &mut upper } else { &mut lower };
        if slot.is_some() {
            return Err(already_defined(if is_upper { "upper" } else { "lower" }, field, cmp, value.as_ref()));
        }
        if let Some(first) = ineq_field
            && first != field
        {
            return Err(DbError::new(
                "BoundsOnMultipleFields",
                format!(
                    "Upper and lower bounds in `range` can only be applied to a single index field. This query \
                     against index {index_name} attempted to set a range bound on both {first:?} and {field:?}. \
                     Consider using `filter` instead. See https://docs.convex.dev/using/indexes for more info."
                ),
            ));
        }
        ineq_field = Some(field);
        *slot = Some((value, inclusive));
    }
    if let Some(f) = ineq_field
        && let Some(v) = equalities.get(f)
    {
        return Err(already_defined("inequality", f, "==", v.as_ref()));
    }

    // Check the fields used form a prefix of the index key, in key order.
    let rank = |f: &str| full_fields.iter().position(|x| x == f);
    let not_in_index = |f: &str| {
        DbError::new(
            "FieldNotInIndex",
            format!(
                "The index range included a comparison with {f:?}, but {index_name} with fields {} doesn't \
                 index this field. For more information see https://docs.convex.dev/using/indexes.",
                display_fields(full_fields)
            ),
        )
    };
    let mut eqs: Vec<(usize, &str, &Option<Value>)> = Vec::new();
    for (f, v) in &equalities {
        eqs.push((rank(f).ok_or_else(|| not_in_index(f))?, f, v));
    }
    if let Some(f) = ineq_field {
        rank(f).ok_or_else(|| not_in_index(f))?;
    }
    eqs.sort_by_key(|(r, _, _)| *r);
    let used: Vec<&str> = eqs.iter().map(|(_, f, _)| *f).chain(ineq_field).collect();
    for (i, f) in used.iter().enumerate() {
        if full_fields.get(i).map(String::as_str) != Some(*f) {
            let query_fields: Vec<String> = used.iter().map(|f| format!("{f:?}")).collect();
            return Err(DbError::new(
                "InvalidIndexRange",
                format!(
                    "Tried to query index {index_name} but the query didn't use the index fields in order.\n\
                     Index fields: {}\nQuery fields: [{}]\nFirst incorrect field: {f:?}\n\
                     For more information see https://docs.convex.dev/using/indexes.",
                    display_fields(full_fields),
                    query_fields.join(", ")
                ),
            ));
        }
    }

    let prefix_values: Vec<&Option<Value>> = eqs.iter().map(|(_, _, v)| *v).collect();
    let prefix = encode(&prefix_values);
    if ineq_field.is_none() {
        return Ok(prefix_interval(prefix));
    }
    let with = |v: &Option<Value>| {
        let mut vals = prefix_values.clone();
        vals.push(v);
        encode(&vals)
    };
    let lo = match lower {
        None => prefix.clone(),
        Some((v, true)) => with(v),
        Some((v, false)) => match sort_key::prefix_end(&with(v)) {
            Some(k) => k,
            // Nothing sorts after this bound: the interval is empty.
            None => {
                return Ok(KeyInterval { lo: vec![0xff; 1], hi: Some(vec![0xff; 1]) });
            }
        },
    };
    let hi = match upper {
        None => sort_key::prefix_end(&prefix),
        Some((v, true)) => sort_key::prefix_end(&with(v)),
        Some((v, false)) => Some(with(v)),
    };
    Ok(KeyInterval { lo, hi })
}

fn already_defined(kind: &str, field: &str, cmp: &str, value: Option<&Value>) -> DbError {
    DbError::new(
        "AlreadyDefinedBound",
        format!("Already defined {kind} bound in index range. Can't add {field:?} {cmp} {}.", show(value)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(f: &[&str]) -> Vec<String> {
        f.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn range_errors() {
        let ff = fields(&["a", "b", "_creationTime", "_id"]);
        let eq = |f: &str, n: f64| RangeExpr::Eq(f.into(), Some(Value::Float64(n)));
        let e = compile_range("t.by_ab", &ff, &[eq("b", 1.0)]).unwrap_err();
        assert_eq!(e.code, "InvalidIndexRange");
        assert!(
            e.message.contains(
                "Index fields: [\"a\", \"b\", \"_creationTime\"]\nQuery fields: [\"b\"]\nFirst incorrect field: \"b\""
            ),
            "{}",
            e.message
        );
        let e = compile_range("t.by_ab", &ff, &[eq("c", 1.0)]).unwrap_err();
        assert_eq!(e.code, "FieldNotInIndex");
        let e = compile_range("t.by_ab", &ff, &[eq("a", 1.0), eq("a", 2.0)]).unwrap_err();
        assert_eq!(e.code, "AlreadyDefinedBound");
        // Like Convex, the message shows the value that was already defined.
        assert!(e.message.contains("Can't add \"a\" == 1.0."), "{}", e.message);
        let gt = |f: &str, n: f64| RangeExpr::Gt(f.into(), Some(Value::Float64(n)));
        let e = compile_range("t.by_ab", &ff, &[gt("a", 1.0), RangeExpr::Gte("a".into(), Some(Value::Float64(2.0)))])
            .unwrap_err();
        assert!(e.message.starts_with("Already defined lower bound"), "{}", e.message);
        let e = compile_range("t.by_ab", &ff, &[gt("a", 1.0), RangeExpr::Lt("b".into(), Some(Value::Float64(2.0)))])
            .unwrap_err();
        assert_eq!(e.code, "BoundsOnMultipleFields");
        let e = compile_range("t.by_ab", &ff, &[eq("a", 1.0), gt("a", 0.0)]).unwrap_err();
        assert_eq!(e.code, "AlreadyDefinedBound");
        // a valid one, with _creationTime and _id usable after the fields
        compile_range("t.by_ab", &ff, &[eq("a", 1.0), eq("b", 2.0), gt("_creationTime", 0.0)]).unwrap();
        assert_eq!(compile_range("t.by_ab", &ff, &[]).unwrap(), KeyInterval::all());
    }
}
