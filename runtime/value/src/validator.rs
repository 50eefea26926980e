//! Convex validators (§2.6): the JSON grammar produced by `exportArgs()` / `exportReturns()`
//! and schema `documentType`, checking values against them with Convex's messages, and
//! Convex's `v.…` rendering of validators.
//!
//! Invariants:
//! - `Validator::from_json(&v.to_json()) == Ok(v)` for every validator `from_json` accepts.
//! - `check` never coerces: `Number` accepts only Float64, `BigInt` and `CommitTs` only
//!   Int64; object validators reject missing required fields and extra fields.
//! - Error messages are the backend's texts (`crates/common/src/schemas/validator.rs`),
//!   including the `Path: .a[0].b` line naming the bad field; the
//!   `ArgumentValidationError: ` / `ReturnsValidationError: ` texts of a function's arguments
//!   and return value are formatted only by [`argument_validation_error`] and
//!   [`returns_validation_error`].

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Value as Json, json};

use crate::id::DocumentId;
use crate::{Value, ValueError, limits};

/// A validator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validator {
    Null,
    /// `v.number()` / `v.float64()`: Float64 only.
    Number,
    /// `v.int64()` / `v.bigint()`: Int64 only.
    BigInt,
    Boolean,
    String,
    Bytes,
    Any,
    /// `v.commitTs()`: an Int64 at rest.
    CommitTs,
    /// `v.literal(x)`: x is a Float64, Int64, Boolean or String.
    Literal(Value),
    /// `v.id("table")`.
    Id(String),
    Array(Box<Validator>),
    Object(BTreeMap<String, FieldValidator>),
    /// `v.record(keys, values)`: keys are string-like, values are never optional.
    Record {
        keys: Box<Validator>,
        values: Box<FieldValidator>,
    },
    Union(Vec<Validator>),
    /// `v.function(...)` (convex 1.49): a function handle string (`function://...`).
    Function,
}

/// A field of an object validator (or the value of a record validator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValidator {
    pub validator: Validator,
    pub optional: bool,
}

/// Resolves table numbers of the current component's namespace (virtual system tables
/// included), for `v.id("t")`.
pub trait TableNames {
    fn table_name(&self, table_number: u32) -> Option<String>;
}

impl<F: Fn(u32) -> Option<String>> TableNames for F {
    fn table_name(&self, table_number: u32) -> Option<String> {
        self(table_number)
    }
}

/// A namespace with no tables (every `v.id` check fails).
pub struct NoTables;

impl TableNames for NoTables {
    fn table_name(&self, _: u32) -> Option<String> {
        None
    }
}

/// A failed validation: `message` is Convex's text (without the
/// `ArgumentValidationError: ` / `ReturnsValidationError: ` prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ValidationError {}

/// Convex's text for a function's arguments that could not be decoded or failed their
/// validator: `ArgumentValidationError: <detail>`.
pub fn argument_validation_error(detail: impl fmt::Display) -> String {
    format!("ArgumentValidationError: {detail}")
}

/// Convex's text for a function's return value that failed its validator:
/// `ReturnsValidationError: <detail>`.
pub fn returns_validation_error(detail: impl fmt::Display) -> String {
    format!("ReturnsValidationError: {detail}")
}

fn invalid(message: impl Into<String>) -> ValueError {
    ValueError::new("InvalidValidator", message)
}

impl Validator {
    /// Parse the validator JSON grammar of §2.6 (what `exportArgs()`, `exportReturns()`
    /// and schema `documentType` produce).
    pub fn from_json(json: &Json) -> Result<Validator, ValueError> {
        let obj =
            json.as_object().ok_or_else(|| invalid(format!("Invalid validator JSON {json}: expected an object")))?;
        let ty = obj
            .get("type")
            .and_then(Json::as_str)
            .ok_or_else(|| invalid(format!("Invalid validator JSON {json}: missing string field `type`")))?;
        let field = |name: &str| {
            obj.get(name).ok_or_else(|| invalid(format!("Invalid validator JSON {json}: missing field `{name}`")))
        };
        Ok(match ty {
            "null" => Validator::Null,
            "number" => Validator::Number,
            "bigint" => Validator::BigInt,
            "boolean" => Validator::Boolean,
            "string" => Validator::String,
            "bytes" => Validator::Bytes,
            // `map` and `set` are obsolete aliases the backend still parses as `any`.
            "any" | "map" | "set" => Validator::Any,
            "commitTs" => Validator::CommitTs,
            "function" => {
                for key in ["args", "returns"] {
                    if let Some(inner) = obj.get(key) {
                        Validator::from_json(inner)?;
                    }
                }
                Validator::Function
            }
            "literal" => {
                let value = Value::from_convex_json(field("value")?)?;
                match value {
                    Value::Float64(_) | Value::Int64(_) | Value::Boolean(_) | Value::String(_) => {
                        Validator::Literal(value)
                    }
                    other => return Err(invalid(format!("Value {other} is not a valid literal."))),
                }
            }
            "id" => {
                let table = field("tableName")?
                    .as_str()
                    .ok_or_else(|| invalid(format!("Invalid validator JSON {json}: `tableName` must be a string")))?;
                limits::check_identifier(table).map_err(|e| invalid(e.message))?;
                Validator::Id(table.to_string())
            }
            "array" => Validator::Array(Box::new(Validator::from_json(field("value")?)?)),
            "object" => {
                let fields = field("value")?
                    .as_object()
                    .ok_or_else(|| invalid(format!("Invalid validator JSON {json}: `value` must be an object")))?;
                let mut out = BTreeMap::new();
                for (k, v) in fields {
                    limits::check_field_name(k)
                        .and_then(|()| limits::check_identifier(k))
                        .map_err(|e| invalid(e.message))?;
                    let fv = FieldValidator::from_json(v)
                        .map_err(|e| invalid(format!("Invalid validator for key `{k}`: {}", e.message)))?;
                    out.insert(k.clone(), fv);
                }
                Validator::Object(out)
            }
            "record" => {
                let keys = Validator::from_json(field("keys")?)?;
                if !keys.is_subset(&Validator::String) {
                    return Err(invalid(format!(
                        "Records can only have string keys. Your validator contains a record \
                         with key typed as `{keys}`, which is not a subtype of `v.string()`"
                    )));
                }
                let values = FieldValidator::from_json(field("values")?)?;
                if keys.has_string_literal() {
                    return Err(invalid("Records cannot have string literal keys"));
                }
                if values.optional {
                    return Err(invalid("Records cannot have optional values"));
                }
                Validator::Record { keys: Box::new(keys), values: Box::new(values) }
            }
            "union" => {
                let members = field("value")?
                    .as_array()
                    .ok_or_else(|| invalid(format!("Invalid validator JSON {json}: `value` must be an array")))?;
                Validator::Union(members.iter().map(Validator::from_json).collect::<Result<_, _>>()?)
            }
            other => {
                return Err(invalid(format!("Unknown validator type \"{other}\" in {json}")));
            }
        })
    }

    /// Parse the output of `exportReturns()` (or an optional schema `documentType`):
    /// JSON `null` means "no validator".
    pub fn from_optional_json(json: &Json) -> Result<Option<Validator>, ValueError> {
        if json.is_null() { Ok(None) } else { Validator::from_json(json).map(Some) }
    }

    /// The JSON grammar of §2.6 (inverse of [`Validator::from_json`]).
    pub fn to_json(&self) -> Json {
        match self {
            Validator::Null => json!({"type": "null"}),
            Validator::Number => json!({"type": "number"}),
            Validator::BigInt => json!({"type": "bigint"}),
            Validator::Boolean => json!({"type": "boolean"}),
            Validator::String => json!({"type": "string"}),
            Validator::Bytes => json!({"type": "bytes"}),
            Validator::Any => json!({"type": "any"}),
            Validator::CommitTs => json!({"type": "commitTs"}),
            Validator::Function => json!({"type": "function"}),
            Validator::Literal(v) => json!({"type": "literal", "value": v.to_convex_json()}),
            Validator::Id(t) => json!({"type": "id", "tableName": t}),
            Validator::Array(e) => json!({"type": "array", "value": e.to_json()}),
            Validator::Object(fields) => {
                let value: serde_json::Map<String, Json> =
                    fields.iter().map(|(k, f)| (k.clone(), f.to_json())).collect();
                json!({"type": "object", "value": value})
            }
            Validator::Record { keys, values } => {
                json!({"type": "record", "keys": keys.to_json(), "values": values.to_json()})
            }
            Validator::Union(members) => json!({
                "type": "union",
                "value": members.iter().map(Validator::to_json).collect::<Vec<_>>(),
            }),
        }
    }

    /// Check `value`. The error message is Convex's text and names the path of the bad
    /// field (`Path: .a[0].b`).
    pub fn check(&self, value: &Value, tables: &dyn TableNames) -> Result<(), ValidationError> {
        self.check_inner(value, tables).map_err(|e| ValidationError { message: e.render() })
    }

    /// Schema enforcement of a stored document (backend `DocumentSchema::check_value`):
    /// top-level system fields (names starting with `_`, i.e. `_id` and `_creationTime`) are
    /// removed from the document and from the top-level object validators before checking.
    pub fn check_document(&self, document: &crate::Object, tables: &dyn TableNames) -> Result<(), ValidationError> {
        let user_fields: crate::Object =
            document.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect();
        self.without_top_level_system_fields().check(&Value::Object(user_fields), tables)
    }

    /// This validator with `_`-prefixed fields removed from its top-level object
    /// validators (including those inside a top-level union).
    pub fn without_top_level_system_fields(&self) -> Validator {
        match self {
            Validator::Object(fields) => Validator::Object(
                fields.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, f)| (k.clone(), f.clone())).collect(),
            ),
            Validator::Union(members) => {
                Validator::Union(members.iter().map(Validator::without_top_level_system_fields).collect())
            }
            other => other.clone(),
        }
    }

    /// Convex's rendering of a validator in messages, e.g. `v.object({name: v.string()})`.
    pub fn describe(&self) -> String {
        self.to_string()
    }

    /// Whether every value accepted by `self` is accepted by `superset` (conservative:
    /// may answer `false` for some true subsets, never `true` for a non-subset).
    pub fn is_subset(&self, superset: &Validator) -> bool {
        use Validator as V;
        match (self, superset) {
            (V::Array(a), V::Array(b)) => a.is_subset(b),
            (V::Object(a), V::Object(b)) => {
                a.keys().all(|k| b.contains_key(k))
                    && b.iter().all(|(k, bf)| match a.get(k) {
                        Some(af) => (!af.optional || bf.optional) && af.validator.is_subset(&bf.validator),
                        None => bf.optional,
                    })
            }
            (a, b) if a == b => true,
            (_, V::Any) => true,
            (V::Literal(Value::String(_)), V::String)
            | (V::Literal(Value::Int64(_)), V::BigInt)
            | (V::Literal(Value::Int64(_)), V::CommitTs)
            | (V::Literal(Value::Float64(_)), V::Number)
            | (V::Literal(Value::Boolean(_)), V::Boolean)
            | (V::CommitTs, V::BigInt)
            | (V::BigInt, V::CommitTs)
            | (V::Id(_), V::String) => true,
            (V::Union(members), _) => members.iter().all(|m| m.is_subset(superset)),
            (_, V::Union(members)) => {
                members.iter().any(|m| self.is_subset(m))
                    || (*self == V::Boolean
                        && V::Literal(Value::Boolean(true)).is_subset(superset)
                        && V::Literal(Value::Boolean(false)).is_subset(superset))
            }
            _ => false,
        }
    }

    fn has_string_literal(&self) -> bool {
        match self {
            Validator::Literal(Value::String(_)) => true,
            Validator::Union(members) => members.iter().any(Validator::has_string_literal),
            _ => false,
        }
    }

    fn check_inner(&self, value: &Value, tables: &dyn TableNames) -> Result<(), Failure> {
        let no_match = || Failure::new(Kind::NoMatch { value: value.clone(), validator: self.clone() });
        match (self, value) {
            (Validator::Id(expected), Value::String(s)) => {
                let Ok(id) = DocumentId::decode(s) else {
                    return Err(no_match());
                };
                let Some(found) = tables.table_name(id.table_number) else {
                    return Err(no_match());
                };
                if &found != expected {
                    let kind = if found.starts_with('_') {
                        Kind::SystemTable { id: s.clone(), expected: expected.clone() }
                    } else {
                        Kind::WrongTable { id: s.clone(), found, expected: expected.clone() }
                    };
                    return Err(Failure::new(kind));
                }
                Ok(())
            }
            (Validator::Null, Value::Null)
            | (Validator::Number, Value::Float64(_))
            | (Validator::BigInt, Value::Int64(_))
            | (Validator::CommitTs, Value::Int64(_))
            | (Validator::Boolean, Value::Boolean(_))
            | (Validator::String, Value::String(_))
            | (Validator::Bytes, Value::Bytes(_))
            | (Validator::Any, _) => Ok(()),
            (Validator::Function, Value::String(s)) if s.starts_with("function://") => Ok(()),
            (Validator::Literal(literal), v) => {
                if v == literal {
                    Ok(())
                } else {
                    Err(Failure::new(Kind::Literal { value: v.clone(), literal: literal.clone() }))
                }
            }
            (Validator::Array(element), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    element.check_inner(item, tables).map_err(|e| e.at(format!("[{i}]")))?;
                }
                Ok(())
            }
            (Validator::Record { keys, values }, Value::Object(fields)) => {
                for (k, v) in fields {
                    keys.check_inner(&Value::String(k.clone()), tables).map_err(|e| e.at(".keys()".into()))?;
                    values.validator.check_inner(v, tables).map_err(|e| e.at(".values()".into()))?;
                }
                Ok(())
            }
            (Validator::Object(validators), Value::Object(fields)) => {
                for (name, fv) in validators {
                    match fields.get(name) {
                        Some(v) => fv.validator.check_inner(v, tables).map_err(|e| e.at(format!(".{name}")))?,
                        None if !fv.optional => {
                            return Err(Failure::new(Kind::MissingField {
                                object: value.clone(),
                                field: name.clone(),
                                validator: self.clone(),
                            }));
                        }
                        None => {}
                    }
                }
                if let Some(extra) = fields.keys().find(|k| !validators.contains_key(*k)) {
                    return Err(Failure::new(Kind::ExtraField {
                        object: value.clone(),
                        field: extra.clone(),
                        validator: self.clone(),
                    }));
                }
                Ok(())
            }
            (Validator::Union(members), v) => {
                if members.len() == 1 {
                    return members[0].check_inner(v, tables);
                }
                if members.iter().any(|m| m.check_inner(v, tables).is_ok()) { Ok(()) } else { Err(no_match()) }
            }
            _ => Err(no_match()),
        }
    }
}

impl FieldValidator {
    pub fn required(validator: Validator) -> Self {
        FieldValidator { validator, optional: false }
    }

    pub fn optional(validator: Validator) -> Self {
        FieldValidator { validator, optional: true }
    }

    /// Parse `{"fieldType": <validator>, "optional": bool}`.
    pub fn from_json(json: &Json) -> Result<FieldValidator, ValueError> {
        let obj = json
            .as_object()
            .ok_or_else(|| invalid(format!("Invalid field validator JSON {json}: expected an object")))?;
        let field_type = obj
            .get("fieldType")
            .ok_or_else(|| invalid(format!("Invalid field validator JSON {json}: missing field `fieldType`")))?;
        let optional = match obj.get("optional") {
            None => false,
            Some(Json::Bool(b)) => *b,
            Some(other) => {
                return Err(invalid(format!(
                    "Invalid field validator JSON {json}: `optional` must be a boolean, got {other}"
                )));
            }
        };
        Ok(FieldValidator { validator: Validator::from_json(field_type)?, optional })
    }

    pub fn to_json(&self) -> Json {
        json!({"fieldType": self.validator.to_json(), "optional": self.optional})
    }
}

/// Check a function's positional arguments against its args validator the way the backend
/// does (`ArgsValidator::check_args`): with `v.any()` (no `args` given) anything passes;
/// otherwise exactly one argument, which must be an object matching the validator.
pub fn check_args(validator: &Validator, args: &[Value], tables: &dyn TableNames) -> Result<(), ValidationError> {
    if *validator == Validator::Any {
        return Ok(());
    }
    let [arg] = args else {
        let rendered = Value::Array(args.to_vec());
        return Err(ValidationError {
            message: format!(
                "Expected to receive a single object as the function's argument. Instead \
                 received {} arguments: {rendered}",
                args.len()
            ),
        });
    };
    if !matches!(arg, Value::Object(_)) {
        return Err(ValidationError {
            message: format!(
                "Expected to receive an object as the function's argument. Instead received: \
                 {arg}"
            ),
        });
    }
    validator.check(arg, tables)
}

/// An internal validation failure with the path collected innermost-first.
struct Failure {
    kind: Kind,
    reversed_path: Vec<String>,
}

enum Kind {
    WrongTable { id: String, found: String, expected: String },
    SystemTable { id: String, expected: String },
    Literal { value: Value, literal: Value },
    MissingField { object: Value, field: String, validator: Validator },
    ExtraField { object: Value, field: String, validator: Validator },
    NoMatch { value: Value, validator: Validator },
}

impl Failure {
    fn new(kind: Kind) -> Self {
        Failure { kind, reversed_path: Vec::new() }
    }

    fn at(mut self, step: String) -> Self {
        self.reversed_path.push(step);
        self
    }

    fn render(&self) -> String {
        let context = if self.reversed_path.is_empty() {
            String::new()
        } else {
            let mut s = String::from("Path: ");
            for step in self.reversed_path.iter().rev() {
                s.push_str(step);
            }
            s
        };
        match &self.kind {
            Kind::WrongTable { id, found, expected } => format!(
                "Found ID \"{id}\" from table `{found}`, which does not match the table name in \
                 validator `v.id(\"{expected}\")`.{context}"
            ),
            Kind::SystemTable { id, expected } => format!(
                "Found ID \"{id}\" from a system table, which does not match the table name in \
                 validator `v.id(\"{expected}\")`.{context}"
            ),
            Kind::Literal { value, literal } => format!(
                "`{value}` does not match literal validator `v.literal({})`.{context}",
                literal_display(literal)
            ),
            Kind::MissingField { object, field, validator } => format!(
                "Object is missing the required field `{field}`. Consider wrapping the field \
                 validator in `v.optional(...)` if this is expected.\n{context}\nObject: \
                 {object}\nValidator: {validator}"
            ),
            Kind::ExtraField { object, field, validator } => format!(
                "Object contains extra field `{field}` that is not in the validator.\n{context}\n\
                 Object: {object}\nValidator: {validator}"
            ),
            Kind::NoMatch { value, validator } => {
                format!("Value does not match validator.\n{context}\nValue: {value}\nValidator: {validator}")
            }
        }
    }
}

/// The backend's rendering of a literal: JSON where possible, else the type.
fn literal_display(v: &Value) -> String {
    match v {
        Value::Float64(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => n.to_string(),
            None => "<number>".into(),
        },
        Value::Int64(_) => "<bigint>".into(),
        Value::Boolean(b) => b.to_string(),
        Value::String(s) => Json::String(s.clone()).to_string(),
        other => other.to_string(),
    }
}

impl fmt::Display for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validator::Id(t) => write!(f, "v.id(\"{t}\")"),
            Validator::Null => f.write_str("v.null()"),
            Validator::Number => f.write_str("v.float64()"),
            Validator::BigInt => f.write_str("v.int64()"),
            Validator::CommitTs => f.write_str("v.commitTs()"),
            Validator::Boolean => f.write_str("v.boolean()"),
            Validator::String => f.write_str("v.string()"),
            Validator::Bytes => f.write_str("v.bytes()"),
            Validator::Any => f.write_str("v.any()"),
            Validator::Function => f.write_str("v.function()"),
            Validator::Literal(v) => write!(f, "v.literal({})", literal_display(v)),
            Validator::Array(e) => write!(f, "v.array({e})"),
            Validator::Record { keys, values } => {
                write!(f, "v.record({keys}, {})", values.validator)
            }
            Validator::Object(fields) => {
                f.write_str("v.object({")?;
                for (i, (k, fv)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {fv}")?;
                }
                f.write_str("})")
            }
            Validator::Union(members) => {
                f.write_str("v.union(")?;
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{m}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for FieldValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.optional { write!(f, "v.optional({})", self.validator) } else { write!(f, "{}", self.validator) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Object;
    use serde_json::json;

    // Produced by `v.….json` of the real convex@1.49.0 package.
    const OBJ: &str = r#"{"type":"object","value":{"name":{"fieldType":{"type":"string"},"optional":false},"age":{"fieldType":{"type":"number"},"optional":true},"tags":{"fieldType":{"type":"array","value":{"type":"string"}},"optional":false}}}"#;
    const ALL: &str = r#"{"type":"object","value":{"n":{"fieldType":{"type":"null"},"optional":false},"f":{"fieldType":{"type":"number"},"optional":false},"i":{"fieldType":{"type":"bigint"},"optional":false},"b":{"fieldType":{"type":"boolean"},"optional":false},"s":{"fieldType":{"type":"string"},"optional":false},"by":{"fieldType":{"type":"bytes"},"optional":false},"a":{"fieldType":{"type":"any"},"optional":false},"l1":{"fieldType":{"type":"literal","value":"x"},"optional":false},"l2":{"fieldType":{"type":"literal","value":3},"optional":false},"l3":{"fieldType":{"type":"literal","value":{"$integer":"BQAAAAAAAAA="}},"optional":false},"l4":{"fieldType":{"type":"literal","value":true},"optional":false},"id":{"fieldType":{"type":"id","tableName":"users"},"optional":false},"arr":{"fieldType":{"type":"array","value":{"type":"number"}},"optional":false},"rec":{"fieldType":{"type":"record","keys":{"type":"string"},"values":{"fieldType":{"type":"bigint"},"optional":false}},"optional":false},"recId":{"fieldType":{"type":"record","keys":{"type":"id","tableName":"users"},"values":{"fieldType":{"type":"boolean"},"optional":false}},"optional":false},"u":{"fieldType":{"type":"union","value":[{"type":"literal","value":"a"},{"type":"literal","value":"b"}]},"optional":false},"ct":{"fieldType":{"type":"commitTs"},"optional":false}}}"#;
    const FUNCTION: &str = r#"{"type":"function","fnType":"mutation","args":{"type":"object","value":{"x":{"fieldType":{"type":"number"},"optional":false}}},"returns":{"type":"null"}}"#;

    const USERS: u32 = 10001;
    const POSTS: u32 = 10002;
    const STORAGE: u32 = 600;

    fn tables(n: u32) -> Option<String> {
        match n {
            USERS => Some("users".into()),
            POSTS => Some("posts".into()),
            STORAGE => Some("_storage".into()),
            _ => None,
        }
    }

    fn parse(s: &str) -> Validator {
        Validator::from_json(&serde_json::from_str(s).unwrap()).unwrap()
    }

    fn val(j: Json) -> Value {
        Value::from_convex_json(&j).unwrap()
    }

    fn check(v: &Validator, value: Json) -> Result<(), String> {
        v.check(&val(value), &tables).map_err(|e| e.message)
    }

    fn id(table: u32) -> String {
        DocumentId::new(table, [3; 16]).encode()
    }

    fn v_fields(v: &Validator) -> usize {
        match v {
            Validator::Object(f) => f.len(),
            _ => 0,
        }
    }

    #[test]
    fn parses_real_package_json_and_round_trips() {
        for s in [OBJ, ALL] {
            let v = parse(s);
            assert_eq!(Validator::from_json(&v.to_json()).unwrap(), v);
            let j = v.to_json();
            assert_eq!(j["type"], "object");
            assert_eq!(j["value"].as_object().unwrap().len(), v_fields(&v));
        }
        assert_eq!(parse(FUNCTION), Validator::Function);
        assert_eq!(
            parse(OBJ).describe(),
            "v.object({age: v.optional(v.float64()), name: v.string(), tags: v.array(v.string())})"
        );
        assert_eq!(
            parse(ALL).describe(),
            "v.object({a: v.any(), arr: v.array(v.float64()), b: v.boolean(), by: v.bytes(), \
             ct: v.commitTs(), f: v.float64(), i: v.int64(), id: v.id(\"users\"), \
             l1: v.literal(\"x\"), l2: v.literal(3.0), l3: v.literal(<bigint>), l4: v.literal(true), \
             n: v.null(), rec: v.record(v.string(), v.int64()), recId: v.record(v.id(\"users\"), v.boolean()), \
             s: v.string(), u: v.union(v.literal(\"a\"), v.literal(\"b\"))})"
        );
    }

    #[test]
    fn accepts_matching_values() {
        let v = parse(ALL);
        let good = json!({
            "n": null, "f": 1.5, "i": {"$integer": "AQAAAAAAAAA="}, "b": false, "s": "", "by": {"$bytes": "AA=="},
            "a": [1, {"x": null}], "l1": "x", "l2": 3, "l3": {"$integer": "BQAAAAAAAAA="}, "l4": true,
            "id": id(USERS), "arr": [], "rec": {"k": {"$integer": "AQAAAAAAAAA="}, "": {"$integer": "AQAAAAAAAAA="}},
            "recId": {id(USERS): true}, "u": "b", "ct": {"$integer": "AQAAAAAAAAA="},
        });
        assert_eq!(check(&v, good), Ok(()));
        let o = parse(OBJ);
        assert_eq!(check(&o, json!({"name": "a", "tags": ["x"]})), Ok(()));
        assert_eq!(check(&o, json!({"name": "a", "tags": [], "age": 3})), Ok(()));
        assert_eq!(check(&Validator::Number, json!({"$float": "AAAAAAAA+H8="})), Ok(()));
    }

    #[test]
    fn no_match_message_names_the_path() {
        let v = Validator::Object(
            [(
                "a".to_string(),
                FieldValidator::required(Validator::Object(
                    [("b".to_string(), FieldValidator::required(Validator::String))].into(),
                )),
            )]
            .into(),
        );
        assert_eq!(
            check(&v, json!({"a": {"b": 1}})).unwrap_err(),
            "Value does not match validator.\nPath: .a.b\nValue: 1.0\nValidator: v.string()"
        );
        let arr = Validator::Array(Box::new(Validator::BigInt));
        assert_eq!(
            check(&arr, json!([{"$integer": "AQAAAAAAAAA="}, 2])).unwrap_err(),
            "Value does not match validator.\nPath: [1]\nValue: 2.0\nValidator: v.int64()"
        );
        // At the top level the path line is empty, exactly like the backend.
        assert_eq!(
            check(&Validator::String, json!(null)).unwrap_err(),
            "Value does not match validator.\n\nValue: null\nValidator: v.string()"
        );
    }

    #[test]
    fn no_numeric_coercion() {
        assert!(check(&Validator::Number, json!({"$integer": "AQAAAAAAAAA="})).is_err());
        assert!(check(&Validator::BigInt, json!(1)).is_err());
        assert!(check(&Validator::CommitTs, json!(1)).is_err());
        assert!(check(&Validator::CommitTs, json!({"$integer": "AQAAAAAAAAA="})).is_ok());
        assert!(check(&Validator::Literal(Value::Float64(1.0)), json!({"$integer": "AQAAAAAAAAA="})).is_err());
    }

    #[test]
    fn missing_and_extra_fields() {
        let o = parse(OBJ);
        assert_eq!(
            check(&o, json!({"tags": []})).unwrap_err(),
            "Object is missing the required field `name`. Consider wrapping the field validator in \
             `v.optional(...)` if this is expected.\n\nObject: {tags: []}\nValidator: \
             v.object({age: v.optional(v.float64()), name: v.string(), tags: v.array(v.string())})"
        );
        assert_eq!(
            check(&o, json!({"name": "x", "tags": [], "extra": 1})).unwrap_err(),
            "Object contains extra field `extra` that is not in the validator.\n\nObject: \
             {extra: 1.0, name: \"x\", tags: []}\nValidator: \
             v.object({age: v.optional(v.float64()), name: v.string(), tags: v.array(v.string())})"
        );
        let nested = Validator::Array(Box::new(o));
        let msg = check(&nested, json!([{"name": "x", "tags": []}, {"tags": []}])).unwrap_err();
        assert!(msg.starts_with("Object is missing the required field `name`."));
        assert!(msg.contains("\nPath: [1]\n"), "{msg}");
    }

    #[test]
    fn literals() {
        let v = Validator::Literal(Value::String("a".into()));
        assert_eq!(
            check(&v, json!({"x": {"y": "b"}})).unwrap_err(),
            "`{x: {y: \"b\"}}` does not match literal validator `v.literal(\"a\")`."
        );
        let o = Validator::Object([("k".to_string(), FieldValidator::required(v))].into());
        assert_eq!(
            check(&o, json!({"k": "b"})).unwrap_err(),
            "`\"b\"` does not match literal validator `v.literal(\"a\")`.Path: .k"
        );
        assert_eq!(Validator::Literal(Value::Int64(5)).describe(), "v.literal(<bigint>)");
        assert_eq!(Validator::Literal(Value::Float64(f64::NAN)).describe(), "v.literal(<number>)");
        // NaN literal matches the same NaN bits; -0 does not match 0.
        assert!(check(&Validator::Literal(Value::Float64(f64::NAN)), json!({"$float": "AAAAAAAA+H8="})).is_ok());
        assert!(check(&Validator::Literal(Value::Float64(0.0)), json!({"$float": "AAAAAAAAAIA="})).is_err());
    }

    #[test]
    fn ids() {
        let v = Validator::Id("users".into());
        assert_eq!(check(&v, json!(id(USERS))), Ok(()));
        assert_eq!(
            check(&v, json!(id(POSTS))).unwrap_err(),
            format!(
                "Found ID \"{}\" from table `posts`, which does not match the table name in validator `v.id(\"users\")`.",
                id(POSTS)
            )
        );
        assert_eq!(
            check(&v, json!(id(STORAGE))).unwrap_err(),
            format!(
                "Found ID \"{}\" from a system table, which does not match the table name in validator `v.id(\"users\")`.",
                id(STORAGE)
            )
        );
        // Unknown table number or not an id at all.
        assert!(check(&v, json!(id(10099))).unwrap_err().starts_with("Value does not match validator."));
        assert_eq!(
            check(&v, json!("abc")).unwrap_err(),
            "Value does not match validator.\n\nValue: \"abc\"\nValidator: v.id(\"users\")"
        );
        let storage = Validator::Id("_storage".into());
        assert_eq!(check(&storage, json!(id(STORAGE))), Ok(()));
        let o = Validator::Object([("u".to_string(), FieldValidator::required(Validator::Id("users".into())))].into());
        assert!(check(&o, json!({"u": id(POSTS)})).unwrap_err().ends_with("`v.id(\"users\")`.Path: .u"));
        assert!(v.check(&Value::String(id(USERS)), &NoTables).is_err());
    }

    #[test]
    fn records() {
        let v = parse(
            r#"{"type":"record","keys":{"type":"string"},"values":{"fieldType":{"type":"number"},"optional":false}}"#,
        );
        assert_eq!(v.describe(), "v.record(v.string(), v.float64())");
        assert_eq!(check(&v, json!({"a": 1, "b": 2})), Ok(()));
        assert_eq!(
            check(&v, json!({"a": 1, "b": "x"})).unwrap_err(),
            "Value does not match validator.\nPath: .values()\nValue: \"x\"\nValidator: v.float64()"
        );
        let ids = parse(
            r#"{"type":"record","keys":{"type":"id","tableName":"users"},"values":{"fieldType":{"type":"null"},"optional":false}}"#,
        );
        assert_eq!(check(&ids, json!({id(USERS): null})), Ok(()));
        assert!(check(&ids, json!({"nope": null})).unwrap_err().contains("Path: .keys()"));
        assert!(check(&v, json!([])).is_err());
    }

    #[test]
    fn unions() {
        let v = parse(r#"{"type":"union","value":[{"type":"string"},{"type":"null"}]}"#);
        assert_eq!(check(&v, json!(null)), Ok(()));
        assert_eq!(check(&v, json!("x")), Ok(()));
        assert_eq!(
            check(&v, json!(1)).unwrap_err(),
            "Value does not match validator.\n\nValue: 1.0\nValidator: v.union(v.string(), v.null())"
        );
        // A one-member union reports the member's own error.
        let one = Validator::Union(vec![parse(OBJ)]);
        assert!(check(&one, json!({"tags": []})).unwrap_err().starts_with("Object is missing"));
        assert!(check(&Validator::Union(vec![]), json!(null)).is_err());
    }

    #[test]
    fn optional_json() {
        assert_eq!(Validator::from_optional_json(&Json::Null), Ok(None));
        assert_eq!(Validator::from_optional_json(&json!({"type": "null"})), Ok(Some(Validator::Null)));
        assert!(Validator::from_optional_json(&json!({"type": "bogus"})).is_err());
    }

    #[test]
    fn function_handles() {
        assert_eq!(check(&Validator::Function, json!("function://abc")), Ok(()));
        assert!(check(&Validator::Function, json!("abc")).is_err());
        assert!(check(&Validator::Function, json!(1)).is_err());
    }

    #[test]
    fn invalid_validator_json() {
        let err = |s: &str| Validator::from_json(&serde_json::from_str(s).unwrap()).unwrap_err();
        assert_eq!(err(r#"{"type":"wat"}"#).code, "InvalidValidator");
        assert_eq!(err(r#"[]"#).code, "InvalidValidator");
        assert_eq!(err(r#"{"type":"array"}"#).code, "InvalidValidator");
        assert_eq!(
            err(
                r#"{"type":"record","keys":{"type":"number"},"values":{"fieldType":{"type":"null"},"optional":false}}"#
            )
            .message,
            "Records can only have string keys. Your validator contains a record with key typed as `v.float64()`, which is not a subtype of `v.string()`"
        );
        assert_eq!(
            err(r#"{"type":"record","keys":{"type":"union","value":[{"type":"literal","value":"a"},{"type":"string"}]},"values":{"fieldType":{"type":"null"},"optional":false}}"#).message,
            "Records cannot have string literal keys"
        );
        assert_eq!(
            err(r#"{"type":"record","keys":{"type":"string"},"values":{"fieldType":{"type":"null"},"optional":true}}"#)
                .message,
            "Records cannot have optional values"
        );
        assert_eq!(err(r#"{"type":"literal","value":null}"#).message, "Value null is not a valid literal.");
        assert_eq!(err(r#"{"type":"id","tableName":"bad-name"}"#).code, "InvalidValidator");
        assert!(
            err(r#"{"type":"object","value":{"$x":{"fieldType":{"type":"null"},"optional":false}}}"#)
                .message
                .contains("starts with a '$'")
        );
        assert!(
            err(r#"{"type":"object","value":{"a":{"fieldType":{"type":"nope"},"optional":false}}}"#)
                .message
                .starts_with("Invalid validator for key `a`: ")
        );
        assert!(err(r#"{"type":"function","args":{"type":"nope"}}"#).message.contains("nope"));
        // Obsolete aliases.
        assert_eq!(parse(r#"{"type":"set"}"#), Validator::Any);
    }

    #[test]
    fn args_checking() {
        let o = parse(OBJ);
        let arg = val(json!({"name": "a", "tags": []}));
        assert_eq!(check_args(&o, std::slice::from_ref(&arg), &tables), Ok(()));
        assert_eq!(
            check_args(&o, &[], &tables).unwrap_err().message,
            "Expected to receive a single object as the function's argument. Instead received 0 arguments: []"
        );
        assert_eq!(
            check_args(&o, &[Value::Float64(1.0)], &tables).unwrap_err().message,
            "Expected to receive an object as the function's argument. Instead received: 1.0"
        );
        assert!(check_args(&o, &[val(json!({"tags": []}))], &tables).is_err());
        assert_eq!(check_args(&Validator::Any, &[Value::Null, Value::Null], &tables), Ok(()));
        let _ = Object::new();
    }

    #[test]
    fn documents_ignore_system_fields() {
        let v = parse(OBJ);
        let doc = val(json!({"_id": id(USERS), "_creationTime": 1.5, "name": "a", "tags": []}));
        let doc = doc.as_object().unwrap();
        assert_eq!(v.check_document(doc, &tables), Ok(()));
        assert!(v.check(&Value::Object(doc.clone()), &tables).is_err());
        let with_sys = Validator::Union(vec![Validator::Object(
            [("_id".to_string(), FieldValidator::required(Validator::Null))].into(),
        )]);
        assert_eq!(
            with_sys.check_document(doc, &tables).unwrap_err().message.lines().next(),
            Some("Object contains extra field `name` that is not in the validator.")
        );
        assert_eq!(Validator::Any.check_document(doc, &tables), Ok(()));
    }

    #[test]
    fn subsets() {
        assert!(Validator::Id("t".into()).is_subset(&Validator::String));
        assert!(Validator::Boolean.is_subset(&Validator::Union(vec![
            Validator::Literal(Value::Boolean(true)),
            Validator::Literal(Value::Boolean(false)),
        ])));
        assert!(!Validator::String.is_subset(&Validator::Id("t".into())));
        assert!(Validator::Union(vec![Validator::String, Validator::Id("t".into())]).is_subset(&Validator::String));
    }
}
