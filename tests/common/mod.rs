//! Test harness for the integration tests: starts the real `emvex` binary on the
//! `fixtures/basic` app (or another fixture app), talks to it over Convex's HTTP API,
//! offers helpers for Convex JSON values (int64, bytes, special floats), Convex
//! document ids, and polling with a deadline.
//!
//! Invariants: every `Server` owns its child process and kills it on drop; every
//! `TempDir` is unique per call and removed on drop; helpers send
//! `format: "convex_encoded_json"` unless a test builds the body itself.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The admin key every test server is started with.
pub const ADMIN_KEY: &str = "test-admin-key";

/// How long a server may take to print its URL.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Path of the built `emvex` binary.
pub fn emvex_bin() -> &'static str {
    env!("CARGO_BIN_EXE_emvex")
}

/// The repository root (the root package's manifest dir).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fixture app directory, relative to the repository root.
pub const FIXTURE: &str = "fixtures/basic";

/// A running `emvex dev` process.
pub struct Server {
    child: Child,
    pub url: String,
    stderr: Arc<Mutex<String>>,
    /// Lines printed to stdout after the start-up lines (function logs).
    stdout: Arc<Mutex<String>>,
    client: reqwest::blocking::Client,
}

impl Server {
    /// `emvex dev fixtures/basic --port 0 --in-memory --admin-key test-admin-key`.
    pub fn start() -> Server {
        Server::start_args(&["--in-memory"])
    }

    /// Like `start`, but persisting into `dir` (`--data DIR`).
    pub fn start_with_data(dir: &Path) -> Server {
        Server::start_args(&["--data", dir.to_str().expect("utf-8 temp path")])
    }

    /// `emvex dev fixtures/basic --port 0 --admin-key test-admin-key <extra...>`.
    pub fn start_args(extra: &[&str]) -> Server {
        Server::start_app(FIXTURE, extra)
    }

    /// The process id of the server (for `kill -9`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// What the server printed to stdout so far (`emvex dev` prints functions' log lines).
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Kills the server with SIGKILL and waits for it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn client(&self) -> &reqwest::blocking::Client {
        &self.client
    }

    /// POSTs a JSON body to `route` (e.g. `/api/query`), optionally with the admin key.
    pub fn post(&self, route: &str, body: &Value, admin: bool) -> Resp {
        let mut req = self
            .client
            .post(format!("{}{}", self.url, route))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if admin {
            req = req.header("Authorization", format!("Convex {ADMIN_KEY}"));
        }
        Resp::from(req.send().expect("request failed"))
    }

    /// POSTs a raw body with the given headers.
    pub fn post_raw(&self, route: &str, body: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = self.client.post(format!("{}{}", self.url, route)).body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Resp::from(req.send().expect("request failed"))
    }

    /// POST /api/query {path, args, format: convex_encoded_json}.
    pub fn query(&self, path: &str, args: Value) -> Resp {
        self.post("/api/query", &call_body(path, args), false)
    }

    /// POST /api/mutation {path, args, format: convex_encoded_json}.
    pub fn mutation(&self, path: &str, args: Value) -> Resp {
        self.post("/api/mutation", &call_body(path, args), false)
    }

    /// POST /api/action {path, args, format: convex_encoded_json}.
    pub fn action(&self, path: &str, args: Value) -> Resp {
        self.post("/api/action", &call_body(path, args), false)
    }

    /// POST /api/function (admin) {path, args, format: convex_encoded_json}.
    pub fn function(&self, path: &str, args: Value) -> Resp {
        self.post("/api/function", &call_body(path, args), true)
    }

    /// POST /api/run/<route> {args, format: convex_encoded_json}; `route` like `messages/list`.
    pub fn run(&self, route: &str, args: Value) -> Resp {
        self.post(&format!("/api/run/{route}"), &json!({"args": args, "format": "convex_encoded_json"}), false)
    }

    /// Runs a query and returns its value, panicking unless it succeeded.
    pub fn query_ok(&self, path: &str, args: Value) -> Value {
        self.query(path, args).ok_value(path)
    }

    /// Runs a mutation and returns its value, panicking unless it succeeded.
    pub fn mutation_ok(&self, path: &str, args: Value) -> Value {
        self.mutation(path, args).ok_value(path)
    }

    /// Runs a query that must fail with a function error.
    pub fn query_err(&self, path: &str, args: Value) -> FnError {
        self.query(path, args).fn_error(path)
    }

    /// Runs a mutation that must fail with a function error.
    pub fn mutation_err(&self, path: &str, args: Value) -> FnError {
        self.mutation(path, args).fn_error(path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Extracts `http://127.0.0.1:<port>` from a line of output.
pub fn find_url(line: &str) -> Option<String> {
    let start = line.find("http://127.0.0.1:")?;
    let rest = &line[start + "http://127.0.0.1:".len()..];
    let port: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    if port.is_empty() {
        return None;
    }
    Some(format!("http://127.0.0.1:{port}"))
}

/// The request body ConvexHttpClient sends for query/mutation/action.
pub fn call_body(path: &str, args: Value) -> Value {
    json!({"path": path, "args": args, "format": "convex_encoded_json"})
}

/// An HTTP response: status, raw text, and the body parsed as JSON (Null if not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub text: String,
    pub json: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl From<reqwest::blocking::Response> for Resp {
    fn from(r: reqwest::blocking::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, text, json, headers }
    }
}

/// A function error as Convex reports it (HTTP 200, `status: "error"`).
#[derive(Debug)]
pub struct FnError {
    pub message: String,
    pub data: Option<Value>,
    pub log_lines: Option<Value>,
}

impl FnError {
    /// Asserts that the message contains `needle`.
    pub fn assert_contains(&self, needle: &str) -> &Self {
        assert!(self.message.contains(needle), "error message does not contain {needle:?}:\n{}", self.message);
        self
    }
}

impl Resp {
    /// Asserts a success envelope and returns its `value`.
    pub fn ok_value(&self, what: &str) -> Value {
        assert_eq!(self.status, 200, "{what}: HTTP {} body {}", self.status, self.text);
        assert_eq!(
            self.json.get("status").and_then(Value::as_str),
            Some("success"),
            "{what}: expected success, got {}",
            self.text
        );
        self.json.get("value").cloned().unwrap_or_else(|| panic!("{what}: no value in {}", self.text))
    }

    /// Asserts a function-error envelope (HTTP 200, status error) and returns it.
    pub fn fn_error(&self, what: &str) -> FnError {
        assert_eq!(self.status, 200, "{what}: HTTP {} body {}", self.status, self.text);
        assert_eq!(
            self.json.get("status").and_then(Value::as_str),
            Some("error"),
            "{what}: expected a function error, got {}",
            self.text
        );
        let message = self
            .json
            .get("errorMessage")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{what}: errorMessage missing or not a string: {}", self.text))
            .to_string();
        assert_server_error_prefix(&message);
        FnError { message, data: self.json.get("errorData").cloned(), log_lines: self.json.get("logLines").cloned() }
    }

    /// A response header as a string, if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }
}

/// Convex's dev-mode error messages start `[Request ID: <id>] Server Error` and then a newline.
pub fn assert_server_error_prefix(message: &str) {
    assert!(message.starts_with("[Request ID: "), "message lacks the request id prefix: {message:?}");
    let close = message.find("] Server Error").unwrap_or_else(|| panic!("no '] Server Error' in {message:?}"));
    assert!(close > "[Request ID: ".len(), "empty request id in {message:?}");
    assert!(
        message[close..].starts_with("] Server Error\n"),
        "'Server Error' must be followed by a newline and the error text: {message:?}"
    );
}

// ---------------------------------------------------------------------------
// Convex JSON helpers
// ---------------------------------------------------------------------------

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn b64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
        out.push(B64[(n >> 18) as usize & 63] as char);
        out.push(B64[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { B64[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { B64[n as usize & 63] as char } else { '=' });
    }
    out
}

/// Decodes standard (or URL-safe) base64 with padding.
pub fn unb64(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(4), "base64 length not a multiple of 4: {s:?}");
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => panic!("bad base64 char {c:?} in {s:?}"),
        }
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let pad = chunk.iter().filter(|&&c| c == b'=').count();
        let mut n = 0u32;
        for &c in chunk {
            n = (n << 6) | if c == b'=' { 0 } else { val(c) };
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    out
}

/// `{"$integer": ...}` for an int64.
pub fn int64(n: i64) -> Value {
    json!({"$integer": b64(&n.to_le_bytes())})
}

/// `{"$bytes": ...}`.
pub fn bytes(data: &[u8]) -> Value {
    json!({"$bytes": b64(data)})
}

/// `{"$float": ...}` for NaN, ±Infinity and -0.
pub fn special_float(f: f64) -> Value {
    json!({"$float": b64(&f.to_le_bytes())})
}

/// Decodes a `{"$integer": ...}` value.
pub fn as_int64(v: &Value) -> i64 {
    let s = v.get("$integer").and_then(Value::as_str).unwrap_or_else(|| panic!("not an int64: {v}"));
    let raw = unb64(s);
    i64::from_le_bytes(raw.try_into().unwrap_or_else(|_| panic!("int64 not 8 bytes: {v}")))
}

/// Replaces every JSON number by its f64 value, so `5` and `5.0` compare equal
/// (every plain JSON number is a Convex float64).
pub fn normalize_numbers(v: &Value) -> Value {
    match v {
        Value::Number(n) => {
            let f = n.as_f64().expect("number as f64");
            serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
        }
        Value::Array(items) => Value::Array(items.iter().map(normalize_numbers).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), normalize_numbers(v))).collect()),
        other => other.clone(),
    }
}

/// Asserts two Convex JSON values are equal, treating JSON numbers as f64.
#[track_caller]
pub fn assert_json_eq(actual: &Value, expected: &Value) {
    assert_eq!(normalize_numbers(actual), normalize_numbers(expected), "\nactual:   {actual}\nexpected: {expected}");
}

/// The keys of a JSON object, in the order the server sent them.
pub fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

// ---------------------------------------------------------------------------
// Convex ids (v6 format)
// ---------------------------------------------------------------------------

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Decodes a Convex v6 document id into (table number, internal id), checking the
/// alphabet, the VInt table number, the fletcher16 footer and canonical length.
pub fn decode_id(id: &str) -> Option<(u32, [u8; 16])> {
    let mut bits: u64 = 0;
    let mut nbits = 0u32;
    let mut raw = Vec::new();
    for c in id.bytes() {
        let v = CROCKFORD.iter().position(|&x| x == c)? as u64;
        bits = (bits << 5) | v;
        nbits += 5;
        if nbits >= 8 {
            raw.push((bits >> (nbits - 8)) as u8);
            nbits -= 8;
            bits &= (1 << nbits) - 1;
        }
    }
    if bits != 0 {
        return None; // non-canonical trailing bits
    }
    // VInt table number.
    let mut table: u32 = 0;
    let mut shift = 0;
    let mut pos = 0;
    loop {
        let b = *raw.get(pos)?;
        table |= ((b & 0x7f) as u32) << shift;
        pos += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
    if table == 0 || raw.len() != pos + 16 + 2 {
        return None;
    }
    let body = &raw[..pos + 16];
    let (mut c0, mut c1) = (0u16, 0u16);
    for &b in body {
        c0 = (c0 + b as u16) % 256;
        c1 = (c1 + c0) % 256;
    }
    let footer = u16::from_le_bytes([raw[pos + 16], raw[pos + 17]]);
    if footer != (c1 << 8) | c0 {
        return None;
    }
    let expected_len = (raw.len() * 8).div_ceil(5);
    if id.len() != expected_len {
        return None;
    }
    let mut internal = [0u8; 16];
    internal.copy_from_slice(&raw[pos..pos + 16]);
    Some((table, internal))
}

/// The id of a message inserted with `messages:send`.
pub fn send_message(server: &Server, author: &str, body: &str, channel: &str, likes: f64) -> String {
    server
        .mutation_ok("messages:send", json!({"author": author, "body": body, "channel": channel, "likes": likes}))
        .as_str()
        .expect("messages:send returns an id string")
        .to_string()
}

// ---------------------------------------------------------------------------
// Temp dirs and the CLI
// ---------------------------------------------------------------------------

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique temporary directory, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("emvex-test-{tag}-{}-{nanos}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn str(&self) -> &str {
        self.path.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Runs the `emvex` binary to completion from the repository root (stdin closed),
/// killing it after `timeout`.
pub fn run_cli(args: &[&str], timeout: Duration) -> Output {
    let mut child = Command::new(emvex_bin())
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn emvex");
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out_pipe.read_to_end(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("emvex {args:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: out_thread.join().unwrap(), stderr: err_thread.join().unwrap() }
}

/// Sends SIGKILL to a process id (used where a `Server` has been moved).
pub fn kill9_pid(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

/// `counters:batchSizes` as a map from batch number (as text) to its row count.
pub fn batch_sizes(s: &Server) -> std::collections::BTreeMap<String, f64> {
    let sizes = s.query_ok("counters:batchSizes", json!({}));
    sizes
        .as_array()
        .expect("batchSizes returns an array")
        .iter()
        .map(|p| (p["batch"].as_f64().unwrap().to_string(), p["rows"].as_f64().unwrap()))
        .collect()
}

// ---------------------------------------------------------------------------
// Other fixture apps, stopping, polling
// ---------------------------------------------------------------------------

/// The fixture app of the scheduler, nested-call, function-handle and cron tests.
pub const SCHEDULING_FIXTURE: &str = "fixtures/scheduling";

impl Server {
    /// `emvex dev <app> --port 0 --admin-key test-admin-key <extra...>`, with `app`
    /// relative to the repository root.
    pub fn start_app(app: &str, extra: &[&str]) -> Server {
        let mut args = vec!["dev", app, "--port", "0", "--admin-key", ADMIN_KEY];
        args.extend_from_slice(extra);
        let mut child = Command::new(emvex_bin())
            .args(&args)
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn emvex dev");

        let stdout = child.stdout.take().expect("stdout piped");
        let stderr_pipe = child.stderr.take().expect("stderr piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let stderr = stderr.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stderr_pipe);
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    stderr.lock().unwrap().push_str(&line);
                    line.clear();
                }
            });
        }
        let (tx, rx) = mpsc::channel::<String>();
        let printed = Arc::new(Mutex::new(String::new()));
        {
            let printed = printed.clone();
            std::thread::spawn(move || {
                let reader = BufReader::new(stdout);
                let mut sent = false;
                // Keep draining stdout after the URL so the child never blocks on a full pipe.
                for line in reader.lines() {
                    let Ok(line) = line else { break };
                    if !sent && let Some(url) = find_url(&line) {
                        let _ = tx.send(url);
                        sent = true;
                    }
                    let mut printed = printed.lock().unwrap();
                    printed.push_str(&line);
                    printed.push('\n');
                }
            });
        }

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let url = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(url) => break url,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        std::thread::sleep(Duration::from_millis(100));
                        panic!(
                            "emvex dev exited with {status} before printing its URL; stderr:\n{}",
                            stderr.lock().unwrap()
                        );
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        panic!(
                            "emvex dev printed no http://127.0.0.1:<port> line within {:?}; stderr:\n{}",
                            STARTUP_TIMEOUT,
                            stderr.lock().unwrap()
                        );
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = child.wait();
                    panic!("emvex dev closed stdout before printing its URL; stderr:\n{}", stderr.lock().unwrap());
                }
            }
        };
        let client =
            reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client");
        Server { child, url, stderr, stdout: printed, client }
    }

    /// The base URL of the server's HTTP actions, from the line `emvex dev` prints after its
    /// URL (with `--port 0` the server picks a free site port itself: no port is chosen here
    /// and then lost to another process).
    pub fn site_url(&self) -> String {
        poll("the HTTP actions URL", Duration::from_secs(10), || {
            let printed = self.stdout();
            printed
                .lines()
                .find_map(|line| line.strip_prefix("emvex dev: HTTP actions at "))
                .map(str::to_string)
                .ok_or_else(|| format!("stdout so far: {printed}"))
        })
    }

    /// Stops the server with SIGTERM and waits for it to exit (SIGKILL after 10 s).
    pub fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.is_running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Drop kills the process if it is still running, and reaps it.
    }
}

/// Calls `check` every 20 ms until it returns `Ok`, and returns that value; panics
/// with `what` and the last `Err` (a description of what was seen) after `timeout`.
#[track_caller]
pub fn poll<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(seen) => {
                if Instant::now() > deadline {
                    panic!("{what}: not reached within {timeout:?}; last seen: {seen}");
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Milliseconds since the Unix epoch, as Convex's `Date.now()` reports them.
pub fn now_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_secs_f64() * 1000.0
}

/// Sleeps until the wall clock reaches `at_ms` (milliseconds since the epoch).
pub fn sleep_until_ms(at_ms: f64) {
    let left = at_ms - now_ms();
    if left > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(left / 1000.0));
    }
}

// ---------------------------------------------------------------------------
// The scheduling fixture's jobs (`jobs:job`, `jobs:scheduled`)
// ---------------------------------------------------------------------------

/// `emvex dev fixtures/scheduling` with `extra` flags (e.g. `--in-memory`).
pub fn start_scheduling(extra: &[&str]) -> Server {
    Server::start_app(SCHEDULING_FIXTURE, extra)
}

/// One `_scheduled_functions` row as `jobs:job` shows it:
/// `{id, name, state, args, scheduledTime, completedTime?}`.
pub fn scheduled_job(s: &Server, id: &str) -> Value {
    s.query_ok("jobs:job", json!({ "id": id }))
}

/// The `state.kind` of a job view.
pub fn job_kind(job: &Value) -> &str {
    job["state"]["kind"].as_str().unwrap_or_else(|| panic!("job without state.kind: {job}"))
}

/// Waits until job `id` leaves `pending`/`inProgress`, and returns its row.
#[track_caller]
pub fn wait_job_final(s: &Server, id: &str, timeout: Duration) -> Value {
    wait_job_final_via(s, "jobs:job", id, timeout)
}

/// Polls the query `job_query` (`{id}` → the job's row) until job `id` leaves
/// `pending`/`inProgress`, and returns its row.
pub fn wait_job_final_via(s: &Server, job_query: &str, id: &str, timeout: Duration) -> Value {
    poll(&format!("job {id} finishes"), timeout, || {
        let job = s.query_ok(job_query, json!({ "id": id }));
        match job_kind(&job) {
            "pending" | "inProgress" => Err(job.to_string()),
            _ => Ok(job),
        }
    })
}

/// Every `_scheduled_functions` row whose `name` is `name` (e.g. `jobs.js:record`), oldest first.
pub fn scheduled_named(s: &Server, name: &str) -> Vec<Value> {
    let all = s.query_ok("jobs:scheduled", json!({}));
    all.as_array().expect("jobs:scheduled returns an array").iter().filter(|j| j["name"] == name).cloned().collect()
}

// ---------------------------------------------------------------------------
// The actions fixture and HTTP actions (the site port)
// ---------------------------------------------------------------------------

/// The fixture app of the action and HTTP action tests.
pub const ACTIONS_FIXTURE: &str = "fixtures/actions";

/// `emvex dev fixtures/actions <extra...>`: the server and the base URL of its HTTP actions.
pub fn start_actions(extra: &[&str]) -> (Server, String) {
    let server = Server::start_app(ACTIONS_FIXTURE, extra);
    let site = server.site_url();
    (server, site)
}

/// Waits until job `id` of the actions fixture (`rows:job`) leaves `pending`/`inProgress`,
/// and returns its row.
#[track_caller]
pub fn wait_action_job_final(s: &Server, id: &str, timeout: Duration) -> Value {
    wait_job_final_via(s, "rows:job", id, timeout)
}

/// Lets the clock move past the current millisecond. A `cancelAll` without `before` in
/// upstream's TypeScript workpool covers work created at or before the transaction's
/// whole-millisecond `Date.now()`; a `_creationTime` carries a fraction of a millisecond, so
/// work enqueued in the same millisecond as the `cancelAll` is not covered (emvex's native pool
/// has no such window). Tests that enqueue and then `cancelAll` wait this long in between.
pub fn next_millisecond() {
    std::thread::sleep(Duration::from_millis(3));
}
