//! The executor: runs an app's queries and mutations against the database.
//!
//! It owns one JS worker thread (the engine's `Isolate` is not `Send`) that takes calls from a
//! channel and runs them one at a time, which makes mutations trivially serializable (DESIGN.md:
//! single writer). Start-up loads the app, analyzes it on that thread, builds the function
//! registry and applies the schema; the executor is only returned once all of that succeeded, so
//! a server never starts half-loaded.
//!
//! Layering: uses `engine` (JS), `database` (transactions) and `value`; the server and the CLI
//! sit above it.

mod call;
mod crons;
pub mod logs;
pub mod path;
mod pool;
pub mod registry;
mod runner;
mod scheduler;
pub mod syscalls;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use emvex_database::{Database, SchemaDefinition};
pub use emvex_engine::{FunctionKind, Limits, Visibility};
use emvex_engine::{App, EngineOptions, Isolate};
use emvex_value::Value;
use emvex_value::id::DocumentId;

use crate::crons::Crons;
use crate::logs::format_log_line;
use crate::pool::IsolatePool;
use crate::registry::Registry;
use crate::runner::FunctionRunner;
use crate::scheduler::Scheduler;

/// Where the deployment's SQLite data lives.
#[derive(Clone, Debug)]
pub enum DataLocation {
    /// A directory holding `emvex.sqlite3` (created if missing).
    Dir(PathBuf),
    /// A private in-memory database, gone when the process ends.
    InMemory,
}

/// How to start an executor.
#[derive(Clone, Debug)]
pub struct ExecutorConfig {
    pub app_dir: PathBuf,
    pub data: DataLocation,
    /// Bytecode cache directory; `None` disables the on-disk cache.
    pub cache_dir: Option<PathBuf>,
    pub limits: Limits,
    /// Deployment environment variables (`process.env`).
    pub env: BTreeMap<String, String>,
    /// Print the console lines of scheduled functions to stdout (`emvex dev`); calls' lines are
    /// returned to their caller either way.
    pub print_logs: bool,
}

/// Why the executor could not start. `code` is stable for tests.
#[derive(Clone, Debug)]
pub struct StartError {
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StartError {}

/// One call from a client.
#[derive(Clone, Debug)]
pub struct CallRequest {
    /// Shown to the client in error messages (`[Request ID: …]`).
    pub request_id: String,
    /// Wire path: `messages:list`, `dir/file:fn`, `messages`.
    pub path: String,
    /// Positional array (`[{…}]`), a bare object, or null (= `{}`), in Convex JSON.
    pub args: serde_json::Value,
    /// The kind the endpoint requires (`/api/query` …); `None` runs whatever the function is.
    pub kind: Option<FunctionKind>,
    /// Admin callers may run internal functions.
    pub admin: bool,
    /// `None` or `""` is the root app.
    pub component_path: Option<String>,
}

/// The outcome of a call, with the console lines it printed.
#[derive(Clone, Debug)]
pub struct CallResponse {
    pub request_id: String,
    pub path: String,
    /// The function's kind, when it was found.
    pub kind: Option<FunctionKind>,
    pub outcome: Result<Value, CallError>,
    pub log_lines: Vec<String>,
}

/// A failed call.
#[derive(Clone, Debug)]
pub enum CallError {
    /// The request itself is malformed (HTTP 400 with `{code, message}`).
    BadRequest { code: &'static str, message: String },
    /// The function failed, or could not be run: Convex reports these as function errors.
    Function { message: String, data: Option<Value> },
    /// A failure of emvex itself (storage, engine); HTTP 500.
    Internal { message: String },
}

impl CallError {
    pub fn function(message: String) -> CallError {
        CallError::Function { message, data: None }
    }

    pub fn internal(message: String) -> CallError {
        CallError::Internal { message }
    }
}

/// Due scheduled jobs run this many to a transaction (one commit per batch).
const SCHEDULED_BATCH: usize = 32;

/// Native stack of the JS worker thread: QuickJS's stack limit plus ample headroom.
const JS_THREAD_STACK_BYTES: usize = 16 << 20;

type Reply = Box<dyn FnOnce(CallResponse) + Send>;

struct Job {
    request: CallRequest,
    reply: Reply,
}

/// Handle to a running executor; cheap to clone and shareable across threads.
#[derive(Clone)]
pub struct Executor {
    jobs: mpsc::Sender<Job>,
    registry: Arc<Registry>,
    db: Database,
}

impl Executor {
    /// Loads the app, opens the database, analyzes the app on the worker thread and applies the
    /// schema. Returns only when everything succeeded.
    pub fn start(config: ExecutorConfig) -> Result<Executor, StartError> {
        let app = App::load(EngineOptions {
            app_dir: config.app_dir.clone(),
            cache_dir: config.cache_dir.clone(),
            env: config.env.clone(),
            limits: config.limits.clone(),
        })
        .map_err(|e| StartError { code: e.code, message: e.message })?;
        let db = match &config.data {
            DataLocation::Dir(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| StartError {
                    code: "DataDirUnavailable",
                    message: format!("cannot create data directory {}: {e}", dir.display()),
                })?;
                Database::open(&dir.join("emvex.sqlite3"))
            }
            DataLocation::InMemory => Database::open_in_memory(),
        }
        .map_err(|e| StartError { code: "DatabaseOpenFailed", message: e.message })?;

        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<Arc<Registry>, StartError>>();
        let worker_db = db.clone();
        let print_logs = config.print_logs;
        thread::Builder::new()
            .name("emvex-js".into())
            // QuickJS's own stack limit needs headroom above it on the native stack.
            .stack_size(JS_THREAD_STACK_BYTES)
            .spawn(move || worker_main(app, worker_db, jobs_rx, ready_tx, print_logs))
            .map_err(|e| StartError { code: "WorkerSpawnFailed", message: e.to_string() })?;
        let registry = ready_rx.recv().map_err(|_| StartError {
            code: "WorkerDied",
            message: "the JS worker thread stopped while loading the app".into(),
        })??;
        Ok(Executor { jobs: jobs_tx, registry, db })
    }

    /// Runs a call and waits for its outcome on the current (async) task.
    pub async fn call(&self, request: CallRequest) -> CallResponse {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let fallback = request.clone();
        self.submit(request, Box::new(move |r| drop(tx.send(r))));
        rx.await.unwrap_or_else(|_| worker_gone(fallback))
    }

    /// Runs a call and blocks the current thread until it finishes (for the CLI's `run`).
    pub fn call_blocking(&self, request: CallRequest) -> CallResponse {
        let (tx, rx) = mpsc::channel();
        let fallback = request.clone();
        self.submit(request, Box::new(move |r| drop(tx.send(r))));
        rx.recv().unwrap_or_else(|_| worker_gone(fallback))
    }

    fn submit(&self, request: CallRequest, reply: Reply) {
        if let Err(mpsc::SendError(job)) = self.jobs.send(Job { request, reply }) {
            let response = worker_gone(job.request);
            (job.reply)(response);
        }
    }

    /// The app's functions.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn database(&self) -> &Database {
        &self.db
    }
}

fn worker_gone(request: CallRequest) -> CallResponse {
    CallResponse {
        request_id: request.request_id,
        path: request.path,
        kind: None,
        outcome: Err(CallError::internal("the JS worker thread has stopped".into())),
        log_lines: Vec::new(),
    }
}

fn worker_main(
    app: Arc<App>,
    db: Database,
    jobs: mpsc::Receiver<Job>,
    ready: mpsc::Sender<Result<Arc<Registry>, StartError>>,
    print_logs: bool,
) {
    let (mut runner, mut scheduler, mut crons) = match load_on_worker(app, db) {
        Ok(loaded) => loaded,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(runner.registry.clone()));
    loop {
        // Sleep until a call arrives or the earliest scheduled job or cron run is due.
        let next_due = match (scheduler.next_due_ms(), crons.next_due_ms()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let received = match next_due {
            Some(due) => {
                let wait = (due - call::now_ms()).max(0.0);
                jobs.recv_timeout(Duration::from_micros((wait * 1000.0) as u64))
            }
            None => jobs.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(job) => handle_call(&mut runner, &mut scheduler, job),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        run_crons(&mut runner, &mut scheduler, &mut crons, print_logs);
        // Run what is due in batches, letting calls that arrive meanwhile go in between.
        loop {
            let due = scheduler.pop_due(call::now_ms(), SCHEDULED_BATCH);
            if due.is_empty() {
                break;
            }
            run_scheduled(&mut runner, &mut scheduler, &due, print_logs);
            while let Ok(job) = jobs.try_recv() {
                handle_call(&mut runner, &mut scheduler, job);
            }
        }
    }
}

fn handle_call(runner: &mut FunctionRunner, scheduler: &mut Scheduler, job: Job) {
    let request = job.request.clone();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| call::execute(runner, job.request)));
    let response = match result {
        Ok((response, new_jobs)) => {
            scheduler.add(new_jobs);
            response
        }
        Err(panic) => {
            // The isolates may be in any state after a panic: start fresh ones.
            runner.pool.reset();
            CallResponse {
                outcome: Err(CallError::internal(format!("internal error: {}", panic_text(&panic)))),
                ..worker_gone(request)
            }
        }
    };
    (job.reply)(response);
}

fn run_scheduled(runner: &mut FunctionRunner, scheduler: &mut Scheduler, ids: &[DocumentId], print_logs: bool) {
    match std::panic::catch_unwind(AssertUnwindSafe(|| scheduler::run_jobs(runner, ids))) {
        Ok(Ok(runs)) => {
            for run in runs {
                if print_logs && let Some((kind, path)) = &run.function {
                    for line in &run.log_lines {
                        println!("{}", format_log_line(Some(*kind), path, line));
                    }
                }
                scheduler.add(run.new_jobs);
            }
        }
        // Nothing of the batch committed: the jobs are still pending; try them again shortly.
        Ok(Err(e)) => {
            eprintln!("emvex: {} scheduled jobs could not run, retrying in 1 s: {}", ids.len(), e.message);
            let retry_at = call::now_ms() + 1000.0;
            scheduler.add(ids.iter().map(|id| runner::NewJob { id: *id, scheduled_ms: retry_at }));
        }
        Err(panic) => {
            runner.pool.reset();
            eprintln!("emvex: {} scheduled jobs failed internally: {}", ids.len(), panic_text(&panic));
        }
    }
}

fn run_crons(runner: &mut FunctionRunner, scheduler: &mut Scheduler, crons: &mut Crons, print_logs: bool) {
    match std::panic::catch_unwind(AssertUnwindSafe(|| crons.run_due(runner, call::now_ms()))) {
        Ok(Ok(runs)) => {
            for run in runs {
                if print_logs {
                    for line in &run.log_lines {
                        println!("{}", format_log_line(Some(run.kind), &run.path, line));
                    }
                }
                scheduler.add(run.new_jobs);
            }
        }
        Ok(Err(e)) => eprintln!("emvex: cron jobs could not run: {}", e.message),
        Err(panic) => {
            runner.pool.reset();
            eprintln!("emvex: cron jobs failed internally: {}", panic_text(&panic));
        }
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

fn load_on_worker(app: Arc<App>, db: Database) -> Result<(FunctionRunner, Scheduler, Crons), StartError> {
    let mut isolate =
        Isolate::new(app.clone()).map_err(|e| StartError { code: e.code, message: e.message })?;
    let analysis = isolate.analyze().map_err(|e| StartError { code: e.code, message: e.message })?;
    let registry = Registry::from_analysis(&analysis)
        .map_err(|message| StartError { code: "InvalidFunction", message })?;
    let schema = match &analysis.schema_json {
        Some(json) => Some(
            SchemaDefinition::from_export_json(json)
                .map_err(|e| StartError { code: "InvalidSchema", message: format!("convex/schema.ts: {}", e.message) })?,
        ),
        None => None,
    };
    db.apply_schema("", schema.as_ref())
        .map_err(|e| StartError { code: "InvalidSchema", message: format!("convex/schema.ts: {}", e.message) })?;
    let runner = FunctionRunner { pool: IsolatePool::new(app, isolate), registry: Arc::new(registry), db };
    let scheduler = Scheduler::load(&runner)
        .map_err(|e| StartError { code: "SchedulerLoadFailed", message: e.message })?;
    let crons = Crons::sync(&runner, analysis.crons_json.as_deref())
        .map_err(|message| StartError { code: "InvalidCrons", message })?;
    Ok((runner, scheduler, crons))
}
