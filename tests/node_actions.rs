//! `"use node"` actions on `fixtures/node-actions`, over real HTTP: they run in Node.js (Node
//! built-ins, a CommonJS-only package, the app's files), reach the deployment through the same
//! syscalls as QuickJS actions (queries, mutations, QuickJS actions, the scheduler), are
//! reached by QuickJS actions, crons and the scheduler, and fail cleanly: a thrown error keeps
//! its stack (pointing at the `.ts` source) and `ConvexError` data, a crashed process is
//! replaced, a hung one is ended by the action time limit. Apps that cannot run them do not
//! start, with errors naming the module.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Server, emvex_bin, poll, repo_root, run_cli};
use serde_json::{Value, json};

const APP: &str = "fixtures/node-actions";

fn action(s: &Server, path: &str, args: Value) -> Value {
    s.action(path, args).ok_value(path)
}

fn notes(s: &Server) -> Vec<String> {
    let list = s.query_ok("notes:list", json!({}));
    list.as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap().to_string()).collect()
}

#[test]
fn node_actions_use_node_builtins_commonjs_and_the_deployment() {
    let s = Server::start_app(APP, &["--in-memory", "--env", "GREETING=hello from env"]);
    let r = s.action("hashing:digest", json!({ "text": "hello" }));
    let v = r.ok_value("digest");
    assert_eq!(v["digest"], "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    assert_eq!(v["base64"], "aGVsbG8=");
    assert_eq!(v["node"], true);
    assert_eq!(v["ms"], 172_800_000.0, "ms, a CommonJS-only package");
    assert_eq!(v["greeting"], "a greeting read with node:fs");
    assert!(v["notes"].as_f64().unwrap() >= 1.0, "its runMutation committed before its runQuery: {v}");
    assert!(r.text.contains("[LOG] 'hashing' 5 'characters'"), "{}", r.text);
    assert!(notes(&s).contains(&"hello".to_string()));
    assert_eq!(action(&s, "hashing:env", json!({ "name": "GREETING" })), "hello from env");
    // Node → QuickJS and QuickJS → Node.
    assert_eq!(action(&s, "hashing:callQuickJs", json!({ "text": "hi" })), "HI!");
    let digest = action(&s, "plain:viaNode", json!({ "text": "x" }));
    assert_eq!(digest, "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
    // File storage from Node.js: a Blob stored, read back, and served.
    let stored = action(&s, "hashing:storeAndRead", json!({ "text": "file from node" }));
    assert_eq!(stored["back"], "file from node");
    assert_eq!(stored["type"], "text/plain");
    let served = s.client().get(stored["url"].as_str().unwrap()).send().unwrap();
    assert_eq!(served.text().unwrap(), "file from node");
    // Internal Node actions are reachable by admins only.
    s.action("hashing:random", json!({}))
        .fn_error("internal")
        .assert_contains("Could not find public function for 'hashing:random'");
    let random = s.function("hashing:random", json!({})).ok_value("random");
    assert_eq!(random.as_str().unwrap().len(), 16);
}

#[test]
fn the_scheduler_and_crons_run_node_actions() {
    let s = Server::start_app(APP, &["--in-memory"]);
    action(&s, "hashing:scheduleDigest", json!({ "text": "scheduled" }));
    poll("the scheduled Node action's note", Duration::from_secs(20), || {
        let texts = notes(&s);
        if texts.iter().any(|t| t == "scheduled") && texts.iter().any(|t| t == "from cron") {
            Ok(())
        } else {
            Err(format!("notes so far: {texts:?}"))
        }
    });
}

/// The pid a `[LOG] '<what>' <pid>` line names.
fn logged_pid(lines: &Option<Value>, what: &str) -> u32 {
    let line = lines.as_ref().and_then(|l| l[0].as_str()).unwrap_or_else(|| panic!("no log line in {lines:?}"));
    let prefix = format!("[LOG] '{what}' ");
    line.strip_prefix(&prefix).and_then(|pid| pid.parse().ok()).unwrap_or_else(|| panic!("unexpected line {line}"))
}

fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
}

#[test]
fn node_action_errors_crashes_and_hangs_end_cleanly() {
    let s = Server::start_app(APP, &["--in-memory", "--action-timeout-ms", "1500", "--workers", "1"]);
    let pids: std::collections::BTreeSet<String> =
        (0..6).map(|_| action(&s, "hashing:pid", json!({})).to_string()).collect();
    assert!(pids.len() < 6, "processes are reused: {pids:?}");

    let e = s.action("hashing:fails", json!({ "convexError": false })).fn_error("TypeError");
    assert!(e.message.contains("Uncaught TypeError: bad input from Node"), "{}", e.message);
    assert!(e.message.contains("at handler (convex/hashing.ts:54:"), "the stack points at the source: {}", e.message);
    assert!(!e.message.contains("node_modules/convex"), "no frames of the convex package: {}", e.message);
    let e = s.action("hashing:fails", json!({ "convexError": true })).fn_error("ConvexError");
    assert!(e.message.contains("Uncaught ConvexError"), "{}", e.message);
    assert_eq!(e.data, Some(json!({ "code": "NOPE", "detail": 7.0 })));

    let e = s.action("hashing:crash", json!({})).fn_error("crash");
    assert!(e.message.contains("the Node.js process running the action exited (exit status: 3)"), "{}", e.message);
    let crashed = logged_pid(&e.log_lines, "about to exit");
    assert!(!is_running(crashed), "the crashed process is gone");
    assert_ne!(action(&s, "hashing:pid", json!({})), json!(crashed as f64), "and replaced");

    let e = s.action("hashing:garble", json!({})).fn_error("garbled");
    assert!(e.message.contains("broke emvex's protocol"), "{}", e.message);
    let e = s.action("hashing:digest", json!({ "text": 5 })).fn_error("wrong argument type");
    assert!(e.message.contains("ArgumentValidationError") && e.message.contains("Path: .text"), "{}", e.message);

    let e = s.action("hashing:hang", json!({})).fn_error("hang");
    assert!(e.message.contains("Function execution timed out (maximum duration: 1.5s)"), "{}", e.message);
    let hung = logged_pid(&e.log_lines, "hanging");
    poll("the hung process to be killed", Duration::from_secs(5), || {
        if is_running(hung) { Err(format!("{hung} still runs")) } else { Ok(()) }
    });
    assert!(action(&s, "hashing:digest", json!({ "text": "after" }))["notes"].as_f64().unwrap() >= 1.0);
}

#[test]
fn no_more_node_actions_run_at_once_than_the_limit() {
    // Nine naps asked for at once, three allowed: they run in waves, all succeed, and at no
    // moment do more than three run.
    let s = Server::start_app(APP, &["--in-memory", "--node-actions", "3", "--workers", "2"]);
    let s = &s;
    let runs: Vec<(f64, f64)> = std::thread::scope(|scope| {
        let naps: Vec<_> =
            (0..9).map(|_| scope.spawn(move || action(s, "hashing:nap", json!({ "ms": 300 })))).collect();
        naps.into_iter()
            .map(|nap| {
                let run = nap.join().expect("nap thread");
                (run["start"].as_f64().unwrap(), run["end"].as_f64().unwrap())
            })
            .collect()
    });
    let most_at_once =
        runs.iter().map(|&(start, _)| runs.iter().filter(|&&(s, e)| s <= start && start < e).count()).max().unwrap();
    assert!((2..=3).contains(&most_at_once), "{most_at_once} ran at once: {runs:?}");
    let first = runs.iter().map(|r| r.0).fold(f64::MAX, f64::min);
    let last = runs.iter().map(|r| r.1).fold(0.0, f64::max);
    assert!(last - first >= 3.0 * 300.0 - 50.0, "three waves of 300 ms: {runs:?}");
    // A wait for a free process counts in the action's time limit: with one process, a nap of
    // 500 ms behind a hung action (ended at 1.5 s) cannot finish within its own 1.5 s, while
    // it would if it did not wait.
    let s = Server::start_app(APP, &["--in-memory", "--node-actions", "1", "--action-timeout-ms", "1500"]);
    let s = &s;
    std::thread::scope(|scope| {
        let hung = scope.spawn(move || s.action("hashing:hang", json!({})).fn_error("hang"));
        std::thread::sleep(Duration::from_millis(100));
        let e = s.action("hashing:nap", json!({ "ms": 500 })).fn_error("waited past its limit");
        assert!(e.message.contains("Function execution timed out (maximum duration: 1.5s)"), "{}", e.message);
        hung.join().expect("hung action");
    });
}

#[test]
fn an_app_with_node_actions_needs_node_and_only_actions_there() {
    let out = run_cli(&["run", "tests/fixtures/node-query", "mixed:ping", "--in-memory"], Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("convex/mixed: `count` is a query, but only actions can be defined in \"use node\" files"),
        "{stderr}"
    );

    let empty = std::env::temp_dir().join(format!("emvex-no-node-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = Command::new(emvex_bin())
        .args(["run", APP, "hashing:pid", "--in-memory"])
        .current_dir(repo_root())
        .env("PATH", &empty)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "\"use node\" modules (convex/hashing) run in Node.js 20 or newer, but no `node` was found on PATH"
        ),
        "{stderr}"
    );
}
