//! The query language (§3.4–§3.6) independent of storage: parsing the query JSON built by the
//! `convex` package, filter expressions and their evaluation, compiling an index range to a
//! byte interval over `sort_key::encode_tuple` keys, pagination cursors and query fingerprints.
//!
//! Invariants: every structural error of a query is raised by [`parse_query`] or
//! [`compile_range`] (so `queryStream` fails synchronously); evaluation can only fail with
//! `EvalError`. A compiled interval is `[lo, hi)` on key bytes (`hi = None` = unbounded) and
//! contains exactly the keys whose tuple satisfies the range under Convex's total order.

use std::collections::BTreeMap;

use base64::Engine as _;
use emvex_value::{Object, Value, maybe_value_from_convex_json, sort_key};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::DbError;

/// Maximum number of operators in one query (Convex's limit).
pub const MAX_OPERATORS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Asc,
    Desc,
}

#[derive(Debug, Clone)]
pub(crate) enum RangeExpr {
    Eq(String, Option<Value>),
    Gt(String, Option<Value>),
    Gte(String, Option<Value>),
    Lt(String, Option<Value>),
    Lte(String, Option<Value>),
}

#[derive(Debug, Clone)]
pub(crate) enum Source {
    FullTableScan { table: String, order: Order },
    IndexRange { table: String, index: String, range: Vec<RangeExpr>, order: Order },
}

#[derive(Debug, Clone)]
pub(crate) enum Operator {
    Filter(Expr),
    Limit(u64),
}

/// A parsed query (not yet bound to a table).
#[derive(Debug, Clone)]
pub(crate) struct ParsedQuery {
    pub source: Source,
    pub operators: Vec<Operator>,
    /// Canonical JSON text of the query (sorted keys, normalised order), for fingerprints.
    pub canonical: String,
}

/// A filter expression (§3.6).
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Field(Vec<String>),
    Literal(Option<Value>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum CmpOp {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

fn bad_query(message: impl Into<String>) -> DbError {
    DbError::new("InvalidQuery", message)
}

fn eval_error(message: String) -> DbError {
    DbError::new("EvalError", message)
}

/// Splits a dotted field path.
pub(crate) fn split_path(path: &str) -> Vec<String> {
    path.split('.').map(str::to_string).collect()
}

fn parse_order(v: Option<&Json>) -> Result<Order, DbError> {
    match v {
        None | Some(Json::Null) => Ok(Order::Asc),
        Some(Json::String(s)) if s == "asc" => Ok(Order::Asc),
        Some(Json::String(s)) if s == "desc" => Ok(Order::Desc),
        Some(other) => Err(bad_query(format!("Invalid query order {other}, expected \"asc\" or \"desc\""))),
    }
}

fn value_of(json: &Json) -> Result<Option<Value>, DbError> {
    maybe_value_from_convex_json(json).map_err(DbError::from)
}

/// Parses the query JSON `{"source": ..., "operators": [...]}`.
pub(crate) fn parse_query(json: &Json) -> Result<ParsedQuery, DbError> {
    let obj = json.as_object().ok_or_else(|| bad_query("Query must be a JSON object"))?;
    let source_json = obj.get("source").ok_or_else(|| bad_query("Query is missing `source`"))?;
    let kind = source_json.get("type").and_then(Json::as_str).unwrap_or("");
    let order = parse_order(source_json.get("order"))?;
    let source = match kind {
        "FullTableScan" => {
            let table = source_json
                .get("tableName")
                .and_then(Json::as_str)
                .ok_or_else(|| bad_query("FullTableScan is missing `tableName`"))?;
            Source::FullTableScan { table: table.to_string(), order }
        }
        "IndexRange" => {
            let name = source_json
                .get("indexName")
                .and_then(Json::as_str)
                .ok_or_else(|| bad_query("IndexRange is missing `indexName`"))?;
            let (table, index) = name
                .split_once('.')
                .ok_or_else(|| bad_query(format!("Invalid index name \"{name}\": expected \"table.index\"")))?;
            let mut range = Vec::new();
            for r in source_json.get("range").and_then(Json::as_array).map(Vec::as_slice).unwrap_or(&[]) {
                let field = r
                    .get("fieldPath")
                    .and_then(Json::as_str)
                    .ok_or_else(|| bad_query("Index range expression is missing `fieldPath`"))?
                    .to_string();
                let value = value_of(r.get("value").unwrap_or(&Json::Null))?;
                let expr = match r.get("type").and_then(Json::as_str).unwrap_or("") {
                    "Eq" => RangeExpr::Eq(field, value),
                    "Gt" => RangeExpr::Gt(field, value),
                    "Gte" => RangeExpr::Gte(field, value),
                    "Lt" => RangeExpr::Lt(field, value),
                    "Lte" => RangeExpr::Lte(field, value),
                    other => {
                        return Err(bad_query(format!("Invalid index range type \"{other}\"")));
                    }
                };
                range.push(expr);
            }
            Source::IndexRange { table: table.to_string(), index: index.to_string(), range, order }
        }
        "Search" => {
            return Err(DbError::new(
                "SearchNotSupported",
                "Text search queries (withSearchIndex) are not supported by emvex.",
            ));
        }
        other => return Err(bad_query(format!("Invalid query source type \"{other}\""))),
    };
    let ops_json = match obj.get("operators") {
        None | Some(Json::Null) => &[][..],
        Some(Json::Array(a)) => a.as_slice(),
        Some(_) => return Err(bad_query("Query `operators` must be an array")),
    };
    if ops_json.len() > MAX_OPERATORS {
        return Err(bad_query("Query has too many operators"));
    }
    let mut operators = Vec::new();
    for op in ops_json {
        if let Some(f) = op.get("filter") {
            operators.push(Operator::Filter(parse_expr(f)?));
        } else if let Some(l) = op.get("limit") {
            let n = l
                .as_f64()
                .filter(|n| *n >= 0.0 && n.fract() == 0.0)
                .ok_or_else(|| bad_query(format!("Invalid limit {l}: must be a non-negative integer")))?;
            operators.push(Operator::Limit(n as u64));
        } else {
            return Err(bad_query(format!("Invalid query operator {op}")));
        }
    }
    let mut normalized = json.clone();
    if let Some(src) = normalized.get_mut("source").and_then(Json::as_object_mut) {
        src.insert("order".into(), Json::String(if order == Order::Asc { "asc" } else { "desc" }.into()));
    }
    if let Some(o) = normalized.as_object_mut() {
        o.retain(|k, _| k == "source" || k == "operators");
    }
    Ok(ParsedQuery { source, operators, canonical: canonical_json(&normalized) })
}

/// JSON text with object keys sorted at every level.
pub(crate) fn canonical_json(json: &Json) -> String {
    fn sort(json: &Json) -> Json {
        match json {
            Json::Object(map) => {
                let sorted: BTreeMap<&String, Json> = map.iter().map(|(k, v)| (k, sort(v))).collect();
                Json::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Json::Array(items) => Json::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(json).to_string()
}

fn two_operands(op: &str, v: &Json) -> Result<(Expr, Expr), DbError> {
    match v.as_array().map(Vec::as_slice) {
        Some([l, r]) => Ok((parse_expr(l)?, parse_expr(r)?)),
        _ => Err(bad_query(format!("`{op}` takes an array of two expressions, got {v}"))),
    }
}

/// Parses one filter expression node.
pub(crate) fn parse_expr(json: &Json) -> Result<Expr, DbError> {
    let obj = json.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
        bad_query(format!("Invalid filter expression {json}: expected an object with exactly one key"))
    })?;
    let (key, v) = obj.iter().next().expect("one key");
    let cmp = |op: CmpOp| -> Result<Expr, DbError> {
        let (l, r) = two_operands(key, v)?;
        Ok(Expr::Cmp(op, Box::new(l), Box::new(r)))
    };
    let arith = |op: ArithOp| -> Result<Expr, DbError> {
        let (l, r) = two_operands(key, v)?;
        Ok(Expr::Arith(op, Box::new(l), Box::new(r)))
    };
    let list = || -> Result<Vec<Expr>, DbError> {
        v.as_array()
            .ok_or_else(|| bad_query(format!("`{key}` takes an array of expressions, got {v}")))?
            .iter()
            .map(parse_expr)
            .collect()
    };
    match key.as_str() {
        "$field" => {
            let path = v.as_str().ok_or_else(|| bad_query(format!("`$field` takes a string, got {v}")))?;
            Ok(Expr::Field(split_path(path)))
        }
        "$literal" => Ok(Expr::Literal(value_of(v)?)),
        "$eq" => cmp(CmpOp::Eq),
        "$neq" => cmp(CmpOp::Neq),
        "$lt" => cmp(CmpOp::Lt),
        "$lte" => cmp(CmpOp::Lte),
        "$gt" => cmp(CmpOp::Gt),
        "$gte" => cmp(CmpOp::Gte),
        "$add" => arith(ArithOp::Add),
        "$sub" => arith(ArithOp::Sub),
        "$mul" => arith(ArithOp::Mul),
        "$div" => arith(ArithOp::Div),
        "$mod" => arith(ArithOp::Mod),
        "$neg" => Ok(Expr::Neg(Box::new(parse_expr(v)?))),
        "$not" => Ok(Expr::Not(Box::new(parse_expr(v)?))),
        "$and" => Ok(Expr::And(list()?)),
        "$or" => Ok(Expr::Or(list()?)),
        other => Err(bad_query(format!("Invalid filter expression operator \"{other}\""))),
    }
}

/// Renders an optional value for error messages (`undefined` for a missing value).
pub(crate) fn show(v: Option<&Value>) -> String {
    match v {
        None => "undefined".to_string(),
        Some(v) => v.to_string(),
    }
}

fn type_of(v: Option<&Value>) -> &'static str {
    v.map(Value::type_name).unwrap_or("undefined")
}

fn as_bool(v: Option<Value>) -> Result<bool, DbError> {
    match v {
        Some(Value::Boolean(b)) => Ok(b),
        other => Err(eval_error(format!("Cannot use value {} as a Boolean", show(other.as_ref())))),
    }
}

/// What a filter is evaluated against: a document's body plus its system fields.
pub(crate) struct DocEnv<'a> {
    pub body: &'a Object,
    pub id: &'a Value,
    pub creation_time: &'a Value,
}

impl<'a> DocEnv<'a> {
    /// The value at a field path (`None` = undefined).
    pub fn get(&self, path: &[String]) -> Option<&'a Value> {
        let (first, rest) = path.split_first()?;
        let mut cur = match first.as_str() {
            "_id" => self.id,
            "_creationTime" => self.creation_time,
            name => self.body.get(name)?,
        };
        for part in rest {
            cur = cur.as_object()?.get(part)?;
        }
        Some(cur)
    }
}

impl Expr {
    /// Evaluates the expression against a document (§3.6).
    pub(crate) fn eval(&self, env: &DocEnv<'_>) -> Result<Option<Value>, DbError> {
        Ok(match self {
            Expr::Field(path) => env.get(path).cloned(),
            Expr::Literal(v) => v.clone(),
            Expr::Cmp(op, l, r) => {
                let l = l.eval(env)?;
                let r = r.eval(env)?;
                let ord = emvex_value::compare_maybe(l.as_ref(), r.as_ref());
                let b = match op {
                    CmpOp::Eq => ord.is_eq(),
                    CmpOp::Neq => ord.is_ne(),
                    CmpOp::Lt => ord.is_lt(),
                    CmpOp::Lte => ord.is_le(),
                    CmpOp::Gt => ord.is_gt(),
                    CmpOp::Gte => ord.is_ge(),
                };
                Some(Value::Boolean(b))
            }
            Expr::Arith(op, l, r) => {
                let l = l.eval(env)?;
                let r = r.eval(env)?;
                Some(arith(*op, l.as_ref(), r.as_ref())?)
            }
            Expr::Neg(x) => {
                let x = x.eval(env)?;
                match &x {
                    Some(Value::Int64(n)) => Some(Value::Int64(n.checked_neg().ok_or_else(|| {
                        eval_error(format!("Cannot negate {n}: the result is out of range for Int64"))
                    })?)),
                    Some(Value::Float64(f)) => Some(Value::Float64(-f)),
                    _ => {
                        return Err(eval_error(format!(
                            "Cannot negate {} (type {})",
                            show(x.as_ref()),
                            type_of(x.as_ref())
                        )));
                    }
                }
            }
            Expr::And(items) => {
                for e in items {
                    if !as_bool(e.eval(env)?)? {
                        return Ok(Some(Value::Boolean(false)));
                    }
                }
                Some(Value::Boolean(true))
            }
            Expr::Or(items) => {
                for e in items {
                    if as_bool(e.eval(env)?)? {
                        return Ok(Some(Value::Boolean(true)));
                    }
                }
                Some(Value::Boolean(false))
            }
            Expr::Not(x) => Some(Value::Boolean(!as_bool(x.eval(env)?)?)),
        })
    }

    /// Evaluates a whole filter: it must produce a boolean.
    pub(crate) fn matches(&self, env: &DocEnv<'_>) -> Result<bool, DbError> {
        as_bool(self.eval(env)?)
    }
}

fn arith(op: ArithOp, l: Option<&Value>, r: Option<&Value>) -> Result<Value, DbError> {
    let name = match op {
        ArithOp::Add => "add",
        ArithOp::Sub => "subtract",
        ArithOp::Mul => "multiply",
        ArithOp::Div => "divide",
        ArithOp::Mod => "mod",
    };
    match (l, r) {
        (Some(Value::Int64(a)), Some(Value::Int64(b))) => {
            let (a, b) = (*a, *b);
            if matches!(op, ArithOp::Div | ArithOp::Mod) && b == 0 {
                return Err(eval_error(format!("Cannot {name} {a} by zero")));
            }
            let result = match op {
                ArithOp::Add => a.checked_add(b),
                ArithOp::Sub => a.checked_sub(b),
                ArithOp::Mul => a.checked_mul(b),
                ArithOp::Div => a.checked_div(b),
                ArithOp::Mod => a.checked_rem(b),
            };
            result
                .map(Value::Int64)
                .ok_or_else(|| eval_error(format!("Cannot {name} {a} and {b}: the result is out of range for Int64")))
        }
        (Some(Value::Float64(a)), Some(Value::Float64(b))) => Ok(Value::Float64(match op {
            ArithOp::Add => a + b,
            ArithOp::Sub => a - b,
            ArithOp::Mul => a * b,
            ArithOp::Div => a / b,
            ArithOp::Mod => a % b,
        })),
        _ => Err(eval_error(format!(
            "Cannot {name} {} (type {}) and {} (type {})",
            show(l),
            type_of(l),
            show(r),
            type_of(r)
        ))),
    }
}

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

/// A position in a query's index order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Position {
    /// After (in scan order) the row with this index key.
    After(Vec<u8>),
    /// Past the end of the range.
    End,
}

const CURSOR_VERSION: u8 = 1;
const FINGERPRINT_BYTES: usize = 16;

/// The fingerprint of a query bound to an index: its canonical JSON plus the index's fields.
pub(crate) fn fingerprint(canonical_query: &str, full_fields: &[String]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(canonical_query.as_bytes());
    h.update(b"\n");
    h.update(serde_json::to_string(full_fields).unwrap_or_default().as_bytes());
    h.finalize().into()
}

/// Encodes a cursor: version byte, truncated fingerprint, position.
pub(crate) fn encode_cursor(fp: &[u8; 32], pos: &Position) -> String {
    let mut bytes = vec![CURSOR_VERSION];
    bytes.extend_from_slice(&fp[..FINGERPRINT_BYTES]);
    match pos {
        Position::End => bytes.push(0),
        Position::After(key) => {
            bytes.push(1);
            bytes.extend_from_slice(key);
        }
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a cursor minted for the query with fingerprint `fp`; anything else is
/// `InvalidCursor`.
pub(crate) fn decode_cursor(cursor: &str, fp: &[u8; 32]) -> Result<Position, DbError> {
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| DbError::invalid_cursor())?;
    if bytes.len() < 2 + FINGERPRINT_BYTES
        || bytes[0] != CURSOR_VERSION
        || bytes[1..1 + FINGERPRINT_BYTES] != fp[..FINGERPRINT_BYTES]
    {
        return Err(DbError::invalid_cursor());
    }
    match bytes[1 + FINGERPRINT_BYTES] {
        0 if bytes.len() == 2 + FINGERPRINT_BYTES => Ok(Position::End),
        1 => Ok(Position::After(bytes[2 + FINGERPRINT_BYTES..].to_vec())),
        _ => Err(DbError::invalid_cursor()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(j: Json) -> Value {
        Value::from_convex_json(&j).unwrap()
    }

    fn eval(expr: Json, body: Json) -> Result<Option<Value>, DbError> {
        let e = parse_expr(&expr)?;
        let body = v(body).into_object().unwrap();
        let id = Value::String("someid".into());
        let ct = Value::Float64(1.5);
        e.eval(&DocEnv { body: &body, id: &id, creation_time: &ct })
    }

    fn lit(j: Json) -> Json {
        json!({ "$literal": j })
    }

    #[test]
    fn comparisons_cross_types_and_undefined() {
        let t = Some(Value::Boolean(true));
        let f = Some(Value::Boolean(false));
        // "a" > 5 across types.
        assert_eq!(eval(json!({"$gt": [lit(json!("a")), lit(json!(5))]}), json!({})).unwrap(), t);
        // missing field == undefined, != null, < null.
        assert_eq!(eval(json!({"$eq": [{"$field": "x"}, lit(json!({"$undefined": null}))]}), json!({})).unwrap(), t);
        assert_eq!(eval(json!({"$eq": [{"$field": "x"}, lit(json!(null))]}), json!({})).unwrap(), f);
        assert_eq!(eval(json!({"$lt": [{"$field": "x"}, lit(json!(null))]}), json!({})).unwrap(), t);
        // int never equals float; int < float.
        let one_n = json!({"$integer": "AQAAAAAAAAA="});
        assert_eq!(eval(json!({"$eq": [lit(one_n.clone()), lit(json!(1))]}), json!({})).unwrap(), f);
        assert_eq!(eval(json!({"$lt": [lit(one_n), lit(json!(0.5))]}), json!({})).unwrap(), t);
        // nested paths, system fields, arrays are not traversed.
        assert_eq!(eval(json!({"$eq": [{"$field": "a.b"}, lit(json!(2))]}), json!({"a": {"b": 2}})).unwrap(), t);
        assert_eq!(eval(json!({"$eq": [{"$field": "_id"}, lit(json!("someid"))]}), json!({})).unwrap(), t);
        assert_eq!(eval(json!({"$gt": [{"$field": "_creationTime"}, lit(json!(1))]}), json!({})).unwrap(), t);
        assert_eq!(eval(json!({"$field": "a.0"}), json!({"a": [1]})).unwrap(), None);
        // NaN == NaN, -0 != 0
        let nan = json!({"$float": "AAAAAAAA+H8="});
        assert_eq!(eval(json!({"$eq": [lit(nan.clone()), lit(nan)]}), json!({})).unwrap(), t);
        let neg0 = json!({"$float": "AAAAAAAAAIA="});
        assert_eq!(eval(json!({"$neq": [lit(neg0), lit(json!(0))]}), json!({})).unwrap(), t);
    }

    #[test]
    fn arithmetic_and_logic() {
        let r = eval(
            json!({"$div": [{"$neg": {"$add": [{"$mul": [lit(json!(3)), lit(json!(5))]}, {"$sub": [lit(json!(5)), {"$mod": [lit(json!(11)), lit(json!(3))]}]}]}}, lit(json!(3))]}),
            json!({}),
        )
        .unwrap();
        assert_eq!(r, Some(Value::Float64(-6.0)));
        let i = |n: i64| json!({"$integer": emvex_value::base64_encode(&n.to_le_bytes())});
        assert_eq!(eval(json!({"$add": [lit(i(2)), lit(i(3))]}), json!({})).unwrap(), Some(Value::Int64(5)));
        assert_eq!(eval(json!({"$and": []}), json!({})).unwrap(), Some(Value::Boolean(true)));
        assert_eq!(eval(json!({"$or": []}), json!({})).unwrap(), Some(Value::Boolean(false)));
        assert_eq!(eval(json!({"$not": lit(json!(false))}), json!({})).unwrap(), Some(Value::Boolean(true)));
        // short circuit: the second operand would be an error.
        assert_eq!(
            eval(json!({"$or": [lit(json!(true)), lit(json!(3))]}), json!({})).unwrap(),
            Some(Value::Boolean(true))
        );
    }

    #[test]
    fn eval_errors() {
        let i = |n: i64| json!({"$integer": emvex_value::base64_encode(&n.to_le_bytes())});
        let cases = [
            (json!({"$add": [lit(json!(1)), lit(i(1))]}), "Cannot add 1"),
            (json!({"$add": [{"$field": "x"}, lit(json!(1))]}), "Cannot add undefined (type undefined)"),
            (json!({"$mul": [lit(json!("a")), lit(json!(1))]}), "(type String)"),
            (json!({"$div": [lit(i(5)), lit(i(0))]}), "Cannot divide 5 by zero"),
            (json!({"$add": [lit(i(i64::MAX)), lit(i(1))]}), "out of range for Int64"),
            (json!({"$neg": lit(json!("s"))}), "Cannot negate"),
            (json!({"$and": [lit(json!(1))]}), "as a Boolean"),
            (json!({"$not": lit(json!(null))}), "as a Boolean"),
        ];
        for (expr, needle) in cases {
            let e = eval(expr.clone(), json!({})).unwrap_err();
            assert_eq!(e.code, "EvalError", "{expr}");
            assert!(e.message.contains(needle), "{expr}: {}", e.message);
        }
    }

    #[test]
    fn parse_errors() {
        for q in [
            json!({"source": {"type": "Nope"}, "operators": []}),
            json!({"source": {"type": "FullTableScan", "tableName": "t", "order": "up"}, "operators": []}),
            json!({"source": {"type": "FullTableScan", "tableName": "t"}, "operators": [{"limit": -1}]}),
            json!({"source": {"type": "FullTableScan", "tableName": "t"}, "operators": [{"filter": {"$bogus": 1}}]}),
            json!({"source": {"type": "IndexRange", "indexName": "noperiod", "range": []}, "operators": []}),
        ] {
            assert!(parse_query(&q).is_err(), "{q}");
        }
        let many: Vec<Json> = (0..257).map(|_| json!({"limit": 1})).collect();
        let e = parse_query(&json!({"source": {"type": "FullTableScan", "tableName": "t"}, "operators": many}))
            .unwrap_err();
        assert_eq!(e.message, "Query has too many operators");
    }

    #[test]
    fn canonical_normalises_order_and_keys() {
        let a = parse_query(
            &json!({"source": {"type": "FullTableScan", "tableName": "t", "order": null}, "operators": []}),
        )
        .unwrap();
        let b = parse_query(
            &json!({"operators": [], "source": {"order": "asc", "tableName": "t", "type": "FullTableScan"}}),
        )
        .unwrap();
        assert_eq!(a.canonical, b.canonical);
    }

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

    #[test]
    fn cursors_roundtrip_and_reject_other_queries() {
        let fp1 = fingerprint("q1", &fields(&["_creationTime", "_id"]));
        let fp2 = fingerprint("q2", &fields(&["_creationTime", "_id"]));
        for pos in [Position::End, Position::After(vec![1, 2, 3]), Position::After(vec![])] {
            let c = encode_cursor(&fp1, &pos);
            assert_eq!(decode_cursor(&c, &fp1).unwrap(), pos);
            assert_eq!(decode_cursor(&c, &fp2).unwrap_err().code, "InvalidCursor");
        }
        assert_eq!(decode_cursor("garbage!", &fp1).unwrap_err().code, "InvalidCursor");
    }
}
