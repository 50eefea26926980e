//! Integration tests of actions (`Isolate::invoke_action`) against `tests/app/convex/actions.ts`:
//! real `fetch` against a tiny HTTP server on 127.0.0.1, timers, concurrency on one thread,
//! `ctx.runQuery/runMutation/runAction` through a test `ActionHost`, errors, limits, and the
//! real clock and randomness.

use std::cell::RefCell;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use emvex_engine::{
    ActionHost, App, Clock, EngineOptions, ErrorClass, FunctionKind, Host, HostError, HttpOutcome, HttpRequest,
    Invocation, Isolate, JsErrorKind, Limits, Outcome,
};
use serde_json::{Value, json};

fn app_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/app")
}

fn app() -> Arc<App> {
    static APP: OnceLock<Arc<App>> = OnceLock::new();
    APP.get_or_init(|| {
        let limits = Limits { memory_bytes: 32 << 20, ..Limits::default() };
        let options = EngineOptions { limits, ..EngineOptions::new(app_dir()) };
        App::load(options).expect("test app loads")
    })
    .clone()
}

fn action(path: &str, args: Value) -> Invocation {
    let (module, name) = path.split_once(':').unwrap();
    Invocation {
        kind: FunctionKind::Action,
        module: module.to_string(),
        name: name.to_string(),
        args_json: json!([args]).to_string(),
        rng_seed: [7; 32],
        now_ms: 1.0,
        timeout: None,
    }
}

/// A host answering `1.0/actions/*` like a tiny executor: queries return `[]`, mutations
/// `null` (or a ConvexError for `author: "fail"`), actions run nested on the same isolate.
///
/// The query `limits:ok` really runs, through the synchronous `Isolate::invoke` of the same
/// isolate while the calling action is in flight.
struct TestHost {
    iso: Weak<RefCell<Isolate>>,
    calls: RefCell<Vec<(String, Value)>>,
}

impl TestHost {
    fn new(iso: &Rc<RefCell<Isolate>>) -> Rc<TestHost> {
        Rc::new(TestHost { iso: Rc::downgrade(iso), calls: RefCell::new(Vec::new()) })
    }
}

/// A query host with no data (for `limits:ok`, which makes no syscall).
struct NoData;

impl Host for NoData {
    fn syscall(&mut self, op: &str, _: &str) -> Result<String, HostError> {
        Err(HostError::developer(format!("no {op}")))
    }
    fn async_syscall(&mut self, op: &str, _: &str) -> Result<String, HostError> {
        Err(HostError::developer(format!("no {op}")))
    }
}

impl ActionHost for TestHost {
    fn syscall(&self, op: &str, _args_json: &str) -> Result<String, HostError> {
        Err(HostError::internal(format!("no sync op {op} here")))
    }

    fn async_syscall(&self, op: String, args_json: String) -> Pin<Box<dyn Future<Output = Result<String, HostError>>>> {
        let args: Value = serde_json::from_str(&args_json).unwrap();
        self.calls.borrow_mut().push((op.clone(), args.clone()));
        let iso = self.iso.upgrade();
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            match op.as_str() {
                "1.0/actions/query" if args["args"]["fatal"] == json!(true) => {
                    Err(HostError::internal("database on fire"))
                }
                "1.0/actions/query" if args["name"] == json!("limits:ok") => {
                    let iso = iso.expect("isolate alive");
                    let mut query = action("limits:ok", json!({}));
                    query.kind = FunctionKind::Query;
                    let out = iso.borrow_mut().invoke(&query, &mut NoData);
                    out.result.map_err(|e| HostError::developer(e.message))
                }
                "1.0/actions/query" => Ok("[]".into()),
                "1.0/actions/mutation" if args["args"]["author"] == json!("fail") => Err(HostError {
                    message: "insert refused".into(),
                    data: Some(json!({"code": "REFUSED"})),
                    class: ErrorClass::Developer,
                }),
                "1.0/actions/mutation" => Ok("null".into()),
                "1.0/storageStore" => {
                    let stored = json!({"blob": args["blob"], "contentType": args["contentType"]});
                    Ok(json!(format!("kg{}", stored)).to_string())
                }
                "1.0/storageGet" => match args["storageId"].as_str().and_then(|id| id.strip_prefix("kg")) {
                    Some(stored) => Ok(stored.to_string()),
                    None => Ok("null".into()),
                },
                "1.0/actions/action" => {
                    let iso = iso.expect("isolate alive");
                    let path = args["name"].as_str().unwrap().to_string();
                    let host: Rc<dyn ActionHost> = TestHost::new(&iso);
                    let inv = action(&path, args["args"].clone());
                    let fut = iso.borrow().invoke_action(inv, host);
                    let out = fut.await;
                    out.result.map_err(|e| HostError::developer(e.message))
                }
                _ => Err(HostError::developer(format!("unknown op {op}"))),
            }
        })
    }
}

/// Runs `f` on a current-thread runtime inside a `LocalSet`.
fn local<F: Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f)
}

async fn run(iso: &Rc<RefCell<Isolate>>, path: &str, args: Value) -> Outcome {
    run_inv(iso, action(path, args)).await
}

async fn run_inv(iso: &Rc<RefCell<Isolate>>, inv: Invocation) -> Outcome {
    let host: Rc<dyn ActionHost> = TestHost::new(iso);
    let fut = iso.borrow().invoke_action(inv, host);
    fut.await
}

fn ok_value(out: &Outcome) -> Value {
    match &out.result {
        Ok(text) => serde_json::from_str(text).unwrap(),
        Err(e) => panic!("expected success, got {e:?} (logs {:?})", out.log_lines),
    }
}

fn isolate() -> Rc<RefCell<Isolate>> {
    Rc::new(RefCell::new(Isolate::new(app()).expect("isolate")))
}

/// A one-request-per-connection HTTP/1.1 server on 127.0.0.1 (a thread per connection);
/// returns its base URL. `/echo` answers JSON describing the request, `/bytes` four raw
/// bytes, `/slow` answers after 2 s, anything else 404.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || answer(stream));
        }
    });
    url
}

fn answer(mut stream: std::net::TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = serde_json::Map::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim().split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "content-length" {
                length = v.parse().unwrap_or(0);
            }
            headers.insert(k, Value::String(v));
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    let path = target.split('?').next().unwrap_or("");
    let (status, ctype, payload): (&str, &str, Vec<u8>) = match path {
        "/echo" if method == "PUT" => ("200 OK", "text/plain", body.clone()),
        "/echo" => {
            let v = json!({
                "method": method,
                "target": target,
                "xTest": headers.get("x-test"),
                "contentType": headers.get("content-type"),
                "body": String::from_utf8_lossy(&body),
            });
            ("200 OK", "application/json", v.to_string().into_bytes())
        }
        "/bytes" => ("200 OK", "application/octet-stream", vec![0, 1, 2, 255]),
        "/slow" => {
            std::thread::sleep(Duration::from_secs(2));
            ("200 OK", "text/plain", b"late".to_vec())
        }
        _ => ("404 Not Found", "text/plain", b"nope".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nX-Reply: hi\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&payload);
}

#[test]
fn fetch_talks_to_a_real_http_server() {
    let url = serve();
    let iso = isolate();
    let out = local(run(&iso, "actions:fetchEcho", json!({ "url": url })));
    let v = ok_value(&out);
    assert_eq!(v["status"], 200);
    assert_eq!(v["ok"], true);
    assert_eq!(v["statusText"], "OK");
    assert_eq!(v["type"], "application/json");
    assert_eq!(v["custom"], "hi");
    assert_eq!(v["url"], format!("{url}/echo?x=1"));
    assert_eq!(
        v["json"],
        json!({
            "method": "POST",
            "target": "/echo?x=1",
            "xTest": "yes",
            "contentType": "application/json",
            "body": "{\"hello\":\"world\"}"
        })
    );
    assert_eq!(v["bytes"], json!([0, 1, 2, 255]));
    assert_eq!(v["bodyUsed"], true);
    assert_eq!(v["text"], "hi");
    assert_eq!(v["blobSize"], 4);

    let v = ok_value(&local(run(&iso, "actions:fetchStatus", json!({ "url": url }))));
    assert_eq!(v, json!({"status": 404, "ok": false, "body": "nope"}));
}

#[test]
fn fetch_failures_are_catchable_type_errors() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let iso = isolate();
    let v = ok_value(&local(run(&iso, "actions:fetchFails", json!({ "url": format!("http://127.0.0.1:{port}/") }))));
    assert_eq!(v["name"], "TypeError");
    assert_eq!(v["isTypeError"], true);
    assert_eq!(v["code"], "FetchNetwork");
    assert!(v["message"].as_str().unwrap().starts_with("fetch failed: "), "{v}");
    let v = ok_value(&local(run(&iso, "actions:fetchFails", json!({ "url": "not a url" }))));
    assert_eq!(v["message"], "Failed to parse URL from not a url");
}

#[test]
fn web_apis_in_actions() {
    let iso = isolate();
    let v = ok_value(&local(run(&iso, "actions:webApis", json!({}))));
    assert_eq!(
        v,
        json!({
            "a": "1, 2",
            "entries": [["a", "1, 2"], ["b", "x"]],
            "status": 201,
            "ctype": "application/json",
            "body": {"k": 1},
            "reqType": "text/plain;charset=UTF-8",
            "reqText": "hi",
            "getWithBody": "Request with GET/HEAD method cannot have body.",
            "blob": [3, "text/plain", "bc"],
            "clone": {"a": [1]},
            "b64": "ok",
            "decoded": "é",
            "url": "https://h.example/x?y=1",
            "params": "2",
            "multipart": [true, "1\r\n2", "f.txt", "text/plain", "xyz"],
            "urlencoded": [["1", "2"], "é"]
        })
    );
}

#[test]
fn timers_fire_in_time_order_and_clear() {
    let iso = isolate();
    let v = ok_value(&local(run(&iso, "actions:timers", json!({}))));
    let order: Vec<&str> = v["order"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    let pos = |x: &str| order.iter().position(|o| *o == x).unwrap_or_else(|| panic!("{x} missing in {order:?}"));
    assert!(pos("i1") < pos("i2") && pos("i2") < pos("i3"), "{order:?}");
    assert!(pos("a") < pos("b") && pos("b") < pos("c"), "{order:?}");
    assert_eq!(order.len(), 6, "a cleared timer and a cleared interval stay quiet: {order:?}");
    assert!(v["elapsed"].as_f64().unwrap() >= 39.0, "{v}");
}

#[test]
fn ten_actions_run_concurrently_on_one_thread() {
    let iso = isolate();
    local(async {
        // The first batch fills the pool with ten loaded runtimes...
        for out in sleep_batch(&iso, 10, 10).await {
            assert_eq!(ok_value(&out), json!(10));
        }
        assert_eq!(iso.borrow().idle_action_runtimes(), 10);
        // ...which the second batch reuses.
        let t0 = Instant::now();
        for out in sleep_batch(&iso, 10, 10).await {
            assert_eq!(ok_value(&out), json!(10));
        }
        let elapsed = t0.elapsed();
        assert!(elapsed < Duration::from_millis(60), "10 × 10 ms sleeps took {elapsed:?}");
        assert_eq!(iso.borrow().idle_action_runtimes(), 10);
    });
}

/// Starts `n` actions sleeping `ms` each with `spawn_local`, then awaits them all.
async fn sleep_batch(iso: &Rc<RefCell<Isolate>>, n: usize, ms: u64) -> Vec<Outcome> {
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let host: Rc<dyn ActionHost> = TestHost::new(iso);
            let inv = action("actions:sleep", json!({ "ms": ms }));
            let fut = iso.borrow().invoke_action(inv, host);
            tokio::task::spawn_local(fut)
        })
        .collect();
    let mut outs = Vec::new();
    for h in handles {
        outs.push(h.await.unwrap());
    }
    outs
}

#[test]
fn the_idle_pool_is_capped() {
    let iso = isolate();
    local(async {
        for out in sleep_batch(&iso, 20, 5).await {
            assert_eq!(ok_value(&out), json!(5));
        }
    });
    assert_eq!(iso.borrow().idle_action_runtimes(), 16);
}

#[test]
fn run_query_mutation_and_action_through_the_host() {
    let iso = isolate();
    let host = TestHost::new(&iso);
    let dyn_host: Rc<dyn ActionHost> = host.clone();
    let fut = iso.borrow().invoke_action(action("actions:callOthers", json!({})), dyn_host);
    let out = local(fut);
    let v = ok_value(&out);
    assert_eq!(v["q"], json!([]));
    assert_eq!(v["m"], Value::Null);
    assert_eq!(v["nested"], json!(4));
    assert_eq!(v["fine"], "fine", "a query run by the host on the same isolate mid-action");
    assert_eq!(
        v["caught"],
        json!({"name": "ConvexError", "message": "insert refused", "data": {"code": "REFUSED"}, "isConvex": true})
    );
    assert_eq!(v["fatal"], "database on fire", "in actions even fatal host errors are catchable");
    assert_eq!(out.log_lines, vec!["[LOG] 'done' 0".to_string()]);
    let calls = host.calls.borrow();
    let ops: Vec<&str> = calls.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(
        ops,
        [
            "1.0/actions/query",
            "1.0/actions/mutation",
            "1.0/actions/action",
            "1.0/actions/query",
            "1.0/actions/mutation",
            "1.0/actions/query"
        ]
    );
    assert_eq!(calls[0].1["name"], "messages:list");
    assert_eq!(calls[1].1["name"], "messages:clear");
    assert_eq!(calls[2].1["args"], json!({"n": 2}));
}

#[test]
fn errors_are_reported_like_queries_and_mutations() {
    let iso = isolate();
    let err = local(run(&iso, "actions:throws", json!({}))).result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Uncaught);
    assert_eq!(err.message, "Uncaught Error: action boom");
    let stack = err.stack.unwrap();
    assert!(stack.lines().next().unwrap().contains("(convex/actions.ts:"), "{stack}");

    let err = local(run(&iso, "actions:throwsConvex", json!({}))).result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::ConvexError);
    assert_eq!(err.data, Some(json!({"code": "NOPE"})));

    let err = local(run(&iso, "actions:timerThrows", json!({}))).result.unwrap_err();
    assert_eq!(err.message, "Uncaught Error: from a timer");

    let err = local(run(&iso, "actions:neverResolves", json!({}))).result.unwrap_err();
    assert_eq!(err.message, "Returned promise will never resolve");

    let v = ok_value(&local(run(&iso, "actions:syncSyscall", json!({}))));
    assert_eq!(v, json!("caught: no sync op 1.0/test/sync here"));

    let out = local(run(&iso, "actions:unawaited", json!({})));
    assert_eq!(ok_value(&out), json!("early"));
    assert_eq!(
        out.log_lines,
        vec![
            "[WARN] 1 unawaited operation: [1.0/actions/query]. Async operations should be awaited or they might not run."
        ]
    );

    let mut query = action("messages:list", json!({}));
    query.kind = FunctionKind::Query;
    let err = local(run_inv(&iso, query)).result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Internal);
}

#[test]
fn action_timeout_covers_awaits_and_runaway_loops() {
    let iso = isolate();
    let mut inv = action("actions:hangs", json!({}));
    inv.timeout = Some(Duration::from_millis(100));
    let t0 = Instant::now();
    let out = local(run_inv(&iso, inv));
    let err = out.result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Timeout);
    assert_eq!(err.message, "Function execution timed out (maximum duration: 100ms)");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(out.log_lines, vec!["[LOG] 'waiting'".to_string()]);

    let mut inv = action("actions:spins", json!({}));
    inv.timeout = Some(Duration::from_millis(200));
    let t0 = Instant::now();
    let err = local(run_inv(&iso, inv)).result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Timeout);
    assert!(t0.elapsed() < Duration::from_secs(5));

    // The isolate keeps serving, on the same pooled runtime.
    assert_eq!(ok_value(&local(run(&iso, "actions:sleep", json!({"ms": 1})))), json!(1));
    assert_eq!(iso.borrow().idle_action_runtimes(), 1);
    assert_eq!(Limits::default().action_timeout, Duration::from_secs(600));
}

#[test]
fn memory_limit_applies_to_actions() {
    let iso = isolate();
    let err = local(run(&iso, "actions:memoryBomb", json!({}))).result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::OutOfMemory);
    assert_eq!(iso.borrow().idle_action_runtimes(), 0, "a runtime that ran out of memory is not reused");
    assert_eq!(ok_value(&local(run(&iso, "actions:sleep", json!({"ms": 1})))), json!(1));
}

#[test]
fn actions_see_the_real_clock_and_real_randomness() {
    let iso = isolate();
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64;
    let before = now();
    let a = ok_value(&local(run(&iso, "actions:realClock", json!({}))));
    let after = now();
    let t = a["a"].as_f64().unwrap();
    assert!(before <= t && t <= after, "{before} {t} {after}");
    assert!(a["b"].as_f64().unwrap() - t >= 14.0, "{a}");
    assert!(a["perf"].as_f64().unwrap() >= 14.0, "{a}");
    let b = ok_value(&local(run(&iso, "actions:realClock", json!({}))));
    assert_ne!(a["r"], b["r"], "same invocation seed, yet different numbers");
    assert_ne!(a["uuid"], b["uuid"]);
    assert_ne!(a["bytes"], b["bytes"]);
}

#[test]
fn fetch_honours_abort_signals() {
    let url = serve();
    let iso = isolate();
    let t0 = Instant::now();
    let v = ok_value(&local(run(&iso, "actions:fetchAborted", json!({ "url": url }))));
    assert!(t0.elapsed() < Duration::from_millis(1500), "aborted fetches do not wait for the server");
    assert_eq!(
        v,
        json!({
            "timeout": ["TimeoutError", "The operation timed out."],
            "abort": ["AbortError", true, true],
            "already": "why"
        })
    );
}

#[test]
fn deep_recursion_in_an_action_is_a_stack_overflow() {
    // Like the query test: QuickJS's 1 MiB stack limit needs room on the thread.
    let out = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let iso = isolate();
            let err = local(run(&iso, "actions:deep", json!({}))).result.unwrap_err();
            let after = local(run(&iso, "actions:sleep", json!({"ms": 1})));
            (err, after)
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(out.0.kind, JsErrorKind::StackOverflow);
    assert_eq!(ok_value(&out.1), json!(1));
}

fn http(method: &str, path: &str, body: Option<&[u8]>) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        url: format!("https://app.example.site{path}"),
        headers: vec![("Authorization".into(), "Bearer t".into())],
        body: body.map(<[u8]>::to_vec),
    }
}

async fn run_http(iso: &Rc<RefCell<Isolate>>, req: HttpRequest) -> HttpOutcome {
    let host: Rc<dyn ActionHost> = TestHost::new(iso);
    let fut = iso.borrow().invoke_http_action(req, None, host);
    fut.await
}

#[test]
fn http_actions_are_routed_and_return_responses() {
    let iso = isolate();
    let out = local(run_http(&iso, http("post", "/hello?x=1", Some(b"ping"))));
    assert_eq!(out.log_lines, vec!["[LOG] 'hello' 'POST'".to_string()]);
    let resp = out.result.unwrap();
    assert_eq!(resp.status, 201);
    assert_eq!(
        resp.headers,
        vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("set-cookie".to_string(), "a=1".to_string())
        ]
    );
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(
        v,
        json!({
            "method": "POST",
            "url": "https://app.example.site/hello?x=1",
            "body": "ping",
            "auth": "Bearer t",
            "q": "fine"
        })
    );

    let resp = local(run_http(&iso, http("GET", "/files/a/b", None))).result.unwrap();
    assert_eq!((resp.status, resp.body.as_slice()), (200, &[1u8, 2, 3][..]));
    assert!(resp.headers.contains(&("x-path".to_string(), "/files/a/b".to_string())));

    // HEAD is routed as GET.
    let resp = local(run_http(&iso, http("HEAD", "/files/x", None))).result.unwrap();
    assert_eq!(resp.status, 200);

    let resp = local(run_http(&iso, http("GET", "/nope", None))).result.unwrap();
    assert_eq!(resp.status, 404);
    assert_eq!(resp.body, b"No matching routes found");

    let err = local(run_http(&iso, http("GET", "/boom", None))).result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Uncaught);
    assert_eq!(err.message, "Uncaught Error: http boom");
    assert!(err.stack.unwrap().contains("(convex/http.ts:"));
}

#[test]
fn dynamic_import_of_app_modules_works_in_actions() {
    let iso = isolate();
    let v = ok_value(&local(run(&iso, "actions:dynamicImport", json!({}))));
    assert_eq!(v["shout"], "X!");
    assert_eq!(v["same"], true, "one instance per module");
    assert_eq!(v["pkg"], "function");
    let missing = v["missing"].as_str().unwrap();
    assert!(missing.contains("can only import modules that the app imports statically"), "{missing}");
}

#[test]
fn crypto_subtle_digest_and_hmac() {
    let iso = isolate();
    let v = ok_value(&local(run(&iso, "actions:subtleCrypto", json!({}))));
    assert_eq!(
        v,
        json!({
            "digest": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "mac": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "ok": true,
            "bad": false,
            "refused": "NotSupportedError: digest algorithm MD5 is not supported by emvex",
            "algorithm": {"name": "HMAC", "hash": {"name": "SHA-256"}, "length": 32}
        })
    );
}

#[test]
fn storage_in_actions_goes_through_base64_syscalls() {
    let iso = isolate();
    let host = TestHost::new(&iso);
    let dyn_host: Rc<dyn ActionHost> = host.clone();
    let fut = iso.borrow().invoke_action(action("actions:storage", json!({})), dyn_host);
    let v = ok_value(&local(fut));
    assert_eq!(v["bytes"], json!([0, 200, 255, 104, 195, 169]));
    assert_eq!(v["type"], "text/x");
    assert_eq!(v["missing"], Value::Null);
    assert!(v["refused"].as_str().unwrap().starts_with("store() expects a Blob."), "{v}");
    let calls = host.calls.borrow();
    assert_eq!(calls[0].0, "1.0/storageStore");
    assert_eq!(calls[0].1["blob"], "AMj/aMOp");
    assert_eq!(calls[0].1["contentType"], "text/x");
}

#[test]
fn actions_read_time_and_fire_timers_on_the_apps_clock() {
    let (clock, hand) = Clock::manual(1_600_000_000_000);
    let options = EngineOptions { clock, ..EngineOptions::new(app_dir()) };
    let iso = Rc::new(RefCell::new(Isolate::new(App::load(options).expect("app loads")).expect("isolate")));
    // A second thread moves the clock 100 ms every real millisecond or two.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mover = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
                hand.advance(Duration::from_millis(100));
            }
        })
    };
    let t0 = Instant::now();
    let v = ok_value(&local(run(&iso, "actions:clockAroundTimer", json!({ "waitMs": 60_000 }))));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    mover.join().unwrap();
    let (before, after) = (v["before"].as_f64().unwrap(), v["after"].as_f64().unwrap());
    assert!(before >= 1_600_000_000_000.0, "{v}");
    assert!(after - before >= 60_000.0, "the timer fired after a minute of the app's clock: {v}");
    assert!(t0.elapsed() < Duration::from_secs(20), "not after a minute of real time: {:?}", t0.elapsed());
}
