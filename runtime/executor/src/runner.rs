//! Running one query or mutation inside a transaction the caller owns: argument validation, the
//! JS invocation on an isolate from the pool, return validation. Top-level calls, nested
//! `ctx.runQuery`/`ctx.runMutation` and scheduled jobs all go through [`FunctionRunner::run`].
//!
//! Invariants: user code never runs with arguments its validator rejects; the transaction is
//! never committed or rolled back here (the caller decides, so nested mutations can use
//! savepoints); the isolate goes back to the pool after every call.

use std::collections::BTreeMap;
use std::sync::Arc;

use emvex_component::NativeError;
use emvex_database::{Database, Transaction};
use emvex_engine::{HostError, Invocation, JsError};
use emvex_value::ErrorClass;
use emvex_value::Value;
use emvex_value::function::FunctionKind;
use emvex_value::id::DocumentId;
use emvex_value::validator::{TableNames, Validator, argument_validation_error, check_args, returns_validation_error};
use rand::RngCore;
use serde_json::Value as Json;

use crate::components::{Components, Implementation};
use crate::native::Bridge;
use crate::pool::IsolatePool;
use crate::registry::FunctionInfo;
use crate::request_metadata::RequestMetadata;
use crate::syscalls::TransactionHost;
use crate::system_queries;

/// What the worker thread needs to run functions: isolates per instance, the component tree
/// with every definition's functions, the database.
pub(crate) struct FunctionRunner {
    /// Isolate pools by instance path (JS instances only).
    pub pools: BTreeMap<String, IsolatePool>,
    pub components: Arc<Components>,
    pub db: Database,
    /// Native instances a mutation ran in since the main worker last looked: they get a drive
    /// (`native_driver.rs`).
    pub native_touched: std::collections::BTreeSet<String>,
    /// The request the top-level function running now serves (its nested calls serve it too).
    pub request: RequestMetadata,
}

/// A job an execution scheduled, handed to the scheduler once the transaction commits.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NewJob {
    /// The instance whose `_scheduled_functions` holds the job.
    pub component: String,
    pub id: DocumentId,
    pub scheduled_ms: f64,
}

/// Why a function failed: a [`ErrorClass::Developer`] or an [`ErrorClass::Internal`] error.
#[derive(Clone, Debug)]
pub(crate) enum Failure {
    /// The function threw, or its arguments/return value were invalid: reported to the caller.
    Developer { message: String, stack: Option<String>, data: Option<Value> },
    /// emvex itself failed (storage, engine).
    Internal(String),
}

/// A failed nested call, as the calling function's syscall sees it (same class).
impl From<Failure> for HostError {
    fn from(failure: Failure) -> HostError {
        match failure {
            Failure::Developer { message, data, .. } => {
                HostError { message, data: data.map(|d| d.to_convex_json()), class: ErrorClass::Developer }
            }
            Failure::Internal(message) => HostError::internal(message),
        }
    }
}

/// A native function's failure (same class).
impl From<NativeError> for Failure {
    fn from(error: NativeError) -> Failure {
        match error {
            NativeError::Developer { message, data } => Failure::Developer { message, stack: None, data },
            NativeError::Internal(message) => Failure::Internal(message),
        }
    }
}

impl Failure {
    pub(crate) fn developer(message: String) -> Failure {
        Failure::Developer { message, stack: None, data: None }
    }

    /// The message with its stack, as a client sees it.
    pub(crate) fn full_message(&self) -> String {
        match self {
            Failure::Developer { message, stack: Some(stack), .. } if !stack.is_empty() => {
                format!("{message}\n{stack}")
            }
            Failure::Developer { message, .. } | Failure::Internal(message) => message.clone(),
        }
    }
}

/// The outcome of one function run.
#[derive(Debug)]
pub(crate) struct Execution {
    pub result: Result<Value, Failure>,
    pub log_lines: Vec<String>,
    pub new_jobs: Vec<NewJob>,
}

impl Execution {
    fn failed(failure: Failure) -> Execution {
        Execution { result: Err(failure), log_lines: Vec::new(), new_jobs: Vec::new() }
    }
}

impl FunctionRunner {
    /// A runner for queries on a JS thread other than the main worker: the same component tree
    /// and database, with isolate pools created on first use.
    pub(crate) fn for_queries(app: &Arc<emvex_engine::App>, components: Arc<Components>, db: Database) -> Self {
        let pools = components
            .instances()
            .filter(|instance| {
                matches!(components.definition_of(&instance.path).map(|d| &d.implementation), Some(Implementation::Js))
            })
            .map(|instance| {
                let scope = emvex_engine::Scope { definition: instance.definition, env: instance.env.clone() };
                (instance.path.clone(), IsolatePool::lazy(app.clone(), scope))
            })
            .collect();
        FunctionRunner { pools, components, db, native_touched: Default::default(), request: Default::default() }
    }

    /// Runs `info`, a function of instance `component`, with positional `args` on `tx`.
    /// `depth` is 0 for a top-level call and grows by one per nested call.
    pub(crate) fn run(
        &mut self,
        tx: &mut Transaction,
        component: &str,
        info: &FunctionInfo,
        args: &[Value],
        now_ms: f64,
        depth: usize,
    ) -> Execution {
        if let Err(failure) = check_arguments(info, args, &tx.table_names(component)) {
            return Execution::failed(failure);
        }
        if system_queries::is_system(&info.path) {
            let result = system_queries::run(tx, &self.components, component, &info.path, args).map_err(|e| {
                if e.is_internal() { Failure::Internal(e.message) } else { Failure::developer(e.message) }
            });
            return Execution { result, log_lines: Vec::new(), new_jobs: Vec::new() };
        }
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        if depth == 0 {
            tx.set_id_seed(u64::from_le_bytes(seed[..8].try_into().expect("8 bytes")));
        }
        let components = self.components.clone();
        if let Some(Implementation::Native(native)) = components.definition_of(component).map(|d| &d.implementation) {
            return self.run_native(tx, component, native.as_ref(), info, args, now_ms, depth);
        }
        let invocation = Invocation {
            kind: info.kind,
            module: info.path.module.clone(),
            name: info.path.name.clone(),
            args_json: Json::Array(args.iter().map(Value::to_convex_json).collect()).to_string(),
            rng_seed: seed,
            now_ms,
            timeout: None,
        };
        let Some(pool) = self.pools.get_mut(component) else {
            return Execution::failed(Failure::Internal(format!("component \"{component}\" has no isolates")));
        };
        let mut isolate = match pool.take() {
            Ok(isolate) => isolate,
            Err(e) => return Execution::failed(Failure::Internal(format!("cannot start a JS isolate: {}", e.message))),
        };
        let (outcome, nested_logs, new_jobs) = {
            let mut host =
                TransactionHost::new(tx, self, component.to_string(), info.kind, info.path.clone(), now_ms, depth);
            let outcome = isolate.invoke(&invocation, &mut host);
            (outcome, host.nested_logs, host.new_jobs)
        };
        if let Some(pool) = self.pools.get_mut(component) {
            pool.put(isolate);
        }
        let mut log_lines = outcome.log_lines;
        log_lines.extend(nested_logs);
        let result = match outcome.result {
            Ok(text) => parse_result(&text).and_then(|value| {
                check_returns(info, &value, &tx.table_names(component))?;
                Ok(value)
            }),
            Err(e) => Err(js_failure(e)),
        };
        Execution { result, log_lines, new_jobs }
    }

    /// Answers a function of a native instance inside `tx`, through a syscall host of that
    /// instance (so its nested calls, schedules and writes behave as a JS function's would).
    #[allow(clippy::too_many_arguments)]
    fn run_native(
        &mut self,
        tx: &mut Transaction,
        component: &str,
        native: &dyn emvex_component::NativeComponent,
        info: &FunctionInfo,
        args: &[Value],
        now_ms: f64,
        depth: usize,
    ) -> Execution {
        let components = self.components.clone();
        if info.kind == FunctionKind::Mutation {
            self.native_touched.insert(component.to_string());
        }
        let no_env = BTreeMap::new();
        let env = components.instance(component).map_or(&no_env, |i| &i.env);
        let arg = args.first().cloned().unwrap_or(Value::Object(Default::default()));
        let (result, log_lines, new_jobs) = {
            let mut host =
                TransactionHost::new(tx, self, component.to_string(), info.kind, info.path.clone(), now_ms, depth);
            let result = native.call(emvex_component::NativeCall {
                instance: component,
                env,
                module: &info.path.module,
                name: &info.path.name,
                kind: info.kind,
                args: arg,
                now_ms,
                host: &mut Bridge { host: &mut host },
            });
            (result, host.nested_logs, host.new_jobs)
        };
        let result = match result {
            Ok(value) => check_returns(info, &value, &tx.table_names(component)).map(|()| value),
            Err(error) => Err(error.into()),
        };
        Execution { result, log_lines, new_jobs }
    }

    /// Replaces every idle isolate of every instance (after a panic left one in an unknown state).
    pub(crate) fn reset_isolates(&mut self) {
        for pool in self.pools.values_mut() {
            pool.reset();
        }
    }

    /// Begins the transaction a top-level function of `kind` runs in.
    pub(crate) fn begin(&self, kind: FunctionKind) -> Result<Transaction, Failure> {
        match kind {
            FunctionKind::Mutation => self.db.begin_mutation(),
            _ => self.db.begin_query(),
        }
        .map_err(|e| Failure::Internal(e.message))
    }
}

/// Checks positional `args` against the function's `args` validator, with the table names of
/// the instance it runs in (for `v.id`).
pub(crate) fn check_arguments(info: &FunctionInfo, args: &[Value], tables: &dyn TableNames) -> Result<(), Failure> {
    check_args(info.args.as_ref().unwrap_or(&Validator::Any), args, tables)
        .map_err(|e| Failure::developer(argument_validation_error(e.message)))
}

/// Parses a function's Convex JSON result text.
pub(crate) fn parse_result(text: &str) -> Result<Value, Failure> {
    let json: Json =
        serde_json::from_str(text).map_err(|e| Failure::Internal(format!("function result is not JSON: {e}")))?;
    Value::from_convex_json(&json).map_err(|e| Failure::developer(format!("Invalid return value: {}", e.message)))
}

/// Checks a return value against the function's `returns` validator, with the table names of
/// the instance it ran in.
pub(crate) fn check_returns(info: &FunctionInfo, value: &Value, tables: &dyn TableNames) -> Result<(), Failure> {
    if let Some(validator) = &info.returns {
        validator.check(value, tables).map_err(|e| Failure::developer(returns_validation_error(e.message)))?;
    }
    Ok(())
}

pub(crate) fn js_failure(e: JsError) -> Failure {
    Failure::Developer {
        message: e.message,
        stack: e.stack,
        data: e.data.and_then(|d| Value::from_convex_json(&d).ok()),
    }
}
