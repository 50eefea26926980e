//! Reading the fields a vector index needs straight from a stored document's text: only the
//! top-level fields named by the index are materialised (the others are skipped by the JSON
//! parser without allocating), which is what makes loading an index of large documents fast.
//!
//! Invariant: a field is read exactly as the stored body holds it (Convex JSON); a vector is
//! indexed only when it is an array of exactly the index's dimensions of Float64 numbers.

use std::collections::HashMap;
use std::fmt;

use emvex_value::Value;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value as Json;

use super::matrix::normalize;
use crate::DbError;
use crate::document::split_path;
use crate::schema::VectorIndexDefinition;

/// How one document's fields are read for an index.
pub(super) struct Extractor {
    vector_path: Vec<String>,
    filter_paths: Vec<Vec<String>>,
    /// The distinct first segments of those paths: the top-level fields to parse.
    top_level: Vec<String>,
    dims: usize,
}

/// What an index holds of one document.
pub(super) type Extracted = (Vec<f32>, Box<[Option<Value>]>);

impl Extractor {
    pub(super) fn new(def: &VectorIndexDefinition) -> Extractor {
        let vector_path = split_path(&def.vector_field);
        let filter_paths: Vec<Vec<String>> = def.filter_fields.iter().map(|f| split_path(f)).collect();
        let mut top_level: Vec<String> =
            std::iter::once(&vector_path).chain(&filter_paths).map(|p| p[0].clone()).collect();
        top_level.sort();
        top_level.dedup();
        Extractor { vector_path, filter_paths, top_level, dims: def.dimensions as usize }
    }

    /// The document's unit vector and filter values, or `None` when it is not indexed.
    pub(super) fn extract(&self, body_text: &str) -> Result<Option<Extracted>, DbError> {
        let fields = TopLevelFields { names: &self.top_level }
            .deserialize(&mut serde_json::Deserializer::from_str(body_text))
            .map_err(|e| DbError::storage(format!("corrupt document in storage: {e}")))?;
        let Some(Json::Array(items)) = lookup(&fields, &self.vector_path) else { return Ok(None) };
        if items.len() != self.dims {
            return Ok(None);
        }
        let Some(mut vector) = items.iter().map(float64).collect::<Option<Vec<f32>>>() else { return Ok(None) };
        normalize(&mut vector);
        let filters = self
            .filter_paths
            .iter()
            .map(|p| lookup(&fields, p).and_then(|j| Value::from_convex_json(j).ok()))
            .collect();
        Ok(Some((vector, filters)))
    }
}

/// A Float64 element of a vector: a plain JSON number, or a special float (`$float`).
fn float64(item: &Json) -> Option<f32> {
    match item {
        Json::Number(n) => n.as_f64().map(|f| f as f32),
        Json::Object(_) => match Value::from_convex_json(item) {
            Ok(Value::Float64(f)) => Some(f as f32),
            _ => None,
        },
        _ => None,
    }
}

/// The JSON at a field path (`None` = undefined).
fn lookup<'a>(fields: &'a HashMap<String, Json>, path: &[String]) -> Option<&'a Json> {
    let (first, rest) = path.split_first()?;
    let mut current = fields.get(first)?;
    for part in rest {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// Deserializes a document object keeping only the fields in `names`.
struct TopLevelFields<'n> {
    names: &'n [String],
}

impl<'de> DeserializeSeed<'de> for TopLevelFields<'_> {
    type Value = HashMap<String, Json>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevelFields<'_> {
    type Value = HashMap<String, Json>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a document object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kept = HashMap::with_capacity(self.names.len());
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if self.names.iter().any(|n| *n == key) {
                kept.insert(key.into_owned(), map.next_value::<Json>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extractor(field: &str, filters: &[&str]) -> Extractor {
        Extractor::new(&VectorIndexDefinition {
            name: "v".into(),
            vector_field: field.into(),
            dimensions: 2,
            filter_fields: filters.iter().map(|f| f.to_string()).collect(),
        })
    }

    #[test]
    fn reads_nested_fields_and_skips_the_rest() {
        let e = extractor("meta.embedding", &["genre", "meta.year"]);
        let text = r#"{"big":[1,2,3,{"x":"y"}],"genre":"drama","meta":{"embedding":[3,4],"year":{"$integer":"AQAAAAAAAAA="}}}"#;
        let (vector, filters) = e.extract(text).unwrap().unwrap();
        assert_eq!(vector, [0.6, 0.8]);
        assert_eq!(filters.as_ref(), [Some(Value::String("drama".into())), Some(Value::Int64(1))]);
        let (_, filters) = extractor("e", &["genre"]).extract(r#"{"e":[1,0]}"#).unwrap().unwrap();
        assert_eq!(filters.as_ref(), [None]);
    }

    #[test]
    fn indexes_only_float64_vectors_of_the_right_length() {
        let e = extractor("e", &[]);
        assert!(e.extract(r#"{"e":[1,0,0]}"#).unwrap().is_none());
        assert!(e.extract(r#"{"e":[{"$integer":"AQAAAAAAAAA="},1]}"#).unwrap().is_none());
        assert!(e.extract(r#"{"e":"no"}"#).unwrap().is_none());
        assert!(e.extract(r#"{"f":[1,0]}"#).unwrap().is_none());
        assert!(e.extract(r#"{"e":[{"$float":"AAAAAAAA8H8="},1]}"#).unwrap().is_some(), "Infinity is a Float64");
        assert_eq!(e.extract("not json").unwrap_err().code, "StorageError");
    }
}
