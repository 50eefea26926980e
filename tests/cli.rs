//! The command line: `emvex run` prints Convex JSON or fails with exit code 1; bad usage,
//! unknown flags, missing/broken apps and unset or invalid variables the app declares in
//! `defineApp({ env })` exit with code 2; `emvex dev` prints its URL; `emvex run` runs a
//! `"use node"` action in Node.js, and a cron may point at one.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(120);

fn stdout_json(out: &std::process::Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {text:?}"))
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn run_prints_convex_json() {
    let data = TempDir::new("cli-run");
    let out = run_cli(
        &["run", FIXTURE, "values:echo", r#"{"value": {"$integer": "KgAAAAAAAAA="}}"#, "--data", data.str()],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout_json(&out), json!({"$integer": "KgAAAAAAAAA="}));

    let out = run_cli(&["run", FIXTURE, "values:echo", r#"{"value": [1.5, "x", null]}"#, "--data", data.str()], T);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_json_eq(&stdout_json(&out), &json!([1.5, "x", null]));
}

#[test]
fn run_persists_between_invocations() {
    let data = TempDir::new("cli-persist");
    let out = run_cli(
        &[
            "run",
            FIXTURE,
            "messages:send",
            r#"{"author":"cli","body":"from the cli","channel":"c"}"#,
            "--data",
            data.str(),
        ],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let id = stdout_json(&out);
    assert!(id.as_str().is_some_and(|s| decode_id(s).is_some()), "not an id: {id}");
    let out = run_cli(&["run", FIXTURE, "messages:list", "--data", data.str()], T);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let list = stdout_json(&out);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["_id"], id);
    assert_eq!(list[0]["body"], json!("from the cli"));
}

#[test]
fn run_can_call_internal_functions() {
    let data = TempDir::new("cli-internal");
    let out = run_cli(&["run", FIXTURE, "errors:secretQuery", r#"{"x": 2}"#, "--data", data.str()], T);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout_json(&out).as_f64(), Some(4.0));
}

#[test]
fn run_failure_exits_1_with_the_error_on_stderr() {
    let data = TempDir::new("cli-fail");
    let out = run_cli(&["run", FIXTURE, "errors:throwPlain", "--data", data.str()], T);
    assert_eq!(out.status.code(), Some(1), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr(&out).contains("Uncaught Error: boom"), "stderr: {}", stderr(&out));
    assert!(out.stdout.iter().all(u8::is_ascii_whitespace), "nothing on stdout for a failure");

    let out = run_cli(&["run", FIXTURE, "errors:throwConvexError", "--data", data.str()], T);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("NOT_ALLOWED"), "ConvexError data on stderr: {}", stderr(&out));

    let out = run_cli(&["run", FIXTURE, "messages:send", r#"{"author": 1}"#, "--data", data.str()], T);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("ArgumentValidationError"), "stderr: {}", stderr(&out));

    let out = run_cli(&["run", FIXTURE, "messages:nope", "--data", data.str()], T);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("Could not find"), "stderr: {}", stderr(&out));
}

#[test]
fn run_with_malformed_args_json_is_bad_usage() {
    let data = TempDir::new("cli-badjson");
    let out = run_cli(&["run", FIXTURE, "values:echo", "{not json", "--data", data.str()], T);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(!stderr(&out).trim().is_empty());
}

#[test]
fn unknown_flags_exit_2() {
    for args in [
        vec!["dev", FIXTURE, "--bogus"],
        vec!["run", FIXTURE, "logs:silent", "--bogus"],
        vec!["--bogus"],
        vec!["frobnicate"],
        vec![],
        vec!["dev", FIXTURE, "--port", "not-a-number"],
        vec!["dev", FIXTURE, "--in-memory", "--data", "/tmp/x"],
    ] {
        let out = run_cli(&args, T);
        assert_eq!(out.status.code(), Some(2), "emvex {args:?}: stderr {}", stderr(&out));
        assert!(!stderr(&out).trim().is_empty(), "emvex {args:?} printed no message");
    }
}

/// Bad values of the runtime options exit 2 with a message naming the option and what is wrong.
#[test]
fn bad_option_values_exit_2_naming_the_problem() {
    for (args, expected) in [
        (vec!["run", FIXTURE, "counters:get", "--env", "NOEQUALS"], "expected NAME=VALUE"),
        (vec!["run", FIXTURE, "counters:get", "--env", "1BAD=x"], "invalid environment variable name \"1BAD\""),
        (vec!["run", FIXTURE, "counters:get", "--env", "has-dash=x"], "invalid environment variable name"),
        (vec!["run", FIXTURE, "counters:get", "--workers", "0"], "--workers"),
        (vec!["dev", FIXTURE, "--workers", "many"], "--workers"),
        (vec!["dev", FIXTURE, "--workpool-impl", "bogus"], "possible values: native, ts"),
    ] {
        let out = run_cli(&args, T);
        assert_eq!(out.status.code(), Some(2), "emvex {args:?}: stderr {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "emvex {args:?}: {expected:?} not in {}", stderr(&out));
    }
}

#[test]
fn missing_app_exits_2() {
    let empty = TempDir::new("cli-noapp");
    let missing = empty.path.join("does-not-exist");
    for args in [
        vec!["run", missing.to_str().unwrap(), "messages:list", "--in-memory"],
        vec!["run", empty.str(), "messages:list", "--in-memory"],
        vec!["dev", missing.to_str().unwrap(), "--port", "0", "--in-memory"],
        vec!["dev", empty.str(), "--port", "0", "--in-memory"],
    ] {
        let out = run_cli(&args, T);
        assert_eq!(out.status.code(), Some(2), "emvex {args:?}: stderr {}", stderr(&out));
        assert!(!stderr(&out).trim().is_empty(), "emvex {args:?} printed no message");
    }
}

#[test]
fn broken_app_exits_2() {
    let app = TempDir::new("cli-bad-app");
    std::fs::create_dir_all(app.path.join("convex")).unwrap();
    std::fs::write(app.path.join("convex/broken.ts"), "export const x = ;\n").unwrap();
    let out = run_cli(&["run", app.str(), "broken:x", "--in-memory"], T);
    assert_eq!(out.status.code(), Some(2), "stderr {}", stderr(&out));
    assert!(stderr(&out).contains("broken"), "the message should name the broken module: {}", stderr(&out));
    let out = run_cli(&["dev", app.str(), "--port", "0", "--in-memory"], T);
    assert_eq!(out.status.code(), Some(2), "stderr {}", stderr(&out));
}

#[test]
fn dev_prints_its_url_and_serves() {
    let s = Server::start();
    assert!(s.url.starts_with("http://127.0.0.1:"));
    let port: u16 = s.url.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0, "--port 0 must pick a real port");
    assert_eq!(s.query_ok("logs:silent", json!({})), json!("quiet"));
}

#[test]
fn two_servers_on_port_0_get_different_ports() {
    let a = Server::start();
    let b = Server::start();
    assert_ne!(a.url, b.url);
    send_message(&a, "a", "only in a", "c", 0.0);
    assert_eq!(a.query_ok("messages:count", json!({})).as_f64(), Some(1.0));
    assert_eq!(b.query_ok("messages:count", json!({})).as_f64(), Some(0.0), "--in-memory servers share nothing");
}

/// An app whose `convex.config.ts` declares `env` in `defineApp`, with one query reading it.
fn app_declaring_env() -> TempDir {
    let app = TempDir::new("cli-app-env");
    std::fs::create_dir_all(app.path.join("convex")).unwrap();
    std::os::unix::fs::symlink(repo_root().join("node_modules"), app.path.join("node_modules")).unwrap();
    std::fs::write(
        app.path.join("convex/convex.config.ts"),
        "import { defineApp } from \"convex/server\";\nimport { v } from \"convex/values\";\n\
         export default defineApp({\n  env: { API_KEY: v.string(), MODE: v.union(v.literal(\"fast\"), v.literal(\"safe\")), \
         NOTE: v.optional(v.string()) },\n});\n",
    )
    .unwrap();
    std::fs::write(
        app.path.join("convex/settings.ts"),
        "import { queryGeneric as query } from \"convex/server\";\n\
         export const mode = query({ args: {}, handler: async () => process.env.MODE ?? null });\n",
    )
    .unwrap();
    app
}

#[test]
fn variables_the_app_declares_are_required_and_checked_at_start() {
    let app = app_declaring_env();
    let out = run_cli(&["run", app.str(), "settings:mode", "--in-memory"], T);
    assert_eq!(out.status.code(), Some(2), "stderr {}", stderr(&out));
    assert!(
        stderr(&out).contains("Required environment variables are not set: API_KEY, MODE."),
        "stderr {}",
        stderr(&out)
    );
    let out =
        run_cli(&["run", app.str(), "settings:mode", "--in-memory", "--env", "API_KEY=k", "--env", "MODE=slow"], T);
    assert_eq!(out.status.code(), Some(2), "stderr {}", stderr(&out));
    assert!(stderr(&out).contains("Environment variable \"MODE\" is invalid"), "stderr {}", stderr(&out));
    let out =
        run_cli(&["run", app.str(), "settings:mode", "--in-memory", "--env", "API_KEY=k", "--env", "MODE=safe"], T);
    assert_eq!(out.status.code(), Some(0), "stderr {}", stderr(&out));
    assert_eq!(stdout_json(&out), json!("safe"));
}

#[test]
fn emvex_run_runs_a_use_node_action_and_crons_may_point_at_one() {
    let app = TempDir::new("cli-use-node");
    std::fs::create_dir_all(app.path.join("convex")).unwrap();
    std::os::unix::fs::symlink(repo_root().join("node_modules"), app.path.join("node_modules")).unwrap();
    std::fs::write(
        app.path.join("convex/node.ts"),
        "\"use node\";\nimport { actionGeneric } from \"convex/server\";\n\
         export const hello = actionGeneric({ args: {}, handler: async () => \"from node\" });\n",
    )
    .unwrap();
    std::fs::write(
        app.path.join("convex/crons.ts"),
        "import { anyApi, cronJobs } from \"convex/server\";\nconst crons = cronJobs();\n\
         crons.interval(\"ping\", { minutes: 1 }, anyApi.node.hello);\nexport default crons;\n",
    )
    .unwrap();
    std::fs::write(
        app.path.join("convex/plain.ts"),
        "import { queryGeneric } from \"convex/server\";\n\
         export const ok = queryGeneric({ args: {}, handler: async () => \"ok\" });\n",
    )
    .unwrap();
    let out = run_cli(&["run", app.str(), "plain:ok", "--in-memory"], T);
    assert_eq!(out.status.code(), Some(0), "stderr {}", stderr(&out));
    assert_eq!(stdout_json(&out), json!("ok"));
    assert!(!stderr(&out).contains("cron"), "stderr {}", stderr(&out));
    let out = run_cli(&["run", app.str(), "node:hello", "--in-memory"], T);
    assert_eq!(out.status.code(), Some(0), "stderr {}", stderr(&out));
    assert_eq!(stdout_json(&out), json!("from node"));
}
