//! Components over HTTP, against `fixtures/components`: the app mounts the local component
//! `counter` twice (`counter`, and `second` with `GREETING: "hi"`), and `counter` mounts
//! `leaf`. Checked: each instance's tables and env are its own; calls into a child share the
//! caller's transaction (commit and roll back together, a child's throw is catchable and undoes
//! only the child's call, a `ConvexError`'s data crosses); only public functions of a direct
//! child are reachable by reference, with Convex's texts otherwise; handles reach internal
//! functions of any instance; actions call into children; jobs live in the scheduling
//! instance and run in the target's, also after a restart and a `kill -9`; a component's cron
//! runs in each of its instances; public clients cannot reach component functions, admins can
//! with `componentPath`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const COMPONENTS_FIXTURE: &str = "fixtures/components";

fn start(extra: &[&str]) -> Server {
    Server::start_app(COMPONENTS_FIXTURE, extra)
}

fn in_memory() -> Server {
    start(&["--in-memory"])
}

/// POST /api/function as admin, in instance `component`.
fn admin_call(s: &Server, component: &str, path: &str, args: Value) -> Resp {
    let body = json!({"path": path, "args": args, "format": "convex_encoded_json", "componentPath": component});
    s.post("/api/function", &body, true)
}

fn admin_ok(s: &Server, component: &str, path: &str, args: Value) -> Value {
    admin_call(s, component, path, args).ok_value(&format!("{component}:{path}"))
}

fn counter_value(s: &Server, component: &str, name: &str) -> f64 {
    admin_ok(s, component, "lib:get", json!({ "name": name })).as_f64().expect("a number")
}

#[test]
fn a_child_mutation_commits_with_the_app_and_each_instance_has_its_own_tables() {
    let s = in_memory();
    assert_eq!(s.mutation_ok("app:bump", json!({"name": "a"})), json!(1.0));
    assert_eq!(s.mutation_ok("app:bump", json!({"name": "a"})), json!(2.0));
    assert_eq!(s.mutation_ok("app:bumpSecond", json!({"name": "a"})), json!(1.0));
    assert_eq!(s.query_ok("app:read", json!({"name": "a"})), json!(2.0));
    assert_eq!(counter_value(&s, "second", "a"), 1.0);
    assert_eq!(s.query_ok("app:logCount", json!({})), json!(3.0));
    // The nested component got one write per increment of its own parent instance.
    assert_eq!(admin_ok(&s, "counter", "lib:pings", json!({})), json!(2.0));
    assert_eq!(admin_ok(&s, "second", "lib:pings", json!({})), json!(1.0));
    assert_eq!(admin_ok(&s, "counter/leaf", "lib:count", json!({})), json!(2.0));
}

#[test]
fn an_app_throw_rolls_back_the_childs_writes_too() {
    let s = in_memory();
    s.mutation_ok("app:bump", json!({"name": "t"}));
    s.mutation_err("app:bumpThenThrow", json!({"name": "t"})).assert_contains("after bump");
    assert_eq!(s.query_ok("app:read", json!({"name": "t"})), json!(1.0));
    assert_eq!(s.query_ok("app:logCount", json!({})), json!(1.0));
    assert_eq!(admin_ok(&s, "counter/leaf", "lib:count", json!({})), json!(1.0));
}

#[test]
fn a_childs_throw_is_catchable_and_undoes_only_the_childs_call() {
    let s = in_memory();
    let got = s.mutation_ok("app:bumpCatching", json!({"name": "c"}));
    assert_eq!(got["value"], json!(1.0), "{got}");
    assert_eq!(got["caught"], json!({"code": "boom", "name": "c"}), "ConvexError data crosses: {got}");
    assert_eq!(s.query_ok("app:read", json!({"name": "c"})), json!(1.0));
}

#[test]
fn each_instance_sees_its_own_env() {
    let s = in_memory();
    let got = s.query_ok("app:greetings", json!({}));
    assert_eq!(got["counter"], json!({"atImport": "none", "atCall": "none"}), "{got}");
    assert_eq!(got["second"], json!({"atImport": "hi", "atCall": "hi"}), "{got}");
}

#[test]
fn references_reach_only_public_functions_of_existing_children() {
    let s = in_memory();
    s.mutation_err("app:callSecret", json!({}))
        .assert_contains(r#"Child component "counter" does not export ["lib", "secret"]"#);
    s.mutation_err("app:callMissing", json!({})).assert_contains(r#"Child component "nope" not found"#);
    s.mutation_err("app:callIntermediate", json!({})).assert_contains("Intermediate export references unsupported");
}

/// A child's argument validators apply to calls into it (with the child's own texts) and to
/// admin calls with `componentPath`; unknown functions of a child answer like missing ones.
#[test]
fn calls_into_a_child_are_validated_and_unknown_functions_are_not_found() {
    let s = in_memory();
    admin_call(&s, "counter", "lib:increment", json!({"name": 5.0}))
        .fn_error("wrong argument type")
        .assert_contains("ArgumentValidationError")
        .assert_contains("Path: .name");
    admin_call(&s, "counter", "lib:nope", json!({}))
        .fn_error("unknown function")
        .assert_contains("Could not find function for 'lib:nope'");
    assert_eq!(counter_value(&s, "counter", "5"), 0.0, "nothing was written");
}

#[test]
fn handles_reach_internal_and_public_functions_of_a_child() {
    let s = in_memory();
    // A handle to an internal function, created inside the component, used by the app.
    assert_eq!(s.mutation_ok("app:viaHandle", json!({"name": "h"})), json!(100.0));
    let handle = s.query_ok("app:handleOfGet", json!({}));
    let handle = handle.as_str().expect("a handle string");
    assert!(handle.starts_with("function://counter#"), "{handle}");
    assert_eq!(s.query_ok("app:readViaHandle", json!({"name": "h", "handle": handle})), json!(100.0));
}

#[test]
fn an_action_calls_a_childs_mutation_query_and_action() {
    let s = in_memory();
    let got = s.action("app:bumpFromAction", json!({"name": "x"})).ok_value("bumpFromAction");
    assert_eq!(got, json!({"first": 1.0, "second": 2.0, "read": 2.0}));
}

#[test]
fn component_functions_are_not_public_but_admins_reach_them_by_component_path() {
    let s = in_memory();
    let not_found = "Could not find public function for 'lib:increment'";
    s.mutation_err("lib:increment", json!({"name": "p"})).assert_contains(not_found);
    let with_path = json!({"path": "lib:increment", "args": {"name": "p"}, "format": "convex_encoded_json", "componentPath": "counter"});
    s.post("/api/mutation", &with_path, false).fn_error("public call with componentPath").assert_contains(not_found);
    assert_eq!(admin_ok(&s, "counter", "lib:secret", json!({"name": "p"})), json!(100.0));
    admin_call(&s, "nope", "lib:get", json!({"name": "p"}))
        .fn_error("unknown component")
        .assert_contains(r#"Component "nope" not found"#);
}

#[test]
fn the_app_schedules_a_child_function_its_job_is_the_apps_and_runs_in_the_child() {
    let s = in_memory();
    s.mutation_ok("app:scheduleBump", json!({"name": "s"}));
    poll("the scheduled increment ran in counter", Duration::from_secs(10), || {
        let v = counter_value(&s, "counter", "s");
        if v == 1.0 { Ok(()) } else { Err(v.to_string()) }
    });
    let jobs = s.query_ok("app:appJobs", json!({}));
    let job = &jobs[0];
    assert_eq!(job["name"], json!("lib.js:increment"), "{jobs}");
    assert_eq!(job["state"], json!("success"), "{jobs}");
    let keys: Vec<&str> = job["keys"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(!keys.contains(&"emvexTarget"), "emvex's bookkeeping field is not visible to JS: {keys:?}");
    // The job is the app's: the component's own table does not list it.
    assert_eq!(admin_ok(&s, "counter", "lib:listJobs", json!({})), json!([]));
}

#[test]
fn a_child_schedules_its_own_internal_function_in_its_own_table() {
    let s = in_memory();
    admin_ok(&s, "second", "lib:scheduleSecret", json!({"name": "own"}));
    poll("the child's job ran", Duration::from_secs(10), || {
        let jobs = admin_ok(&s, "second", "lib:listJobs", json!({}));
        if jobs == json!([{"name": "lib.js:secret", "state": "success"}]) { Ok(()) } else { Err(jobs.to_string()) }
    });
    assert_eq!(counter_value(&s, "second", "own"), 100.0);
    assert_eq!(counter_value(&s, "counter", "own"), 0.0);
    assert_eq!(s.query_ok("app:appJobs", json!({})), json!([]));
}

#[test]
fn a_components_cron_runs_in_each_instance() {
    let s = in_memory();
    for instance in ["counter", "second"] {
        poll(&format!("the tick cron ran in {instance}"), Duration::from_secs(10), || {
            let v = counter_value(&s, instance, "cron");
            if v >= 100.0 { Ok(()) } else { Err(v.to_string()) }
        });
    }
}

#[test]
fn pending_jobs_of_both_instances_run_once_after_a_restart() {
    let dir = TempDir::new("components-restart");
    let data = dir.path.to_str().unwrap().to_string();
    {
        let s = start(&["--data", &data]);
        s.mutation_ok("app:scheduleBump", json!({"name": "r", "delayMs": 1500.0}));
        admin_ok(&s, "counter", "lib:scheduleSecret", json!({"name": "r", "delayMs": 1500.0}));
    }
    let s = start(&["--data", &data]);
    poll("both jobs ran after the restart", Duration::from_secs(15), || {
        let v = counter_value(&s, "counter", "r");
        if v == 101.0 { Ok(()) } else { Err(v.to_string()) }
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter_value(&s, "counter", "r"), 101.0, "each job ran exactly once");
}

#[test]
fn a_burst_of_child_jobs_runs_exactly_once_across_kill9() {
    let dir = TempDir::new("components-kill9");
    let data = dir.path.to_str().unwrap().to_string();
    let n = 300;
    {
        let s = start(&["--data", &data]);
        s.mutation_ok("app:scheduleBurst", json!({"name": "k", "n": n as f64}));
        std::thread::sleep(Duration::from_millis(30));
        s.kill9();
    }
    let s = start(&["--data", &data]);
    let jobs = poll("every job finished", Duration::from_secs(30), || {
        let jobs = s.query_ok("app:appJobs", json!({}));
        let done = jobs.as_array().unwrap().iter().filter(|j| j["state"] == json!("success")).count();
        if done == n { Ok(jobs) } else { Err(format!("{done} of {n} succeeded")) }
    });
    assert_eq!(jobs.as_array().unwrap().len(), n);
    assert_eq!(counter_value(&s, "counter", "k"), n as f64, "each scheduled increment ran exactly once");
}
