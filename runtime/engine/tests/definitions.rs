//! Tests of component definition discovery and evaluation (`App::definitions`) against apps
//! written to the target dir (so `convex` resolves from the workspace's `node_modules`, and the
//! real `defineApp`/`defineComponent`/`use` run).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use emvex_engine::{App, DefinitionId, EngineOptions, LoadError, OpaqueDefinition};
use serde_json::{Value, json};

mod support;

/// Writes an app (see `support::write_app`): paths are relative to the app dir.
fn write_app(name: &str, files: &[(&str, &str)]) -> PathBuf {
    support::write_app("definition-apps", name, files)
}

fn options(dir: PathBuf) -> EngineOptions {
    let mut o = EngineOptions::new(dir);
    o.env = BTreeMap::from([("APP_SECRET".to_string(), "s3cret".to_string())]);
    o
}

fn load_err(dir: PathBuf) -> LoadError {
    App::load(options(dir)).expect_err("load must fail")
}

const QUERY: &str =
    "import { queryGeneric } from 'convex/server';\nexport const ping = queryGeneric(async () => 'pong');\n";

const COUNTER_CONFIG: &str = "import { defineComponent } from 'convex/server';\nimport { v } from 'convex/values';\nimport leaf from './leaf/convex.config';\nconst c = defineComponent('counter', { env: { GREETING: v.optional(v.string()) } });\nc.use(leaf);\nexport default c;\n";

const LEAF_CONFIG: &str =
    "import { defineComponent } from 'convex/server';\nexport default defineComponent('leafy');\n";

const PKG_JSON: &str = r#"{"name": "pkg", "type": "module", "exports": {"./convex.config": {"types": "./x.d.ts", "default": "./dist/component/convex.config.js"}, "./convex.config.js": "./dist/component/convex.config.js"}}"#;

const PKG_CONFIG: &str = "import { defineComponent } from 'convex/server';\nimport { name } from './naming.js';\nexport default defineComponent(name);\n";

/// The app with a local component (using a nested one) and a package component, written to
/// its own directory `name` (tests run in parallel).
fn full_app(name: &str) -> PathBuf {
    write_app(
        name,
        &[
            ("package.json", r#"{"name": "full-app"}"#),
            ("convex/messages.ts", QUERY),
            (
                "convex/convex.config.ts",
                "import { defineApp } from 'convex/server';\nimport { v } from 'convex/values';\nimport counter from './counter/convex.config';\nimport pkg from 'pkg/convex.config';\nconst app = defineApp({ env: { APP_SECRET: v.string() } });\napp.use(counter);\napp.use(counter, { name: 'second', env: { GREETING: 'hi', TOKEN: app.env.APP_SECRET } });\napp.use(pkg);\nexport default app;\n",
            ),
            ("convex/counter/convex.config.ts", COUNTER_CONFIG),
            ("convex/counter/lib.ts", QUERY),
            ("convex/counter/leaf/convex.config.ts", LEAF_CONFIG),
            ("convex/counter/leaf/deep.ts", QUERY),
            ("node_modules/pkg/package.json", PKG_JSON),
            ("node_modules/pkg/dist/component/convex.config.js", PKG_CONFIG),
            ("node_modules/pkg/dist/component/naming.js", "export const name = 'pkgComponent';\n"),
            ("node_modules/pkg/dist/component/convex.config.d.ts", "export {};\n"),
            ("node_modules/pkg/dist/component/work.js", QUERY),
            ("node_modules/pkg/dist/component/work.js.map", "{}"),
        ],
    )
}

fn config(app: &App, id: usize) -> Value {
    serde_json::from_str(app.definitions()[id].config_json.as_deref().expect("has a config")).unwrap()
}

#[test]
fn app_without_config_has_only_the_root_definition() {
    let dir = write_app("none", &[("convex/messages.ts", QUERY)]);
    let app = App::load(options(dir)).unwrap();
    let defs = app.definitions();
    assert_eq!(defs.len(), 1);
    assert_eq!(defs[0].id, DefinitionId(0));
    assert_eq!(defs[0].path, "");
    assert_eq!(defs[0].config_json, None);
    assert_eq!(app.module_paths(), ["messages"]);
}

#[test]
fn finds_local_nested_and_package_definitions_with_their_paths() {
    let app = App::load(options(full_app("full"))).unwrap();
    let defs = app.definitions();
    let paths: Vec<&str> = defs.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, ["", "counter", "counter/leaf", "../node_modules/pkg/dist/component"]);
    for (i, d) in defs.iter().enumerate() {
        assert_eq!(d.id, DefinitionId(i));
        assert!(d.dir.is_absolute());
        assert_eq!(d.opaque, None);
    }
    assert!(defs[1].dir.ends_with("convex/counter"));
    assert_eq!(defs[3].package.as_ref().map(|(n, _)| n.as_str()), Some("pkg"));
    assert_eq!(defs[0].package.as_ref().map(|(n, _)| n.as_str()), Some("full-app"));
    // Component modules follow the CLI rules; the app does not load component directories.
    assert_eq!(defs[1].modules, ["lib"]);
    assert_eq!(defs[2].modules, ["deep"]);
    assert_eq!(defs[3].modules, ["naming", "work"]);
    assert_eq!(app.module_paths(), ["messages"]);

    // Each definition's export() data, with its path.
    assert_eq!(config(&app, 2)["name"], "leafy");
    assert_eq!(config(&app, 2)["path"], "counter/leaf");
    assert_eq!(config(&app, 3)["name"], "pkgComponent");
    assert_eq!(config(&app, 3)["path"], "../node_modules/pkg/dist/component");
    let counter = config(&app, 1);
    assert_eq!(counter["definitionType"], json!({"type": "childComponent", "name": "counter", "args": []}));
    assert_eq!(counter["childComponents"], json!([{"name": "leafy", "path": "counter/leaf", "args": [], "env": []}]));
    assert_eq!(counter["envVars"][0][0], "GREETING");
    assert_eq!(counter["envVars"][0][1]["optional"], true);
    assert_eq!(counter["path"], "counter");

    // The root: names from the synthetic modules' defaultName, env pairs by value and by ref.
    let root = config(&app, 0);
    assert_eq!(root["definitionType"], json!({"type": "app"}));
    assert_eq!(root["path"], "");
    assert_eq!(
        root["childComponents"],
        json!([
            {"name": "counter", "path": "counter", "args": [], "env": []},
            {"name": "second", "path": "counter", "args": [], "env": [
                ["GREETING", {"type": "value", "value": "hi"}],
                ["TOKEN", {"type": "envVar", "name": "APP_SECRET"}],
            ]},
            {"name": "pkgComponent", "path": "../node_modules/pkg/dist/component", "args": [], "env": []},
        ])
    );
    assert_eq!(root["envVars"][0][0], "APP_SECRET");
}

#[test]
fn synthetic_module_exposes_path_default_name_and_export() {
    let dir = write_app(
        "synthetic",
        &[
            (
                "convex/convex.config.ts",
                "import { defineApp } from 'convex/server';\nimport counter from './counter/convex.config';\nconst ok = counter.componentDefinitionPath === 'counter' && counter.defaultName === 'leafy' && counter.export().path === 'counter' && counter.export().name === 'leafy';\nif (!ok) throw new Error('bad synthetic module: ' + JSON.stringify({ p: counter.componentDefinitionPath, n: counter.defaultName, e: counter.export() }));\nconst app = defineApp();\napp.use(counter, { name: process.env.APP_SECRET === 's3cret' ? 'renamed' : 'wrong' });\nexport default app;\n",
            ),
            ("convex/counter/convex.config.ts", LEAF_CONFIG),
        ],
    );
    let app = App::load(options(dir)).unwrap();
    assert_eq!(config(&app, 0)["childComponents"][0]["name"], "renamed");
}

#[test]
fn cycles_are_load_errors() {
    let dir = write_app(
        "cycle",
        &[
            (
                "convex/convex.config.ts",
                "import { defineApp } from 'convex/server';\nimport a from './a/convex.config';\nconst app = defineApp();\napp.use(a);\nexport default app;\n",
            ),
            (
                "convex/a/convex.config.ts",
                "import { defineComponent } from 'convex/server';\nimport b from '../b/convex.config';\nconst c = defineComponent('a');\nc.use(b);\nexport default c;\n",
            ),
            (
                "convex/b/convex.config.ts",
                "import { defineComponent } from 'convex/server';\nimport a from '../a/convex.config';\nconst c = defineComponent('b');\nc.use(a);\nexport default c;\n",
            ),
        ],
    );
    let err = load_err(dir);
    assert_eq!(err.code, "DefinitionCycle");
    assert_eq!(err.message, "Found cyclic definition dependency");
}

/// An app using `./comp` whose config runs `body` before `export default defineComponent("comp")`.
fn component_config_error(name: &str, body: &str) -> LoadError {
    let dir = write_app(
        name,
        &[
            (
                "convex/convex.config.ts",
                "import { defineApp } from 'convex/server';\nimport comp from './comp/convex.config';\nconst app = defineApp();\napp.use(comp);\nexport default app;\n",
            ),
            (
                "convex/comp/convex.config.ts",
                &format!(
                    "import {{ defineComponent }} from 'convex/server';\n{body}\nexport default defineComponent('comp');\n"
                ),
            ),
        ],
    );
    load_err(dir)
}

#[test]
fn component_config_realm_forbids_time_randomness_env_and_syscalls() {
    let cases = [
        ("date-now", "Date.now();", "Date unsupported when evaluating app definition"),
        ("new-date", "new Date();", "Date unsupported when evaluating app definition"),
        ("random", "Math.random();", "Math.random unsupported when evaluating app definition"),
        (
            "random-values",
            "crypto.getRandomValues(new Uint8Array(4));",
            "Math.random unsupported when evaluating app definition",
        ),
        ("uuid", "crypto.randomUUID();", "Cannot use cryptographic randomness when evaluating app definition"),
        (
            "env",
            "const x = process.env.APP_SECRET;",
            "Environment variables are only supported in the app's convex.config.ts.",
        ),
        (
            "syscall",
            "(globalThis as any).Convex.syscall('1.0/get', '{}');",
            "Syscall 1.0/get unsupported when evaluating app definition",
        ),
        (
            "async-syscall",
            "await (globalThis as any).Convex.asyncSyscall('1.0/db/query', '{}');",
            "1.0/db/query unsupported while evaluating app definition",
        ),
    ];
    for (name, body, text) in cases {
        let err = component_config_error(name, body);
        assert_eq!(err.code, "ImportFailed", "{name}: {err}");
        assert!(err.message.contains(text), "{name}: {}", err.message);
        // The error names the config file and line.
        assert!(err.message.starts_with("convex/comp/convex.config.ts:2:"), "{name}: {}", err.message);
    }
}

#[test]
fn root_config_has_no_clock_either() {
    let dir = write_app(
        "root-date",
        &[(
            "convex/convex.config.ts",
            "import { defineApp } from 'convex/server';\nconst t = Date.now();\nexport default defineApp();\n",
        )],
    );
    let err = load_err(dir);
    assert!(err.message.contains("Date unsupported when evaluating app definition"), "{}", err.message);
}

#[test]
fn bad_exports_use_convex_texts() {
    let root = |name: &str, text: &str| load_err(write_app(name, &[("convex/convex.config.ts", text)]));
    let err = root(
        "two-exports",
        "import { defineApp } from 'convex/server';\nexport const x = 1;\nexport default defineApp();\n",
    );
    assert_eq!(err.code, "InvalidExportValue");
    assert_eq!(
        err.message,
        "The default export of `convex.config.ts` in your app has an invalid value (`convex.config.ts` has more than one export). Please make sure that you’re exporting the return value of `defineApp()` (`import { defineApp } from 'convex/server'`)."
    );
    let err = root("no-default", "export const x = 1;\n");
    assert!(err.message.contains("(missing default export)"), "{}", err.message);
    let err = root("not-object", "export default 3;\n");
    assert!(err.message.contains("(the default export is not an object)"), "{}", err.message);
    let err = root("no-export", "export default { a: 1 };\n");
    assert!(
        err.message.contains("(missing `export` property on the default export of `convex.config.ts`)"),
        "{}",
        err.message
    );

    let dir = write_app(
        "component-bad-export",
        &[
            (
                "convex/convex.config.ts",
                "import { defineApp } from 'convex/server';\nimport comp from './comp/convex.config';\nconst app = defineApp();\napp.use(comp);\nexport default app;\n",
            ),
            ("convex/comp/convex.config.ts", "export default {};\n"),
        ],
    );
    let err = load_err(dir);
    assert_eq!(err.code, "InvalidExportValue");
    assert_eq!(
        err.message,
        "The default export of `convex.config.ts` in component `comp` has an invalid value (missing `export` property on the default export of `convex.config.ts`). Please make sure that the component is exporting the return value of `defineComponent()` (`import { defineComponent } from 'convex/server'`)."
    );
}

#[test]
fn use_node_in_a_component_is_a_load_error() {
    let dir = write_app(
        "use-node",
        &[
            (
                "convex/convex.config.ts",
                "import { defineApp } from 'convex/server';\nimport comp from './comp/convex.config';\nconst app = defineApp();\napp.use(comp);\nexport default app;\n",
            ),
            ("convex/comp/convex.config.ts", LEAF_CONFIG),
            ("convex/comp/node.ts", "\"use node\";\nexport const a = 1;\n"),
        ],
    );
    let err = load_err(dir.clone());
    assert_eq!(err.code, "UseNodeInComponent");
    let comp = std::fs::canonicalize(dir.join("convex/comp")).unwrap();
    assert_eq!(
        err.message,
        format!(
            "\"use node\" directive is not supported in components. Remove it from the component at: {}.",
            comp.display()
        )
    );
}

#[test]
fn use_without_a_definition_path_fails_with_convex_text() {
    let dir = write_app(
        "plain-object",
        &[(
            "convex/convex.config.ts",
            "import { defineApp } from 'convex/server';\nconst app = defineApp();\napp.use({} as any);\nexport default app;\n",
        )],
    );
    let err = load_err(dir);
    assert_eq!(err.code, "ImportFailed");
    assert!(
        err.message.contains("Component definition does not have the required componentDefinitionPath property. This code only works in Convex runtime."),
        "{}",
        err.message
    );
}

#[test]
fn component_config_console_is_discarded_and_sibling_imports_load() {
    let dir = write_app(
        "console",
        &[
            (
                "convex/convex.config.ts",
                "import { defineApp } from 'convex/server';\nimport comp from './comp/convex.config';\nconsole.log('root');\nconst app = defineApp();\napp.use(comp);\nexport default app;\n",
            ),
            (
                "convex/comp/convex.config.ts",
                "import { defineComponent } from 'convex/server';\nimport { NAME } from './name';\nconsole.log('component', NAME);\nexport default defineComponent(NAME);\n",
            ),
            ("convex/comp/name.ts", "export const NAME = 'fromSibling';\n"),
        ],
    );
    let app = App::load(options(dir)).unwrap();
    assert_eq!(config(&app, 0)["childComponents"][0]["name"], "fromSibling");
    assert_eq!(app.definitions()[1].modules, ["name"]);
}

#[test]
fn a_throw_in_a_package_config_names_its_file_and_line() {
    let dir = write_app(
        "package-throw",
        &[
            (
                "convex/convex.config.ts",
                "import { defineApp } from 'convex/server';\nimport pkg from 'pkg/convex.config';\nconst app = defineApp();\napp.use(pkg);\nexport default app;\n",
            ),
            ("node_modules/pkg/package.json", PKG_JSON),
            (
                "node_modules/pkg/dist/component/convex.config.js",
                "import { defineComponent } from 'convex/server';\n\nthrow new Error('broken component');\n",
            ),
        ],
    );
    let err = load_err(dir);
    assert_eq!(err.code, "ImportFailed");
    assert!(err.message.starts_with("node_modules/pkg/dist/component/convex.config.js:3:"), "{}", err.message);
    assert!(err.message.contains("broken component"), "{}", err.message);
}

#[test]
fn opaque_definitions_are_not_evaluated() {
    // The package's config would throw if evaluated, and imports a module that does not exist.
    let dir = write_app(
        "opaque",
        &[
            (
                "convex/convex.config.ts",
                "import { defineApp } from 'convex/server';\nimport pkg from 'pkg/convex.config';\nconst app = defineApp();\napp.use(pkg);\napp.use(pkg, { name: 'again' });\nexport default app;\n",
            ),
            ("node_modules/pkg/package.json", PKG_JSON),
            ("node_modules/pkg/dist/package.json", r#"{"type": "module"}"#),
            (
                "node_modules/pkg/dist/component/convex.config.js",
                "import './missing.js';\nthrow new Error('evaluated');\n",
            ),
        ],
    );
    let opaque = [OpaqueDefinition {
        package: "pkg".into(),
        dir_in_package: "dist/component".into(),
        default_name: "nativePkg".into(),
    }];
    let app = App::load_with_opaque(options(dir.clone()), &opaque).unwrap();
    let defs = app.definitions();
    assert_eq!(defs.len(), 2);
    assert_eq!(defs[1].opaque.as_deref(), Some("nativePkg"));
    assert_eq!(defs[1].modules, Vec::<String>::new());
    assert_eq!(
        config(&app, 1),
        json!({
            "name": "nativePkg",
            "definitionType": {"type": "childComponent", "name": "nativePkg", "args": []},
            "childComponents": [],
            "httpMounts": {},
            "exports": {"type": "branch", "branch": []},
            "path": "../node_modules/pkg/dist/component",
        })
    );
    let root = config(&app, 0);
    let names: Vec<&Value> = root["childComponents"].as_array().unwrap().iter().map(|c| &c["name"]).collect();
    assert_eq!(names, [&json!("nativePkg"), &json!("again")]);
    // Without the opaque entry the same app evaluates (and fails on) the real config.
    assert_eq!(load_err(dir).code, "UnresolvedImport");
}

#[test]
fn definitions_load_the_same_from_the_bytecode_cache() {
    let dir = full_app("full-cached");
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("definition-apps-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let mut o = options(dir);
    o.cache_dir = Some(cache);
    let first = App::load(o.clone()).unwrap();
    let second = App::load(o).unwrap();
    assert!(second.stats().cache_hits.load(std::sync::atomic::Ordering::Relaxed) > 0);
    assert_eq!(first.definitions(), second.definitions());
    assert_eq!(second.definitions().len(), 4);
}
