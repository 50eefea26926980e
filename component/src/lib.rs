//! Native components: Rust implementations of Convex components that an app mounts with
//! `app.use(definition, {name})` in `convex.config.ts`, exactly like a JavaScript component.
//!
//! Owns the seam between the executor and a native implementation:
//! - [`NativeDefinition`] names the definition the loader replaces (by the nearest
//!   `package.json` name of the definition directory and that directory inside the package),
//!   so `import workpool from "@convex-dev/workpool/convex.config"` mounts the native code while
//!   the app stays unchanged;
//! - [`NativeComponent`] declares the instance's tables (a `schema.ts` export) and functions
//!   (with `exportArgs()`-format validators the executor checks), and answers one query or
//!   mutation at a time inside the caller's transaction;
//! - [`NativeHost`] is what the executor lends a call: the instance's own tables
//!   ([`InstanceTx`]) and the operations JavaScript gets through syscalls (call a function by
//!   address, schedule, cancel), all inside the same transaction.
//!
//! - A component may also do background work: the executor calls [`NativeComponent::drive`]
//!   in a mutation transaction of the instance whenever a mutation touched it, when a time it
//!   asked for comes, and at start after [`NativeComponent::recover`]; `drive` may ask the
//!   executor to start actions by handle, whose outcomes come back through
//!   [`NativeComponent::actions_done`], in transactions of their own (several at once when
//!   they end together).
//!
//! Invariants: a native call can only read and write its own instance's namespace (the
//! [`InstanceTx`] is bound to it); it never commits or rolls back (the caller's transaction
//! does, so a native mutation commits or rolls back with the app mutation that called it); its
//! arguments were validated before the call and its return value is validated after it.
//!
//! Layering: executor → component → database/value; this crate never sees the JS engine.

#![forbid(unsafe_code)]

pub mod workpool;

use std::collections::BTreeMap;
use std::sync::Arc;

use emvex_database::{DbError, Document, PageRequest, PageResult, Query, Transaction};
use emvex_value::function::{FunctionKind, Visibility};
use emvex_value::id::DocumentId;
use emvex_value::{Object, Value};

/// A definition the loader replaces by a native implementation.
#[derive(Clone)]
pub struct NativeDefinition {
    /// `name` of the package holding the definition (`@convex-dev/workpool`).
    pub package: String,
    /// The definition directory inside the package, POSIX (`dist/component`).
    pub dir_in_package: String,
    /// The component's default instance name (`defineComponent("workpool")`).
    pub default_name: String,
    pub component: Arc<dyn NativeComponent>,
}

impl std::fmt::Debug for NativeDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeDefinition")
            .field("package", &self.package)
            .field("dir_in_package", &self.dir_in_package)
            .field("default_name", &self.default_name)
            .finish_non_exhaustive()
    }
}

/// One function a native component exports.
#[derive(Clone, Debug)]
pub struct NativeFunction {
    /// Module path inside the component (`lib`).
    pub module: String,
    /// Export name (`enqueue`).
    pub name: String,
    /// A query or a mutation (actions stay in JavaScript).
    pub kind: FunctionKind,
    /// Public functions are reachable from the parent (`components.x.lib.enqueue`); internal
    /// ones only by handle or from inside the component.
    pub visibility: Visibility,
    /// Argument validator as `exportArgs()` JSON (`{"type":"object",…}` or `{"type":"any"}`).
    pub args_json: String,
    /// Return validator as `exportReturns()` JSON, or `null`.
    pub returns_json: String,
}

/// A Rust implementation of a component definition.
pub trait NativeComponent: Send + Sync {
    /// The `schema.ts` export JSON of the tables every instance owns, if any.
    fn schema_json(&self) -> Option<String>;
    /// Every function it answers.
    fn functions(&self) -> Vec<NativeFunction>;
    /// Answers one query or mutation inside the caller's transaction.
    fn call(&self, call: NativeCall<'_>) -> Result<Value, NativeError>;
    /// Makes progress on the instance's background work, in a mutation transaction of its
    /// own. Called after any mutation of the instance committed, when a time returned in
    /// [`Progress::wake_at_ms`] comes, and right away again when [`Progress::again`] is set.
    fn drive(&self, _ctx: NativeContext<'_>) -> Result<Progress, NativeError> {
        Ok(Progress::default())
    }
    /// Actions started through [`Progress::actions`] ended (each with its `token`); records
    /// them, in a mutation transaction of its own. Not called for actions lost to a crash (see
    /// `recover`).
    fn actions_done(&self, _ctx: NativeContext<'_>, _outcomes: Vec<(Value, ActionOutcome)>) -> Result<(), NativeError> {
        Ok(())
    }
    /// At start, before the first `drive`, in a mutation transaction: actions the instance
    /// had started before the process stopped will never report back.
    fn recover(&self, _ctx: NativeContext<'_>) -> Result<(), NativeError> {
        Ok(())
    }
}

/// The context of a native component's background work.
pub struct NativeContext<'a> {
    pub instance: &'a str,
    pub env: &'a BTreeMap<String, String>,
    /// The transaction's time, ms since the epoch.
    pub now_ms: f64,
    pub host: &'a mut dyn NativeHost,
}

/// What one `drive` did and wants next.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Actions to start once the transaction committed.
    pub actions: Vec<ActionStart>,
    /// When to drive again at the latest (ms since the epoch).
    pub wake_at_ms: Option<f64>,
    /// There is more to do now: drive again right away.
    pub again: bool,
}

/// An action to start by handle; `token` comes back with its outcome.
#[derive(Clone, Debug)]
pub struct ActionStart {
    pub handle: String,
    pub args: Value,
    pub token: Value,
}

/// How a started action ended.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionOutcome {
    Success(Value),
    /// It threw (or could not run): the error message and a `ConvexError`'s data.
    Failed {
        message: String,
        data: Option<Value>,
    },
}

/// One call of a native function.
pub struct NativeCall<'a> {
    /// The instance's component path (`emailPool`).
    pub instance: &'a str,
    /// The instance's environment.
    pub env: &'a BTreeMap<String, String>,
    pub module: &'a str,
    pub name: &'a str,
    pub kind: FunctionKind,
    /// The single argument object, already validated.
    pub args: Value,
    /// The transaction's frozen time, ms since the epoch.
    pub now_ms: f64,
    pub host: &'a mut dyn NativeHost,
}

/// What the executor offers a native call, all inside the caller's transaction.
pub trait NativeHost {
    /// The instance's own tables.
    fn db(&mut self) -> InstanceTx<'_>;
    /// Runs a query or mutation by address (a `function://` handle, or `module:name` inside
    /// this instance) as a nested call: a mutation runs in a savepoint that is rolled back if
    /// it fails.
    /// `kind` is the callee's: a query or a mutation.
    fn run_function(&mut self, address: &str, kind: FunctionKind, args: Value) -> Result<Value, NativeError>;
    /// Schedules a function by address at `at_ms` (ms since the epoch); the job lives in this
    /// instance's `_scheduled_functions` and exists only if the transaction commits.
    fn schedule(&mut self, address: &str, at_ms: f64, args: Value) -> Result<DocumentId, NativeError>;
    /// Cancels a job of this instance's `_scheduled_functions`.
    fn cancel(&mut self, job: &DocumentId) -> Result<(), NativeError>;
    /// Records a console line (`[INFO] 'text'`, as `console.info("text")` prints) of the
    /// current function.
    fn log(&mut self, line: String);
}

/// A transaction bound to one instance's namespace.
pub struct InstanceTx<'a> {
    tx: &'a mut Transaction,
    component: &'a str,
}

impl<'a> InstanceTx<'a> {
    pub fn new(tx: &'a mut Transaction, component: &'a str) -> InstanceTx<'a> {
        InstanceTx { tx, component }
    }

    pub fn get(&mut self, id: &DocumentId) -> Result<Option<Document>, DbError> {
        self.tx.get(self.component, id)
    }

    pub fn insert(&mut self, table: &str, body: Object) -> Result<DocumentId, DbError> {
        self.tx.insert(self.component, table, body)
    }

    pub fn patch(&mut self, id: &DocumentId, patch: BTreeMap<String, Option<Value>>) -> Result<Document, DbError> {
        self.tx.patch(self.component, id, patch)
    }

    pub fn replace(&mut self, id: &DocumentId, body: Object) -> Result<Document, DbError> {
        self.tx.replace(self.component, id, body)
    }

    pub fn delete(&mut self, id: &DocumentId) -> Result<Document, DbError> {
        self.tx.delete(self.component, id)
    }

    pub fn count(&mut self, table: &str) -> Result<u64, DbError> {
        self.tx.count(self.component, table)
    }

    /// Runs a query to the end and returns its documents.
    pub fn collect(&mut self, query: &Query) -> Result<Vec<Document>, DbError> {
        let stream = self.tx.query_stream(self.component, query)?;
        let mut docs = Vec::new();
        while let Some(doc) = self.tx.query_next(stream)? {
            docs.push(doc);
        }
        self.tx.query_cleanup(stream);
        Ok(docs)
    }

    /// Reads documents one at a time: `query_stream`, then `query_next` until `None`.
    pub fn query_stream(&mut self, query: &Query) -> Result<u32, DbError> {
        self.tx.query_stream(self.component, query)
    }

    pub fn query_next(&mut self, stream: u32) -> Result<Option<Document>, DbError> {
        self.tx.query_next(stream)
    }

    pub fn query_cleanup(&mut self, stream: u32) -> bool {
        self.tx.query_cleanup(stream)
    }

    pub fn query_page(&mut self, request: &PageRequest) -> Result<PageResult, DbError> {
        self.tx.query_page(self.component, request)
    }

    /// The number the instance's table `table` has, if it exists (for `v.id` checks).
    pub fn table_number(&self, table: &str) -> Result<Option<u32>, DbError> {
        self.tx.table_number(self.component, table)
    }
}

/// Why a native call failed: its variants are the two classes of `emvex_value::ErrorClass`.
#[derive(Clone, Debug, PartialEq)]
pub enum NativeError {
    /// A developer-facing error (bad input, a failed callee), catchable by the caller; `data`
    /// is a `ConvexError`'s data.
    Developer { message: String, data: Option<Value> },
    /// A failure of emvex itself (storage); ends the calling function.
    Internal(String),
}

impl NativeError {
    pub fn developer(message: impl Into<String>) -> NativeError {
        NativeError::Developer { message: message.into(), data: None }
    }
}

impl From<DbError> for NativeError {
    fn from(e: DbError) -> NativeError {
        if e.is_internal() {
            NativeError::Internal(e.message)
        } else {
            NativeError::Developer { message: e.message, data: e.data.and_then(|d| Value::from_convex_json(&d).ok()) }
        }
    }
}
