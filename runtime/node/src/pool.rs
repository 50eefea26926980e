//! [`NodePool`]: the Node.js processes of one action thread, started on first use and reused,
//! and [`NodePool::run`], which runs one action in one of them and answers its syscalls.
//!
//! Invariants: a process runs one action at a time; it goes back to the pool only after the
//! action ended normally (resolved or threw); a process that exited, wrote garbage or ran past
//! the deadline is dropped, which kills it, and the next action gets a fresh one. At most
//! [`MAX_IDLE`] processes wait idle; across all pools of a runtime, at most its `max_running`
//! actions run at once (an action waits for a permit within its own deadline).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::NodeRuntime;
use crate::process::{ChildGone, NodeProcess};
use crate::protocol::{JsFailure, Reply, ReplyError, Request};

/// Idle processes kept per action thread.
pub const MAX_IDLE: usize = 4;

/// A syscall's failure, as the action's JS sees it.
#[derive(Debug, Clone)]
pub struct SyscallError {
    pub message: String,
    /// Convex JSON text of a `ConvexError`'s data.
    pub data: Option<String>,
}

/// How a Node action failed.
#[derive(Debug, Clone)]
pub enum NodeActionError {
    /// The action threw (message as `Uncaught Error: …`).
    Js(JsFailure),
    /// It ran past its deadline; its process was killed.
    Timeout(Duration),
    /// Its process could not start, exited or broke the protocol; it was killed and will be
    /// replaced.
    Process(String),
}

/// What running one action gave.
#[derive(Debug)]
pub struct NodeActionRun {
    /// The Convex JSON text of the result.
    pub outcome: Result<String, NodeActionError>,
    /// Its console lines (`[LOG] …`), in order, also when it failed.
    pub logs: Vec<String>,
}

/// One action to run.
pub struct NodeAction<'a> {
    /// Module path under `convex/` without extension (`"dir/file"`).
    pub module: &'a str,
    pub name: &'a str,
    pub request_id: &'a str,
    /// Convex JSON text of the positional arguments (`[{…}]`).
    pub args_json: &'a str,
    pub timeout: Duration,
}

pub struct NodePool {
    runtime: Arc<NodeRuntime>,
    idle: RefCell<Vec<NodeProcess>>,
    next_id: Cell<u64>,
}

impl NodePool {
    pub fn new(runtime: Arc<NodeRuntime>) -> NodePool {
        NodePool { runtime, idle: RefCell::default(), next_id: Cell::new(0) }
    }

    /// Runs `action`; each syscall it makes is answered by `syscall(op, args_json)`.
    pub async fn run<F, Fut>(&self, action: NodeAction<'_>, syscall: F) -> NodeActionRun
    where
        F: Fn(String, String) -> Fut,
        Fut: Future<Output = Result<String, SyscallError>>,
    {
        let mut logs = Vec::new();
        let outcome = self.run_logged(&action, &syscall, &mut logs).await;
        NodeActionRun { outcome, logs }
    }

    async fn run_logged<F, Fut>(
        &self,
        action: &NodeAction<'_>,
        syscall: &F,
        logs: &mut Vec<String>,
    ) -> Result<String, NodeActionError>
    where
        F: Fn(String, String) -> Fut,
        Fut: Future<Output = Result<String, SyscallError>>,
    {
        let deadline = tokio::time::sleep(action.timeout);
        tokio::pin!(deadline);
        let _running = tokio::select! {
            permit = self.runtime.running.acquire() => permit.expect("the semaphore is never closed"),
            () = &mut deadline => return Err(NodeActionError::Timeout(action.timeout)),
        };
        let popped = self.idle.borrow_mut().pop();
        let mut process = match popped {
            Some(p) => p,
            None => NodeProcess::spawn(&self.runtime).map_err(|e| {
                NodeActionError::Process(format!("cannot start Node.js ({}): {e}", self.runtime.node.display()))
            })?,
        };
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        let module = self.runtime.module_file(action.module);
        let module = module.to_string_lossy();
        let run = Request::Run {
            id,
            module: &module,
            name: action.name,
            request_id: action.request_id,
            args: action.args_json,
        };
        process.send(&run).await.map_err(crashed)?;
        let mut in_flight = FuturesUnordered::new();
        loop {
            tokio::select! {
                reply = process.receive() => match reply.map_err(crashed)? {
                    Reply::Log { line, .. } => logs.push(line),
                    Reply::Syscall { call, op, args, .. } => {
                        in_flight.push(async move { (call, syscall(op, args).await) });
                    }
                    Reply::Done { ok: true, result, .. } => {
                        self.give_back(process);
                        return Ok(result.unwrap_or_else(|| "null".to_string()));
                    }
                    Reply::Done { error, .. } => {
                        self.give_back(process);
                        let message = "Uncaught Error: the action failed without an error".to_string();
                        return Err(NodeActionError::Js(error.unwrap_or(JsFailure { message, stack: None, data: None })));
                    }
                    other => return Err(crashed(ChildGone::Garbled(format!("unexpected message {other:?}")))),
                },
                Some((call, result)) = in_flight.next(), if !in_flight.is_empty() => {
                    let reply = match result {
                        Ok(result) => Request::Reply { call, ok: true, result: Some(result), error: None },
                        Err(e) => Request::Reply {
                            call,
                            ok: false,
                            result: None,
                            error: Some(ReplyError { message: e.message, data: e.data }),
                        },
                    };
                    process.send(&reply).await.map_err(crashed)?;
                }
                () = &mut deadline => return Err(NodeActionError::Timeout(action.timeout)),
            }
        }
    }

    fn give_back(&self, process: NodeProcess) {
        let mut idle = self.idle.borrow_mut();
        if idle.len() < MAX_IDLE {
            idle.push(process);
        }
    }
}

fn crashed(gone: ChildGone) -> NodeActionError {
    NodeActionError::Process(match gone {
        ChildGone::Exited(status) => format!("the Node.js process running the action exited ({status})"),
        ChildGone::Garbled(what) => format!("the Node.js process running the action broke emvex's protocol: {what}"),
    })
}
