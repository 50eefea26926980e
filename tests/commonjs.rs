//! CommonJS packages and files on `fixtures/commonjs` (convex-ents, ms, a local `.cjs` file
//! requiring JSON and a circular pair), and CommonJS load failures on `tests/fixtures/`.

mod common;

use std::time::Duration;

use common::{Server, run_cli};
use serde_json::json;

const APP: &str = "fixtures/commonjs";

#[test]
fn default_named_and_namespace_imports_of_commonjs() {
    let s = Server::start_app(APP, &["--in-memory"]);
    let v = s.query_ok("runs:imports", json!({}));
    assert_eq!(v["msDefault"], "function");
    assert_eq!(v["msTwoHours"], 7_200_000.0);
    assert_eq!(v["entsNamedIsFunction"], true);
    assert_eq!(v["entsNamespaceKeys"], json!(["defineEnt", "defineEntSchema", "entsTableFactory"]));
    assert_eq!(v["entsNamespaceDefaultIsExports"], true);
    assert_eq!(v["defaultIsModuleExports"], true);
    assert_eq!(v["namespaceDefault"], true);
    assert_eq!(v["namespaceNamed"], true);
    assert_eq!(v["topLevelThisIsExports"], true);
    assert_eq!(v["filename"], "lib/units.cjs");
    assert_eq!(v["dirname"], "lib");
    // `require` of JSON gives the parsed value.
    assert_eq!(v["factorsKm"], 1000.0);
    assert_eq!(v["extensionlessJsonIsSame"], true, "require(\"./units\") finds units.json, the same object");
    // Node's order: a starts, requires b, b sees a's partial exports and reassigns module.exports.
    assert_eq!(v["cycle"], json!({ "a": ["a-early", "a-late"], "bSawOfA": "early" }));
}

#[test]
fn convex_ents_schema_and_functions_run() {
    let s = Server::start_app(APP, &["--in-memory"]);
    let args = json!({ "email": "a@x.dev", "name": "Ada", "distance": 5, "unit": "km", "duration": "25m" });
    s.mutation_ok("runs:record", args.clone());
    s.mutation_ok(
        "runs:record",
        json!({ "email": "a@x.dev", "name": "Ada", "distance": 2, "unit": "mi", "duration": "1h" }),
    );
    let runs = s.query_ok("runs:runsOf", json!({ "email": "a@x.dev" }));
    assert_eq!(
        runs,
        json!([
            { "meters": 5000.0, "duration": "25 minutes" },
            { "meters": 3218.688, "duration": "1 hour" },
        ])
    );
    // The local CommonJS file's errors reach the caller.
    s.mutation_err(
        "runs:record",
        json!({ "email": "b@x.dev", "name": "B", "distance": 1, "unit": "ft", "duration": "1m" }),
    )
    .assert_contains("unknown unit ft");
}

#[test]
fn a_non_literal_require_fails_clearly_at_run_time() {
    let s = Server::start_app(APP, &["--in-memory"]);
    // Resolved at load time because the file also requires it literally: allowed.
    assert_eq!(s.query_ok("runs:requireDynamic", json!({ "name": "./units.json" })), "object");
    s.query_err("runs:requireDynamic", json!({ "name": "./nope.cjs" }))
        .assert_contains("Cannot find module './nope.cjs' required by lib/units.cjs")
        .assert_contains("string literal");
    s.query_err("runs:requireDynamic", json!({ "name": "fs" })).assert_contains("Cannot find module 'fs'");
}

#[test]
fn a_commonjs_syntax_error_names_the_file_and_line() {
    let out = run_cli(&["run", "tests/fixtures/commonjs-syntax", "uses:get", "--in-memory"], Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tests/fixtures/commonjs-syntax/lib/broken.cjs:3:") || stderr.contains("lib/broken.cjs:3:"),
        "{stderr}"
    );
    assert!(stderr.contains("SyntaxError"), "{stderr}");
}

#[test]
fn a_commonjs_top_level_throw_names_the_file_and_line() {
    let out = run_cli(&["run", "tests/fixtures/commonjs-throws", "uses:get", "--in-memory"], Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("lib/broken.cjs:4:"), "{stderr}");
    assert!(stderr.contains("broken at top level"), "{stderr}");
}
