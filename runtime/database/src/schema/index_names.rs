//! The names of a schema's indexes of every kind (database, search, vector) and of the fields
//! they index, checked against Convex's rules, and the `InvalidSchema` error.

use emvex_value::limits::check_identifier;
use serde_json::Value as Json;

use crate::DbError;

/// A schema error.
pub(super) fn invalid(message: String) -> DbError {
    DbError::new("InvalidSchema", message)
}

/// The `indexDescriptor` of an index of any kind, checked against Convex's naming rules.
pub(super) fn check_index_name(table: &str, ix: &Json) -> Result<String, DbError> {
    let name = ix
        .get("indexDescriptor")
        .and_then(Json::as_str)
        .ok_or_else(|| invalid(format!("Every index of table \"{table}\" needs a string `indexDescriptor`")))?
        .to_string();
    if check_identifier(&name).is_err() {
        return Err(invalid(format!(
            "Invalid index name: \"{name}\" in table \"{table}\". Identifiers must start with a letter, be at \
             most 64 characters and contain only letters, digits and underscores."
        )));
    }
    if name.starts_with('_') {
        return Err(invalid(format!(
            "Invalid index name: \"{name}\" in table \"{table}\". Index names cannot start with '_'."
        )));
    }
    if name == "by_id" || name == "by_creation_time" {
        return Err(invalid(format!(
            "In table \"{table}\" cannot name an index \"{name}\" because the name is reserved. Indexes may not \
             start with \"_\" or be named \"by_id\" or \"by_creation_time\"."
        )));
    }
    Ok(name)
}

/// One field path of an index of any kind: non-empty parts, valid field names, not a system
/// field.
pub(super) fn check_index_field(table: &str, name: &str, f: &str) -> Result<(), DbError> {
    if f.is_empty() || f.split('.').any(str::is_empty) {
        return Err(invalid(format!("Index \"{table}.{name}\" has an invalid field path \"{f}\".")));
    }
    for part in f.split('.') {
        emvex_value::limits::check_field_name(part)
            .map_err(|e| invalid(format!("Index \"{table}.{name}\" field \"{f}\": {}", e.message)))?;
    }
    if f.starts_with('_') {
        return Err(invalid(format!(
            "In index \"{name}\" of table \"{table}\": the field \"{f}\" is reserved. Index fields cannot \
             start with \"_\" (\"_creationTime\" and \"_id\" are added to every index automatically)."
        )));
    }
    Ok(())
}
