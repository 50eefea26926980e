//! Actions over HTTP, against `fixtures/actions`: `fetch` to a local server, timers and the
//! real clock, `ctx.runQuery`/`ctx.runMutation` as separate transactions (writes before a
//! throw stay), `ctx.runAction`, internal actions behind the admin key, scheduling and
//! cancelling from actions (scheduled actions ending `success` or `failed` in
//! `_scheduled_functions`), function handles, errors (plain and `ConvexError`), console
//! lines, web APIs, concurrency of actions (with each other and with queries and mutations),
//! the action time limit (also for a scheduled action), a scheduled action interrupted by
//! `kill -9` (ends `failed`, never re-run), `emvex run`, `ctx.meta` in actions, and file storage
//! refused with an error that names it.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// How long a scheduled job may take to reach its final state.
const RUN_DEADLINE: Duration = Duration::from_secs(10);

fn start() -> Server {
    start_actions(&["--in-memory"]).0
}

/// The values of the rows of `tag`, oldest first.
fn rows(s: &Server, tag: &str) -> Value {
    s.query_ok("rows:list", json!({ "tag": tag }))
}

fn action_ok(s: &Server, path: &str, args: Value) -> Value {
    s.action(path, args).ok_value(path)
}

fn action_err(s: &Server, path: &str, args: Value) -> FnError {
    s.action(path, args).fn_error(path)
}

/// A tiny HTTP/1.1 server on 127.0.0.1 for actions to `fetch`: `GET /data` answers fixed
/// JSON with an `X-Reply` header, `POST /echo` answers what it received, anything else 404.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test HTTP server");
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    url
}

/// The request's head (request line and headers) and body, read as `Content-Length` says.
fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
        data.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = data.split_off(head_end + 4);
    while body.len() < length {
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

fn answer(mut stream: TcpStream) {
    let Some((head, body)) = read_request(&mut stream) else {
        return;
    };
    let mut request_line = head.lines().next().unwrap_or("").split_whitespace();
    let method = request_line.next().unwrap_or("").to_string();
    let path = request_line.next().unwrap_or("").to_string();
    let header = |name: &str| {
        head.lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let (status, payload) = match (method.as_str(), path.as_str()) {
        ("GET", "/data") => ("200 OK", json!({"items": [1, 2, 3], "name": "emvex"})),
        ("POST", "/echo") => (
            "200 OK",
            json!({
                "method": method,
                "path": path,
                "xTest": header("x-test"),
                "contentType": header("content-type"),
                "body": serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
            }),
        ),
        _ => ("404 Not Found", json!({"error": "not found"})),
    };
    let payload = payload.to_string();
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nX-Reply: hi\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(payload.as_bytes());
}

#[test]
fn fetch_gets_json_from_a_local_server() {
    let s = start();
    let url = serve();
    let got = action_ok(&s, "actions:fetchJson", json!({ "url": format!("{url}/data") }));
    assert_json_eq(
        &got,
        &json!({
            "status": 200,
            "ok": true,
            "contentType": "application/json",
            "reply": "hi",
            "body": {"items": [1, 2, 3], "name": "emvex"},
        }),
    );
    let got = action_ok(&s, "actions:fetchJson", json!({ "url": format!("{url}/missing") }));
    assert_json_eq(&got["status"], &json!(404));
    assert_eq!(got["ok"], false);
    assert_eq!(got["body"], json!({"error": "not found"}));
}

#[test]
fn fetch_posts_a_json_body_with_headers() {
    let s = start();
    let url = serve();
    let payload = json!({"a": [1, "two"], "b": {"c": null}});
    let got = action_ok(&s, "actions:postJson", json!({ "url": format!("{url}/echo"), "payload": payload }));
    assert_json_eq(
        &got,
        &json!({
            "status": 200,
            "body": {
                "method": "POST",
                "path": "/echo",
                "xTest": "from-action",
                "contentType": "application/json",
                "body": payload,
            },
        }),
    );
}

#[test]
fn a_timer_delays_the_action_by_its_duration() {
    let s = start();
    let t0 = Instant::now();
    let got = action_ok(&s, "actions:sleep", json!({ "ms": 150 }));
    let wall = t0.elapsed();
    assert_json_eq(&got["slept"], &json!(150));
    let elapsed = got["elapsed"].as_f64().unwrap_or_else(|| panic!("elapsed: {got}"));
    assert!((150.0..2000.0).contains(&elapsed), "Date.now() advanced by {elapsed} ms");
    assert!(wall >= Duration::from_millis(150), "the call returned after {wall:?}");
}

#[test]
fn the_clock_and_randomness_are_real_in_actions() {
    let s = start();
    let got = action_ok(&s, "actions:clock", json!({}));
    let before = got["before"].as_f64().unwrap_or_else(|| panic!("{got}"));
    let after = got["after"].as_f64().unwrap_or_else(|| panic!("{got}"));
    assert!((before - now_ms()).abs() < 10_000.0, "Date.now() {before} is not the wall clock {}", now_ms());
    assert!(after - before >= 50.0, "Date.now() advanced {} ms over a 50 ms timer", after - before);
    assert_ne!(got["r1"], got["r2"]);
    let again = action_ok(&s, "actions:clock", json!({}));
    assert_ne!(got["r1"], again["r1"], "each action gets its own randomness");
}

#[test]
fn run_mutation_and_run_query_from_an_action() {
    let s = start();
    let got = action_ok(&s, "actions:writeAndRead", json!({ "tag": "w", "values": [3, 1, 2] }));
    assert_json_eq(&got["read"], &json!([3, 1, 2]));
    let ids = got["ids"].as_array().unwrap_or_else(|| panic!("ids: {got}"));
    assert_eq!(ids.len(), 3);
    let mut distinct = std::collections::BTreeSet::new();
    for id in ids {
        let id = id.as_str().unwrap_or_else(|| panic!("id not a string: {got}"));
        assert!(decode_id(id).is_some(), "not a Convex id: {id}");
        distinct.insert(id.to_string());
    }
    assert_eq!(distinct.len(), 3, "{got}");
    assert_json_eq(&rows(&s, "w"), &json!([3, 1, 2]));
}

#[test]
fn writes_of_an_action_that_then_throws_stay_committed() {
    let s = start();
    let e = action_err(&s, "actions:writeThenThrow", json!({ "tag": "k" }));
    e.assert_contains("Uncaught Error: failed after writing k");
    assert_eq!(e.data, None);
    assert_json_eq(&rows(&s, "k"), &json!([1]));
}

#[test]
fn run_action_calls_an_internal_action() {
    let s = start();
    assert_json_eq(&action_ok(&s, "actions:callAction", json!({ "n": 20 })), &json!(41));
}

#[test]
fn internal_actions_need_the_admin_key() {
    let s = start();
    let e = action_err(&s, "actions:double", json!({ "n": 7 }));
    e.assert_contains("Could not find public function for 'actions:double'");
    let got = s.function("actions:double", json!({ "n": 7 })).ok_value("actions:double");
    assert_json_eq(&got, &json!(14));
    // /api/function runs public actions too.
    let got = s.function("actions:callAction", json!({ "n": 1 })).ok_value("actions:callAction");
    assert_json_eq(&got, &json!(3));
}

#[test]
fn an_action_is_not_callable_as_a_query_or_mutation() {
    let s = start();
    let e = s.query("actions:callAction", json!({ "n": 1 })).fn_error("query of an action");
    e.assert_contains("Trying to execute actions.js:callAction as Query, but it is defined as Action.");
    let e = s.mutation("actions:callAction", json!({ "n": 1 })).fn_error("mutation of an action");
    e.assert_contains("Trying to execute actions.js:callAction as Mutation, but it is defined as Action.");
}

#[test]
fn a_thrown_error_reaches_the_client_with_its_log_lines() {
    let s = start();
    let e = action_err(&s, "actions:throwsError", json!({}));
    e.assert_contains("Uncaught Error: action failed on purpose");
    assert_eq!(e.data, None);
    assert_eq!(e.log_lines, Some(json!(["[LOG] 'about to throw'"])));
    // The next call runs normally.
    assert_json_eq(&action_ok(&s, "actions:callAction", json!({ "n": 0 })), &json!(1));
}

#[test]
fn a_convex_error_reaches_the_client_with_its_data() {
    let s = start();
    let e = action_err(&s, "actions:throwsConvexError", json!({}));
    e.assert_contains("ConvexError");
    let data = e.data.clone().unwrap_or_else(|| panic!("no errorData: {e:?}"));
    assert_json_eq(&data, &json!({"code": "ACTION_DENIED", "attempts": 3}));
}

#[test]
fn a_convex_error_from_run_action_keeps_its_class_and_data() {
    let s = start();
    let got = action_ok(&s, "actions:catchNestedConvexError", json!({}));
    assert_json_eq(&got, &json!({"isConvexError": true, "data": {"code": "ACTION_DENIED", "attempts": 3}}));
}

#[test]
fn action_arguments_and_results_keep_their_convex_types() {
    let s = start();
    for (value, ty, is_bytes) in [
        (int64(-5), "bigint", false),
        (bytes(&[0, 1, 254, 255]), "object", true),
        (special_float(f64::NEG_INFINITY), "number", false),
        (json!({"nested": [1.5, "s", null, true]}), "object", false),
    ] {
        let got = action_ok(&s, "actions:echo", json!({ "value": value }));
        assert_json_eq(&got, &json!({"value": value, "type": ty, "isBytes": is_bytes}));
    }
}

#[test]
fn action_validators_apply() {
    let s = start();
    let e = action_err(&s, "actions:sleep", json!({ "ms": "long" }));
    e.assert_contains("ArgumentValidationError: Value does not match validator.");
    e.assert_contains("Path: .ms");
    e.assert_contains("Value: \"long\"");
    e.assert_contains("Validator: v.float64()");
    let e = action_err(&s, "actions:sleep", json!({}));
    e.assert_contains("ArgumentValidationError: Object is missing the required field `ms`.");
    let e = action_err(&s, "actions:badReturn", json!({}));
    e.assert_contains("ReturnsValidationError: Value does not match validator.");
    e.assert_contains("Validator: v.string()");
}

#[test]
fn actions_run_through_api_run() {
    let s = start();
    assert_json_eq(&s.run("actions/callAction", json!({ "n": 2 })).ok_value("api/run"), &json!(5));
}

#[test]
fn process_env_names_the_api_and_site_urls() {
    let (s, site) = start_actions(&["--in-memory"]);
    let got = action_ok(&s, "actions:urls", json!({}));
    assert_eq!(got, json!({"cloud": s.url, "site": site}));
}

#[test]
fn console_lines_come_back_as_log_lines() {
    let s = start();
    let r = s.action("actions:logs", json!({}));
    assert_eq!(r.ok_value("actions:logs"), json!("logged"));
    assert_eq!(
        r.json["logLines"],
        json!([
            "[LOG] 'action log' 1 true",
            "[INFO] 'action info'",
            "[WARN] 'action warning'",
            "[ERROR] 'action error' 7",
        ])
    );
}

#[test]
fn web_apis_work_in_actions() {
    let s = start();
    let got = action_ok(&s, "actions:webApis", json!({}));
    assert_json_eq(
        &got,
        &json!({
            "host": "example.com",
            "path": "/a/b",
            "y": "two",
            "hash": "#frag",
            "encoded": [104, 195, 169, 108, 108, 111],
            "decoded": "héllo",
            "header": "1, 2",
            "blobSize": 4,
            "blobText": "abcd",
            "blobType": "text/plain",
            "clonedList": [1, 2],
            "clonedIsDate": true,
            "btoa": "aGVsbG8=",
            "atob": "hello",
            "requestMethod": "POST",
            "requestBody": "req-body",
            "responseStatus": 202,
            "responseJson": {"r": 1},
            "uuidOk": true,
            "randomLength": 8,
        }),
    );
}

#[test]
fn ten_sleeping_actions_run_concurrently() {
    let s = start();
    // Warm up: the first action may pay for loading.
    action_ok(&s, "actions:sleep", json!({ "ms": 1 }));
    let barrier = std::sync::Barrier::new(10);
    let t0 = Instant::now();
    let results: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    action_ok(&s, "actions:sleep", json!({ "ms": 100 }))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("request thread")).collect()
    });
    let wall = t0.elapsed();
    for got in &results {
        assert_json_eq(&got["slept"], &json!(100));
        assert!(got["elapsed"].as_f64().unwrap() >= 100.0, "{got}");
    }
    assert!(
        wall < Duration::from_millis(500),
        "10 actions sleeping 100 ms each took {wall:?}: they did not run concurrently"
    );
}

/// With two JS threads, an action busy on the CPU (no awaits) does not hold up others: a quick
/// action called meanwhile runs (by the server's clock) before the busy one ends. With
/// `--workers 1` it would run after: QuickJS cannot preempt the busy loop.
#[test]
fn a_cpu_bound_action_does_not_block_others_with_two_workers() {
    let s = start_actions(&["--in-memory", "--workers", "2"]).0;
    action_ok(&s, "actions:clock", json!({}));
    std::thread::scope(|scope| {
        let busy = scope.spawn(|| action_ok(&s, "actions:busy", json!({ "ms": 2000 })));
        std::thread::sleep(Duration::from_millis(300));
        let quick = action_ok(&s, "actions:clock", json!({}));
        let busy = busy.join().expect("busy request");
        assert_eq!(busy["spun"], json!(true));
        let (quick_ran, busy_ended) = (quick["after"].as_f64().unwrap(), busy["endedAt"].as_f64().unwrap());
        assert!(
            quick_ran < busy_ended,
            "the quick action ran at {quick_ran}, after the busy one ended at {busy_ended}"
        );
    });
}

#[test]
fn an_action_over_its_time_limit_fails_and_the_next_call_works() {
    let (s, _) = start_actions(&["--in-memory", "--action-timeout-ms", "300"]);
    let t0 = Instant::now();
    let e = action_err(&s, "actions:hangs", json!({}));
    assert!(t0.elapsed() < Duration::from_secs(5), "the time limit took {:?}", t0.elapsed());
    e.assert_contains("Function execution timed out (maximum duration: 300ms)");
    assert_eq!(e.log_lines, Some(json!(["[LOG] 'hanging'"])));

    let t0 = Instant::now();
    let e = action_err(&s, "actions:spins", json!({}));
    assert!(t0.elapsed() < Duration::from_secs(5), "the time limit took {:?}", t0.elapsed());
    e.assert_contains("Function execution timed out (maximum duration: 300ms)");

    let got = action_ok(&s, "actions:sleep", json!({ "ms": 1 }));
    assert_json_eq(&got["slept"], &json!(1));
    // Queries and mutations still run too.
    assert_json_eq(&action_ok(&s, "actions:writeAndRead", json!({ "tag": "t", "values": [1] }))["read"], &json!([1]));
}

#[test]
fn a_scheduled_action_over_its_time_limit_ends_failed() {
    let (s, _) = start_actions(&["--in-memory", "--action-timeout-ms", "300"]);
    let id = action_ok(&s, "actions:scheduleHangs", json!({}));
    let id = id.as_str().unwrap_or_else(|| panic!("job id: {id}"));
    let job = wait_action_job_final(&s, id, RUN_DEADLINE);
    assert_eq!(job_kind(&job), "failed", "{job}");
    assert_eq!(job["name"], "actions.js:hangs");
    let error = job["state"]["error"].as_str().unwrap_or_else(|| panic!("{job}"));
    assert!(error.contains("Function execution timed out (maximum duration: 300ms)"), "{error:?}");
}

#[test]
fn a_scheduled_action_interrupted_by_kill9_ends_failed_and_is_not_rerun() {
    let dir = TempDir::new("actions-kill9");
    let (s, _) = start_actions(&["--data", dir.str()]);
    let id = action_ok(&s, "actions:scheduleSlowWriter", json!({ "tag": "slow" }));
    let id = id.as_str().unwrap_or_else(|| panic!("job id: {id}")).to_string();
    poll("the slow writer has written", RUN_DEADLINE, || {
        let job = s.query_ok("rows:job", json!({ "id": id }));
        match (job_kind(&job), rows(&s, "slow")) {
            ("inProgress", written) if normalize_numbers(&written) == normalize_numbers(&json!([6])) => Ok(()),
            (kind, written) => Err(format!("{kind}, rows {written}")),
        }
    });
    s.kill9();

    let (s, _) = start_actions(&["--data", dir.str()]);
    let job = wait_action_job_final(&s, &id, RUN_DEADLINE);
    assert_eq!(job_kind(&job), "failed", "{job}");
    assert_eq!(job["state"]["error"], "Transient error while executing action", "{job}");
    // Give a wrongly re-run action time to write again.
    std::thread::sleep(Duration::from_millis(500));
    assert_json_eq(&rows(&s, "slow"), &json!([6]));
    assert_eq!(job_kind(&s.query_ok("rows:job", json!({ "id": id }))), "failed");
}

#[test]
fn queries_and_mutations_run_while_an_action_sleeps() {
    let s = start();
    action_ok(&s, "actions:sleep", json!({ "ms": 1 }));
    std::thread::scope(|scope| {
        let sleeper = scope.spawn(|| action_ok(&s, "actions:sleep", json!({ "ms": 1500 })));
        std::thread::sleep(Duration::from_millis(200));
        let t0 = Instant::now();
        let got = action_ok(&s, "actions:writeAndRead", json!({ "tag": "during", "values": [1, 2] }));
        assert_json_eq(&got["read"], &json!([1, 2]));
        assert_json_eq(&rows(&s, "during"), &json!([1, 2]));
        let took = t0.elapsed();
        assert!(!sleeper.is_finished(), "the sleeping action ended early");
        assert!(took < Duration::from_millis(1000), "calls waited for the sleeping action: {took:?}");
        assert_json_eq(&sleeper.join().expect("sleeper thread")["slept"], &json!(1500));
    });
}

#[test]
fn an_action_schedules_a_mutation_and_an_action_that_both_succeed() {
    let s = start();
    let got = action_ok(&s, "actions:scheduleBoth", json!({ "tag": "both" }));
    let mutation_job = got["mutationJob"].as_str().unwrap_or_else(|| panic!("{got}")).to_string();
    let action_job = got["actionJob"].as_str().unwrap_or_else(|| panic!("{got}")).to_string();

    let job = wait_action_job_final(&s, &mutation_job, RUN_DEADLINE);
    assert_eq!(job_kind(&job), "success", "{job}");
    assert_eq!(job["name"], "rows.js:add");
    assert_json_eq(&job["args"], &json!([{"tag": "both", "value": 1}]));

    let job = wait_action_job_final(&s, &action_job, RUN_DEADLINE);
    assert_eq!(job_kind(&job), "success", "{job}");
    assert_eq!(job["name"], "actions.js:scheduledWrite");
    assert!(job["completedTime"].as_f64().unwrap() >= job["scheduledTime"].as_f64().unwrap(), "{job}");

    let mut values: Vec<f64> = rows(&s, "both").as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    values.sort_by(f64::total_cmp);
    assert_eq!(values, [1.0, 2.0]);
}

#[test]
fn a_scheduled_action_that_throws_ends_failed() {
    let s = start();
    let id = action_ok(&s, "actions:scheduleFailing", json!({ "tag": "f" }));
    let id = id.as_str().unwrap_or_else(|| panic!("job id: {id}"));
    let job = wait_action_job_final(&s, id, RUN_DEADLINE);
    assert_eq!(job_kind(&job), "failed", "{job}");
    assert_eq!(job["name"], "actions.js:failingAction");
    assert_eq!(keys(&job["state"]), ["error", "kind"], "{job}");
    let error = job["state"]["error"].as_str().unwrap_or_else(|| panic!("{job}"));
    assert!(error.starts_with("Uncaught Error: scheduled action failed: f"), "{error:?}");
    // The action's mutation committed before it threw: actions are not transactions.
    assert_json_eq(&rows(&s, "f"), &json!([3]));
}

#[test]
fn an_action_cancels_what_it_scheduled() {
    let s = start();
    let id = action_ok(&s, "actions:scheduleAndCancel", json!({ "tag": "c" }));
    let id = id.as_str().unwrap_or_else(|| panic!("job id: {id}"));
    let job = s.query_ok("rows:job", json!({ "id": id }));
    assert_eq!(job_kind(&job), "canceled", "{job}");
    assert_eq!(job["name"], "rows.js:add");
    assert_json_eq(&rows(&s, "c"), &json!([]));
}

#[test]
fn a_function_handle_created_in_an_action_runs_its_mutation() {
    let s = start();
    assert_eq!(action_ok(&s, "actions:viaHandle", json!({ "tag": "h" })), json!(true));
    assert_json_eq(&rows(&s, "h"), &json!([5]));
}

/// What `emvex run` printed, as JSON.
fn stdout_json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn emvex_run_runs_an_action() {
    let dir = TempDir::new("actions-cli");
    let out = run_cli(
        &["run", ACTIONS_FIXTURE, "actions:callAction", r#"{"n":4}"#, "--data", dir.str()],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "emvex run failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_json_eq(&stdout_json(&out), &json!(9));

    let out = run_cli(
        &["run", ACTIONS_FIXTURE, "actions:writeAndRead", r#"{"tag":"cli","values":[7,8]}"#, "--data", dir.str()],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "emvex run failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_json_eq(&stdout_json(&out)["read"], &json!([7, 8]));

    let out = run_cli(&["run", ACTIONS_FIXTURE, "actions:throwsError", "--data", dir.str()], Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1), "a failing action exits 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Uncaught Error: action failed on purpose"), "stderr: {stderr}");
    assert!(stderr.contains("[LOG] 'about to throw'"), "stderr: {stderr}");

    // The rows written by `emvex run` are there for `emvex dev`.
    let (s, _) = start_actions(&["--data", dir.str()]);
    assert_json_eq(&rows(&s, "cli"), &json!([7, 8]));
}

#[test]
fn ctx_meta_answers_in_actions() {
    let s = start();
    let meta = action_ok(&s, "actions:meta", json!({}));
    assert_eq!(
        meta,
        json!({ "ip": "127.0.0.1", "userAgent": null, "deployment": "emvex-local", "sameRequestNested": true })
    );
}

#[test]
fn file_storage_is_served_in_actions() {
    // Until issue 10 this was refused with an error naming the feature; `tests/storage.rs` has
    // the file storage tests.
    let s = start();
    let id = s.action("actions:storeBlob", json!({})).ok_value("storeBlob");
    assert!(decode_id(id.as_str().unwrap()).is_some(), "a storage id: {id}");
}
