//! The `convex` package's serialized query (`{"source": …, "operators": […]}`, with filter
//! expressions as `{"$eq": [{"$field": "a"}, {"$literal": 1}]}`) to and from [`Query`].
//!
//! Invariants: [`Query::from_wire_json`] is the only parser of that JSON and is called only
//! where JavaScript calls in (the executor's `1.0/queryStream` and `1.0/queryPage`); Rust
//! callers build a [`Query`] directly. It raises every structural error of the JSON
//! (`InvalidQuery`); [`Query::to_wire_json`] is its inverse (the form
//! query fingerprints are computed from).

use emvex_value::{Value, maybe_value_from_convex_json};
use serde_json::{Value as Json, json};

use super::definition::{ArithOp, CmpOp, Expr, Operator, Order, Query, RangeExpr, Source};
use crate::DbError;
use crate::document::split_path;
use crate::search::SearchFilter;

/// Maximum number of operators in one query (Convex's limit).
pub const MAX_OPERATORS: usize = 256;

fn bad_query(message: impl Into<String>) -> DbError {
    DbError::new("InvalidQuery", message)
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

fn value_json(value: &Option<Value>) -> Json {
    match value {
        Some(v) => v.to_convex_json(),
        None => json!({"$undefined": null}),
    }
}

impl Query {
    /// Parses the query JSON the `convex` package sends (`{"source": ..., "operators": [...]}`).
    pub fn from_wire_json(json: &Json) -> Result<Query, DbError> {
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
                    range.push(parse_range_expr(r)?);
                }
                Source::IndexRange { table: table.to_string(), index: index.to_string(), range, order }
            }
            "Search" => {
                if !matches!(source_json.get("order"), None | Some(Json::Null)) {
                    return Err(bad_query(
                        "Search queries must always be in relevance order. Can not set order manually.",
                    ));
                }
                let name = source_json
                    .get("indexName")
                    .and_then(Json::as_str)
                    .ok_or_else(|| bad_query("Search is missing `indexName`"))?;
                let (table, index) = name
                    .split_once('.')
                    .ok_or_else(|| bad_query(format!("Invalid index name \"{name}\": expected \"table.index\"")))?;
                let mut filters = Vec::new();
                for f in source_json.get("filters").and_then(Json::as_array).map(Vec::as_slice).unwrap_or(&[]) {
                    filters.push(parse_search_filter(f)?);
                }
                Source::Search { table: table.to_string(), index: index.to_string(), filters }
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
        Ok(Query { source, operators })
    }

    /// The query in the `convex` package's serialized form (order always explicit).
    pub fn to_wire_json(&self) -> Json {
        let order_json = |o: &Order| json!(if *o == Order::Asc { "asc" } else { "desc" });
        let source = match &self.source {
            Source::FullTableScan { table, order } => {
                json!({"type": "FullTableScan", "tableName": table, "order": order_json(order)})
            }
            Source::IndexRange { table, index, range, order } => json!({
                "type": "IndexRange",
                "indexName": format!("{table}.{index}"),
                "range": range.iter().map(range_expr_json).collect::<Vec<_>>(),
                "order": order_json(order),
            }),
            Source::Search { table, index, filters } => json!({
                "type": "Search",
                "indexName": format!("{table}.{index}"),
                "filters": filters.iter().map(search_filter_json).collect::<Vec<_>>(),
            }),
        };
        let operators: Vec<Json> = self
            .operators
            .iter()
            .map(|op| match op {
                Operator::Filter(e) => json!({"filter": expr_json(e)}),
                Operator::Limit(n) => json!({"limit": n}),
            })
            .collect();
        json!({"source": source, "operators": operators})
    }
}

fn parse_search_filter(json: &Json) -> Result<SearchFilter, DbError> {
    let field = json
        .get("fieldPath")
        .and_then(Json::as_str)
        .ok_or_else(|| bad_query("Search filter is missing `fieldPath`"))?
        .to_string();
    match json.get("type").and_then(Json::as_str).unwrap_or("") {
        "Search" => {
            let text = json
                .get("value")
                .and_then(Json::as_str)
                .ok_or_else(|| bad_query("The search text of a search filter must be a string"))?;
            Ok(SearchFilter::Search(field, text.to_string()))
        }
        "Eq" => Ok(SearchFilter::Eq(field, value_of(json.get("value").unwrap_or(&Json::Null))?)),
        other => Err(bad_query(format!("Invalid search filter type \"{other}\""))),
    }
}

fn search_filter_json(filter: &SearchFilter) -> Json {
    match filter {
        SearchFilter::Search(field, text) => json!({"type": "Search", "fieldPath": field, "value": text}),
        SearchFilter::Eq(field, value) => json!({"type": "Eq", "fieldPath": field, "value": value_json(value)}),
    }
}

fn parse_range_expr(json: &Json) -> Result<RangeExpr, DbError> {
    let field = json
        .get("fieldPath")
        .and_then(Json::as_str)
        .ok_or_else(|| bad_query("Index range expression is missing `fieldPath`"))?
        .to_string();
    let value = value_of(json.get("value").unwrap_or(&Json::Null))?;
    Ok(match json.get("type").and_then(Json::as_str).unwrap_or("") {
        "Eq" => RangeExpr::Eq(field, value),
        "Gt" => RangeExpr::Gt(field, value),
        "Gte" => RangeExpr::Gte(field, value),
        "Lt" => RangeExpr::Lt(field, value),
        "Lte" => RangeExpr::Lte(field, value),
        other => return Err(bad_query(format!("Invalid index range type \"{other}\""))),
    })
}

fn range_expr_json(expr: &RangeExpr) -> Json {
    let (kind, field, value) = match expr {
        RangeExpr::Eq(f, v) => ("Eq", f, v),
        RangeExpr::Gt(f, v) => ("Gt", f, v),
        RangeExpr::Gte(f, v) => ("Gte", f, v),
        RangeExpr::Lt(f, v) => ("Lt", f, v),
        RangeExpr::Lte(f, v) => ("Lte", f, v),
    };
    json!({"type": kind, "fieldPath": field, "value": value_json(value)})
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

fn expr_json(expr: &Expr) -> Json {
    let pair = |l: &Expr, r: &Expr| json!([expr_json(l), expr_json(r)]);
    match expr {
        Expr::Field(path) => json!({"$field": path.join(".")}),
        Expr::Literal(v) => json!({"$literal": value_json(v)}),
        Expr::Cmp(op, l, r) => {
            let key = match op {
                CmpOp::Eq => "$eq",
                CmpOp::Neq => "$neq",
                CmpOp::Lt => "$lt",
                CmpOp::Lte => "$lte",
                CmpOp::Gt => "$gt",
                CmpOp::Gte => "$gte",
            };
            json!({ key: pair(l, r) })
        }
        Expr::Arith(op, l, r) => {
            let key = match op {
                ArithOp::Add => "$add",
                ArithOp::Sub => "$sub",
                ArithOp::Mul => "$mul",
                ArithOp::Div => "$div",
                ArithOp::Mod => "$mod",
            };
            json!({ key: pair(l, r) })
        }
        Expr::Neg(x) => json!({"$neg": expr_json(x)}),
        Expr::Not(x) => json!({"$not": expr_json(x)}),
        Expr::And(items) => json!({"$and": items.iter().map(expr_json).collect::<Vec<_>>()}),
        Expr::Or(items) => json!({"$or": items.iter().map(expr_json).collect::<Vec<_>>()}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors() {
        for q in [
            json!({"source": {"type": "Nope"}, "operators": []}),
            json!({"source": {"type": "FullTableScan", "tableName": "t", "order": "up"}, "operators": []}),
            json!({"source": {"type": "FullTableScan", "tableName": "t"}, "operators": [{"limit": -1}]}),
            json!({"source": {"type": "FullTableScan", "tableName": "t"}, "operators": [{"filter": {"$bogus": 1}}]}),
            json!({"source": {"type": "IndexRange", "indexName": "noperiod", "range": []}, "operators": []}),
        ] {
            assert!(Query::from_wire_json(&q).is_err(), "{q}");
        }
        let many: Vec<Json> = (0..257).map(|_| json!({"limit": 1})).collect();
        let e =
            Query::from_wire_json(&json!({"source": {"type": "FullTableScan", "tableName": "t"}, "operators": many}))
                .unwrap_err();
        assert_eq!(e.message, "Query has too many operators");
    }

    #[test]
    fn default_order_is_asc() {
        let a = Query::from_wire_json(
            &json!({"source": {"type": "FullTableScan", "tableName": "t", "order": null}, "operators": []}),
        )
        .unwrap();
        let b = Query::from_wire_json(
            &json!({"operators": [], "source": {"order": "asc", "tableName": "t", "type": "FullTableScan"}}),
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a, Query::full_table_scan("t"));
    }

    #[test]
    fn wire_json_roundtrips_and_matches_the_builder() {
        let wire = json!({
            "source": {"type": "IndexRange", "indexName": "work.by_state_runAt", "range": [
                {"type": "Eq", "fieldPath": "state", "value": "pending"},
                {"type": "Lte", "fieldPath": "runAt", "value": 5.5},
            ], "order": "desc"},
            "operators": [
                {"filter": {"$and": [
                    {"$lte": [{"$field": "_creationTime"}, {"$literal": 1.5}]},
                    {"$not": {"$eq": [
                        {"$mod": [{"$field": "a.b"}, {"$literal": 2.0}]},
                        {"$literal": {"$undefined": null}},
                    ]}},
                ]}},
                {"limit": 3},
            ],
        });
        let parsed = Query::from_wire_json(&wire).unwrap();
        let built = Query::index_range(
            "work",
            "by_state_runAt",
            vec![RangeExpr::eq("state", "pending"), RangeExpr::lte("runAt", 5.5)],
        )
        .order(Order::Desc)
        .filter(Expr::And(vec![
            Expr::field("_creationTime").lte(Expr::literal(1.5)),
            Expr::Not(Box::new(
                Expr::Arith(ArithOp::Mod, Box::new(Expr::field("a.b")), Box::new(Expr::literal(2.0)))
                    .eq(Expr::Literal(None)),
            )),
        ]))
        .limit(3);
        assert_eq!(parsed, built);
        assert_eq!(Query::from_wire_json(&built.to_wire_json()).unwrap(), built);
    }
}
