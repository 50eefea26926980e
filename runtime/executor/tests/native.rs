//! The native component seam, end to end in one process: an app whose `convex.config.ts`
//! mounts the npm-style package `emvex-test-native-counter` gets a Rust implementation of it
//! (a small counter written here against `emvex-component`) when the executor is given that
//! native definition, and the package's own (empty) JavaScript definition otherwise.
//!
//! Checked: the native mutation's writes commit with the calling app mutation and roll back
//! with it; its arguments and return value are validated with the declared validators, with
//! Convex's texts; it can call back into the app through a handle the app passed in, and
//! schedule one (the job lives in the native instance's `_scheduled_functions` and runs the
//! app's function); internal native functions are not reachable by reference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use emvex_component::{NativeCall, NativeComponent, NativeDefinition, NativeError, NativeFunction};
use emvex_database::{Expr, Query};
use emvex_executor::{CallError, CallRequest, DataLocation, Executor, ExecutorConfig, Limits};
use emvex_value::function::{FunctionKind, Visibility};
use emvex_value::{Object, Value};
use serde_json::json;

/// A counter per name in the instance's `counts` table.
struct NativeCounter;

const NAME_ARGS: &str = r#"{"type":"object","value":{"name":{"fieldType":{"type":"string"},"optional":false}}}"#;
const HANDLE_ARGS: &str = r#"{"type":"object","value":{"name":{"fieldType":{"type":"string"},"optional":false},"handle":{"fieldType":{"type":"string"},"optional":false}}}"#;
const NUMBER: &str = r#"{"type":"number"}"#;

fn function(name: &str, kind: FunctionKind, visibility: Visibility, args: &str, returns: &str) -> NativeFunction {
    NativeFunction {
        module: "lib".into(),
        name: name.into(),
        kind,
        visibility,
        args_json: args.into(),
        returns_json: returns.into(),
    }
}

fn arg<'a>(args: &'a Value, key: &str) -> &'a str {
    args.as_object().and_then(|o| o.get(key)).and_then(Value::as_str).unwrap_or_default()
}

impl NativeCounter {
    fn read(call: &mut NativeCall<'_>, name: &str) -> Result<Option<(emvex_value::id::DocumentId, f64)>, NativeError> {
        let query = Query::full_table_scan("counts").filter(Expr::field("name").eq(Expr::literal(name)));
        let docs = call.host.db().collect(&query)?;
        Ok(docs.first().map(|d| {
            (
                d.id,
                d.body
                    .get("value")
                    .and_then(|v| match v {
                        Value::Float64(f) => Some(*f),
                        _ => None,
                    })
                    .unwrap_or(0.0),
            )
        }))
    }

    fn add(call: &mut NativeCall<'_>, name: &str, by: f64) -> Result<f64, NativeError> {
        match Self::read(call, name)? {
            Some((id, value)) => {
                let mut patch = BTreeMap::new();
                patch.insert("value".to_string(), Some(Value::Float64(value + by)));
                call.host.db().patch(&id, patch)?;
                Ok(value + by)
            }
            None => {
                let mut row = Object::new();
                row.insert("name".into(), Value::String(name.into()));
                row.insert("value".into(), Value::Float64(by));
                call.host.db().insert("counts", row)?;
                Ok(by)
            }
        }
    }
}

impl NativeComponent for NativeCounter {
    fn schema_json(&self) -> Option<String> {
        Some(
            json!({
                "tables": [{
                    "tableName": "counts",
                    "indexes": [],
                    "searchIndexes": [],
                    "vectorIndexes": [],
                    "documentType": {"type": "object", "value": {
                        "name": {"fieldType": {"type": "string"}, "optional": false},
                        "value": {"fieldType": {"type": "number"}, "optional": false},
                    }},
                }],
                "schemaValidation": true,
            })
            .to_string(),
        )
    }

    fn functions(&self) -> Vec<NativeFunction> {
        vec![
            function("increment", FunctionKind::Mutation, Visibility::Public, NAME_ARGS, NUMBER),
            function("get", FunctionKind::Query, Visibility::Public, NAME_ARGS, NUMBER),
            function("secret", FunctionKind::Query, Visibility::Internal, r#"{"type":"any"}"#, "null"),
            function("badReturn", FunctionKind::Query, Visibility::Public, r#"{"type":"any"}"#, NUMBER),
            function("callBack", FunctionKind::Mutation, Visibility::Public, HANDLE_ARGS, "null"),
            function("scheduleBack", FunctionKind::Mutation, Visibility::Public, HANDLE_ARGS, r#"{"type":"string"}"#),
        ]
    }

    fn call(&self, mut call: NativeCall<'_>) -> Result<Value, NativeError> {
        let args = call.args.clone();
        let name = arg(&args, "name").to_string();
        match call.name {
            "increment" => Ok(Value::Float64(Self::add(&mut call, &name, 1.0)?)),
            "get" => Ok(Value::Float64(Self::read(&mut call, &name)?.map_or(0.0, |(_, v)| v))),
            "secret" => {
                Ok(Value::String(format!("env {}", call.env.get("CONVEX_CLOUD_URL").cloned().unwrap_or_default())))
            }
            "badReturn" => Ok(Value::String("not a number".into())),
            "callBack" => {
                let mut payload = Object::new();
                payload.insert("what".into(), Value::String(format!("called back for {name}")));
                call.host.run_function(arg(&args, "handle"), FunctionKind::Mutation, Value::Object(payload))?;
                Ok(Value::Null)
            }
            "scheduleBack" => {
                let mut payload = Object::new();
                payload.insert("what".into(), Value::String(format!("scheduled for {name}")));
                let at = call.now_ms;
                let id = call.host.schedule(arg(&args, "handle"), at, Value::Object(payload))?;
                Ok(Value::String(id.encode()))
            }
            other => Err(NativeError::developer(format!("no function {other}"))),
        }
    }
}

const APP_TS: &str = r#"
import { anyApi, componentsGeneric, createFunctionHandle, mutationGeneric, queryGeneric } from "convex/server";
import { v } from "convex/values";
const components = componentsGeneric() as any;
const api = anyApi as any;

export const bump = mutationGeneric({
  args: { name: v.string(), fail: v.optional(v.boolean()) },
  handler: async (ctx, { name, fail }) => {
    await ctx.db.insert("log", { what: "bump " + name });
    const value = await ctx.runMutation(components.nativeCounter.lib.increment, { name });
    if (fail) throw new Error("app failed after the native increment");
    return value;
  },
});
export const read = queryGeneric({
  args: { name: v.string() },
  handler: async (ctx, { name }) => ctx.runQuery(components.nativeCounter.lib.get, { name }),
});
export const badArgs = mutationGeneric({
  args: {},
  handler: async (ctx) => ctx.runMutation(components.nativeCounter.lib.increment, { name: 5 }),
});
export const badReturn = queryGeneric({
  args: {},
  handler: async (ctx) => ctx.runQuery(components.nativeCounter.lib.badReturn, {}),
});
export const secret = queryGeneric({
  args: {},
  handler: async (ctx) => ctx.runQuery(components.nativeCounter.lib.secret, {}),
});
export const record = mutationGeneric({
  args: { what: v.string() },
  handler: async (ctx, { what }) => { await ctx.db.insert("log", { what }); return null; },
});
export const callBack = mutationGeneric({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const handle = await createFunctionHandle(api.app.record);
    return ctx.runMutation(components.nativeCounter.lib.callBack, { name, handle });
  },
});
export const scheduleBack = mutationGeneric({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const handle = await createFunctionHandle(api.app.record);
    return ctx.runMutation(components.nativeCounter.lib.scheduleBack, { name, handle });
  },
});
export const log = queryGeneric({
  args: {},
  handler: async (ctx) => (await ctx.db.query("log").collect()).map((r) => r.what),
});
"#;

/// Writes the app and its `node_modules/emvex-test-native-counter` package under the target
/// dir, so `convex` resolves from the workspace's `node_modules`.
fn write_app(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("native").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let files = [
        ("convex/app.ts", APP_TS),
        (
            "convex/convex.config.ts",
            "import { defineApp } from \"convex/server\";\nimport counter from \"emvex-test-native-counter/convex.config.js\";\nconst app = defineApp();\napp.use(counter);\nexport default app;\n",
        ),
        (
            "convex/schema.ts",
            "import { defineSchema, defineTable } from \"convex/server\";\nimport { v } from \"convex/values\";\nexport default defineSchema({ log: defineTable({ what: v.string() }) });\n",
        ),
        (
            "node_modules/emvex-test-native-counter/package.json",
            r#"{"name": "emvex-test-native-counter", "type": "module", "exports": {"./convex.config.js": "./convex.config.js"}}"#,
        ),
        (
            "node_modules/emvex-test-native-counter/convex.config.js",
            "import { defineComponent } from \"convex/server\";\nexport default defineComponent(\"nativeCounter\");\n",
        ),
    ];
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn start(app: &Path, native: bool) -> Executor {
    let native = if native {
        vec![NativeDefinition {
            package: "emvex-test-native-counter".into(),
            dir_in_package: "".into(),
            default_name: "nativeCounter".into(),
            component: Arc::new(NativeCounter),
        }]
    } else {
        Vec::new()
    };
    let mut env = BTreeMap::new();
    env.insert("CONVEX_CLOUD_URL".to_string(), "http://127.0.0.1:3210".to_string());
    Executor::start(ExecutorConfig {
        app_dir: app.to_path_buf(),
        data: DataLocation::InMemory,
        cache_dir: None,
        limits: Limits::default(),
        env,
        print_logs: false,
        native,
        workers: 1,
        clock: emvex_executor::Clock::real(),
    })
    .unwrap_or_else(|e| panic!("start: {} {}", e.code, e.message))
}

fn call(executor: &Executor, path: &str, args: serde_json::Value) -> Result<serde_json::Value, String> {
    let response = executor.call_blocking(CallRequest {
        request_id: "t".into(),
        path: path.into(),
        args: json!([args]),
        kind: None,
        admin: false,
        component_path: None,
        ..CallRequest::default()
    });
    match response.outcome {
        Ok(value) => Ok(value.to_convex_json()),
        Err(
            CallError::Developer { message, .. }
            | CallError::Internal { message }
            | CallError::BadRequest { message, .. },
        ) => Err(message),
    }
}

#[test]
fn a_native_mutation_commits_and_rolls_back_with_the_calling_app_mutation() {
    let app = write_app("commit");
    let ex = start(&app, true);
    assert_eq!(call(&ex, "app:bump", json!({"name": "a"})), Ok(json!(1.0)));
    assert_eq!(call(&ex, "app:bump", json!({"name": "a"})), Ok(json!(2.0)));
    let err = call(&ex, "app:bump", json!({"name": "a", "fail": true})).unwrap_err();
    assert!(err.contains("app failed after the native increment"), "{err}");
    assert_eq!(call(&ex, "app:read", json!({"name": "a"})), Ok(json!(2.0)));
    assert_eq!(call(&ex, "app:log", json!({})), Ok(json!(["bump a", "bump a"])));
}

#[test]
fn native_arguments_and_results_are_validated_and_internal_functions_stay_hidden() {
    let app = write_app("validate");
    let ex = start(&app, true);
    let err = call(&ex, "app:badArgs", json!({})).unwrap_err();
    assert!(err.contains("ArgumentValidationError"), "{err}");
    let err = call(&ex, "app:badReturn", json!({})).unwrap_err();
    assert!(err.contains("ReturnsValidationError"), "{err}");
    let err = call(&ex, "app:secret", json!({})).unwrap_err();
    assert!(err.contains(r#"Child component "nativeCounter" does not export ["lib", "secret"]"#), "{err}");
}

#[test]
fn a_native_component_calls_and_schedules_the_app_through_handles() {
    let app = write_app("handles");
    let ex = start(&app, true);
    assert_eq!(call(&ex, "app:callBack", json!({"name": "b"})), Ok(json!(null)));
    assert_eq!(call(&ex, "app:log", json!({})), Ok(json!(["called back for b"])));
    let job = call(&ex, "app:scheduleBack", json!({"name": "c"})).unwrap();
    assert!(job.is_string(), "{job}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = call(&ex, "app:log", json!({})).unwrap();
        if log == json!(["called back for b", "scheduled for c"]) {
            break;
        }
        assert!(Instant::now() < deadline, "the scheduled call back did not run: {log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn without_the_native_definition_the_packages_javascript_definition_is_mounted() {
    let app = write_app("javascript");
    let ex = start(&app, false);
    let err = call(&ex, "app:bump", json!({"name": "a"})).unwrap_err();
    assert!(err.contains(r#"Child component "nativeCounter" does not export ["lib", "increment"]"#), "{err}");
}
