//! `emvex-node`: the actions of `"use node"` modules run in Node.js, as on Convex.
//!
//! - [`NodeRuntime::prepare`] finds `node` (20 or newer) on `PATH` and writes the app's
//!   modules, stripped of TypeScript, with the host script under `<app>/.emvex/node/<hash>/`
//!   (`mirror`), so a module's own imports resolve from the app's `node_modules` as Node
//!   resolves them;
//! - [`NodeRuntime::analyze`] lists the functions the `"use node"` modules export (in one
//!   short-lived process) and refuses queries and mutations there, as Convex does;
//! - [`NodePool`] (`pool`) keeps one action thread's child processes, started lazily and
//!   reused, and runs actions in them (`process`), answering their syscalls through a callback;
//!   the messages are in `protocol` and `host.mjs`.
//!
//! Invariants: a child runs one action at a time and is killed when it fails, hangs past the
//! deadline or breaks the protocol; nothing here touches the database: every effect of a Node
//! action goes through the same syscalls as a QuickJS action's.

mod mirror;
mod pool;
mod process;
mod protocol;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use emvex_engine::{AnalyzedFunction, FunctionKind, Visibility};

pub use pool::{MAX_IDLE, NodeAction, NodeActionError, NodeActionRun, NodePool, SyscallError};
pub use protocol::JsFailure;
use protocol::{Reply, Request};

/// The oldest Node.js major version that runs `"use node"` actions (as on Convex).
pub const MIN_NODE_MAJOR: u32 = 20;

/// How long importing the `"use node"` modules at start may take.
const ANALYZE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why Node.js actions cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeError {
    pub message: String,
}

impl NodeError {
    fn new(message: impl Into<String>) -> NodeError {
        NodeError { message: message.into() }
    }
}

/// Node.js, ready to run an app's `"use node"` actions.
#[derive(Debug)]
pub struct NodeRuntime {
    /// The `node` executable.
    pub node: PathBuf,
    /// Its version (`v22.1.0`).
    pub version: String,
    app_dir: PathBuf,
    /// The mirror (`<app>/.emvex/node/<hash>`).
    root: PathBuf,
    /// Environment variables the children get besides emvex's own environment.
    env: Vec<(String, String)>,
    /// One permit per action that may run at once, across every action thread's pool.
    running: tokio::sync::Semaphore,
}

impl NodeRuntime {
    /// Finds Node.js and writes the mirror of `convex_dir`. `modules` (the `"use node"`
    /// modules, `dir/file`) only name what needs Node in the error when there is none; `env`
    /// is the deployment's environment variables (`process.env` of the actions); at most
    /// `max_running` actions run at once (at least one).
    pub fn prepare(
        app_dir: &Path,
        convex_dir: &Path,
        modules: &[String],
        env: Vec<(String, String)>,
        max_running: usize,
    ) -> Result<NodeRuntime, NodeError> {
        let needs = || {
            let list = modules.iter().map(|m| format!("convex/{m}")).collect::<Vec<_>>().join(", ");
            format!("\"use node\" modules ({list}) run in Node.js {MIN_NODE_MAJOR} or newer")
        };
        let node = find_on_path("node").ok_or_else(|| {
            NodeError::new(format!(
                "{}, but no `node` was found on PATH. Install Node.js (https://nodejs.org).",
                needs()
            ))
        })?;
        let version = node_version(&node)
            .ok_or_else(|| NodeError::new(format!("{}, but `{} --version` failed.", needs(), node.display())))?;
        let major: u32 = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
        if major < MIN_NODE_MAJOR {
            return Err(NodeError::new(format!("{}, but `{}` is Node.js {version}.", needs(), node.display())));
        }
        let root = mirror::write(app_dir, convex_dir)?;
        let running = tokio::sync::Semaphore::new(max_running.max(1));
        Ok(NodeRuntime { node, version, app_dir: app_dir.to_path_buf(), root, env, running })
    }

    /// The command that starts a child running the host script (pipes to be set by the caller).
    fn host_command(&self) -> Command {
        let mut command = Command::new(&self.node);
        command
            .arg("--enable-source-maps")
            .arg(self.root.join("host.mjs"))
            .current_dir(&self.app_dir)
            .env("EMVEX_CONSOLE_JS", self.root.join("console.js"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command
    }

    /// The mirrored file of module `dir/file`.
    fn module_file(&self, module: &str) -> PathBuf {
        self.root.join("convex").join(format!("{module}.js"))
    }

    /// The functions `modules` export, in Convex's analysis form. A module that fails to
    /// import, or exports a query or mutation, is an error naming it.
    pub fn analyze(&self, modules: &[String]) -> Result<Vec<AnalyzedFunction>, NodeError> {
        let mut child = self
            .host_command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| NodeError::new(format!("cannot start {}: {e}", self.node.display())))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (lines_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let result = (|| {
            let mut functions = Vec::new();
            for (i, module) in modules.iter().enumerate() {
                let file = self.module_file(module);
                let request = Request::Analyze { id: i as u64, module: &file.to_string_lossy() };
                let mut line = serde_json::to_vec(&request).expect("requests serialize");
                line.push(b'\n');
                stdin
                    .write_all(&line)
                    .map_err(|e| NodeError::new(format!("Node.js stopped while loading convex/{module}: {e}")))?;
                let reply = match lines.recv_timeout(ANALYZE_TIMEOUT) {
                    Ok(Ok(line)) => serde_json::from_str::<Reply>(&line).map_err(|e| {
                        NodeError::new(format!("Node.js answered garbage while loading convex/{module}: {e}"))
                    })?,
                    _ => return Err(NodeError::new(format!("Node.js did not finish loading convex/{module}"))),
                };
                match reply {
                    Reply::Analyzed { functions: rows, .. } => {
                        for (name, kind, visibility, args_json, returns_json) in rows {
                            let kind = match kind.as_str() {
                                "action" => FunctionKind::Action,
                                other => {
                                    return Err(NodeError::new(format!(
                                        "convex/{module}: `{name}` is a {other}, but only actions can be defined in \"use node\" files. Move it to a file without \"use node\"."
                                    )));
                                }
                            };
                            let visibility =
                                if visibility == "internal" { Visibility::Internal } else { Visibility::Public };
                            functions.push(AnalyzedFunction {
                                module: module.clone(),
                                name,
                                kind,
                                visibility,
                                args_json,
                                returns_json,
                                line: None,
                            });
                        }
                    }
                    Reply::Failed { error, .. } => {
                        let detail = error.stack.unwrap_or(error.message);
                        return Err(NodeError::new(format!("convex/{module} failed to load in Node.js: {detail}")));
                    }
                    other => return Err(NodeError::new(format!("unexpected answer from Node.js: {other:?}"))),
                }
            }
            Ok(functions)
        })();
        let _ = child.kill();
        let _ = child.wait();
        result
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

fn node_version(node: &Path) -> Option<String> {
    let out = Command::new(node).arg("--version").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
