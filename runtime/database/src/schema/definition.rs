//! `SchemaDefinition`: the parsed `schema.export()` JSON of one component (§2.9), used to
//! reconcile stored indexes and to validate writes (§6.7).
//!
//! Invariants after `from_export_json` succeeds: table names are valid user table names and
//! unique; index names are identifiers, unique per table, not reserved (`by_id`,
//! `by_creation_time`) and not starting with `_`; every index has 1..=16 distinct fields, none
//! of which is (or starts with) a system field; at most 64 indexes per table; a search index
//! has one search field and at most 16 distinct filter fields, valid paths that are not
//! system fields (its name is checked like a database index's, in the same namespace).

use std::collections::BTreeSet;

use emvex_value::validator::Validator;
use serde_json::Value as Json;

use super::index_names::{check_index_field, check_index_name, invalid};
use super::vector_index::{VectorIndexDefinition, parse_vector_index};
use crate::DbError;

/// Maximum number of indexes per table (Convex's limit).
pub const MAX_INDEXES_PER_TABLE: usize = 64;
/// Maximum number of fields in one index (not counting `_creationTime`/`_id`).
pub const MAX_INDEX_FIELDS: usize = 16;

/// One database index declared by a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    /// The index descriptor, e.g. `by_owner`.
    pub name: String,
    /// The declared field paths, e.g. `["owner", "meta.rank"]` (without the implicit
    /// `_creationTime`, `_id`).
    pub fields: Vec<String>,
}

/// One text search index declared by a schema (`searchIndex(name, {searchField, filterFields})`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchIndexDefinition {
    pub name: String,
    /// The field path whose string value is searched.
    pub search_field: String,
    /// The field paths `eq` filters may use.
    pub filter_fields: Vec<String>,
}

/// One table declared by a schema.
pub struct TableDefinition {
    pub name: String,
    pub indexes: Vec<IndexDefinition>,
    /// Text search indexes (staged ones are not built, as in Convex until they are enabled).
    pub search_indexes: Vec<SearchIndexDefinition>,
    /// Its vector indexes (`vectorIndexes`; staged ones are not searchable and are left out).
    pub vector_indexes: Vec<VectorIndexDefinition>,
    /// The `documentType` validator; `None` when the schema gives none (any document).
    pub document_type: Option<Validator>,
}

/// A parsed `schema.export()`.
pub struct SchemaDefinition {
    pub tables: Vec<TableDefinition>,
    /// `schemaValidation` (defaults to true): whether writes are validated.
    pub schema_validation: bool,
    /// The original export text (persisted so the schema survives restarts).
    pub(crate) json_text: String,
}

impl std::fmt::Debug for SchemaDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaDefinition")
            .field("tables", &self.tables.iter().map(|t| (&t.name, &t.indexes)).collect::<Vec<_>>())
            .field("schema_validation", &self.schema_validation)
            .finish()
    }
}

impl SchemaDefinition {
    /// Parses the text returned by `schema.export()`.
    pub fn from_export_json(json: &str) -> Result<SchemaDefinition, DbError> {
        let root: Json =
            serde_json::from_str(json).map_err(|e| invalid(format!("Schema export is not valid JSON: {e}")))?;
        let obj = root.as_object().ok_or_else(|| invalid("Schema export must be a JSON object".into()))?;
        let schema_validation = match obj.get("schemaValidation") {
            None | Some(Json::Null) => true,
            Some(Json::Bool(b)) => *b,
            Some(other) => {
                return Err(invalid(format!("schemaValidation must be a boolean, got {other}")));
            }
        };
        let tables_json = match obj.get("tables") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(a)) => a.clone(),
            Some(other) => {
                return Err(invalid(format!("Schema `tables` must be an array, got {other}")));
            }
        };
        let mut names = BTreeSet::new();
        let mut tables = Vec::new();
        for t in &tables_json {
            let name = t
                .get("tableName")
                .and_then(Json::as_str)
                .ok_or_else(|| invalid("Every table in the schema needs a string `tableName`".into()))?
                .to_string();
            emvex_value::limits::check_table_name(&name)?;
            if name.starts_with('_') {
                return Err(invalid(format!("Table names cannot start with '_': {name}")));
            }
            if !names.insert(name.clone()) {
                return Err(invalid(format!("Duplicate table name in schema: {name}")));
            }
            let mut indexes = Vec::new();
            let mut index_names = BTreeSet::new();
            if let Some(list) = t.get("indexes").and_then(Json::as_array) {
                for ix in list {
                    let def = parse_index(&name, ix)?;
                    if !index_names.insert(def.name.clone()) {
                        return Err(invalid(format!("Duplicate index name \"{}\" in table \"{name}\".", def.name)));
                    }
                    indexes.push(def);
                }
            }
            let mut search_indexes = Vec::new();
            for ix in t.get("searchIndexes").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default() {
                search_indexes.push(parse_search_index(&name, ix)?);
            }
            let mut vector_indexes = Vec::new();
            for ix in t.get("vectorIndexes").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default() {
                vector_indexes.push(parse_vector_index(&name, ix)?);
            }
            for key in ["searchIndexes", "vectorIndexes"] {
                if let Some(list) = t.get(key).and_then(Json::as_array) {
                    for ix in list {
                        if let Some(n) = ix.get("indexDescriptor").and_then(Json::as_str)
                            && !index_names.insert(n.to_string())
                        {
                            return Err(invalid(format!("Duplicate index name \"{n}\" in table \"{name}\".")));
                        }
                    }
                }
            }
            if indexes.len() > MAX_INDEXES_PER_TABLE {
                return Err(invalid(format!(
                    "Table \"{name}\" has too many indexes ({}), the maximum is {MAX_INDEXES_PER_TABLE}.",
                    indexes.len()
                )));
            }
            let document_type = match t.get("documentType") {
                None | Some(Json::Null) => None,
                Some(v) if v.get("type").and_then(Json::as_str) == Some("any") => None,
                Some(v) => Some(
                    Validator::from_json(v)
                        .map_err(|e| invalid(format!("Invalid documentType for table \"{name}\": {}", e.message)))?,
                ),
            };
            tables.push(TableDefinition { name, indexes, search_indexes, vector_indexes, document_type });
        }
        Ok(SchemaDefinition { tables, schema_validation, json_text: json.to_string() })
    }

    /// The table definition for `name`, if the schema declares it.
    pub fn table(&self, name: &str) -> Option<&TableDefinition> {
        self.tables.iter().find(|t| t.name == name)
    }
}

fn parse_index(table: &str, ix: &Json) -> Result<IndexDefinition, DbError> {
    let name = check_index_name(table, ix)?;
    let fields_json = ix
        .get("fields")
        .and_then(Json::as_array)
        .ok_or_else(|| invalid(format!("Index \"{table}.{name}\" needs a `fields` array")))?;
    if fields_json.is_empty() {
        return Err(invalid(format!("Index \"{table}.{name}\" must have at least one field.")));
    }
    if fields_json.len() > MAX_INDEX_FIELDS {
        return Err(invalid(format!(
            "Index \"{table}.{name}\" has too many fields ({}), the maximum is {MAX_INDEX_FIELDS}.",
            fields_json.len()
        )));
    }
    let mut fields = Vec::new();
    let mut seen = BTreeSet::new();
    for f in fields_json {
        let f =
            f.as_str().ok_or_else(|| invalid(format!("Index \"{table}.{name}\" fields must be strings, got {f}")))?;
        check_index_field(table, &name, f)?;
        if !seen.insert(f.to_string()) {
            return Err(invalid(format!("Index \"{table}.{name}\" lists the field \"{f}\" twice.")));
        }
        fields.push(f.to_string());
    }
    Ok(IndexDefinition { name, fields })
}

fn parse_search_index(table: &str, ix: &Json) -> Result<SearchIndexDefinition, DbError> {
    let name = check_index_name(table, ix)?;
    let search_field = ix
        .get("searchField")
        .and_then(Json::as_str)
        .ok_or_else(|| invalid(format!("Search index \"{table}.{name}\" needs a string `searchField`")))?
        .to_string();
    check_index_field(table, &name, &search_field)?;
    let mut filter_fields = Vec::new();
    for f in ix.get("filterFields").and_then(Json::as_array).map(Vec::as_slice).unwrap_or(&[]) {
        let f = f.as_str().ok_or_else(|| {
            invalid(format!("Search index \"{table}.{name}\" filter fields must be strings, got {f}"))
        })?;
        check_index_field(table, &name, f)?;
        if filter_fields.iter().any(|g| g == f) || f == search_field {
            return Err(invalid(format!("Search index \"{table}.{name}\" lists the field \"{f}\" twice.")));
        }
        filter_fields.push(f.to_string());
    }
    if filter_fields.len() > crate::search::MAX_FILTER_FIELDS {
        return Err(invalid(format!(
            "Search index \"{table}.{name}\" has too many filter fields ({}), the maximum is {}.",
            filter_fields.len(),
            crate::search::MAX_FILTER_FIELDS
        )));
    }
    Ok(SearchIndexDefinition { name, search_field, filter_fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(indexes: &str) -> String {
        format!(
            r#"{{"tables":[{{"tableName":"tasks","indexes":{indexes},"stagedDbIndexes":[],"searchIndexes":[],
            "stagedSearchIndexes":[],"vectorIndexes":[],"stagedVectorIndexes":[],
            "documentType":{{"type":"object","value":{{"text":{{"fieldType":{{"type":"string"}},"optional":false}}}}}}}}],
            "schemaValidation":true}}"#
        )
    }

    #[test]
    fn parses_tables_and_indexes() {
        let s = SchemaDefinition::from_export_json(&schema(
            r#"[{"indexDescriptor":"by_text","fields":["text"]},{"indexDescriptor":"by_a_b","fields":["a","b.c"]}]"#,
        ))
        .unwrap();
        assert!(s.schema_validation);
        let t = s.table("tasks").unwrap();
        assert_eq!(t.indexes.len(), 2);
        assert_eq!(t.indexes[1].fields, vec!["a".to_string(), "b.c".to_string()]);
        assert!(t.document_type.is_some());
        assert!(s.table("other").is_none());
    }

    #[test]
    fn rejects_bad_indexes() {
        for (ixs, needle) in [
            (r#"[{"indexDescriptor":"by_id","fields":["a"]}]"#, "reserved"),
            (r#"[{"indexDescriptor":"by_creation_time","fields":["a"]}]"#, "reserved"),
            (r#"[{"indexDescriptor":"_x","fields":["a"]}]"#, "cannot start with '_'"),
            (r#"[{"indexDescriptor":"1x","fields":["a"]}]"#, "Invalid index name"),
            (r#"[{"indexDescriptor":"x","fields":["_creationTime"]}]"#, "reserved"),
            (r#"[{"indexDescriptor":"x","fields":[]}]"#, "at least one field"),
            (r#"[{"indexDescriptor":"x","fields":["a","a"]}]"#, "twice"),
            (r#"[{"indexDescriptor":"x","fields":["a"]},{"indexDescriptor":"x","fields":["b"]}]"#, "Duplicate"),
        ] {
            let e = SchemaDefinition::from_export_json(&schema(ixs)).unwrap_err();
            assert_eq!(e.code, "InvalidSchema", "{ixs}");
            assert!(e.message.contains(needle), "{ixs}: {}", e.message);
        }
    }

    #[test]
    fn schema_validation_flag_and_any_document() {
        let s = SchemaDefinition::from_export_json(
            r#"{"tables":[{"tableName":"t","indexes":[],"documentType":{"type":"any"}}],"schemaValidation":false}"#,
        )
        .unwrap();
        assert!(!s.schema_validation);
        assert!(s.table("t").unwrap().document_type.is_none());
        assert!(SchemaDefinition::from_export_json("[1]").is_err());
        assert!(SchemaDefinition::from_export_json(r#"{"tables":[{"tableName":"_x"}]}"#).is_err());
    }
}
