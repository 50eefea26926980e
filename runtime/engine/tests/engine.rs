//! Integration tests of emvex-engine against the test app in `tests/app/` (which imports the
//! real `convex` package from the workspace's `node_modules`) and against broken apps written
//! to a temporary directory inside the workspace's target dir.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use emvex_engine::{
    App, EngineOptions, ErrorClass, FunctionKind, Host, HostError, Invocation, Isolate, JsErrorKind, LoadError,
    Outcome, Visibility,
};
use serde_json::{Value, json};

fn app_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/app")
}

fn options() -> EngineOptions {
    let mut env = BTreeMap::new();
    env.insert("MY_VAR".to_string(), "my value".to_string());
    EngineOptions { env, ..EngineOptions::new(app_dir()) }
}

/// The test app, loaded once per test binary.
fn app() -> Arc<App> {
    static APP: OnceLock<Arc<App>> = OnceLock::new();
    APP.get_or_init(|| App::load(options()).expect("test app loads")).clone()
}

/// An in-memory host that records every syscall.
#[derive(Default)]
struct FakeHost {
    calls: Vec<(String, String)>,
    docs: Vec<Value>,
    streams: Vec<Vec<Value>>,
}

impl Host for FakeHost {
    fn syscall(&mut self, op: &str, args_json: &str) -> Result<String, HostError> {
        self.calls.push((op.to_string(), args_json.to_string()));
        let args: Value = serde_json::from_str(args_json).unwrap();
        match op {
            "1.0/queryStream" => {
                let table = args["query"]["source"]["tableName"].as_str().unwrap_or("");
                if table == "broken" {
                    return Err(HostError::developer("table `broken` cannot be read"));
                }
                self.streams.push(self.docs.clone());
                Ok(json!({ "queryId": self.streams.len() - 1 }).to_string())
            }
            "1.0/queryCleanup" => Ok("true".into()),
            _ => Err(HostError::developer(format!("unknown sync op {op}"))),
        }
    }

    fn async_syscall(&mut self, op: &str, args_json: &str) -> Result<String, HostError> {
        self.calls.push((op.to_string(), args_json.to_string()));
        let args: Value = serde_json::from_str(args_json).unwrap();
        match op {
            "1.0/insert" => {
                let value = args["value"].clone();
                match value["author"].as_str() {
                    Some("fail") => {
                        return Err(HostError {
                            message: "insert refused".into(),
                            data: Some(json!({ "code": "REFUSED" })),
                            class: ErrorClass::Developer,
                        });
                    }
                    Some("fatal") => return Err(HostError::internal("storage is on fire")),
                    _ => {}
                }
                let id = format!("id{}", self.docs.len());
                let mut doc = value;
                doc["_id"] = json!(id);
                self.docs.push(doc);
                Ok(json!({ "_id": id }).to_string())
            }
            "1.0/queryStreamNext" => {
                let q = args["queryId"].as_u64().unwrap() as usize;
                let stream = &mut self.streams[q];
                if stream.is_empty() {
                    Ok(json!({ "value": null, "done": true }).to_string())
                } else {
                    let v = stream.remove(0);
                    Ok(json!({ "value": v, "done": false }).to_string())
                }
            }
            "1.0/get" => {
                let id = args["id"].as_str().unwrap_or("");
                if id == "explode" {
                    return Err(HostError::developer("cannot get explode"));
                }
                let doc = self.docs.iter().find(|d| d["_id"] == json!(id)).cloned();
                Ok(doc.unwrap_or(Value::Null).to_string())
            }
            _ => Err(HostError::developer(format!("unknown async op {op}"))),
        }
    }
}

fn invocation(kind: FunctionKind, path: &str, args: &str) -> Invocation {
    let (module, name) = path.split_once(':').unwrap_or((path, "default"));
    Invocation {
        kind,
        module: module.to_string(),
        name: name.to_string(),
        args_json: args.to_string(),
        rng_seed: [7; 32],
        now_ms: 1_700_000_000_123.0,
        timeout: None,
    }
}

fn run(iso: &mut Isolate, host: &mut FakeHost, kind: FunctionKind, path: &str, args: &str) -> Outcome {
    iso.invoke(&invocation(kind, path, args), host)
}

fn ok_value(out: &Outcome) -> Value {
    match &out.result {
        Ok(text) => serde_json::from_str(text).unwrap(),
        Err(e) => panic!("expected success, got {e:?}"),
    }
}

fn isolate() -> Isolate {
    Isolate::new(app()).expect("isolate")
}

#[test]
fn analyze_finds_functions_kinds_visibility_validators_and_schema() {
    let mut iso = isolate();
    let analysis = iso.analyze().unwrap();
    let find = |module: &str, name: &str| {
        analysis
            .functions
            .iter()
            .find(|f| f.module == module && f.name == name)
            .unwrap_or_else(|| panic!("{module}:{name} not found in {:#?}", analysis.functions))
    };
    let send = find("messages", "send");
    assert_eq!(send.kind, FunctionKind::Mutation);
    assert_eq!(send.visibility, Visibility::Public);
    let args: Value = serde_json::from_str(&send.args_json).unwrap();
    assert_eq!(args["type"], "object");
    assert_eq!(args["value"]["author"]["fieldType"]["type"], "string");
    let returns: Value = serde_json::from_str(&send.returns_json).unwrap();
    assert_eq!(returns, json!({"type": "id", "tableName": "messages"}));
    assert_eq!(send.line, Some(12));

    let list = find("messages", "list");
    assert_eq!(list.kind, FunctionKind::Query);
    assert_eq!(list.returns_json, "null");
    assert_eq!(find("messages", "clear").visibility, Visibility::Internal);
    let deep = find("nested/deep", "default");
    assert_eq!(deep.kind, FunctionKind::Query);
    assert_eq!(deep.visibility, Visibility::Internal);
    assert_eq!(deep.args_json, r#"{"type":"any"}"#);
    assert!(analysis.functions.iter().all(|f| f.name != "notAFunction"));
    // Skipped files: dotfiles, tests, _generated.
    assert!(analysis.functions.iter().all(|f| !f.module.starts_with('_') && !f.module.contains("test")));
    assert!(!app().module_paths().iter().any(|m| m.contains("hidden") || m.contains("test")));
    assert!(!app().module_paths().iter().any(|m| m == "nodeAction"), "\"use node\" modules are skipped");
    // Functions of a module are sorted by source line.
    let lines: Vec<u32> = analysis.functions.iter().filter(|f| f.module == "messages").filter_map(|f| f.line).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");

    let schema: Value = serde_json::from_str(analysis.schema_json.as_deref().unwrap()).unwrap();
    assert_eq!(schema["tables"][0]["tableName"], "messages");
    assert_eq!(schema["tables"][0]["indexes"][0]["indexDescriptor"], "by_author");
    assert_eq!(schema["schemaValidation"], true);

    let crons: Value = serde_json::from_str(analysis.crons_json.as_deref().unwrap()).unwrap();
    assert_eq!(crons["clear messages"]["name"], "messages:clear");
    assert_eq!(crons["clear messages"]["schedule"], json!({"type": "interval", "minutes": 5}));
}

#[test]
fn mutation_runs_syscalls_and_logs() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let out = run(&mut iso, &mut host, FunctionKind::Mutation, "messages:send", r#"[{"author":"ann","body":"hi"}]"#);
    assert_eq!(ok_value(&out), json!("id0"));
    assert_eq!(host.docs[0]["body"], "HI!");
    assert_eq!(host.calls.len(), 1);
    assert_eq!(host.calls[0].0, "1.0/insert");
    assert_eq!(out.log_lines, vec!["[LOG] 'sending' {\n  author: 'ann',\n  n: 1\n}".to_string()]);

    let out = run(&mut iso, &mut host, FunctionKind::Query, "messages:list", "[{}]");
    let v = ok_value(&out);
    assert_eq!(v[0]["author"], "ann");
    assert!(out.log_lines.is_empty());
}

#[test]
fn promise_all_db_ops_are_fifo() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let out = run(&mut iso, &mut host, FunctionKind::Mutation, "messages:sendMany", r#"[{"n":5}]"#);
    assert_eq!(ok_value(&out), json!(5));
    let authors: Vec<String> = host.docs.iter().map(|d| d["author"].as_str().unwrap().to_string()).collect();
    assert_eq!(authors, vec!["a0", "a1", "a2", "a3", "a4"]);
}

#[test]
fn unawaited_writes_still_run() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let out = run(&mut iso, &mut host, FunctionKind::Mutation, "messages:fireAndForget", "[{}]");
    assert_eq!(ok_value(&out), json!("done"));
    assert_eq!(host.docs.len(), 1);
    assert_eq!(host.docs[0]["body"], "unawaited");
}

#[test]
fn never_resolving_promise_is_an_error() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let out = run(&mut iso, &mut host, FunctionKind::Mutation, "messages:neverResolves", "[{}]");
    let err = out.result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Uncaught);
    assert_eq!(err.message, "Returned promise will never resolve");
}

#[test]
fn convex_error_data_is_returned() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let out = run(&mut iso, &mut host, FunctionKind::Mutation, "errors:convexError", "[{}]");
    let err = out.result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::ConvexError);
    assert!(err.message.starts_with("Uncaught ConvexError: "), "{}", err.message);
    assert_eq!(err.data, Some(json!({"code": "NOPE", "n": {"$integer": "AQAAAAAAAAA="}})));
}

#[test]
fn thrown_error_has_message_and_ts_line() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let out = run(&mut iso, &mut host, FunctionKind::Query, "errors:plainError", "[{}]");
    let err = out.result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Uncaught);
    assert_eq!(err.message, "Uncaught Error: boom");
    let stack = err.stack.unwrap();
    let first = stack.lines().next().unwrap();
    assert!(first.starts_with("    at handler (convex/errors.ts:16:"), "{stack}");
    assert!(stack.lines().skip(1).all(|l| l.contains("(node_modules/convex/dist/esm/")), "{stack}");

    let out = run(&mut iso, &mut host, FunctionKind::Query, "errors:throwString", "[{}]");
    assert_eq!(out.result.unwrap_err().message, "Uncaught just a string");
}

#[test]
fn host_errors_are_catchable_with_data() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let out = run(&mut iso, &mut host, FunctionKind::Mutation, "errors:hostDataError", "[{}]");
    let v = ok_value(&out);
    assert_eq!(v["name"], "ConvexError");
    assert_eq!(v["message"], "insert refused");
    assert_eq!(v["data"], json!({"code": "REFUSED"}));

    let out = run(&mut iso, &mut host, FunctionKind::Query, "errors:syncSyscallError", "[{}]");
    assert_eq!(ok_value(&out), json!("caught: table `broken` cannot be read"));

    let out = run(&mut iso, &mut host, FunctionKind::Query, "messages:get", r#"[{"id":"explode"}]"#);
    assert_eq!(ok_value(&out), json!("caught: cannot get explode"));
}

#[test]
fn fatal_host_error_aborts() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let out = run(&mut iso, &mut host, FunctionKind::Mutation, "messages:send", r#"[{"author":"fatal","body":"x"}]"#);
    let err = out.result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::HostFatal);
    assert_eq!(err.message, "storage is on fire");
    let out = run(&mut iso, &mut host, FunctionKind::Query, "limits:ok", "[{}]");
    assert_eq!(ok_value(&out), json!("fine"));
}

#[test]
fn date_is_frozen_and_random_is_seeded() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let v = ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "determinism:clock", "[{}]"));
    assert_eq!(v["a"], json!(1_700_000_000_123u64));
    assert_eq!(v["b"], v["a"]);
    assert_eq!(v["c"], v["a"]);
    assert_eq!(v["parsed"], json!(1_577_836_800_000u64));
    assert_eq!(v["explicit"], json!(5));
    assert_eq!(v["isDate"], json!(true));
    assert_eq!(v["importTimeIsNumber"], json!(true));

    let a = ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "determinism:random", "[{}]"));
    let b = ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "determinism:random", "[{}]"));
    assert_eq!(a, b, "same seed, same numbers");
    let r = a["r"].as_array().unwrap();
    assert!(r[0] != r[1] && r.iter().all(|x| (0.0..1.0).contains(&x.as_f64().unwrap())));
    let uuid = a["uuid"].as_str().unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4");
    let mut other = invocation(FunctionKind::Query, "determinism:random", "[{}]");
    other.rng_seed = [8; 32];
    let c = ok_value(&iso.invoke(&other, &mut host));
    assert_ne!(a, c, "different seed, different numbers");
}

#[test]
fn fetch_and_timers_are_refused() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let v = ok_value(&run(&mut iso, &mut host, FunctionKind::Mutation, "determinism:forbidden", "[{}]"));
    assert_eq!(
        v,
        json!([
            "Can't use fetch() in queries and mutations. Please consider using an action. See https://docs.convex.dev/functions/actions for more details.",
            "Can't use setTimeout in queries and mutations. Please consider using an action. See https://docs.convex.dev/functions/actions for more details."
        ])
    );
}

#[test]
fn web_globals_and_env() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let v = ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "determinism:globals", "[{}]"));
    assert_eq!(v["env"], "my value");
    assert_eq!(v["missing"], true);
    assert_eq!(v["window"], "undefined");
    assert_eq!(v["self"], true);
    assert_eq!(v["text"], "héllo");
    assert_eq!(v["len"], json!(6));
    assert_eq!(v["b64"], "aGk=");
    assert_eq!(v["unb64"], "hi");
    assert_eq!(v["clone"], json!({"a": [1, {"b": 2}]}));
    assert_eq!(v["perf"], "number");
}

#[test]
fn console_lines_are_formatted_like_convex() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let out = run(&mut iso, &mut host, FunctionKind::Query, "determinism:logs", "[{}]");
    ok_value(&out);
    assert_eq!(
        out.log_lines,
        vec![
            "[LOG] 'hello' 1 {\n  a: 'b',\n  c: [ 1, 2 ]\n} null undefined".to_string(),
            "[INFO] 'info'".to_string(),
            "[WARN] 'warn'".to_string(),
            "[ERROR] [Error: bad]".to_string(),
            "[DEBUG] true".to_string(),
            "[LOG] [\n  {\n    x: 'it\\'s',\n    d: Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)\n  },\n  Map (1) {\n    'k' => [Function: f]\n  },\n  [Object: null prototype] {},\n  Foo {\n    a: [ [ [ [Array] ] ] ]\n  },\n  -0,\n  10n,\n  [Circular]\n]".to_string(),
            format!("[LOG] {{ [Error: outer] [cause]: [Error: inner], code: 7 }} Object(1) 'long{}'... 1 more character", ".".repeat(32764)),
        ]
    );
}

#[test]
fn unknown_function_and_wrong_kind() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let err = run(&mut iso, &mut host, FunctionKind::Query, "messages:nope", "[{}]").result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Internal);
    assert!(err.message.contains("Could not find function for 'messages:nope'"), "{}", err.message);
    let err = run(&mut iso, &mut host, FunctionKind::Query, "messages:send", "[{}]").result.unwrap_err();
    assert_eq!(err.message, "Function messages:send is registered as a mutation but is being run as a query.");
    let err = run(&mut iso, &mut host, FunctionKind::Action, "messages:send", "[{}]").result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Internal);
}

#[test]
fn module_state_persists_across_calls_in_one_isolate() {
    // Context reuse: module-level state survives between invocations of one isolate.
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let a = ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "nested/deep", "[{}]"));
    let b = ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "nested/deep", "[{}]"));
    assert_eq!(b.as_f64().unwrap(), a.as_f64().unwrap() + 1.0);
}

#[test]
fn timeout_then_normal_call() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    for path in ["limits:spin", "limits:spinCaught"] {
        let mut inv = invocation(FunctionKind::Query, path, "[{}]");
        inv.timeout = Some(Duration::from_millis(100));
        let t0 = Instant::now();
        let out = iso.invoke(&inv, &mut host);
        if path == "limits:spin" {
            assert_eq!(out.log_lines, vec!["[LOG] 'about to spin'".to_string()]);
        }
        let err = out.result.unwrap_err();
        assert_eq!(err.kind, JsErrorKind::Timeout, "{err:?}");
        assert_eq!(err.message, "Function execution timed out (maximum duration: 100ms)");
        assert!(t0.elapsed() < Duration::from_secs(5));
        assert_eq!(ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "limits:ok", "[{}]")), json!("fine"));
    }
}

#[test]
fn memory_bomb_then_normal_call() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let err = run(&mut iso, &mut host, FunctionKind::Mutation, "limits:memoryBomb", "[{}]").result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::OutOfMemory, "{err:?}");
    assert!(err.message.contains("ran out of memory"), "{}", err.message);
    assert_eq!(ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "limits:ok", "[{}]")), json!("fine"));
    let out = run(&mut iso, &mut host, FunctionKind::Mutation, "messages:send", r#"[{"author":"a","body":"b"}]"#);
    assert_eq!(ok_value(&out), json!("id0"));
}

#[test]
fn deep_recursion_then_normal_call() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let err = run(&mut iso, &mut host, FunctionKind::Query, "limits:deep", "[{}]").result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::StackOverflow, "{err:?}");
    assert!(err.message.contains("Maximum call stack size exceeded"), "{}", err.message);
    assert_eq!(ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "limits:ok", "[{}]")), json!("fine"));
    // A stack overflow caught by user code still ends the call.
    for path in ["limits:deepCaught", "limits:deepCaughtNoBinding"] {
        let err = run(&mut iso, &mut host, FunctionKind::Query, path, "[{}]").result.unwrap_err();
        assert_eq!(err.kind, JsErrorKind::StackOverflow, "{path}: {err:?}");
        assert_eq!(err.message, "Uncaught RangeError: Maximum call stack size exceeded");
        assert_eq!(ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "limits:ok", "[{}]")), json!("fine"));
    }
    // Other errors stay catchable (destructuring catch parameters keep working).
    let v = ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "limits:ordinaryCatch", "[{}]"));
    assert_eq!(v, json!("caught something else"));
}

#[test]
fn isolates_run_on_other_threads() {
    let app = app();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let app = app.clone();
            std::thread::Builder::new()
                .stack_size(4 << 20)
                .spawn(move || {
                    let mut iso = Isolate::new(app).unwrap();
                    let mut host = FakeHost::default();
                    let out = run(&mut iso, &mut host, FunctionKind::Query, "limits:ok", "[{}]");
                    ok_value(&out)
                })
                .unwrap()
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), json!("fine"));
    }
}

#[test]
fn trivial_query_overhead() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let n = 300;
    for _ in 0..20 {
        ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "limits:ok", "[{}]"));
    }
    let t0 = Instant::now();
    for _ in 0..n {
        ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "limits:ok", "[{}]"));
    }
    let per_call = t0.elapsed() / n;
    eprintln!("trivial query invoke: {per_call:?} per call");
    let t1 = Instant::now();
    for _ in 0..5 {
        drop(isolate());
    }
    eprintln!("Isolate::new: {:?}", t1.elapsed() / 5);
    // Generous bound for unoptimized test builds; release numbers are reported separately.
    assert!(per_call < Duration::from_millis(5), "{per_call:?}");
}

// ---- loading ---------------------------------------------------------------------------------

/// Writes a scratch app (inside the target dir, so `convex` resolves from the workspace's
/// node_modules) and returns its directory.
fn scratch_app(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("engine-apps").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let p = dir.join("convex").join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn load_err(dir: PathBuf) -> LoadError {
    App::load(EngineOptions::new(dir)).expect_err("load must fail")
}

#[test]
fn syntax_error_is_a_load_error_with_position() {
    let dir = scratch_app(
        "syntax",
        &[
            ("ok.ts", "export const a = 1;\n"),
            (
                "bad.ts",
                "import { query } from 'convex/server';\nexport const x = query({\n  handler: async () => {\n    return 1 +;\n  },\n});\n",
            ),
        ],
    );
    let err = load_err(dir);
    assert_eq!(err.code, "SyntaxError");
    assert!(err.message.starts_with("convex/bad.ts:4:"), "{}", err.message);
}

#[test]
fn missing_import_is_a_load_error_with_position() {
    let dir = scratch_app("missing", &[("a.ts", "// first line\nimport { x } from './nope';\nexport const y = x;\n")]);
    let err = load_err(dir);
    assert_eq!(err.code, "UnresolvedImport");
    assert!(err.message.starts_with("convex/a.ts:2:19: could not resolve \"./nope\""), "{}", err.message);
}

#[test]
fn missing_convex_package_says_run_npm_install() {
    let dir = std::env::temp_dir().join(format!("emvex-engine-nopkg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("convex")).unwrap();
    std::fs::write(
        dir.join("convex/a.ts"),
        "import { queryGeneric } from 'convex/server';\nexport const q = queryGeneric(async () => 1);\n",
    )
    .unwrap();
    let err = load_err(dir.clone());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(err.code, "ConvexNotInstalled");
    assert!(err.message.contains("run npm install"), "{}", err.message);
    assert!(err.message.starts_with("convex/a.ts:1:"), "{}", err.message);
}

#[test]
fn throw_at_import_is_a_load_error_with_position() {
    let dir = scratch_app(
        "throws",
        &[
            ("fine.ts", "export const ok = 1;\n"),
            (
                "boom.ts",
                "type T = { a: number };\nconst t: T = { a: 1 };\nif (t.a === 1) {\n  throw new Error(\"kaboom at import\");\n}\nexport const z = t;\n",
            ),
            (
                "a_logs.ts",
                "console.log(\"top-level log\", Date.now() > 0, typeof Math.random());\nexport const w = 1;\n",
            ),
        ],
    );
    let err = load_err(dir);
    assert_eq!(err.code, "ImportFailed");
    assert!(err.message.starts_with("convex/boom.ts:4:"), "{}", err.message);
    assert!(err.message.contains("Error: kaboom at import"), "{}", err.message);
    assert!(err.message.contains("Logs at import time:\n[LOG] 'top-level log' true 'number'"), "{}", err.message);
}

#[test]
fn syscall_at_import_time_fails() {
    let dir = scratch_app(
        "importsyscall",
        &[("a.ts", "Convex.syscall(\"1.0/queryStream\", \"{}\");\nexport const q = 1;\n")],
    );
    let err = load_err(dir);
    assert_eq!(err.code, "ImportFailed");
    assert!(err.message.contains("Syscall 1.0/queryStream unsupported at import time"), "{}", err.message);
}

#[test]
fn warm_bytecode_cache_is_used() {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("engine-cache-test");
    let _ = std::fs::remove_dir_all(&cache);
    let mut opts = options();
    opts.cache_dir = Some(cache.clone());
    let cold = App::load(opts.clone()).unwrap();
    assert_eq!(cold.stats().cache_hits.load(Ordering::Relaxed), 0);
    let compiled = cold.stats().compiled.load(Ordering::Relaxed);
    assert!(compiled > 10, "{compiled}");
    let t0 = Instant::now();
    let warm = App::load(opts).unwrap();
    eprintln!("warm load: {:?}", t0.elapsed());
    assert_eq!(warm.stats().compiled.load(Ordering::Relaxed), 0);
    assert_eq!(warm.stats().cache_hits.load(Ordering::Relaxed), compiled);
    // The warm app works and still maps stack traces to the .ts lines.
    let mut iso = Isolate::new(warm).unwrap();
    let mut host = FakeHost::default();
    let err = run(&mut iso, &mut host, FunctionKind::Query, "errors:plainError", "[{}]").result.unwrap_err();
    assert!(err.stack.unwrap().contains("(convex/errors.ts:16:"));
}

#[test]
fn unhandled_rejection_ends_the_execution() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let err = run(&mut iso, &mut host, FunctionKind::Mutation, "errors:unhandledRejection", "[{}]").result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::ConvexError, "{err:?}");
    assert_eq!(err.message, "Uncaught ConvexError: insert refused");
    let out = run(&mut iso, &mut host, FunctionKind::Mutation, "errors:lateHandled", "[{}]");
    assert_eq!(ok_value(&out), json!("handled: insert refused"));
}

#[test]
fn one_instance_of_each_module_per_realm() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let v = ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "identity:sameInstances", "[{}]"));
    assert_eq!(v, json!({"server": true, "values": true, "instanceOf": true}));
}

#[test]
fn app_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<App>();
    assert_send_sync::<LoadError>();
}

/// A host that answers `1.0/runUdf` by running the nested function in a second isolate on the
/// same thread (the way an executor runs nested calls: an `Isolate` is not re-entrant).
struct NestedHost {
    nested: Isolate,
    nested_host: FakeHost,
    seen: Vec<String>,
}

impl Host for NestedHost {
    fn syscall(&mut self, op: &str, args_json: &str) -> Result<String, HostError> {
        self.nested_host.syscall(op, args_json)
    }

    fn async_syscall(&mut self, op: &str, args_json: &str) -> Result<String, HostError> {
        if op != "1.0/runUdf" {
            return self.nested_host.async_syscall(op, args_json);
        }
        let args: Value = serde_json::from_str(args_json).unwrap();
        let name = args["name"].as_str().unwrap().to_string();
        self.seen.push(name.clone());
        let inv = invocation(FunctionKind::Query, &name, &format!("[{}]", args["args"]));
        let out = self.nested.invoke(&inv, &mut self.nested_host);
        out.result.map_err(|e| HostError { message: e.message, data: e.data, class: ErrorClass::Developer })
    }
}

#[test]
fn nested_calls_run_in_a_second_isolate_on_the_same_thread() {
    let mut iso = isolate();
    let mut host = NestedHost { nested: isolate(), nested_host: FakeHost::default(), seen: Vec::new() };
    let out = iso.invoke(&invocation(FunctionKind::Mutation, "nested:outer", "[{}]"), &mut host);
    assert_eq!(ok_value(&out), json!("outer got fine"));
    assert_eq!(host.seen, vec!["limits:ok".to_string()]);
}

#[test]
fn url_and_search_params() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let v = ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "determinism:urls", "[{}]"));
    assert_eq!(
        v,
        json!({
            "href": "https://example.com/a/c?x=2&y=a+b#frag",
            "host": "example.com",
            "origin": "https://example.com",
            "pathname": "/a/c",
            "y": "a b",
            "rel": "https://example.com/a/d?q",
            "params": "a=1+2&b=%C3%A9%26&a=3",
            "all": ["1 2", "3"],
            "canParse": false
        })
    );
}

#[test]
fn json_imports_and_tsconfig_paths() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let v = ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "imports:fromJsonAndAlias", "[{}]"));
    assert_eq!(v, json!({"greeting": "hello from json", "shouted": "X!"}));
}

#[test]
fn dynamic_import_is_refused_in_queries() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let err = run(&mut iso, &mut host, FunctionKind::Query, "limits:dynamicImport", "[{}]").result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Uncaught);
    assert!(err.message.contains("dynamic import() is not supported in queries and mutations"), "{}", err.message);
}

#[test]
fn dates_are_utc_whatever_the_host_zone() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let v = ok_value(&run(&mut iso, &mut host, FunctionKind::Query, "determinism:utc", "[{}]"));
    let ms = 1_577_934_245_000u64;
    assert_eq!(
        v,
        json!({
            "ms": ms,
            "hours": 3,
            "offset": 0,
            "str": "Thu Jan 02 2020 03:04:05 GMT+0000 (Coordinated Universal Time)",
            "local": "1/2/2020, 3:04:05 AM",
            "parsedLocal": ms,
            "newLocal": ms
        })
    );
}

#[test]
fn console_time_and_trace() {
    let mut iso = isolate();
    let mut host = FakeHost::default();
    let out = run(&mut iso, &mut host, FunctionKind::Query, "determinism:consoleExtras", "[{}]");
    ok_value(&out);
    assert_eq!(out.log_lines.len(), 3, "{:?}", out.log_lines);
    assert!(out.log_lines[0].starts_with("[INFO] t: ") && out.log_lines[0].ends_with("ms"), "{:?}", out.log_lines);
    assert_eq!(out.log_lines[1], "[WARN] Timer 'missing' does not exist");
    assert!(
        out.log_lines[2].starts_with("[LOG] 'here'\n    at handler (convex/determinism.ts:"),
        "{:?}",
        out.log_lines
    );
}

#[test]
fn memory_bomb_at_import_is_a_load_error() {
    let dir = scratch_app(
        "importbomb",
        &[(
            "bomb.ts",
            "const hold: string[] = [];\nfor (let i = 0; ; i++) {\n  try { hold.push(\"x\".repeat(1 << 20) + i); } catch {}\n}\nexport const never = 1;\n",
        )],
    );
    let mut opts = EngineOptions::new(dir);
    opts.limits.memory_bytes = 16 << 20;
    let err = App::load(opts).expect_err("must fail");
    assert_eq!(err.code, "ImportFailed");
    assert_eq!(err.message, "convex/bomb.ts: JavaScript execution ran out of memory (maximum memory usage: 16 MB)");
}
