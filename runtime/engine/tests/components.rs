//! Tests of per-instance realms (`Isolate::for_scope`) against the committed app in
//! `tests/components_app/` (one local component definition, `counter`, used twice) and against
//! apps written to the target dir (a package component whose module throws at import time).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use emvex_engine::{
    ActionHost, App, DefinitionId, EngineOptions, FunctionKind, Host, HostError, Invocation, Isolate, Outcome, Scope,
    Visibility,
};
use serde_json::{Value, json};

mod support;

fn app() -> Arc<App> {
    static APP: OnceLock<Arc<App>> = OnceLock::new();
    APP.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/components_app");
        let mut options = EngineOptions::new(dir);
        options.env = BTreeMap::from([("GREETING".to_string(), "app greeting".to_string())]);
        App::load(options).expect("components app loads")
    })
    .clone()
}

/// The id of the `counter` definition.
fn counter(app: &App) -> DefinitionId {
    app.definitions().iter().find(|d| d.path == "counter").expect("counter definition").id
}

fn scope(definition: DefinitionId, env: &[(&str, &str)]) -> Scope {
    Scope { definition, env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
}

/// A host for functions that make no syscalls: any syscall is a test failure.
struct NoHost;

impl Host for NoHost {
    fn syscall(&mut self, op: &str, _: &str) -> Result<String, HostError> {
        panic!("unexpected syscall {op}")
    }
    fn async_syscall(&mut self, op: &str, _: &str) -> Result<String, HostError> {
        panic!("unexpected async syscall {op}")
    }
}

impl ActionHost for NoHost {
    fn syscall(&self, op: &str, _: &str) -> Result<String, HostError> {
        panic!("unexpected syscall {op}")
    }
    fn async_syscall(
        &self,
        op: String,
        _: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, HostError>>>> {
        panic!("unexpected async syscall {op}")
    }
}

fn invocation(kind: FunctionKind, path: &str, args: Value) -> Invocation {
    let (module, name) = path.split_once(':').unwrap();
    Invocation {
        kind,
        module: module.to_string(),
        name: name.to_string(),
        args_json: json!([args]).to_string(),
        rng_seed: [0; 32],
        now_ms: 0.0,
        timeout: None,
    }
}

fn value(out: Outcome, path: &str) -> Value {
    match out.result {
        Ok(text) => serde_json::from_str(&text).unwrap(),
        Err(e) => panic!("{path} failed: {e:?}"),
    }
}

fn call(iso: &mut Isolate, kind: FunctionKind, path: &str, args: Value) -> Value {
    value(iso.invoke(&invocation(kind, path, args), &mut NoHost), path)
}

/// Runs an action of `iso` to completion on a current-thread runtime.
fn run_action(iso: &Isolate, path: &str) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let future = iso.invoke_action(invocation(FunctionKind::Action, path, json!({})), std::rc::Rc::new(NoHost));
    value(tokio::task::LocalSet::new().block_on(&rt, future), path)
}

#[test]
fn component_modules_join_the_graph_but_not_the_app() {
    let app = app();
    assert_eq!(app.module_paths(), ["messages"]);
    assert_eq!(app.definition_module_paths(counter(&app)), ["lib", "schema"]);
    let root = Isolate::new(app.clone()).unwrap();
    assert_eq!(root.scope(), &Scope::root(&app));
}

#[test]
fn two_instances_see_their_own_env_at_import_and_call_time() {
    let app = app();
    let def = counter(&app);
    let mut first = Isolate::for_scope(app.clone(), scope(def, &[])).unwrap();
    let mut second = Isolate::for_scope(app.clone(), scope(def, &[("GREETING", "hi")])).unwrap();
    assert_eq!(
        call(&mut first, FunctionKind::Query, "lib:greet", json!({})),
        json!({"atImport": "none", "atCall": "none"})
    );
    assert_eq!(
        call(&mut second, FunctionKind::Query, "lib:greet", json!({})),
        json!({"atImport": "hi", "atCall": "hi"})
    );
    // The app's realm keeps the app's env.
    let mut root = Isolate::new(app.clone()).unwrap();
    assert_eq!(call(&mut root, FunctionKind::Query, "messages:list", json!({})), json!("app greeting"));
}

#[test]
fn actions_of_an_instance_run_with_its_env() {
    let app = app();
    let def = counter(&app);
    let first = Isolate::for_scope(app.clone(), scope(def, &[])).unwrap();
    let second = Isolate::for_scope(app.clone(), scope(def, &[("GREETING", "hi")])).unwrap();
    assert_eq!(run_action(&first, "lib:greetLater"), json!({"atImport": "none", "atCall": "none", "n": 0}));
    assert_eq!(run_action(&second, "lib:greetLater"), json!({"atImport": "hi", "atCall": "hi", "n": 0}));
}

#[test]
fn module_state_of_one_instance_is_not_seen_by_another() {
    let app = app();
    let def = counter(&app);
    let mut first = Isolate::for_scope(app.clone(), scope(def, &[])).unwrap();
    let mut second = Isolate::for_scope(app.clone(), scope(def, &[("GREETING", "hi")])).unwrap();
    assert_eq!(call(&mut first, FunctionKind::Mutation, "lib:increment", json!({})), json!(1));
    assert_eq!(call(&mut first, FunctionKind::Mutation, "lib:increment", json!({"by": 2})), json!(3));
    assert_eq!(call(&mut first, FunctionKind::Query, "lib:get", json!({})), json!(3));
    assert_eq!(call(&mut second, FunctionKind::Query, "lib:get", json!({})), json!(0));
    assert_eq!(call(&mut second, FunctionKind::Mutation, "lib:increment", json!({})), json!(1));
    assert_eq!(call(&mut first, FunctionKind::Query, "lib:get", json!({})), json!(3));
}

#[test]
fn analyze_of_a_component_lists_its_functions_and_schema() {
    let app = app();
    let mut iso = Isolate::for_scope(app.clone(), scope(counter(&app), &[])).unwrap();
    let analysis = iso.analyze().unwrap();
    let names: Vec<(String, String, FunctionKind, Visibility)> =
        analysis.functions.iter().map(|f| (f.module.clone(), f.name.clone(), f.kind, f.visibility)).collect();
    assert_eq!(
        names,
        [
            ("lib".to_string(), "increment".to_string(), FunctionKind::Mutation, Visibility::Public),
            ("lib".to_string(), "get".to_string(), FunctionKind::Query, Visibility::Public),
            ("lib".to_string(), "greet".to_string(), FunctionKind::Query, Visibility::Public),
            ("lib".to_string(), "secret".to_string(), FunctionKind::Query, Visibility::Internal),
            ("lib".to_string(), "greetLater".to_string(), FunctionKind::Action, Visibility::Public),
        ]
    );
    let schema: Value = serde_json::from_str(analysis.schema_json.as_deref().expect("schema")).unwrap();
    assert_eq!(schema["tables"][0]["tableName"], "counts");
    assert_eq!(analysis.crons_json, None);
    // The app's analysis has none of the component's functions.
    let root = Isolate::new(app.clone()).unwrap().analyze().unwrap();
    let root_names: Vec<String> = root.functions.iter().map(|f| format!("{}:{}", f.module, f.name)).collect();
    assert_eq!(root_names, ["messages:list"]);
    assert_eq!(root.schema_json, None);
}

#[test]
fn scopes_must_name_a_javascript_definition() {
    let app = app();
    let err = Isolate::for_scope(app.clone(), scope(DefinitionId(99), &[])).err().expect("unknown id");
    assert_eq!(err.code, "unknown_definition");
}

#[test]
fn an_import_time_throw_in_a_package_component_names_its_file_and_line() {
    let dir = support::write_app(
        "component-realm-apps",
        "throwing",
        &[
            (
                "convex/messages.ts",
                "import { queryGeneric } from 'convex/server';\nexport const ping = queryGeneric(async () => 'pong');\n",
            ),
            (
                "convex/convex.config.ts",
                "import { defineApp } from 'convex/server';\nimport pkg from 'pkg/convex.config';\nconst app = defineApp();\napp.use(pkg);\nexport default app;\n",
            ),
            (
                "node_modules/pkg/package.json",
                r#"{"name": "pkg", "type": "module", "exports": {"./convex.config": "./dist/component/convex.config.js"}}"#,
            ),
            (
                "node_modules/pkg/dist/component/convex.config.js",
                "import { defineComponent } from 'convex/server';\nexport default defineComponent('pkg');\n",
            ),
            (
                "node_modules/pkg/dist/component/boom.js",
                "import { queryGeneric } from 'convex/server';\nexport const q = queryGeneric(async () => 1);\nthrow new Error('component import failed');\n",
            ),
        ],
    );
    // The app itself loads: component modules are evaluated by their instances' isolates.
    let app = App::load(EngineOptions::new(dir)).expect("app loads");
    let def = app.definitions().iter().find(|d| d.path == "../node_modules/pkg/dist/component").unwrap().id;
    assert_eq!(app.definition_module_paths(def), ["boom"]);
    let err = Isolate::for_scope(app.clone(), scope(def, &[])).err().expect("import throws");
    assert!(err.message.contains("component import failed"), "{}", err.message);
    assert!(err.message.contains("node_modules/pkg/dist/component/boom.js:3"), "{}", err.message);
}
