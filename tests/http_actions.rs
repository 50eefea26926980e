//! HTTP actions over the site port, against `fixtures/actions/convex/http.ts`: `emvex dev`
//! prints the site URL on its second line; exact-path routes (GET answering JSON, POST echoing
//! the body and a header), the request URL on the site origin, HEAD routed as GET, a
//! `pathPrefix` route and an exact route inside its prefix, binary bodies, a route writing
//! through `ctx.runMutation`, concurrent handlers, the action time limit, a throwing handler
//! (HTTP 500, and the next request works), Convex's 404 text "No matching routes found" for
//! unrouted requests, and handler console lines and errors printed as `npx convex dev` does.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const NOT_FOUND: &str = "No matching routes found";

fn start() -> (Server, String) {
    start_actions(&["--in-memory"])
}

fn get(s: &Server, url: &str) -> Resp {
    Resp::from(s.client().get(url).send().expect("GET failed"))
}

/// `emvex dev fixtures/actions --port 0 --site-port 0 --in-memory` with its stdout lines
/// readable one by one (the `Server` harness keeps only the first URL); killed on drop.
struct DevStdout {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl DevStdout {
    fn start() -> DevStdout {
        let mut child = Command::new(emvex_bin())
            .args(["dev", ACTIONS_FIXTURE, "--port", "0", "--site-port", "0", "--in-memory"])
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn emvex dev");
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        DevStdout { child, lines }
    }

    /// The next stdout line, or a panic naming `what` after `timeout`.
    fn line(&self, what: &str, timeout: Duration) -> String {
        self.lines.recv_timeout(timeout).unwrap_or_else(|e| panic!("no stdout line for {what} within {timeout:?}: {e}"))
    }

    /// The next line that starts with `[CONVEX ` (a function's printed line), within 10 s.
    fn function_line(&self, what: &str) -> String {
        loop {
            let line = self.line(what, Duration::from_secs(10));
            if line.starts_with("[CONVEX ") {
                return line;
            }
        }
    }

    /// The API URL (first line) and the site URL (second line).
    fn urls(&self) -> (String, String) {
        let startup = Duration::from_secs(60);
        let (first, second) = (self.line("the API URL", startup), self.line("the site URL", startup));
        match (find_url(&first), find_url(&second)) {
            (Some(cloud), Some(site)) => (cloud, site),
            _ => panic!("expected the API URL on the first line and the site URL on the second: {first:?}, {second:?}"),
        }
    }
}

impl Drop for DevStdout {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `emvex dev` reading its stdout, sends `method path` (with `body`) to its site URL,
/// and returns the response and the next `[CONVEX …]` line printed.
fn printed_after(method: reqwest::Method, path: &str, body: &str) -> (Resp, String) {
    let dev = DevStdout::start();
    let (_, site) = dev.urls();
    let request = reqwest::blocking::Client::new().request(method, format!("{site}{path}"));
    let r = Resp::from(request.body(body.to_string()).send().expect("request to the site"));
    let printed = dev.function_line(&format!("{path}'s printed line"));
    (r, printed)
}

#[test]
fn dev_prints_the_site_url_on_its_second_line() {
    let dev = DevStdout::start();
    let (cloud, site) = dev.urls();
    assert_ne!(cloud, site, "the site port differs from the API port");
    let client = reqwest::blocking::Client::new();
    let r = Resp::from(client.get(format!("{site}/json?q=1")).send().expect("GET the site"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json, json!({"hello": "world", "method": "GET", "q": "1"}));
}

#[test]
fn http_action_console_lines_are_printed_with_the_route() {
    let (r, printed) = printed_after(reqwest::Method::POST, "/echo", "hi");
    assert_eq!(r.status, 201, "{}", r.text);
    // As `npx convex dev` prints an HTTP action's lines: `H(<METHOD> <route path>)`.
    assert_eq!(printed, "[CONVEX H(POST /echo)] [LOG] 'echo' 2");
}

#[test]
fn a_failing_http_action_prints_its_error_line() {
    let (r, printed) = printed_after(reqwest::Method::GET, "/boom", "");
    assert_eq!(r.status, 500, "{}", r.text);
    // As `npx convex dev` prints a failed function: its prefix, then the error.
    assert!(printed.starts_with("[CONVEX H(GET /boom)] Uncaught Error: http handler failed"), "{printed:?}");
}

#[test]
fn a_get_route_answers_json_with_its_headers() {
    let (s, site) = start();
    let r = get(&s, &format!("{site}/json?q=7"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
    assert_eq!(r.header("x-route").as_deref(), Some("json"));
    assert_eq!(r.json, json!({"hello": "world", "method": "GET", "q": "7"}));
}

#[test]
fn the_request_url_is_on_the_site_origin() {
    let (s, site) = start();
    let r = get(&s, &format!("{site}/url?a=1&b=two"));
    assert_eq!((r.status, r.text.as_str()), (200, format!("{site}/url?a=1&b=two").as_str()));
}

#[test]
fn head_is_routed_as_get() {
    let (s, site) = start();
    let r = Resp::from(s.client().head(format!("{site}/json")).send().expect("HEAD failed"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-route").as_deref(), Some("json"));
    assert_eq!(r.text, "", "a HEAD response has no body");
}

#[test]
fn a_post_route_echoes_the_body_and_a_header() {
    let (s, site) = start();
    let body = "line one\nline two: ünïcode ✓";
    let r = Resp::from(
        s.client()
            .post(format!("{site}/echo"))
            .header("content-type", "text/x-test; charset=utf-8")
            .header("x-echo", "echo-me")
            .body(body)
            .send()
            .expect("POST failed"),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.text, body);
    assert_eq!(r.header("x-echoed").as_deref(), Some("echo-me"));
    assert_eq!(r.header("content-type").as_deref(), Some("text/x-test; charset=utf-8"));

    // Without the header the handler says so.
    let r = Resp::from(s.client().post(format!("{site}/echo")).body("x").send().expect("POST failed"));
    assert_eq!((r.status, r.text.as_str()), (201, "x"));
    assert_eq!(r.header("x-echoed").as_deref(), Some("(none)"));
}

#[test]
fn binary_bodies_pass_through_unchanged() {
    let (s, site) = start();
    let sent: Vec<u8> = (0..=255u8).chain([0, 0xff, 0xc3]).collect();
    let r = s.client().post(format!("{site}/bytes")).body(sent.clone()).send().expect("POST failed");
    assert_eq!(r.status().as_u16(), 200);
    let length = r.headers().get("x-length").and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(length.as_deref(), Some("259"));
    let got = r.bytes().expect("body bytes").to_vec();
    assert_eq!(got, sent.into_iter().rev().collect::<Vec<u8>>());
}

#[test]
fn an_http_action_over_the_time_limit_answers_500() {
    let (s, site) = start_actions(&["--in-memory", "--action-timeout-ms", "300"]);
    let t0 = std::time::Instant::now();
    let r = get(&s, &format!("{site}/sleep?ms=5000"));
    assert!(t0.elapsed() < Duration::from_secs(3), "the time limit took {:?}", t0.elapsed());
    assert_eq!(r.status, 500, "{}", r.text);
    assert!(
        r.text.contains("Function execution timed out (maximum duration: 300ms)"),
        "the body names the time limit: {:?}",
        r.text
    );
    assert_eq!(get(&s, &format!("{site}/sleep?ms=1")).text, "slept 1");
}

#[test]
fn a_path_prefix_route_serves_everything_below_it_except_exact_routes() {
    let (s, site) = start();
    for path in ["/files/a", "/files/a/b/c.txt", "/files/"] {
        let r = get(&s, &format!("{site}{path}"));
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.text, format!("prefix {path}"));
    }
    let r = get(&s, &format!("{site}/files/exact"));
    assert_eq!((r.status, r.text.as_str()), (200, "exact route"), "an exact path wins over a prefix");
    let r = get(&s, &format!("{site}/files"));
    assert_eq!((r.status, r.text.as_str()), (404, NOT_FOUND), "the prefix is `/files/`, not `/files`");
}

#[test]
fn unrouted_paths_and_methods_answer_404() {
    let (s, site) = start();
    for r in [
        get(&s, &format!("{site}/nope")),
        get(&s, &format!("{site}/")),
        get(&s, &format!("{site}/json/extra")),
        Resp::from(s.client().post(format!("{site}/json")).body("{}").send().expect("POST failed")),
        Resp::from(s.client().delete(format!("{site}/echo")).send().expect("DELETE failed")),
    ] {
        assert_eq!((r.status, r.text.as_str()), (404, NOT_FOUND));
    }
}

#[test]
fn a_route_writes_through_run_mutation() {
    let (s, site) = start();
    let post = |value: f64| {
        Resp::from(
            s.client()
                .post(format!("{site}/rows"))
                .header("content-type", "application/json")
                .body(json!({"tag": "http", "value": value}).to_string())
                .send()
                .expect("POST failed"),
        )
    };
    let r = post(9.0);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
    let id = r.json["id"].as_str().unwrap_or_else(|| panic!("no id: {}", r.text));
    assert!(decode_id(id).is_some(), "not a Convex id: {id}");
    assert_json_eq(&r.json["values"], &json!([9]));
    let r = post(10.0);
    assert_json_eq(&r.json["values"], &json!([9, 10]));
    // The rows are committed: the API port sees them.
    assert_json_eq(&s.query_ok("rows:list", json!({"tag": "http"})), &json!([9, 10]));
}

#[test]
fn a_throwing_handler_answers_500_and_the_next_request_works() {
    let (s, site) = start();
    let r = get(&s, &format!("{site}/boom"));
    assert_eq!(r.status, 500, "{}", r.text);
    assert!(r.text.contains("http handler failed"), "the body names the error: {:?}", r.text);
    let r = get(&s, &format!("{site}/json"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["hello"], Value::from("world"));
}

#[test]
fn ten_sleeping_http_actions_run_concurrently() {
    let (s, site) = start();
    assert_eq!(get(&s, &format!("{site}/sleep?ms=1")).text, "slept 1");
    let barrier = std::sync::Barrier::new(10);
    let t0 = std::time::Instant::now();
    let answers: Vec<Resp> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    get(&s, &format!("{site}/sleep?ms=100"))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("request thread")).collect()
    });
    let wall = t0.elapsed();
    for r in &answers {
        assert_eq!((r.status, r.text.as_str()), (200, "slept 100"));
    }
    assert!(wall >= Duration::from_millis(100), "{wall:?}");
    assert!(wall < Duration::from_millis(500), "10 HTTP actions sleeping 100 ms took {wall:?}");
}

#[test]
fn the_api_port_does_not_serve_http_actions() {
    let (s, _) = start();
    let r = get(&s, &format!("{}/json", s.url));
    assert_ne!(r.status, 200, "HTTP actions are served on the site port only: {}", r.text);
}
