//! emvex-engine: runs a real Convex app's JavaScript inside QuickJS (through rquickjs).
//!
//! Owns: loading an app's `convex/` folder (discovery, TypeScript stripping with oxc, Node/ESM
//! resolution with oxc_resolver, QuickJS bytecode compiled once and cached on disk), the global
//! environment Convex functions expect (the `Convex` host object, console, frozen `Date`, seeded
//! `Math.random`/crypto, web API subset), analysis of exported functions and the schema, and
//! invocation of queries/mutations through the host ABI with limits (time, memory, stack), and
//! of actions (concurrent on one thread, with real `fetch`, timers, time and randomness).
//!
//! Invariants:
//! - This is the only crate that sees rquickjs or oxc; no engine type leaks through the API.
//! - An [`App`] is immutable after [`App::load`] and is shared (`Send + Sync`) by many
//!   [`Isolate`]s; an `Isolate` lives on one thread.
//! - Exactly one instance of each module per realm (module names are canonical file names).
//! - A failed load never yields a half-loaded app; a limit hit (timeout, out of memory, stack)
//!   ends that invocation only and leaves the isolate usable.
//!
//! Usage: `App::load` once (it compiles and evaluates everything once, so import-time errors
//! surface there), then one `Isolate::new(app.clone())` per worker thread, `analyze()` once, and
//! `invoke()` per call. `App::definitions()` lists the app's and its components' definitions
//! (`convex.config.*`, evaluated at load; not yet used to run component functions). An
//! `Isolate` is not re-entrant: a nested call (`1.0/runUdf`) made while
//! a host answers a syscall must run in another `Isolate` on the same thread (see the
//! `nested_calls_run_in_a_second_isolate_on_the_same_thread` test). Run isolates on threads
//! whose stack is at least `Limits::max_stack_bytes` plus ~1 MiB.
//!
//! Actions: [`Isolate::invoke_action`] returns a `'static` future to poll on the isolate's
//! thread inside a tokio current-thread runtime (or `LocalSet`); several may be in flight at
//! once. Each in-flight action gets its own loaded QuickJS runtime + context from a pool kept
//! by the isolate (at most 16 idle ones are kept; see `action.rs`), so limits, logs and state
//! never mix between actions.
//! [`Isolate::invoke_http_action`] runs HTTP actions (routed by `convex/http.ts`) the same way.
//!
//! Web APIs are written here (the JS prelude, one file per web API in `src/js/`; see `js.rs`),
//! not taken from `llrt_modules`, which is built on another rquickjs version (two versions
//! cannot share one QuickJS).

mod action;
mod alloc;
mod app;
mod bindings;
mod calls;
mod commonjs;
mod definition_realm;
mod definitions;
mod fetch;
mod function_realm;
mod isolate;
mod js;
mod load;
mod loader;
mod quickjs_ffi;
mod shared;
mod stack;
mod subtle;
mod transpile;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use app::{App, LoadStats};

/// The JavaScript of emvex's `console` (`js/console.js`, defining `setupConsole(S)`): the
/// Node.js host of `"use node"` actions installs it too, so log lines read the same from both
/// runtimes.
pub const CONSOLE_JS: &str = include_str!("js/console.js");

/// A module's TypeScript stripped for Node.js (`"use node"` actions): the same oxc transform as
/// for QuickJS, without emvex's catch instrumentation (Node needs none), with an inline source
/// map pointing at `path` when anything was stripped. `display` names the file in errors.
pub fn strip_types(path: &std::path::Path, display: &str, source: &str) -> Result<String, LoadError> {
    let t = transpile::strip_for_node(path, display, source)?;
    Ok(match t.source_map_url {
        Some(url) => format!("{}\n//# sourceMappingURL={url}\n", t.code.trim_end()),
        None => t.code,
    })
}
pub use definitions::{DefinitionId, DefinitionInfo, OpaqueDefinition, component_modules};
pub use emvex_clock::Clock;
pub use emvex_value::ErrorClass;
pub use emvex_value::function::{FunctionKind, Visibility};
pub use isolate::{Isolate, Scope};

/// Options for [`App::load`].
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// The app directory; functions live in `app_dir/convex/`.
    pub app_dir: PathBuf,
    /// Where compiled bytecode is cached (`None`: no disk cache).
    pub cache_dir: Option<PathBuf>,
    /// Environment variables visible as `process.env`.
    pub env: BTreeMap<String, String>,
    /// Default limits for invocations.
    pub limits: Limits,
    /// The clock of every execution: `Date.now()` (frozen per query/mutation, real in actions),
    /// timers and time limits.
    pub clock: Clock,
}

impl EngineOptions {
    /// Options with no cache, no env vars, default limits and the real clock.
    pub fn new(app_dir: impl Into<PathBuf>) -> Self {
        EngineOptions {
            app_dir: app_dir.into(),
            cache_dir: None,
            env: BTreeMap::new(),
            limits: Limits::default(),
            clock: Clock::real(),
        }
    }
}

/// Resource limits for one invocation.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock time of user code (time spent in host syscalls is not counted). Default 1 s.
    pub user_timeout: Duration,
    /// Heap available on top of the isolate's loaded baseline (also the allowance of module
    /// top-level code). Default 64 MiB. Running out ends the call even if JS catches the error.
    pub memory_bytes: usize,
    /// Native stack QuickJS may use. Default 1 MiB: run isolates on threads with at least
    /// this much plus ~1 MiB of stack. Exceeding it ends the call with
    /// [`JsErrorKind::StackOverflow`]: `catch` clauses of app code are instrumented at load
    /// time so they cannot swallow it (a `.catch()` callback or library code still could).
    pub max_stack_bytes: usize,
    /// Wall-clock time of a whole action, awaits included (default 10 minutes, as Convex).
    /// Past it the action ends with [`JsErrorKind::Timeout`], also inside a synchronous loop.
    pub action_timeout: Duration,
    /// `"use node"` actions that run at once, each in a Node.js process of its own (default
    /// 16). More wait for a process to be free, and their wait counts in their time limit.
    pub node_actions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            user_timeout: Duration::from_secs(1),
            memory_bytes: 64 << 20,
            max_stack_bytes: 1 << 20,
            action_timeout: Duration::from_secs(600),
            node_actions: 16,
        }
    }
}

/// Result of [`Isolate::analyze`].
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Every registered function of every function module, sorted by module then source line.
    pub functions: Vec<AnalyzedFunction>,
    /// `schema.ts`'s default export `.export()` JSON text, if the app has a schema.
    pub schema_json: Option<String>,
    /// `crons.ts`'s default export `.export()` JSON text, if the app has crons.
    pub crons_json: Option<String>,
    /// `auth.config.ts`'s default export as JSON (`{"providers":[…]}`), evaluated with the
    /// deployment's environment variables, if the app has one.
    pub auth_config_json: Option<String>,
}

/// One registered Convex function.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzedFunction {
    /// Path under `convex/` without extension: `"messages"`, `"dir/file"`.
    pub module: String,
    /// Export name; `"default"` for the default export.
    pub name: String,
    pub kind: FunctionKind,
    pub visibility: Visibility,
    /// `exportArgs()` JSON text (`{"type":"any"}` when not declared).
    pub args_json: String,
    /// `exportReturns()` JSON text (`null` when not declared).
    pub returns_json: String,
    /// 1-based line of the export in the original source, when known.
    pub line: Option<u32>,
}

/// One call of a registered function.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub kind: FunctionKind,
    /// Module path as in [`AnalyzedFunction::module`].
    pub module: String,
    /// Export name.
    pub name: String,
    /// JSON array text of Convex-JSON positional args, e.g. `[{"a":1}]`.
    pub args_json: String,
    /// Seed of `Math.random` / `crypto.getRandomValues` for this execution (ignored by
    /// actions, whose randomness is real).
    pub rng_seed: [u8; 32],
    /// The frozen `Date.now()` of this execution (ms since the epoch; ignored by actions,
    /// whose clock is real).
    pub now_ms: f64,
    /// Overrides [`Limits::user_timeout`] (queries/mutations) or [`Limits::action_timeout`]
    /// (actions).
    pub timeout: Option<Duration>,
}

/// Answers syscalls for one invocation (implemented by the executor over a transaction).
pub trait Host {
    /// A synchronous syscall (`Convex.syscall`); returns the JSON result text.
    fn syscall(&mut self, op: &str, args_json: &str) -> Result<String, HostError>;
    /// An asynchronous syscall (`Convex.asyncSyscall`); called strictly in FIFO issue order.
    fn async_syscall(&mut self, op: &str, args_json: &str) -> Result<String, HostError>;
}

/// Answers an action's syscalls. Several syscalls of one action may be in flight at once.
///
/// Every error (developer or internal) of an action's syscall reaches JS as a catchable error: a
/// rejected promise for `async_syscall` (with `data` set when present), a thrown `Error` for
/// `syscall`. A returned future may be dropped before it completes (the action ended without
/// awaiting it, hit its time limit, or its own future was dropped), so it must be cancel-safe.
/// The futures never borrow the isolate: a host may run queries and mutations with
/// [`Isolate::invoke`] on the same isolate (e.g. through an `Rc<RefCell<Isolate>>`) while
/// actions are in flight, since each action runs in a runtime of its own.
pub trait ActionHost {
    /// A synchronous syscall (`Convex.syscall`); returns the JSON result text.
    fn syscall(&self, op: &str, args_json: &str) -> Result<String, HostError>;
    /// `1.0/actions/query|mutation|action`, `1.0/actions/schedule`, `1.0/actions/cancel_job`,
    /// `1.0/createFunctionHandle`, `1.0/getUserIdentity`, ... The future is awaited on the
    /// isolate's thread, concurrently with the action's other operations.
    fn async_syscall(
        &self,
        op: String,
        args_json: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, HostError>>>>;

    /// `ctx.storage.store(blob)` in an action (`storage/storeBlob`): the blob's bytes as they
    /// are, with `args_json` = `{requestId, version, contentType, sha256?}`; answers the storage
    /// id as JSON text. By default, the base64 `1.0/storageStore` syscall mutations use.
    fn store_blob(
        &self,
        args_json: String,
        bytes: Vec<u8>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, HostError>>>> {
        use base64::Engine;
        let mut args: serde_json::Value = serde_json::from_str(&args_json).unwrap_or_default();
        args["blob"] = serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
        self.async_syscall("1.0/storageStore".into(), args.to_string())
    }

    /// `ctx.storage.get(id)` in an action (`storage/getBlob`): the file's bytes and content
    /// type, or `None`; `args_json` = `{requestId, version, storageId}`. By default, the base64
    /// `1.0/storageGet` syscall.
    fn get_blob(&self, args_json: String) -> BlobFuture {
        let fut = self.async_syscall("1.0/storageGet".into(), args_json);
        Box::pin(async move {
            use base64::Engine;
            let text = fut.await?;
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| HostError::internal(format!("storageGet answer: {e}")))?;
            if json.is_null() {
                return Ok(None);
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(json["blob"].as_str().unwrap_or_default())
                .map_err(|e| HostError::internal(format!("storageGet answer: {e}")))?;
            Ok(Some((bytes, json["contentType"].as_str().map(str::to_string))))
        })
    }
}

/// A stored file's bytes and content type, as `storage/getBlob` answers them.
pub type StoredBlob = (Vec<u8>, Option<String>);

/// What [`ActionHost::get_blob`] answers: a stored file, or `None`.
pub type BlobFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<StoredBlob>, HostError>>>>;

/// A failed syscall. Developer errors become catchable JS `Error`s (with `data` set from
/// `data` when present); internal ones abort a query or mutation (an action can catch both).
#[derive(Debug, Clone)]
pub struct HostError {
    pub message: String,
    /// Convex JSON of a ConvexError's data (set as the JS error's parsed `data`).
    pub data: Option<serde_json::Value>,
    pub class: ErrorClass,
}

impl HostError {
    /// A catchable developer error.
    pub fn developer(message: impl Into<String>) -> Self {
        HostError { message: message.into(), data: None, class: ErrorClass::Developer }
    }
    /// An internal error: it aborts the execution.
    pub fn internal(message: impl Into<String>) -> Self {
        HostError { message: message.into(), data: None, class: ErrorClass::Internal }
    }
    /// Whether it aborts a query or mutation.
    pub fn is_internal(&self) -> bool {
        self.class == ErrorClass::Internal
    }
}

/// The result of one invocation.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Convex JSON text of the return value, or the error.
    pub result: Result<String, JsError>,
    /// Console output, formatted like Convex (`"[LOG] 'hello'"`).
    pub log_lines: Vec<String>,
}

/// A request to an HTTP action (`convex/http.ts`'s router picks the handler).
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// The full URL (`https://host/path?query`); the router matches its path.
    pub url: String,
    /// Header pairs in order (repeated names allowed).
    pub headers: Vec<(String, String)>,
    /// The body; ignored for `GET` and `HEAD`.
    pub body: Option<Vec<u8>>,
}

/// The `Response` an HTTP action returned.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub status_text: String,
    /// Header pairs (lower-case names, `set-cookie` kept apart).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The result of one HTTP action: its response, or the error that ended it (which the server
/// answers as Convex does, e.g. with a 500), and its console lines.
#[derive(Debug, Clone)]
pub struct HttpOutcome {
    pub result: Result<HttpResponse, JsError>,
    pub log_lines: Vec<String>,
}

/// An error ending an invocation.
#[derive(Debug, Clone)]
pub struct JsError {
    pub kind: JsErrorKind,
    /// E.g. `"Uncaught Error: boom"`.
    pub message: String,
    /// Source-mapped frames, one per line (`    at handler (convex/messages.ts:12:9)`).
    pub stack: Option<String>,
    /// ConvexError data (Convex JSON).
    pub data: Option<serde_json::Value>,
}

impl JsError {
    pub(crate) fn new(kind: JsErrorKind, message: impl Into<String>) -> Self {
        JsError { kind, message: message.into(), stack: None, data: None }
    }
}

impl fmt::Display for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(stack) = &self.stack {
            write!(f, "\n{stack}")?;
        }
        Ok(())
    }
}

impl std::error::Error for JsError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsErrorKind {
    /// A thrown (non-ConvexError) exception or rejected promise.
    Uncaught,
    /// A thrown `ConvexError`; `data` is set.
    ConvexError,
    /// User code ran past its time limit.
    Timeout,
    /// User code exceeded its memory limit.
    OutOfMemory,
    /// The native stack limit was hit (deep recursion).
    StackOverflow,
    /// The host returned an internal error ([`HostError::is_internal`]).
    HostFatal,
    /// An engine-side problem (unknown function, wrong kind, unsupported feature, ...).
    Internal,
}

impl JsErrorKind {
    /// Stable code string.
    pub fn code(self) -> &'static str {
        match self {
            JsErrorKind::Uncaught => "Uncaught",
            JsErrorKind::ConvexError => "ConvexError",
            JsErrorKind::Timeout => "Timeout",
            JsErrorKind::OutOfMemory => "OutOfMemory",
            JsErrorKind::StackOverflow => "StackOverflow",
            JsErrorKind::HostFatal => "HostFatal",
            JsErrorKind::Internal => "Internal",
        }
    }
}

/// Loading or analyzing the app failed. `code` is stable; `message` names `file:line:col`
/// where one is known.
#[derive(Debug, Clone)]
pub struct LoadError {
    /// One of `NoConvexDir`, `Io`, `SyntaxError`, `UnresolvedImport`,
    /// `ConvexNotInstalled`, `DuplicateModule`, `ImportFailed`, `TopLevelAwait`,
    /// `AnalyzeFailed`, `EngineError`, and for component definitions `DefinitionCycle`,
    /// `InvalidExportValue`, `UseNodeInComponent`.
    pub code: &'static str,
    pub message: String,
}

impl LoadError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        LoadError { code, message: message.into() }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for LoadError {}
