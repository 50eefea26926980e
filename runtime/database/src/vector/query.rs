//! [`VectorQuery`]: what `ctx.vectorSearch(table, index, {vector, limit, filter})` sends
//! (`1.0/actions/vectorSearch`, spec §3.15), parsed, and checked against the index it names
//! with Convex's limits and messages.
//!
//! Invariant: a compiled query has a unit-length query vector of the index's dimensions,
//! 1–256 results, and at most 64 conditions, each on one of the index's filter fields.

use emvex_value::{Value, maybe_value_from_convex_json};
use serde_json::Value as Json;

use super::matrix::{RowFilter, normalize};
use crate::DbError;
use crate::schema::VectorIndexDefinition;

/// Results a search returns when it names no `limit`.
pub const DEFAULT_VECTOR_LIMIT: u32 = 10;
/// Most results one search may ask for.
pub const MAX_VECTOR_RESULTS: u32 = 256;
/// Most `q.eq` conditions one search may have.
pub const MAX_VECTOR_FILTER_CONDITIONS: usize = 64;

/// A parsed vector search.
#[derive(Debug, Clone)]
pub struct VectorQuery {
    pub table: String,
    pub index: String,
    pub limit: u32,
    pub vector: Vec<f32>,
    /// `(field path, value)` of every `q.eq`; a document matches when any holds.
    pub conditions: Vec<(String, Option<Value>)>,
}

/// A query checked against its index: what the scan needs.
pub struct CompiledVectorQuery {
    pub unit_vector: Vec<f32>,
    pub limit: usize,
    pub filter: RowFilter,
}

fn invalid(message: impl Into<String>) -> DbError {
    DbError::new("InvalidVectorQuery", message)
}

impl VectorQuery {
    /// Parses the `query` of `1.0/actions/vectorSearch`:
    /// `{"indexName": "table.index", "limit"?, "vector": [numbers], "expressions"?}`.
    pub fn from_json(json: &Json) -> Result<VectorQuery, DbError> {
        let index_name = json
            .get("indexName")
            .and_then(Json::as_str)
            .ok_or_else(|| invalid("A vector search needs an `indexName` string"))?;
        let (table, index) = index_name
            .split_once('.')
            .ok_or_else(|| invalid(format!("Invalid index name \"{index_name}\": expected \"table.index\"")))?;
        let limit = match json.get("limit") {
            None | Some(Json::Null) => DEFAULT_VECTOR_LIMIT,
            Some(n) => n
                .as_f64()
                .filter(|n| n.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(n))
                .map(|n| n as u32)
                .ok_or_else(|| invalid(format!("`limit` must be a non-negative integer, got {n}")))?,
        };
        let vector = json
            .get("vector")
            .and_then(Json::as_array)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid("`vector` must be a non-empty Array in vectorSearch"))?
            .iter()
            .map(|n| {
                n.as_f64().map(|f| f as f32).ok_or_else(|| invalid(format!("`vector` must hold numbers, got {n}")))
            })
            .collect::<Result<Vec<f32>, DbError>>()?;
        let mut conditions = Vec::new();
        if let Some(expr) = json.get("expressions").filter(|e| !e.is_null()) {
            collect_conditions(expr, &mut conditions)?;
        }
        Ok(VectorQuery { table: table.to_string(), index: index.to_string(), limit, vector, conditions })
    }

    /// Checks the query against `def` (the index `table.index`), Convex's checks in Convex's
    /// order: the result limit, the filter fields, the number of conditions, the dimensions.
    pub fn compile(&self, def: &VectorIndexDefinition) -> Result<CompiledVectorQuery, DbError> {
        let index_name = format!("{}.{}", self.table, self.index);
        if self.limit > MAX_VECTOR_RESULTS {
            return Err(DbError::new(
                "VectorLimitTooLargeError",
                format!("Vector queries can fetch at most {MAX_VECTOR_RESULTS} results, requested {}.", self.limit),
            ));
        }
        let mut filter = RowFilter::default();
        for (path, value) in &self.conditions {
            let Some(field) = def.filter_fields.iter().position(|f| f == path) else {
                return Err(DbError::new(
                    "IncorrectVectorFilterField",
                    format!(
                        "Vector query against {index_name} contains a filter on \"{path}\" but that field isn't \
                         indexed for filtering in `filterFields`."
                    ),
                ));
            };
            filter.conditions.push((field, value.clone()));
        }
        if filter.conditions.len() > MAX_VECTOR_FILTER_CONDITIONS {
            return Err(DbError::new(
                "TooManyElementsInVectorQueryError",
                format!(
                    "Vector query against {index_name} has too many conditions. Max: \
                     {MAX_VECTOR_FILTER_CONDITIONS} Actual: {}",
                    filter.conditions.len()
                ),
            ));
        }
        if self.vector.len() != def.dimensions as usize {
            return Err(DbError::new(
                "VectorDimensionsMismatch",
                format!("Expected a vector with dimensions {}, received {}.", def.dimensions, self.vector.len()),
            ));
        }
        let mut unit_vector = self.vector.clone();
        normalize(&mut unit_vector);
        Ok(CompiledVectorQuery { unit_vector, limit: self.limit as usize, filter })
    }
}

/// Flattens a filter built with `q.eq` and `q.or` into its equality conditions.
fn collect_conditions(expr: &Json, out: &mut Vec<(String, Option<Value>)>) -> Result<(), DbError> {
    let not_eq_or = || invalid("Filters should be a combination of `q.eq` and `q.or`.");
    let Json::Object(map) = expr else { return Err(not_eq_or()) };
    if map.len() != 1 {
        return Err(not_eq_or());
    }
    let (op, operands) = map.iter().next().expect("one entry");
    match op.as_str() {
        "$or" => {
            for operand in operands.as_array().ok_or_else(not_eq_or)? {
                collect_conditions(operand, out)?;
            }
            Ok(())
        }
        "$eq" => {
            let wrong_sides =
                || invalid("`q.eq` must take a field path as its first argument and a value as its second");
            let [left, right] = operands.as_array().map(Vec::as_slice).ok_or_else(wrong_sides)? else {
                return Err(wrong_sides());
            };
            let path = left.get("$field").and_then(Json::as_str).ok_or_else(wrong_sides)?;
            let literal = right.get("$literal").ok_or_else(wrong_sides)?;
            let value = maybe_value_from_convex_json(literal).map_err(|e| invalid(e.message))?;
            if !out.iter().any(|(p, v)| p == path && v == &value) {
                out.push((path.to_string(), value));
            }
            Ok(())
        }
        _ => Err(not_eq_or()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def() -> VectorIndexDefinition {
        VectorIndexDefinition {
            name: "by_embedding".into(),
            vector_field: "embedding".into(),
            dimensions: 3,
            filter_fields: vec!["genre".into(), "year".into()],
        }
    }

    fn query(extra: Json) -> Json {
        let mut q = json!({"indexName": "movies.by_embedding", "vector": [1, 0, 0]});
        q.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        q
    }

    fn compile_err(extra: Json) -> DbError {
        match VectorQuery::from_json(&query(extra)).and_then(|q| q.compile(&def()).map(|_| ())) {
            Err(e) => e,
            Ok(()) => panic!("expected an error"),
        }
    }

    #[test]
    fn parses_filters_as_equality_conditions() {
        let eq = |f: &str, v: Json| json!({"$eq": [{"$field": f}, {"$literal": v}]});
        let q = VectorQuery::from_json(&query(json!({
            "limit": 5,
            "expressions": {"$or": [eq("genre", json!("drama")), {"$or": [eq("year", json!(1999)), eq("genre", json!("drama"))]}]}
        })))
        .unwrap();
        assert_eq!((q.table.as_str(), q.index.as_str(), q.limit), ("movies", "by_embedding", 5));
        assert_eq!(
            q.conditions,
            vec![
                ("genre".to_string(), Some(Value::String("drama".into()))),
                ("year".to_string(), Some(Value::Float64(1999.0)))
            ]
        );
        let compiled = q.compile(&def()).unwrap();
        assert_eq!(compiled.filter.conditions.iter().map(|c| c.0).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(VectorQuery::from_json(&query(json!({}))).unwrap().limit, DEFAULT_VECTOR_LIMIT);
    }

    #[test]
    fn refuses_what_convex_refuses_with_its_messages() {
        let e = compile_err(json!({"limit": 257}));
        assert_eq!(e.message, "Vector queries can fetch at most 256 results, requested 257.");
        let e = compile_err(json!({"vector": [1, 2]}));
        assert_eq!(
            (e.code, e.message.as_str()),
            ("VectorDimensionsMismatch", "Expected a vector with dimensions 3, received 2.")
        );
        let e = compile_err(json!({"expressions": {"$eq": [{"$field": "title"}, {"$literal": "x"}]}}));
        assert_eq!(e.code, "IncorrectVectorFilterField");
        assert!(e.message.contains("movies.by_embedding contains a filter on \"title\""), "{}", e.message);
        let e = compile_err(json!({"expressions": {"$gt": [{"$field": "year"}, {"$literal": 1}]}}));
        assert_eq!(e.message, "Filters should be a combination of `q.eq` and `q.or`.");
        let many: Vec<Json> = (0..65).map(|i| json!({"$eq": [{"$field": "year"}, {"$literal": i}]})).collect();
        let e = compile_err(json!({"expressions": {"$or": many}}));
        assert_eq!(e.message, "Vector query against movies.by_embedding has too many conditions. Max: 64 Actual: 65");
        assert_eq!(compile_err(json!({"vector": []})).message, "`vector` must be a non-empty Array in vectorSearch");
        assert_eq!(compile_err(json!({"vector": [1, "x", 0]})).message, "`vector` must hold numbers, got \"x\"");
        assert_eq!(compile_err(json!({"limit": -1})).message, "`limit` must be a non-negative integer, got -1");
        assert_eq!(compile_err(json!({"indexName": "noDot"})).code, "InvalidVectorQuery");
    }
}
