//! Helpers shared by the benchmarks: fixture paths, scratch directories, an in-process executor.
//! Each bench uses a part of it, hence `allow(dead_code)`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use emvex_executor::{CallRequest, DataLocation, Executor, ExecutorConfig, Limits};
use serde_json::{Value, json};

/// A fixture app under `fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// A fresh, empty scratch directory for this process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emvex-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// An executor for `app` with its SQLite file in `data` (default limits, no log printing, one
/// JS thread).
pub fn start_executor(app: &Path, data: &Path) -> Executor {
    start_executor_with_workers(app, data, 1)
}

/// Runs `path` with `args` as an admin on `executor` and returns its value; panics on failure.
pub fn call_in_process(executor: &Executor, path: &str, args: Value) -> emvex_value::Value {
    let response = executor.call_blocking(CallRequest {
        request_id: "bench".into(),
        path: path.into(),
        args: json!([args]),
        kind: None,
        admin: true,
        component_path: None,
        ..CallRequest::default()
    });
    match response.outcome {
        Ok(value) => value,
        Err(e) => panic!("{path} failed: {e:?}"),
    }
}

/// [`start_executor`] with `workers` JS threads.
pub fn start_executor_with_workers(app: &Path, data: &Path, workers: usize) -> Executor {
    Executor::start(ExecutorConfig {
        app_dir: app.to_path_buf(),
        data: DataLocation::Dir(data.to_path_buf()),
        cache_dir: Some(app.join(".emvex/cache")),
        limits: Limits::default(),
        env: Default::default(),
        print_logs: false,
        native: Vec::new(),
        workers,
        clock: emvex_executor::Clock::real(),
    })
    .expect("start executor")
}

/// An `emvex dev` child process serving a fixture app.
pub struct DevServer {
    pub child: Child,
    pub url: String,
}

impl DevServer {
    /// Starts `emvex dev` on `fixtures/<app>` with `extra` flags; returns it and how long it took
    /// to print its URL.
    pub fn start(app: &str, extra: &[&str]) -> (DevServer, Duration) {
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_emvex"))
            .arg("dev")
            .arg(fixture(app))
            .args(["--port", "0", "--admin-key", "bench-key"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn emvex dev");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines.next().expect("emvex dev exited before serving").expect("read stdout");
            if let Some(pos) = line.find("http://127.0.0.1:") {
                break line[pos..].split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        (DevServer { child, url }, started.elapsed())
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One call over the HTTP API; panics unless it succeeded.
pub fn call(client: &reqwest::blocking::Client, url: &str, kind: &str, path: &str, args: Value) -> Value {
    let body = json!({ "path": path, "args": [args], "format": "convex_encoded_json" });
    let response: Value =
        client.post(format!("{url}/api/{kind}")).json(&body).send().expect("http call").json().expect("json body");
    assert_eq!(response["status"], "success", "{path} failed: {response}");
    response["value"].clone()
}

/// Resident memory of process `pid`, in KiB (0 when it cannot be read).
/// CPU time (user + system) process `pid` has used so far, in clock ticks' precision.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name.split_whitespace().skip(11).take(2).filter_map(|f| f.parse().ok()).collect();
    // Linux reports them in USER_HZ, 100 per second on every platform it runs on.
    Duration::from_millis(fields.iter().sum::<u64>() * 10)
}

pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
