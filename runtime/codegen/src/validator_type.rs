//! The TypeScript type of a Convex validator's JSON (`v.string()` → `string`), as the CLI's
//! `validatorToType` writes it for `server.d.ts`'s `Env` (ids as `string`), printed the way
//! prettier prints a short type (object members separated by `; `, `{}` when empty).
//!
//! Owns: that mapping only. A type long enough for prettier to break over several lines is
//! printed on one line (emvex has no formatter); env var types are short in practice.

use base64::Engine as _;
use serde_json::Value as Json;

/// The type of validator `v`, `None` for a validator the CLI does not know either.
pub fn validator_to_type(v: &Json) -> Option<String> {
    let field = |k: &str| v.get(k);
    Some(match field("type")?.as_str()? {
        "null" => "null".into(),
        "number" => "number".into(),
        "bigint" => "bigint".into(),
        "boolean" => "boolean".into(),
        "string" => "string".into(),
        "bytes" => "ArrayBuffer".into(),
        "any" => "any".into(),
        "id" => "string".into(),
        "literal" => literal(field("value")?)?,
        "array" => format!("Array<{}>", validator_to_type(field("value")?)?),
        "record" => format!(
            "Record<{}, {}>",
            validator_to_type(field("keys")?)?,
            validator_to_type(field("values")?.get("fieldType")?)?
        ),
        "union" => field("value")?.as_array()?.iter().map(validator_to_type).collect::<Option<Vec<_>>>()?.join(" | "),
        "object" => {
            let mut members = Vec::new();
            for (name, f) in field("value")?.as_object()? {
                let optional = if f.get("optional").and_then(Json::as_bool).unwrap_or(false) { "?" } else { "" };
                members.push(format!("{name}{optional}: {}", validator_to_type(f.get("fieldType")?)?));
            }
            if members.is_empty() { "{}".into() } else { format!("{{ {} }}", members.join("; ")) }
        }
        _ => return None,
    })
}

/// A literal's Convex JSON value as a TypeScript literal type.
fn literal(value: &Json) -> Option<String> {
    Some(match value {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::String(s) => format!("\"{s}\""),
        Json::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Json::Object(o) => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(o.get("$integer")?.as_str()?).ok()?;
            format!("{}n", i64::from_le_bytes(bytes.try_into().ok()?))
        }
        Json::Array(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ty(v: Json) -> String {
        validator_to_type(&v).unwrap()
    }

    #[test]
    fn maps_validators_like_the_cli() {
        assert_eq!(ty(json!({"type": "string"})), "string");
        assert_eq!(ty(json!({"type": "id", "tableName": "t"})), "string");
        assert_eq!(ty(json!({"type": "array", "value": {"type": "number"}})), "Array<number>");
        assert_eq!(
            ty(json!({"type": "union", "value": [{"type": "literal", "value": "a"}, {"type": "literal", "value": 2}]})),
            "\"a\" | 2"
        );
        assert_eq!(ty(json!({"type": "literal", "value": {"$integer": "BQAAAAAAAAA="}})), "5n");
        assert_eq!(
            ty(
                json!({"type": "object", "value": {"a": {"fieldType": {"type": "string"}, "optional": true}, "b": {"fieldType": {"type": "null"}, "optional": false}}})
            ),
            "{ a?: string; b: null }"
        );
        assert_eq!(ty(json!({"type": "object", "value": {}})), "{}");
        assert_eq!(
            ty(
                json!({"type": "record", "keys": {"type": "string"}, "values": {"fieldType": {"type": "boolean"}, "optional": false}})
            ),
            "Record<string, boolean>"
        );
        assert!(validator_to_type(&json!({"type": "mystery"})).is_none());
    }
}
