//! The workpool's function surface and schema, as `@convex-dev/workpool@0.4.16` declares them
//! (spec `workpool.md` §3.1, §3.3): the seven public functions with their argument validators
//! in `exportArgs()` JSON (so the executor rejects bad calls with Convex's own validator
//! texts), the internal ones emvex adds, and the tables with their indexes.

use serde_json::{Value as Json, json};

use emvex_value::function::{FunctionKind, Visibility};

use crate::NativeFunction;

use super::store::{BY_STATE, GLOBALS, LOG_LEVELS, WORK};

fn field(validator: Json, optional: bool) -> Json {
    json!({"fieldType": validator, "optional": optional})
}

fn object(fields: &[(&str, Json, bool)]) -> Json {
    let value: serde_json::Map<String, Json> =
        fields.iter().map(|(name, v, optional)| (name.to_string(), field(v.clone(), *optional))).collect();
    json!({"type": "object", "value": value})
}

fn literals(values: &[&str]) -> Json {
    json!({"type": "union", "value": values.iter().map(|v| json!({"type": "literal", "value": v})).collect::<Vec<_>>()})
}

fn string() -> Json {
    json!({"type": "string"})
}

fn number() -> Json {
    json!({"type": "number"})
}

fn any() -> Json {
    json!({"type": "any"})
}

fn work_id() -> Json {
    json!({"type": "id", "tableName": WORK})
}

fn log_level() -> Json {
    literals(&LOG_LEVELS)
}

fn retry_behavior() -> Json {
    object(&[("maxAttempts", number(), false), ("initialBackoffMs", number(), false), ("base", number(), false)])
}

fn config() -> Json {
    object(&[("maxParallelism", number(), true), ("logLevel", log_level(), true)])
}

/// The fields of one enqueued item (`lib.enqueue` minus `config`, and `lib.enqueueBatch`'s items).
fn item_fields() -> Vec<(&'static str, Json, bool)> {
    use FunctionKind::{Action, Mutation, Query};
    let kinds = literals(&["success", "failed", "canceled"]);
    let on_complete = object(&[
        ("fnHandle", string(), false),
        ("context", any(), true),
        ("excludeKinds", json!({"type": "array", "value": kinds}), true),
    ]);
    vec![
        ("fnHandle", string(), false),
        ("fnName", string(), false),
        ("fnArgs", any(), false),
        ("fnType", literals(&[Action, Mutation, Query].map(FunctionKind::as_str)), false),
        ("runAt", number(), false),
        ("onComplete", on_complete, true),
        ("retryBehavior", retry_behavior(), true),
    ]
}

fn function(module: &str, name: &str, kind: FunctionKind, args: Json) -> NativeFunction {
    NativeFunction {
        module: module.into(),
        name: name.into(),
        kind,
        visibility: Visibility::Public,
        args_json: args.to_string(),
        returns_json: "null".into(),
    }
}

/// Every function the native workpool answers.
pub fn functions() -> Vec<NativeFunction> {
    use FunctionKind::{Mutation, Query};
    let mut enqueue = item_fields();
    enqueue.push(("config", config(), false));
    let batch = object(&[
        ("items", json!({"type": "array", "value": object(&item_fields())}), false),
        ("config", config(), false),
    ]);
    vec![
        function("lib", "enqueue", Mutation, object(&enqueue)),
        function("lib", "enqueueBatch", Mutation, batch),
        function("lib", "cancel", Mutation, object(&[("id", work_id(), false), ("logLevel", log_level(), true)])),
        function(
            "lib",
            "cancelAll",
            Mutation,
            object(&[("logLevel", log_level(), true), ("before", number(), true), ("limit", number(), true)]),
        ),
        function("lib", "status", Query, object(&[("id", work_id(), false)])),
        function("lib", "statusBatch", Query, object(&[("ids", json!({"type": "array", "value": work_id()}), false)])),
        function("config", "update", Mutation, config()),
    ]
}

/// The tables of one pool.
pub fn schema_json() -> String {
    let table = |name: &str, indexes: Json| {
        json!({
            "tableName": name,
            "indexes": indexes,
            "searchIndexes": [],
            "vectorIndexes": [],
            "documentType": {"type": "any"},
        })
    };
    json!({
        "tables": [
            table(GLOBALS, json!([])),
            table(WORK, json!([{"indexDescriptor": BY_STATE, "fields": ["state", "runAt"]}])),
        ],
        "schemaValidation": false,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_surface_is_upstreams() {
        let public: Vec<String> = functions()
            .iter()
            .filter(|f| f.visibility == Visibility::Public)
            .map(|f| format!("{}:{}", f.module, f.name))
            .collect();
        assert_eq!(
            public,
            [
                "lib:enqueue",
                "lib:enqueueBatch",
                "lib:cancel",
                "lib:cancelAll",
                "lib:status",
                "lib:statusBatch",
                "config:update"
            ]
        );
        for f in functions() {
            let args: Json = serde_json::from_str(&f.args_json).unwrap();
            assert!(emvex_value::validator::Validator::from_json(&args).is_ok(), "{}:{} {args}", f.module, f.name);
        }
        assert!(emvex_database::SchemaDefinition::from_export_json(&schema_json()).is_ok());
    }
}
