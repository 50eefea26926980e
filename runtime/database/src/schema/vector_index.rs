//! Vector indexes declared by a schema (`defineTable(…).vectorIndex(name, {vectorField,
//! dimensions, filterFields})`): parsing and Convex's checks on them.
//!
//! Invariant: a parsed definition has 2–4096 dimensions, a valid vector field path and
//! distinct, valid filter field paths.

use serde_json::Value as Json;

use super::index_names::{check_index_field, check_index_name, invalid};
use crate::DbError;

/// Fewest and most dimensions a vector index may have (Convex's limits).
pub const MIN_VECTOR_DIMENSIONS: u32 = 2;
pub const MAX_VECTOR_DIMENSIONS: u32 = 4096;
/// Most filter fields one vector index may declare.
pub const MAX_VECTOR_FILTER_FIELDS: usize = 16;

/// One vector index of a table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VectorIndexDefinition {
    /// The index descriptor, e.g. `by_embedding`.
    pub name: String,
    /// The field holding the vector (an array of numbers), as a dotted path.
    pub vector_field: String,
    /// How many numbers each indexed vector has; documents whose vector has another length
    /// are not indexed.
    pub dimensions: u32,
    /// Fields a search may filter on with `q.eq`.
    pub filter_fields: Vec<String>,
}

/// Parses one entry of a table's `vectorIndexes`.
pub(crate) fn parse_vector_index(table: &str, ix: &Json) -> Result<VectorIndexDefinition, DbError> {
    let name = check_index_name(table, ix)?;
    let vector_field = ix
        .get("vectorField")
        .and_then(Json::as_str)
        .ok_or_else(|| invalid(format!("Vector index \"{table}.{name}\" needs a string `vectorField`")))?;
    check_index_field(table, &name, vector_field)?;
    let dimensions = ix
        .get("dimensions")
        .and_then(Json::as_f64)
        .ok_or_else(|| invalid(format!("Vector index \"{table}.{name}\" needs a number `dimensions`")))?;
    if dimensions.fract() != 0.0 || !(MIN_VECTOR_DIMENSIONS as f64..=MAX_VECTOR_DIMENSIONS as f64).contains(&dimensions)
    {
        return Err(invalid(format!(
            "Dimensions {dimensions} must be between {MIN_VECTOR_DIMENSIONS} and {MAX_VECTOR_DIMENSIONS}."
        )));
    }
    let mut filter_fields: Vec<String> = Vec::new();
    for f in ix.get("filterFields").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default() {
        let f = f.as_str().ok_or_else(|| {
            invalid(format!("Vector index \"{table}.{name}\" filter fields must be strings, got {f}"))
        })?;
        check_index_field(table, &name, f)?;
        if filter_fields.iter().any(|seen| seen == f) {
            return Err(invalid(format!("Vector index \"{table}.{name}\" lists the filter field \"{f}\" twice.")));
        }
        filter_fields.push(f.to_string());
    }
    if filter_fields.len() > MAX_VECTOR_FILTER_FIELDS {
        return Err(invalid(format!(
            "Vector index \"{table}.{name}\" has too many filter fields ({}), the maximum is \
             {MAX_VECTOR_FILTER_FIELDS}.",
            filter_fields.len()
        )));
    }
    Ok(VectorIndexDefinition {
        name,
        vector_field: vector_field.to_string(),
        dimensions: dimensions as u32,
        filter_fields,
    })
}
