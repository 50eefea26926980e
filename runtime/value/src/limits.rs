//! Size, nesting and name limits of §4.6 / §4.4, with Convex's error texts.
//!
//! Invariants: every `check_*` accepts exactly the values at or under its limit and rejects
//! the first one over it; error codes are stable (`ValueTooLarge`, `TooNested`,
//! `ArrayTooLong`, `TooManyFields`, `InvalidFieldName`, `InvalidIdentifier`,
//! `InvalidTableName`, `InvalidIndexName`, `InvalidDocument`).

use crate::{Object, Value, ValueError};

/// Maximum size of any value (32 MiB).
pub const MAX_VALUE_SIZE: usize = 1 << 25;
/// Maximum nesting of any value.
pub const MAX_VALUE_NESTING: usize = 64;
/// Maximum size of a document in a user table (1 MiB), system fields included.
pub const MAX_DOCUMENT_SIZE: usize = 1 << 20;
/// Maximum nesting of a document (the top-level object counts as 1).
pub const MAX_DOCUMENT_NESTING: usize = 16;
/// Maximum number of elements of an array.
pub const MAX_ARRAY_LENGTH: usize = 8192;
/// Maximum number of fields of an object.
pub const MAX_OBJECT_FIELDS: usize = 1024;
/// Maximum length of a field name, in characters (all valid names are ASCII).
pub const MAX_FIELD_NAME_LENGTH: usize = 1024;
/// Maximum length of an identifier (table and index names).
pub const MAX_IDENTIFIER_LENGTH: usize = 64;
/// Maximum size of a function's arguments (16 MiB).
pub const MAX_FUNCTION_ARGS_SIZE: usize = 1 << 24;
/// Maximum size of a function's result (16 MiB).
pub const MAX_FUNCTION_RESULT_SIZE: usize = 1 << 24;
/// Maximum number of fields in one index (before `_creationTime` and `_id` are appended).
pub const MAX_INDEX_FIELDS: usize = 16;
/// Maximum number of indexes on one table.
pub const MAX_INDEXES_PER_TABLE: usize = 64;

/// Check a field name of any object (convex-js `validateObjectField` texts): at most 1024
/// characters, not starting with `$`, only non-control ASCII (0x20–0x7E). `""` is valid.
pub fn check_field_name(name: &str) -> Result<(), ValueError> {
    let length = name.encode_utf16().count();
    if length > MAX_FIELD_NAME_LENGTH {
        return Err(ValueError::new(
            "InvalidFieldName",
            format!("Field name {name} exceeds maximum field name length {MAX_FIELD_NAME_LENGTH}."),
        ));
    }
    if name.starts_with('$') {
        return Err(ValueError::new(
            "InvalidFieldName",
            format!("Field name {name} starts with a '$', which is reserved."),
        ));
    }
    if let Some(c) = name.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(ValueError::new(
            "InvalidFieldName",
            format!(
                "Field name {name} has invalid character '{c}': Field names can only contain \
                 non-control ASCII characters"
            ),
        ));
    }
    Ok(())
}

/// Check an identifier (`[A-Za-z_][A-Za-z0-9_]*`, at most 64 chars, not all underscores),
/// with the backend's texts. Used for index names and validator object keys.
pub fn check_identifier(name: &str) -> Result<(), ValueError> {
    let err = |m: String| Err(ValueError::new("InvalidIdentifier", m));
    let mut chars = name.chars();
    match chars.next() {
        None => return err("Identifier cannot be empty".into()),
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        Some(c) => {
            return err(format!(
                "Invalid first character {c:?} in {name}: Identifiers must start with an \
                 alphabetic character or underscore"
            ));
        }
    }
    if let Some(c) = chars.find(|c| !c.is_ascii_alphanumeric() && *c != '_') {
        return err(format!(
            "Identifier {name} has invalid character {c:?}: Identifiers can only contain \
             alphanumeric characters or underscores"
        ));
    }
    if name.len() > MAX_IDENTIFIER_LENGTH {
        return err(format!("Identifier is too long ({} > maximum {MAX_IDENTIFIER_LENGTH})", name.len()));
    }
    if name.chars().all(|c| c == '_') {
        return err(format!("Identifier {name} cannot have exclusively underscores"));
    }
    Ok(())
}

/// Check a user table name: an identifier that starts with a letter (names starting with
/// `_` are system tables).
pub fn check_table_name(name: &str) -> Result<(), ValueError> {
    if let Err(e) = check_identifier(name) {
        let message = if name.len() > MAX_IDENTIFIER_LENGTH
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
        {
            e.message
        } else {
            format!(
                "Invalid table name: \"{name}\". Identifiers must start with a letter and can \
                 only contain letters, digits, and underscores."
            )
        };
        return Err(ValueError::new("InvalidTableName", message));
    }
    if name.starts_with('_') {
        return Err(ValueError::new(
            "InvalidTableName",
            format!("Invalid table name {name} starts with metadata prefix '_'"),
        ));
    }
    Ok(())
}

/// Check a user index name: an identifier that does not start with `_` and is not
/// `by_id` / `by_creation_time`.
pub fn check_index_name(table: &str, name: &str) -> Result<(), ValueError> {
    check_identifier(name).map_err(|e| ValueError::new("InvalidIndexName", e.message))?;
    if name.starts_with('_') || name == "by_id" || name == "by_creation_time" {
        return Err(ValueError::new(
            "InvalidIndexName",
            format!(
                "In table \"{table}\" cannot name an index \"{name}\" because the name is \
                 reserved. Indexes may not start with an underscore or be named \"by_id\" or \
                 \"by_creation_time\"."
            ),
        ));
    }
    Ok(())
}

/// Check size, nesting, array lengths, field counts and field names of any value.
pub fn check_value(v: &Value) -> Result<(), ValueError> {
    walk(v, 0).map(|_| ())
}

/// [`check_value`] plus the document rules: at most 1 MiB, nesting at most 16, and no
/// top-level field starting with `_` other than `_id` and `_creationTime`.
pub fn check_document(body: &Object) -> Result<(), ValueError> {
    check_field_count(body.len())?;
    let mut size = 2;
    let mut nesting = 0;
    for (k, v) in body {
        check_field_name(k)?;
        let (s, n) = walk(v, 1)?;
        size += k.len() + 1 + s;
        nesting = nesting.max(n);
    }
    let nesting = nesting + 1;
    check_size(size, MAX_DOCUMENT_SIZE)?;
    if nesting > MAX_DOCUMENT_NESTING {
        return Err(ValueError::new(
            "TooNested",
            format!(
                "Document is too nested (nested {nesting} levels deep > maximum nesting \
                 {MAX_DOCUMENT_NESTING})"
            ),
        ));
    }
    for k in body.keys() {
        if k.starts_with('_') && k != "_id" && k != "_creationTime" {
            return Err(ValueError::new(
                "InvalidDocument",
                format!(
                    "Field '{k}' starts with an underscore, which is only allowed for system \
                     fields like '_id'"
                ),
            ));
        }
    }
    Ok(())
}

/// Reject `size > max` with Convex's "Value is too large (… > maximum size …)".
pub fn check_size(size: usize, max: usize) -> Result<(), ValueError> {
    if size > max {
        return Err(ValueError::new(
            "ValueTooLarge",
            format!("Value is too large ({} > maximum size {})", format_binary_size(size), format_binary_size(max)),
        ));
    }
    Ok(())
}

/// Reject a value nested deeper than [`MAX_VALUE_NESTING`].
pub fn check_nesting(nesting: usize) -> Result<(), ValueError> {
    if nesting > MAX_VALUE_NESTING {
        return Err(ValueError::new(
            "TooNested",
            format!(
                "Value is too nested (nested {nesting} levels deep > maximum nesting \
                 {MAX_VALUE_NESTING})"
            ),
        ));
    }
    Ok(())
}

/// Reject arrays longer than [`MAX_ARRAY_LENGTH`].
pub fn check_array_length(len: usize) -> Result<(), ValueError> {
    if len > MAX_ARRAY_LENGTH {
        return Err(ValueError::new(
            "ArrayTooLong",
            format!("Array length is too long ({len} > maximum length {MAX_ARRAY_LENGTH})"),
        ));
    }
    Ok(())
}

/// Reject objects with more than [`MAX_OBJECT_FIELDS`] fields.
pub fn check_field_count(count: usize) -> Result<(), ValueError> {
    if count > MAX_OBJECT_FIELDS {
        return Err(ValueError::new(
            "TooManyFields",
            format!("Object has too many fields ({count} > maximum number {MAX_OBJECT_FIELDS})"),
        ));
    }
    Ok(())
}

/// Format a byte count like the backend (humansize, binary units): `"500 B"`, `"1 MiB"`,
/// `"1.50 KiB"`.
pub fn format_binary_size(bytes: usize) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 { format!("{value:.0} {}", UNITS[unit]) } else { format!("{value:.2} {}", UNITS[unit]) }
}

/// Post-order walk returning `(size, nesting)`, checking every limit bottom-up.
/// `depth` is the number of containers enclosing `v`; a container deeper than the
/// maximum nesting fails before its children are visited (bounding recursion), with the
/// same message the bottom-up check would give.
fn walk(v: &Value, depth: usize) -> Result<(usize, usize), ValueError> {
    if matches!(v, Value::Array(_) | Value::Object(_)) {
        check_nesting(depth + 1)?;
    }
    match v {
        Value::Array(items) => {
            check_array_length(items.len())?;
            let mut size = 2;
            let mut nesting = 0;
            for item in items {
                let (s, n) = walk(item, depth + 1)?;
                size += s;
                nesting = nesting.max(n);
            }
            check_size(size, MAX_VALUE_SIZE)?;
            check_nesting(nesting + 1)?;
            Ok((size, nesting + 1))
        }
        Value::Object(fields) => {
            check_field_count(fields.len())?;
            let mut size = 2;
            let mut nesting = 0;
            for (k, v) in fields {
                check_field_name(k)?;
                let (s, n) = walk(v, depth + 1)?;
                size += k.len() + 1 + s;
                nesting = nesting.max(n);
            }
            check_size(size, MAX_VALUE_SIZE)?;
            check_nesting(nesting + 1)?;
            Ok((size, nesting + 1))
        }
        scalar => {
            let size = scalar.size();
            check_size(size, MAX_VALUE_SIZE)?;
            Ok((size, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(pairs: Vec<(String, Value)>) -> Object {
        pairs.into_iter().collect()
    }

    fn nested_arrays(levels: usize) -> Value {
        let mut v = Value::Null;
        for _ in 0..levels {
            v = Value::Array(vec![v]);
        }
        v
    }

    #[test]
    fn field_names() {
        assert!(check_field_name("").is_ok());
        assert!(check_field_name("_id").is_ok());
        assert!(check_field_name("a b~!@#%^&*()").is_ok());
        assert!(check_field_name(&"a".repeat(1024)).is_ok());
        let e = check_field_name(&"a".repeat(1025)).unwrap_err();
        assert_eq!(e.code, "InvalidFieldName");
        assert_eq!(e.message, format!("Field name {} exceeds maximum field name length 1024.", "a".repeat(1025)));
        assert_eq!(check_field_name("$x").unwrap_err().message, "Field name $x starts with a '$', which is reserved.");
        assert!(check_field_name("x$").is_ok());
        assert_eq!(
            check_field_name("a\nb").unwrap_err().message,
            "Field name a\nb has invalid character '\n': Field names can only contain non-control ASCII characters"
        );
        assert!(check_field_name("\u{7f}").is_err());
        assert!(check_field_name("\u{1f600}").is_err());
    }

    #[test]
    fn identifiers() {
        assert!(check_identifier("a").is_ok());
        assert!(check_identifier("_a1").is_ok());
        assert!(check_identifier(&"a".repeat(64)).is_ok());
        assert_eq!(check_identifier(&"a".repeat(65)).unwrap_err().message, "Identifier is too long (65 > maximum 64)");
        assert_eq!(check_identifier("").unwrap_err().message, "Identifier cannot be empty");
        assert_eq!(
            check_identifier("1a").unwrap_err().message,
            "Invalid first character '1' in 1a: Identifiers must start with an alphabetic character or underscore"
        );
        assert_eq!(
            check_identifier("a-b").unwrap_err().message,
            "Identifier a-b has invalid character '-': Identifiers can only contain alphanumeric characters or underscores"
        );
        assert_eq!(check_identifier("___").unwrap_err().message, "Identifier ___ cannot have exclusively underscores");
    }

    #[test]
    fn table_names() {
        assert!(check_table_name("messages").is_ok());
        assert!(check_table_name("M_1").is_ok());
        assert!(check_table_name(&"t".repeat(64)).is_ok());
        assert_eq!(
            check_table_name("_storage").unwrap_err().message,
            "Invalid table name _storage starts with metadata prefix '_'"
        );
        assert_eq!(
            check_table_name("bad-name").unwrap_err().message,
            "Invalid table name: \"bad-name\". Identifiers must start with a letter and can only contain letters, digits, and underscores."
        );
        assert!(check_table_name("").is_err());
        assert!(check_table_name("9lives").is_err());
        let e = check_table_name(&"t".repeat(65)).unwrap_err();
        assert_eq!(e.code, "InvalidTableName");
        assert_eq!(e.message, "Identifier is too long (65 > maximum 64)");
    }

    #[test]
    fn index_names() {
        assert!(check_index_name("t", "by_author").is_ok());
        for bad in ["by_id", "by_creation_time", "_x"] {
            let e = check_index_name("t", bad).unwrap_err();
            assert_eq!(e.code, "InvalidIndexName");
            assert!(e.message.contains("because the name is reserved"), "{}", e.message);
        }
        assert_eq!(check_index_name("t", "a.b").unwrap_err().code, "InvalidIndexName");
    }

    #[test]
    fn array_length_boundary() {
        assert!(check_value(&Value::Array(vec![Value::Null; 8192])).is_ok());
        let e = check_value(&Value::Array(vec![Value::Null; 8193])).unwrap_err();
        assert_eq!(e.code, "ArrayTooLong");
        assert_eq!(e.message, "Array length is too long (8193 > maximum length 8192)");
    }

    #[test]
    fn field_count_boundary() {
        let fields = |n: usize| Value::Object(obj((0..n).map(|i| (format!("f{i}"), Value::Null)).collect()));
        assert!(check_value(&fields(1024)).is_ok());
        let e = check_value(&fields(1025)).unwrap_err();
        assert_eq!(e.code, "TooManyFields");
        assert_eq!(e.message, "Object has too many fields (1025 > maximum number 1024)");
    }

    #[test]
    fn nesting_boundary() {
        assert!(check_value(&nested_arrays(64)).is_ok());
        let e = check_value(&nested_arrays(65)).unwrap_err();
        assert_eq!(e.code, "TooNested");
        assert_eq!(e.message, "Value is too nested (nested 65 levels deep > maximum nesting 64)");
        // Deep values fail without recursing to the bottom.
        assert_eq!(check_value(&nested_arrays(10_000)).unwrap_err().code, "TooNested");
    }

    #[test]
    fn value_size_boundary() {
        // A string of size exactly 32 MiB (2 + len).
        let exact = Value::String("x".repeat(MAX_VALUE_SIZE - 2));
        assert_eq!(exact.size(), MAX_VALUE_SIZE);
        assert!(check_value(&exact).is_ok());
        let over = Value::String("x".repeat(MAX_VALUE_SIZE - 1));
        let e = check_value(&over).unwrap_err();
        assert_eq!(e.code, "ValueTooLarge");
        assert_eq!(e.message, "Value is too large (32.00 MiB > maximum size 32 MiB)");
        // Inside an array: 2 + (2 + len) bytes.
        let arr = Value::Array(vec![Value::Bytes(vec![0; MAX_VALUE_SIZE - 4])]);
        assert_eq!(arr.size(), MAX_VALUE_SIZE);
        assert!(check_value(&arr).is_ok());
        let arr = Value::Array(vec![Value::Bytes(vec![0; MAX_VALUE_SIZE - 3])]);
        assert_eq!(check_value(&arr).unwrap_err().code, "ValueTooLarge");
    }

    #[test]
    fn invalid_field_names_inside_values() {
        let v = Value::Array(vec![Value::Object(obj(vec![("$bad".into(), Value::Null)]))]);
        assert_eq!(check_value(&v).unwrap_err().code, "InvalidFieldName");
    }

    #[test]
    fn document_size_boundary() {
        // 2 (object) + 2 ("s" + NUL) + 2 + len (string) = 1 MiB exactly.
        let len = MAX_DOCUMENT_SIZE - 6;
        let doc = obj(vec![("s".into(), Value::String("x".repeat(len)))]);
        assert_eq!(Value::Object(doc.clone()).size(), MAX_DOCUMENT_SIZE);
        assert!(check_document(&doc).is_ok());
        let doc = obj(vec![("s".into(), Value::String("x".repeat(len + 1)))]);
        let e = check_document(&doc).unwrap_err();
        assert_eq!(e.code, "ValueTooLarge");
        assert_eq!(e.message, "Value is too large (1.00 MiB > maximum size 1 MiB)");
    }

    #[test]
    fn document_nesting_boundary() {
        // The document itself is level 1; 15 more levels of arrays make 16.
        let doc = obj(vec![("a".into(), nested_arrays(15))]);
        assert!(check_document(&doc).is_ok());
        let doc = obj(vec![("a".into(), nested_arrays(16))]);
        let e = check_document(&doc).unwrap_err();
        assert_eq!(e.code, "TooNested");
        assert_eq!(e.message, "Document is too nested (nested 17 levels deep > maximum nesting 16)");
    }

    #[test]
    fn document_system_fields() {
        let doc = obj(vec![
            ("_id".into(), Value::String("x".into())),
            ("_creationTime".into(), Value::Float64(1.0)),
            ("a".into(), Value::Object(obj(vec![("_nested".into(), Value::Null)]))),
        ]);
        assert!(check_document(&doc).is_ok());
        let doc = obj(vec![("_secret".into(), Value::Null)]);
        let e = check_document(&doc).unwrap_err();
        assert_eq!(e.code, "InvalidDocument");
        assert_eq!(
            e.message,
            "Field '_secret' starts with an underscore, which is only allowed for system fields like '_id'"
        );
        assert_eq!(check_document(&obj(vec![("$x".into(), Value::Null)])).unwrap_err().code, "InvalidFieldName");
    }

    #[test]
    fn binary_sizes() {
        assert_eq!(format_binary_size(0), "0 B");
        assert_eq!(format_binary_size(500), "500 B");
        assert_eq!(format_binary_size(1024), "1 KiB");
        assert_eq!(format_binary_size(1536), "1.50 KiB");
        assert_eq!(format_binary_size(1 << 20), "1 MiB");
        assert_eq!(format_binary_size(1 << 25), "32 MiB");
    }
}
