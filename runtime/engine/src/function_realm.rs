//! A function realm: one QuickJS runtime + context with one scope's modules loaded, ready to
//! run that scope's queries, mutations and actions.
//!
//! Owns: [`FunctionRealm`] (creating the runtime with its limits, the native bindings, the
//! prelude and the scope's modules; resetting per-execution state before a call and clearing it
//! after; the interrupt handler that enforces time and memory limits) and [`Scope`].
//! Invariants:
//! - The context is reused across executions; per-execution state (seed, frozen time, log
//!   buffer, syscall queue, deadline, memory limit, host) is reset before each call
//!   (`reset_for`) and cleared after it (`finish`), so nothing of one call's host is reachable
//!   in the next.
//! - Timeout, out-of-memory and fatal host errors are decided on the Rust side (interrupt
//!   handler + flags), so JS cannot swallow them; after an out-of-memory the owner rebuilds
//!   the realm.
//! - A realm serves one [`Scope`]: it evaluates only that definition's entries, with the
//!   scope's env as `process.env`; module top-level code gets the memory allowance of a call
//!   and [`IMPORT_TIMEOUT`].
//! - The clock and randomness are frozen/seeded per call in queries and mutations, real in
//!   actions (`Shared::real_clock` is set only while an action runs).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use rquickjs::promise::PromiseState;
use rquickjs::{Context, Ctx, Function, Module, Object, Persistent, Runtime, Value, WriteOptions};

use crate::alloc::{AllocState, CountingAllocator};
use crate::app::display_name;
use crate::bindings::install_native;
use crate::calls::{call_control, describe_error, drain_jobs};
use crate::definitions::DefinitionId;
use crate::loader::{
    IMPORT_TIMEOUT, ImportFailure, ModuleLoader, engine_error, import_failed_error, import_namespace,
    top_level_await_error,
};
use crate::quickjs_ffi::{object_identity, update_stack_top};
use crate::shared::{Abort, Shared};
use crate::{App, FunctionKind, LoadError};

const PRELUDE: &str = crate::js::PRELUDE;

/// One QuickJS runtime + context with one scope's modules loaded. Field order matters: JS
/// handles drop before the runtime.
pub(crate) struct FunctionRealm {
    pub(crate) control: Persistent<Object<'static>>,
    pub(crate) context: Context,
    runtime: Runtime,
    pub(crate) shared: Rc<Shared>,
    pub(crate) baseline: usize,
}

impl Drop for FunctionRealm {
    fn drop(&mut self) {
        // Persistent handles held in `shared` must be released while the runtime is alive.
        self.shared.unhandled.borrow_mut().clear();
        self.shared.action_host.borrow_mut().take();
        self.runtime.set_host_promise_rejection_tracker(None);
        self.runtime.set_interrupt_handler(None);
    }
}

/// The instance an [`crate::Isolate`] runs: a definition (`DefinitionId(0)` is the app) and the env
/// its modules see as `process.env`, at import time and at call time. Two scopes of one
/// definition get separate realms: module-level state is never shared between instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub definition: DefinitionId,
    pub env: std::collections::BTreeMap<String, String>,
}

impl Scope {
    /// The app itself, with the app's env.
    pub fn root(app: &App) -> Scope {
        Scope { definition: DefinitionId(0), env: app.env.clone() }
    }
}

impl FunctionRealm {
    /// Creates a runtime, installs the native bindings and the prelude, and evaluates the
    /// entries of `scope.definition` with `scope.env` as `process.env`.
    pub(crate) fn new(app: &Arc<App>, scope: &Scope) -> Result<FunctionRealm, LoadError> {
        let alloc = AllocState::new();
        let runtime = Runtime::new_with_alloc(CountingAllocator::new(alloc.clone())).map_err(engine_error)?;
        runtime.set_max_stack_size(app.limits.max_stack_bytes);
        let dynamic_import = Rc::new(Cell::new(false));
        ModuleLoader::function_realm(app.clone(), dynamic_import.clone()).install(&runtime);
        let shared = Rc::new(Shared::new(
            alloc,
            dynamic_import,
            app.import_seed,
            app.import_time_ms,
            app.clock.elapsed() + IMPORT_TIMEOUT,
            app.clock.clone(),
        ));
        let tracker_state = shared.clone();
        runtime.set_host_promise_rejection_tracker(Some(Box::new(
            move |ctx: Ctx<'_>, promise: Value<'_>, reason: Value<'_>, is_handled: bool| {
                let id = object_identity(&promise);
                let mut list = tracker_state.unhandled.borrow_mut();
                if is_handled {
                    list.retain(|(p, _)| *p != id);
                } else {
                    list.push((id, Persistent::save(&ctx, reason)));
                }
            },
        )));
        let handler_state = shared.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || interrupt(&handler_state))));
        let context = Context::full(&runtime).map_err(engine_error)?;
        let loaded = context.with(|ctx| -> Result<Persistent<Object<'static>>, LoadError> {
            update_stack_top(&ctx);
            let native = install_native(&ctx, shared.clone(), app.clone()).map_err(|e| js_load_error(&ctx, e))?;
            let prelude = load_prelude(&ctx, app, &shared).map_err(|e| js_load_error(&ctx, e))?;
            let control: Object = prelude.call((native,)).map_err(|e| js_load_error(&ctx, e))?;
            let env = serde_json::to_string(&scope.env).map_err(|e| LoadError::new("EngineError", e.to_string()))?;
            call_control::<()>(&ctx, &control, "setEnv", (env,)).map_err(|e| js_load_error(&ctx, e))?;
            call_control::<()>(&ctx, &control, "begin", ("import",)).map_err(|e| js_load_error(&ctx, e))?;
            // Top-level code gets the same heap allowance as a function call.
            shared.alloc.limit.set(shared.alloc.used.get().saturating_add(app.limits.memory_bytes));
            for entry in app.entries.iter().filter(|e| e.definition == scope.definition) {
                let name = app.modules[entry.record].name.as_str();
                let ns = match import_entry(&ctx, app, &control, &shared, name) {
                    Ok(ns) => ns,
                    Err(mut e) => {
                        // Console output of top-level code helps explain an import failure.
                        shared.abort.set(None);
                        let logs: Vec<String> = call_control(&ctx, &control, "end", ()).unwrap_or_default();
                        if !logs.is_empty() {
                            e.message.push_str("\nLogs at import time:\n");
                            e.message.push_str(&logs.join("\n"));
                        }
                        return Err(e);
                    }
                };
                call_control::<()>(&ctx, &control, "register", (entry.module.as_str(), ns))
                    .map_err(|e| js_load_error(&ctx, e))?;
            }
            let _: Vec<String> = call_control(&ctx, &control, "end", ()).map_err(|e| js_load_error(&ctx, e))?;
            Ok(Persistent::save(&ctx, control))
        });
        shared.alloc.limit.set(usize::MAX);
        // Handles kept by the rejection tracker must go before the runtime does.
        shared.unhandled.borrow_mut().clear();
        let control = loaded?;
        shared.deadline.set(None);
        shared.unhandled.borrow_mut().clear();
        runtime.run_gc();
        let baseline = shared.alloc.used.get();
        Ok(FunctionRealm { control, context, runtime, shared, baseline })
    }

    /// Resets per-execution state before a call of `kind`: generator seeded with `seed`,
    /// clock frozen at `now_ms`, no host (see [`Shared::set_host`]), `timeout` from now.
    pub(crate) fn reset_for(&mut self, kind: FunctionKind, seed: [u8; 32], now_ms: f64, timeout: Duration) {
        let s = &self.shared;
        *s.rng.borrow_mut() = ChaCha12Rng::from_seed(seed);
        s.now_ms.set(now_ms.floor());
        s.perf_now.set(0.0);
        s.perf_step.set(if kind == FunctionKind::Mutation { 0.001 } else { 0.0 });
        s.abort.set(None);
        s.alloc.oom.set(false);
        *s.fatal.borrow_mut() = None;
        s.clear_host();
        s.deadline.set(Some(s.clock.elapsed() + timeout));
    }

    /// Clears per-execution state after a call (the host pointers first).
    pub(crate) fn finish(&mut self) {
        let s = &self.shared;
        s.clear_host();
        s.action_host.borrow_mut().take();
        s.real_clock.set(None);
        s.dynamic_import.set(false);
        s.deadline.set(None);
        s.alloc.limit.set(usize::MAX);
        if s.abort.get().is_some() {
            // Let leftover jobs of the aborted call die under the abort flag, then clear it.
            self.context.with(|ctx| {
                let mut budget = 100_000;
                while budget > 0 && ctx.execute_pending_job() {
                    budget -= 1;
                }
            });
        }
        s.abort.set(None);
        s.alloc.oom.set(false);
        s.unhandled.borrow_mut().clear();
        let used = s.alloc.used.get();
        if used > self.baseline.saturating_add(8 << 20) {
            self.runtime.run_gc();
        }
    }
}

fn interrupt(shared: &Shared) -> bool {
    if shared.abort.get().is_some() {
        return true;
    }
    if shared.alloc.oom.get() {
        shared.abort.set(Some(Abort::OutOfMemory));
        return true;
    }
    if let Some(deadline) = shared.deadline.get()
        && shared.clock.elapsed() >= deadline
    {
        shared.abort.set(Some(Abort::Timeout));
        return true;
    }
    false
}

/// Module name of the prelude (shown in no stack: `stack.rs` drops its frames).
const PRELUDE_NAME: &str = "emvex:prelude";

/// Loads the prelude module (from the app's cached bytecode after the first time) and returns
/// its default export.
fn load_prelude<'js>(ctx: &Ctx<'js>, app: &App, shared: &Shared) -> rquickjs::Result<Function<'js>> {
    let module = match app.prelude_bytecode.get() {
        // SAFETY: produced by `Module::write` below in this process, with this QuickJS build.
        Some(bytes) => unsafe { Module::load(ctx.clone(), bytes)? },
        None => {
            let module = Module::declare(ctx.clone(), PRELUDE_NAME, PRELUDE)?;
            let _ = app.prelude_bytecode.set(module.write(WriteOptions::default())?);
            module
        }
    };
    let (module, promise) = module.eval()?;
    drain_jobs(ctx, shared);
    if promise.state() == PromiseState::Rejected {
        let _ = promise.result::<Value>();
        return Err(rquickjs::Error::Exception);
    }
    module.get("default")
}

/// Imports one entry module (and its graph) and returns its namespace.
fn import_entry<'js>(
    ctx: &Ctx<'js>,
    app: &App,
    control: &Object<'js>,
    shared: &Shared,
    name: &str,
) -> Result<Object<'js>, LoadError> {
    let imported = import_namespace(
        ctx,
        name,
        || drain_jobs(ctx, shared),
        || shared.alloc.oom.get() || shared.abort.get().is_some(),
    );
    imported.map_err(|failure| match failure {
        ImportFailure::Threw(reason) => import_error(ctx, app, control, name, reason),
        ImportFailure::Stopped => {
            let why = if shared.alloc.oom.get() || shared.abort.get() == Some(Abort::OutOfMemory) {
                format!(
                    "JavaScript execution ran out of memory (maximum memory usage: {} MB)",
                    app.limits.memory_bytes >> 20
                )
            } else {
                format!("top-level code ran longer than {IMPORT_TIMEOUT:?}")
            };
            LoadError::new("ImportFailed", format!("{}: {why}", display_name(name)))
        }
        ImportFailure::Engine(e) => js_load_error(ctx, e),
        ImportFailure::TopLevelAwait => top_level_await_error(name),
    })
}

/// What an entry's top-level code threw, described by the prelude and source-mapped.
fn import_error<'js>(ctx: &Ctx<'js>, app: &App, control: &Object<'js>, name: &str, reason: Value<'js>) -> LoadError {
    let err = describe_error(ctx, app, control, reason);
    import_failed_error(name, "importing", err.message.trim_start_matches("Uncaught "), err.stack.as_deref())
}

/// A failure of engine code run in the realm (the pending exception is described).
pub(crate) fn js_load_error(ctx: &Ctx<'_>, e: rquickjs::Error) -> LoadError {
    if matches!(e, rquickjs::Error::Exception) {
        let v = ctx.catch();
        let text = v
            .as_exception()
            .map(|x| format!("{}\n{}", x.message().unwrap_or_default(), x.stack().unwrap_or_default()))
            .unwrap_or_else(|| format!("{v:?}"));
        return LoadError::new("EngineError", format!("QuickJS exception: {text}"));
    }
    engine_error(e)
}
