//! The TypeScript type of a Convex validator's JSON (`v.string()` → `string`), as the CLI's
//! `validatorToType` writes it (ids as `string`), laid out the way prettier 3 lays out that
//! type once the CLI's one-line text is parsed: object members separated by `; ` (`{}` when
//! empty), nested unions flattened, and — when the type does not fit its line — objects broken
//! one member a line, type arguments one a line (a lone object or simple argument hugged:
//! `Array<{`), unions one member a line after `| `.
//!
//! Owns: that mapping ([`validator_to_type`] on one line, [`validator_to_doc`] for
//! [`crate::pretty::print`]). Object members keep the order of the JSON they come from (the
//! caller decides it: declaration order for env vars, sorted for analyzed functions).

use base64::Engine as _;
use serde_json::Value as Json;

use crate::pretty::{Doc, concat, group, if_break, indent, join, text};
use crate::render::property_key;

/// The type of validator `v` on one line, `None` for a validator the CLI does not know either.
pub fn validator_to_type(v: &Json) -> Option<String> {
    validator_to_doc(v).map(|doc| crate::pretty::flat(&doc))
}

/// The type of validator `v` as a document, laid out where it stands as a type argument (the
/// arguments and return type of a `FunctionReference<…>`).
pub fn validator_to_doc(v: &Json) -> Option<Doc> {
    Some(ty_doc(&to_ty(v)?, Parent::TypeArgs))
}

/// The parsed shape of the type text the CLI writes.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    /// A keyword or a type name without arguments (`string`, `ArrayBuffer`).
    Simple(String),
    /// A literal type (`"a"`, `5`, `5n`, `true`).
    Literal(String),
    /// A type with arguments (`Array<T>`, `Record<K, V>`).
    Generic(String, Vec<Ty>),
    /// `{ name?: T; … }`: (key, optional, type).
    Object(Vec<(String, bool, Ty)>),
    /// `A | B | …`, flattened as a parser flattens nested unions.
    Union(Vec<Ty>),
}

fn to_ty(v: &Json) -> Option<Ty> {
    let field = |k: &str| v.get(k);
    let simple = |s: &str| Some(Ty::Simple(s.into()));
    match field("type")?.as_str()? {
        "null" => simple("null"),
        "number" => simple("number"),
        "bigint" => simple("bigint"),
        "boolean" => simple("boolean"),
        "string" => simple("string"),
        "bytes" => simple("ArrayBuffer"),
        "any" => simple("any"),
        "id" => simple("string"),
        "commitTs" => Some(Ty::Union(vec![
            Ty::Simple("bigint".into()),
            Ty::Simple("import(\"convex/values\").CommitTsPlaceholder".into()),
        ])),
        "function" => {
            let fn_type = match field("fnType").and_then(Json::as_str) {
                Some(t) => Ty::Literal(format!("\"{t}\"")),
                None => Ty::Simple("any".into()),
            };
            let part = |k: &str| field(k).filter(|j| !j.is_null()).map_or(Some(Ty::Simple("any".into())), to_ty);
            Some(Ty::Generic(
                "import(\"convex/server\").FunctionHandle_future".into(),
                vec![fn_type, part("args")?, part("returns")?],
            ))
        }
        "literal" => Some(Ty::Literal(literal(field("value")?)?)),
        "array" => Some(Ty::Generic("Array".into(), vec![to_ty(field("value")?)?])),
        "record" => {
            Some(Ty::Generic("Record".into(), vec![to_ty(field("keys")?)?, to_ty(field("values")?.get("fieldType")?)?]))
        }
        "union" => {
            let mut members = Vec::new();
            for member in field("value")?.as_array()? {
                match to_ty(member)? {
                    Ty::Union(inner) => members.extend(inner),
                    ty => members.push(ty),
                }
            }
            Some(if members.len() == 1 { members.remove(0) } else { Ty::Union(members) })
        }
        "object" => {
            let mut members = Vec::new();
            for (name, f) in field("value")?.as_object()? {
                let optional = f.get("optional").and_then(Json::as_bool).unwrap_or(false);
                members.push((name.clone(), optional, to_ty(f.get("fieldType")?)?));
            }
            Some(Ty::Object(members))
        }
        _ => None,
    }
}

/// Where a type stands, which decides how a union breaks (prettier's `shouldIndent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parent {
    TypeArgs,
    Member,
}

/// Prettier's `shouldHugType`: keywords, names without arguments, object types, and a union
/// of one object type with `null`s.
fn should_hug(ty: &Ty) -> bool {
    match ty {
        Ty::Simple(_) | Ty::Object(_) => true,
        Ty::Union(members) => {
            let nulls = members.iter().filter(|m| **m == Ty::Simple("null".into())).count();
            nulls + 1 == members.len() && members.iter().any(|m| matches!(m, Ty::Object(_)))
        }
        Ty::Literal(_) | Ty::Generic(..) => false,
    }
}

fn ty_doc(ty: &Ty, parent: Parent) -> Doc {
    match ty {
        Ty::Simple(s) | Ty::Literal(s) => text(s.clone()),
        Ty::Generic(name, args) => {
            if args.len() == 1 && should_hug(&args[0]) {
                return concat(vec![text(format!("{name}<")), ty_doc(&args[0], Parent::TypeArgs), text(">")]);
            }
            let args = args.iter().map(|a| ty_doc(a, Parent::TypeArgs)).collect();
            group(concat(vec![
                text(format!("{name}<")),
                indent(concat(vec![Doc::SoftLine, join(&concat(vec![text(","), Doc::Line]), args)])),
                Doc::SoftLine,
                text(">"),
            ]))
        }
        Ty::Object(members) if members.is_empty() => text("{}"),
        Ty::Object(members) => {
            let members = members
                .iter()
                .map(|(key, optional, ty)| {
                    let key = format!("{}{}: ", property_key(key), if *optional { "?" } else { "" });
                    concat(vec![text(key), ty_doc(ty, Parent::Member)])
                })
                .collect();
            group(concat(vec![
                text("{"),
                indent(concat(vec![Doc::Line, join(&concat(vec![text(";"), Doc::Line]), members)])),
                if_break(text(";"), text("")),
                Doc::Line,
                text("}"),
            ]))
        }
        Ty::Union(members) => {
            if should_hug(ty) {
                return join(&text(" | "), members.iter().map(|m| ty_doc(m, Parent::TypeArgs)).collect());
            }
            let printed = members.iter().map(|m| indent(ty_doc(m, Parent::TypeArgs))).collect();
            let should_indent = parent != Parent::TypeArgs;
            let lead = if should_indent { concat(vec![Doc::Line, text("| ")]) } else { text("| ") };
            let code = concat(vec![if_break(lead, text("")), join(&concat(vec![Doc::Line, text("| ")]), printed)]);
            group(if should_indent { indent(code) } else { code })
        }
    }
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
    use crate::pretty::print;
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

    #[test]
    fn nested_unions_are_flattened_and_special_validators_typed() {
        let s = json!({"type": "string"});
        let n = json!({"type": "number"});
        let inner = json!({"type": "union", "value": [s, n]});
        assert_eq!(ty(json!({"type": "union", "value": [inner, {"type": "null"}]})), "string | number | null");
        assert_eq!(ty(json!({"type": "commitTs"})), "bigint | import(\"convex/values\").CommitTsPlaceholder");
        assert_eq!(
            ty(json!({"type": "function", "fnType": "query"})),
            "import(\"convex/server\").FunctionHandle_future<\"query\", any, any>"
        );
    }

    fn field(ty: Json) -> Json {
        json!({"fieldType": ty, "optional": false})
    }

    #[test]
    fn long_types_break_like_prettier() {
        let long = |name: &str| (name.to_string(), field(json!({"type": "string"})));
        let object = json!({"type": "object", "value": serde_json::Map::from_iter([long("aaaaaaaaaaaaaaaa"), long("bbbbbbbbbbbbbbbb")])});
        // A lone object argument is hugged.
        let array = json!({"type": "array", "value": object});
        assert_eq!(
            print(&validator_to_doc(&array).unwrap(), 30),
            "Array<{\n  aaaaaaaaaaaaaaaa: string;\n  bbbbbbbbbbbbbbbb: string;\n}>"
        );
        // A union that is not `object | null` breaks one member a line; after `name: ` it is
        // indented and starts on a line of its own.
        let lit = |s: &str| json!({"type": "literal", "value": s});
        let union = json!({"type": "union", "value": [lit("first-choice"), lit("second-choice")]});
        assert_eq!(print(&validator_to_doc(&union).unwrap(), 20), "| \"first-choice\"\n| \"second-choice\"");
        let object = json!({"type": "object", "value": {"key": field(union)}});
        assert_eq!(
            print(&validator_to_doc(&object).unwrap(), 20),
            "{\n  key:\n    | \"first-choice\"\n    | \"second-choice\";\n}"
        );
    }
}
