//! The executor: runs an app's queries, mutations, actions and HTTP actions against the
//! database, and its scheduled functions and crons.
//!
//! It owns `workers` JS threads (the engine's `Isolate` is not `Send`). The main one
//! (`worker.rs`) takes calls from channels: queries and mutations run one at a time there, which
//! makes mutations trivially serializable (DESIGN.md: single writer); it also runs the scheduler
//! and crons. Actions and HTTP actions run concurrently as futures on all JS threads
//! (`action_threads.rs`), reaching the main worker by message for what needs the writer.
//! Start-up loads the app, analyzes it on the main thread, builds the component tree and
//! registries, applies the schemas and loads pending jobs and crons; the executor is only
//! returned once all of that succeeded, so a server never starts half-loaded.
//!
//! Layering: uses `engine` (JS), `database` (transactions) and `value`; the server and the CLI
//! sit above it.

#![forbid(unsafe_code)]
// Only what the server, the CLI, the benches and the tests use is public; the rest is
// `pub(crate)` at most.
#![warn(unreachable_pub)]

mod action_threads;
mod actions;
mod call;
mod components;
mod crons;
mod host_errors;
pub mod logs;
mod native;
mod native_driver;
mod panics;
mod path;
mod pool;
mod registry;
mod request_metadata;
mod runner;
mod scheduler;
mod storage;
mod syscalls;
mod system_queries;
mod unsupported;
mod worker;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

pub use emvex_clock::Clock;
pub use emvex_component::NativeDefinition;
use emvex_database::Database;
pub use emvex_database::{ReadSet, SessionRequest};
use emvex_engine::{App, EngineOptions, OpaqueDefinition};
pub use emvex_engine::{HttpRequest, HttpResponse, Limits};
use emvex_value::Value;
pub use emvex_value::function::FunctionKind;

use crate::components::Components;
pub use crate::storage::{StoredFile, TokenError};
pub use emvex_database::{FileReader, StagedFile};

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
    /// Component definitions answered by Rust implementations instead of their JavaScript.
    pub native: Vec<NativeDefinition>,
    /// JS threads running functions (at least 1): the main worker plus `workers - 1` threads
    /// that only run actions. See [`default_workers`].
    pub workers: usize,
    /// The one clock of the deployment: `_creationTime`s, `Date.now()` in functions, the
    /// scheduler, crons, native components' times and every time limit read it.
    pub clock: Clock,
}

/// One JS thread per core, as the CLI defaults to.
pub fn default_workers() -> usize {
    thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// What the engine's loader must leave unevaluated for these native definitions (it matches them
/// by package and directory; `emvex codegen` loads apps the same way).
pub fn opaque_definitions(native: &[NativeDefinition]) -> Vec<OpaqueDefinition> {
    native
        .iter()
        .map(|n| OpaqueDefinition {
            package: n.package.clone(),
            dir_in_package: n.dir_in_package.clone(),
            default_name: n.default_name.clone(),
        })
        .collect()
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
#[derive(Clone, Debug, Default)]
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
    /// A WebSocket mutation's `(sessionId, requestId)`: a mutation that already committed with
    /// these ids is answered from its record (same result, log lines and commit ts) instead of
    /// running twice; a new success is recorded in its own transaction.
    pub session: Option<SessionRequest>,
    /// A query's journal (`spec/sync-protocol.md` §6): the end cursor its single `paginate()`
    /// keeps, so a re-run page covers the same key range.
    pub journal: Option<String>,
    /// Return a query's read set in [`CallResponse::reads`] (live subscriptions need it; a
    /// one-off call does not pay for copying it).
    pub track_reads: bool,
    /// Who called, for `ctx.meta.getRequestMetadata()`.
    pub client: ClientInfo,
    /// The signed-in user the call is made for (`ctx.auth.getUserIdentity()`). Functions of
    /// the app see it, and so do the app functions they call; component functions, and what
    /// they call, do not (spec `convex-runtime.md` §3.10).
    pub identity: Option<UserIdentity>,
}

/// A signed-in user as functions see it: the text of the `UserIdentity` object
/// (`{"tokenIdentifier":…,"issuer":…,"subject":…,…}`). Equal identities have equal texts, so
/// live queries can be shared by the sockets of one user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserIdentity(Arc<str>);

impl UserIdentity {
    /// The identity of a `UserIdentity` object.
    pub fn from_object(identity: &serde_json::Map<String, serde_json::Value>) -> UserIdentity {
        UserIdentity(serde_json::Value::Object(identity.clone()).to_string().into())
    }

    /// The object's JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The object, as `getUserIdentity` answers it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

/// What a server knows of the client behind a call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientInfo {
    /// The peer's address.
    pub ip: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
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
    /// The database timestamp the outcome belongs to: a mutation's commit ts (its snapshot ts
    /// when it wrote nothing; the original commit ts when answered from its record), a query's
    /// snapshot ts. `None` for actions and calls that did not reach the database.
    pub ts: Option<u64>,
    /// A query's journal after it ran (`None` if it did not paginate).
    pub journal: Option<String>,
    /// What a query read (also when it failed), when the request asked (`track_reads`).
    pub reads: Option<Arc<ReadSet>>,
}

impl CallResponse {
    /// A response that carries nothing from the database (yet).
    pub(crate) fn new(request: CallRequest, kind: Option<FunctionKind>, outcome: Result<Value, CallError>) -> Self {
        CallResponse {
            request_id: request.request_id,
            path: request.path,
            kind,
            outcome,
            log_lines: Vec::new(),
            ts: None,
            journal: None,
            reads: None,
        }
    }
}

/// A failed call: a developer error (a bad request, or the function's own error) or an
/// internal one.
#[derive(Clone, Debug)]
pub enum CallError {
    /// The request itself is malformed (HTTP 400 with `{code, message}`).
    BadRequest { code: &'static str, message: String },
    /// The function failed, or could not be run (an [`emvex_value::ErrorClass::Developer`] error): Convex
    /// reports these as function errors.
    Developer { message: String, data: Option<Value> },
    /// A failure of emvex itself (storage, engine; an [`emvex_value::ErrorClass::Internal`] error); HTTP 500.
    Internal { message: String },
}

impl CallError {
    pub(crate) fn developer(message: String) -> CallError {
        CallError::Developer { message, data: None }
    }

    pub(crate) fn internal(message: String) -> CallError {
        CallError::Internal { message }
    }

    /// The text a client gets for a failed function, as Convex words it:
    /// `[Request ID: <id>] Server Error\n<message>`.
    pub fn client_message(&self, request_id: &str) -> String {
        let (CallError::BadRequest { message, .. }
        | CallError::Developer { message, .. }
        | CallError::Internal { message }) = self;
        format!("[Request ID: {request_id}] Server Error\n{message}")
    }

    /// A `ConvexError`'s data, in Convex JSON.
    pub fn data_json(&self) -> Option<serde_json::Value> {
        match self {
            CallError::Developer { data: Some(data), .. } => Some(data.to_convex_json()),
            _ => None,
        }
    }
}

/// A fresh id for a call, shown in `[Request ID: …]`.
pub fn new_request_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Native stack of a JS thread: QuickJS's stack limit plus ample headroom.
pub(crate) const JS_THREAD_STACK_BYTES: usize = 16 << 20;

type Reply = Box<dyn FnOnce(CallResponse) + Send>;

pub(crate) struct Job {
    pub request: CallRequest,
    pub reply: Reply,
}

/// The outcome of an HTTP action: the handler's response, or the error that ended it.
#[derive(Clone, Debug)]
pub struct HttpActionResponse {
    pub result: Result<HttpResponse, String>,
    pub log_lines: Vec<String>,
}

/// Who an HTTP action runs for, from its request's `Authorization` header: the request runs
/// either way (the header may be the app's own), and `ctx.auth.getUserIdentity()` answers the
/// identity, `null`, or throws the reason the header was refused (as on Convex).
pub type HttpIdentity = Result<Option<UserIdentity>, String>;

/// An HTTP action request for a JS thread, with where to send its outcome.
pub(crate) struct HttpJob {
    pub request: HttpRequest,
    pub identity: HttpIdentity,
    pub reply: tokio::sync::oneshot::Sender<HttpActionResponse>,
}

/// Handle to a running executor; cheap to clone and shareable across threads.
#[derive(Clone)]
pub struct Executor {
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    /// The main worker's syscall channel (uploaded files are recorded there).
    syscalls: tokio::sync::mpsc::UnboundedSender<actions::SyscallJob>,
    dispatcher: Arc<action_threads::Dispatcher>,
    db: Database,
    auth_config_json: Option<Arc<str>>,
    /// Dropped with the last handle: the main worker then stops.
    _shutdown: Arc<tokio::sync::oneshot::Sender<()>>,
}

impl Executor {
    /// Loads the app, opens the database, analyzes the app on the worker thread and applies the
    /// schema. Returns only when everything succeeded.
    pub fn start(config: ExecutorConfig) -> Result<Executor, StartError> {
        let opaque = opaque_definitions(&config.native);
        let options = EngineOptions {
            app_dir: config.app_dir.clone(),
            cache_dir: config.cache_dir.clone(),
            env: config.env.clone(),
            limits: config.limits.clone(),
            clock: config.clock.clone(),
        };
        let app =
            App::load_with_opaque(options, &opaque).map_err(|e| StartError { code: e.code, message: e.message })?;
        let db = match &config.data {
            DataLocation::Dir(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| StartError {
                    code: "DataDirUnavailable",
                    message: format!("cannot create data directory {}: {e}", dir.display()),
                })?;
                Database::open_with_clock(&dir.join("emvex.sqlite3"), config.clock.clone())
            }
            DataLocation::InMemory => Database::open_in_memory_with_clock(config.clock.clone()),
        }
        .map_err(|e| StartError { code: "DatabaseOpenFailed", message: e.message })?;
        // Files a crash left without a `_storage` document go before anything is served.
        db.sweep_files().map_err(|e| StartError { code: "DatabaseOpenFailed", message: e.message })?;

        let (jobs_tx, jobs_rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let (syscalls_tx, syscalls_rx) = tokio::sync::mpsc::unbounded_channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel();
        let (native_done_tx, native_done_rx) = tokio::sync::mpsc::unbounded_channel();
        let handle = actions::MainHandle { jobs: jobs_tx.clone(), syscalls: syscalls_tx };
        let (dispatcher, mut lanes) = action_threads::Dispatcher::new(config.workers);
        let (ready_tx, ready_rx) = mpsc::channel::<Result<Arc<Components>, StartError>>();
        let channels = worker::MainChannels {
            jobs: jobs_rx,
            syscalls: syscalls_rx,
            handle: handle.clone(),
            dispatcher: dispatcher.clone(),
            lane: lanes.remove(0),
            shutdown: shutdown_rx,
            native_done: native_done_rx,
            native_done_tx,
        };
        let worker_db = db.clone();
        let worker_app = app.clone();
        let print_logs = config.print_logs;
        let native = config.native.clone();
        thread::Builder::new()
            .name("emvex-js".into())
            // QuickJS's own stack limit needs headroom above it on the native stack.
            .stack_size(JS_THREAD_STACK_BYTES)
            .spawn(move || worker::main(worker_app, native, worker_db, channels, ready_tx, print_logs))
            .map_err(|e| StartError { code: "WorkerSpawnFailed", message: e.to_string() })?;
        let components = ready_rx.recv().map_err(|_| StartError {
            code: "WorkerDied",
            message: "the JS worker thread stopped while loading the app".into(),
        })??;
        for (i, lane) in lanes.into_iter().enumerate() {
            action_threads::spawn_thread(
                i + 1,
                app.clone(),
                components.clone(),
                db.clone(),
                handle.clone(),
                print_logs,
                lane,
            )?;
        }
        let auth_config_json = components.definition_of("").and_then(|d| d.auth_config_json.as_deref()).map(Arc::from);
        Ok(Executor {
            jobs: jobs_tx,
            syscalls: handle.syscalls.clone(),
            dispatcher,
            db,
            auth_config_json,
            _shutdown: Arc::new(shutdown_tx),
        })
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
        // Queries run off the writer's thread when there is another JS thread.
        if request.kind == Some(FunctionKind::Query) && self.dispatcher.has_query_lanes() {
            self.dispatcher.dispatch(action_threads::ActionTask::Query(Job { request, reply }));
            return;
        }
        if let Err(tokio::sync::mpsc::error::SendError(job)) = self.jobs.send(Job { request, reply }) {
            let response = worker_gone(job.request);
            (job.reply)(response);
        }
    }

    /// Runs the app's HTTP action router (`convex/http.ts`) on one request, on the least busy
    /// JS thread.
    pub async fn http_action(&self, request: HttpRequest, identity: HttpIdentity) -> HttpActionResponse {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.dispatcher.dispatch(action_threads::ActionTask::Http(HttpJob { request, identity, reply: tx }));
        rx.await.unwrap_or(HttpActionResponse {
            result: Err("the JS worker thread has stopped".into()),
            log_lines: Vec::new(),
        })
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The JSON of `convex/auth.config.ts`'s default export, evaluated with the deployment's
    /// environment variables (`None`: the app has no auth config).
    pub fn auth_config_json(&self) -> Option<&str> {
        self.auth_config_json.as_deref()
    }

    // ----- file storage (`storage.rs`) -------------------------------------------------------

    /// The instance an upload URL's token was issued for, or why it is refused (Convex's
    /// `StorageTokenInvalid` / `StorageTokenExpired`).
    pub fn check_upload_token(&self, token: &str) -> Result<String, TokenError> {
        let secret = self.db.files().secret().map_err(|_| TokenError {
            code: "StorageTokenInvalid",
            message: "Couldn't decode the StoreFileAuthorization token",
        })?;
        storage::check_token(&secret, token, self.db.clock().now_ms())
    }

    /// Starts writing an uploaded file (streamed in by the caller, then [`Executor::store_upload`]).
    pub fn file_writer(&self) -> std::io::Result<emvex_database::FileWriter> {
        self.db.files().writer()
    }

    /// Puts a complete uploaded file in `component`'s folder and commits its `_storage`
    /// document; returns its storage id. On failure the file is removed.
    pub async fn store_upload(
        &self,
        component: &str,
        staged: StagedFile,
        content_type: Option<&str>,
    ) -> Result<String, CallError> {
        let args_json = storage::insert_file_args(&staged, content_type);
        let key = staged.key.clone();
        let files = self.db.files().clone();
        let owner = component.to_string();
        tokio::task::spawn_blocking(move || files.promote(&owner, staged))
            .await
            .map_err(|e| CallError::internal(e.to_string()))?
            .map_err(|e| CallError::internal(format!("file storage I/O error: {e}")))?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        let job = actions::SyscallJob {
            component: component.to_string(),
            path: path::UdfPath { module: "_storage".into(), name: "upload".into() },
            op: storage::INSERT_FILE_OP.to_string(),
            args_json,
            reply,
        };
        let result = match self.syscalls.send(job) {
            Ok(()) => rx.await.unwrap_or_else(|_| Err(emvex_engine::HostError::internal("the JS worker has stopped"))),
            Err(_) => Err(emvex_engine::HostError::internal("the JS worker has stopped")),
        };
        match result {
            Ok(text) => Ok(serde_json::from_str::<String>(&text).unwrap_or(text)),
            Err(e) => {
                let _ = self.db.files().remove(component, &key);
                Err(CallError::internal(e.message))
            }
        }
    }

    /// A stored file of `component` by storage id or file key, opened for reading: `None`
    /// when there is no such file.
    pub fn open_file(&self, component: &str, id: &str) -> Result<Option<(StoredFile, FileReader)>, String> {
        let mut tx = self.db.begin_query().map_err(|e| e.message)?;
        let file = match storage::lookup(&mut tx, component, id) {
            Ok(Some(file)) => file,
            Ok(None) | Err(_) => return Ok(None),
        };
        drop(tx);
        let reader = storage::open_file(&self.db, component, &file).map_err(|e| e.message)?;
        Ok(reader.map(|r| (file, r)))
    }
}

pub(crate) fn worker_gone(request: CallRequest) -> CallResponse {
    CallResponse::new(request, None, Err(CallError::internal("the JS worker thread has stopped".into())))
}
