//! One QuickJS runtime + context with one instance's modules loaded, and the invocation loop.
//!
//! Owns: the runtime/context lifetime, the native bindings behind the prelude's globals, the
//! module resolver/loader over the [`App`], analysis, and `invoke` (FIFO async syscalls with
//! microtask draining, error mapping, limits).
//! Invariants:
//! - The context is reused across invocations; per-execution state (seed, frozen time, log
//!   buffer, syscall queue, deadline, memory limit, host) is reset before each call and cleared
//!   after it, so nothing of one call's host is reachable in the next.
//! - Timeout, out-of-memory and fatal host errors are decided on the Rust side (interrupt
//!   handler + flags), so JS cannot swallow them; after an out-of-memory the runtime is rebuilt.
//! - The raw `Host` pointer is only set while `invoke` runs on this thread; an action's
//!   `ActionHost` only while that action runs on the runtime lent to it (see `action.rs`).
//! - The clock and randomness are frozen/seeded per call in queries and mutations, real in
//!   actions (`Shared::real_clock` is set only while an action runs).
//! - An isolate serves one [`Scope`] (the app, or one component instance): it evaluates only
//!   that definition's entries, with the scope's env as `process.env`, and so do the runtimes
//!   of its action pool.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;
use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::promise::PromiseState;
use rquickjs::{
    ArrayBuffer, Context, Ctx, Exception, Function, Module, Object, Persistent, Runtime, Value, WriteOptions,
};

use crate::action::ActionPool;
use crate::alloc::{AllocState, CountingAllocator};
use crate::app::EntryKind;
use crate::definitions::DefinitionId;
use crate::stack::{display_name, frame_location, map_stack};
use crate::{
    ActionHost, Analysis, AnalyzedFunction, App, FunctionKind, Host, HostError, Invocation, JsError, JsErrorKind,
    LoadError, Outcome, Visibility,
};

const PRELUDE: &str = include_str!("prelude.js");

/// Time allowed for module top-level code and for analysis.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The version of QuickJS compiled in (part of the bytecode cache key).
pub(crate) fn quickjs_version() -> String {
    // SAFETY: `JS_GetVersion` returns a pointer to a static NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(rquickjs::qjs::JS_GetVersion()) };
    v.to_string_lossy().into_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abort {
    Timeout,
    OutOfMemory,
    Fatal,
    StackOverflow,
}

/// State shared by the native bindings, the interrupt handler and `invoke`.
pub(crate) struct Shared {
    pub(crate) alloc: Rc<AllocState>,
    host: Cell<Option<*mut (dyn Host + 'static)>>,
    /// The host of the action running on this runtime, if any.
    pub(crate) action_host: RefCell<Option<Rc<dyn ActionHost>>>,
    /// Set while an action runs (its start): `Date`/`performance` then read the real clock.
    pub(crate) real_clock: Cell<Option<Instant>>,
    /// Set while an action runs: dynamic `import()` of the app's modules is allowed.
    pub(crate) dynamic_import: Rc<Cell<bool>>,
    pub(crate) rng: RefCell<ChaCha12Rng>,
    now_ms: Cell<f64>,
    perf_now: Cell<f64>,
    perf_step: Cell<f64>,
    pub(crate) deadline: Cell<Option<Instant>>,
    pub(crate) abort: Cell<Option<Abort>>,
    pub(crate) fatal: RefCell<Option<HostError>>,
    /// Promises rejected with no handler attached (identity, reason), in rejection order.
    pub(crate) unhandled: RefCell<Vec<(usize, Persistent<Value<'static>>)>>,
}

/// Identity of a JS object value (its heap pointer).
pub(crate) fn object_identity(v: &Value<'_>) -> usize {
    // SAFETY: reading the pointer bits of a live value; it is only compared, never dereferenced.
    unsafe { rquickjs::qjs::JS_VALUE_GET_PTR(v.as_raw()) as usize }
}

impl Shared {
    /// Host time does not count against the user's time budget.
    fn pause(&self, spent: Duration) {
        if let Some(d) = self.deadline.get() {
            self.deadline.set(Some(d + spent));
        }
    }

    fn set_fatal(&self, e: HostError) {
        let mut fatal = self.fatal.borrow_mut();
        if fatal.is_none() {
            *fatal = Some(e);
        }
        self.abort.set(Some(Abort::Fatal));
    }

    fn call_host<R>(&self, f: impl FnOnce(&mut dyn Host) -> R) -> Option<R> {
        let host = self.host.get()?;
        let t0 = Instant::now();
        // SAFETY: `host` is set by `Isolate::invoke` from a `&mut dyn Host` that outlives the
        // call, only for its duration, on this thread; it is cleared before `invoke` returns.
        // The host never re-enters the isolate, so there is no aliasing `&mut`.
        let r = f(unsafe { &mut *host });
        self.pause(t0.elapsed());
        Some(r)
    }
}

/// Resolves imports from the app's load-time graph. Dynamic `import()` (a specifier that is
/// not a static import of the importing module) is allowed only while an action runs, and
/// only to modules already in the graph (they are all loaded in every context).
struct AppResolver(Arc<App>, Rc<Cell<bool>>);

impl Resolver for AppResolver {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        let app = &self.0;
        if let Some(target) = app.resolve_static(base, name) {
            return Ok(target);
        }
        if self.1.get() {
            return resolve_dynamic(app, base, name).ok_or_else(|| {
                rquickjs::Error::new_resolving_message(
                    base,
                    name,
                    "dynamic import() in actions can only import modules that the app imports statically somewhere",
                )
            });
        }
        Err(rquickjs::Error::new_resolving_message(
            base,
            name,
            "dynamic import() is not supported in queries and mutations (only static imports resolved when the app was loaded can be imported)",
        ))
    }
}

/// Finds the module a dynamic `import(name)` from `base` means: a relative path next to
/// `base` (with the extensions and `index` files static imports allow), or a bare specifier
/// that some module of the app imports statically.
fn resolve_dynamic(app: &App, base: &str, name: &str) -> Option<String> {
    if !(name.starts_with("./") || name.starts_with("../")) {
        return app
            .modules
            .iter()
            .flat_map(|m| m.imports.iter())
            .find(|(spec, _)| spec == name)
            .map(|(_, target)| target.clone());
    }
    let mut parts: Vec<&str> = base.split('/').collect();
    parts.pop();
    for seg in name.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    let stem = joined.strip_suffix(".js").or_else(|| joined.strip_suffix(".mjs")).unwrap_or(&joined);
    let exts = ["", ".ts", ".tsx", ".js", ".mjs", ".jsx", ".mts"];
    let candidates = exts
        .iter()
        .map(|e| format!("{joined}{e}"))
        .chain(exts[1..].iter().map(|e| format!("{stem}{e}")))
        .chain(exts[1..].iter().map(|e| format!("{joined}/index{e}")));
    candidates.into_iter().find(|c| app.by_name.contains_key(c))
}

struct AppLoader(Arc<App>);

impl Loader for AppLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        let app = self.0.clone();
        let Some(&idx) = app.by_name.get(name) else {
            return Err(rquickjs::Error::new_loading(name));
        };
        let rec = &app.modules[idx];
        if let Some(bytes) = rec.bytecode.get() {
            // SAFETY: the bytes were produced by `Module::write` of this same QuickJS build:
            // either just now, or read from a cache entry whose key includes the engine and
            // QuickJS versions and whose framing was validated when read.
            return unsafe { Module::load(ctx.clone(), bytes) };
        }
        let module = Module::declare(ctx.clone(), name, rec.source.as_bytes())?;
        let bytes = module.write(WriteOptions::default())?;
        app.store_bytecode(idx, bytes);
        Ok(module)
    }
}

/// A loaded runtime + context. Field order matters: JS handles drop before the runtime.
pub(crate) struct Inner {
    pub(crate) control: Persistent<Object<'static>>,
    pub(crate) context: Context,
    runtime: Runtime,
    pub(crate) shared: Rc<Shared>,
    pub(crate) baseline: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Persistent handles held in `shared` must be released while the runtime is alive.
        self.shared.unhandled.borrow_mut().clear();
        self.shared.action_host.borrow_mut().take();
        self.runtime.set_host_promise_rejection_tracker(None);
        self.runtime.set_interrupt_handler(None);
    }
}

/// The instance an [`Isolate`] runs: a definition (`DefinitionId(0)` is the app) and the env
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

/// One QuickJS runtime + context with one instance's modules loaded (the app's, or a
/// component's: see [`Scope`]). Not `Send`: create and use it on one thread.
pub struct Isolate {
    inner: Option<Inner>,
    app: Arc<App>,
    scope: Rc<Scope>,
    /// Loaded runtimes lent to actions, one per in-flight action.
    actions: Rc<ActionPool>,
}

impl Isolate {
    /// Creates a runtime, installs the globals and evaluates every module of the app.
    pub fn new(app: Arc<App>) -> Result<Isolate, LoadError> {
        let scope = Scope::root(&app);
        Isolate::for_scope(app, scope)
    }

    /// Creates a runtime for one instance (see [`Scope`]): only the modules of
    /// `scope.definition` are evaluated, with `scope.env` as `process.env`. The scope must
    /// name a loaded, non-opaque definition of `app` (`unknown_definition` otherwise).
    pub fn for_scope(app: Arc<App>, scope: Scope) -> Result<Isolate, LoadError> {
        if scope.definition != DefinitionId(0) {
            match app.definitions().get(scope.definition.0) {
                Some(def) if def.opaque.is_none() => {}
                Some(def) => {
                    return Err(LoadError::new(
                        "unknown_definition",
                        format!("definition \"{}\" is native: it has no JavaScript modules", def.path),
                    ));
                }
                None => {
                    return Err(LoadError::new(
                        "unknown_definition",
                        format!("the app has no definition {}", scope.definition.0),
                    ));
                }
            }
        }
        let scope = Rc::new(scope);
        let inner = Inner::new(&app, &scope)?;
        let actions = Rc::new(ActionPool::new(app.clone(), scope.clone()));
        Ok(Isolate { inner: Some(inner), app, scope, actions })
    }

    /// The instance this isolate runs.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Runs one action to completion (its timers, fetches and syscalls), concurrently with
    /// other actions started on the same isolate: poll the future on this isolate's thread
    /// inside a tokio current-thread runtime or `LocalSet` (several may be polled at once, e.g.
    /// with `spawn_local`). Each in-flight action runs in its own loaded runtime + context,
    /// taken from a pool kept by the isolate (created on demand, reused afterwards). The
    /// future does not borrow the isolate; dropping it abandons the action (its runtime is
    /// then discarded, not reused). `invocation.rng_seed` and `now_ms` are ignored: actions
    /// see the real clock and real randomness.
    pub fn invoke_action(
        &self,
        invocation: Invocation,
        host: Rc<dyn ActionHost>,
    ) -> impl std::future::Future<Output = Outcome> + 'static {
        ActionPool::run(self.actions.clone(), invocation, host)
    }

    /// Runs one HTTP action like [`Isolate::invoke_action`] runs an action: the request is
    /// routed by the default export of `convex/http.ts` (`router.lookup(path, method)`) and
    /// the handler's `Response` is returned; an unrouted request gets Convex's 404
    /// (`No matching routes found`). `timeout` overrides [`crate::Limits::action_timeout`].
    pub fn invoke_http_action(
        &self,
        request: crate::HttpRequest,
        timeout: Option<Duration>,
        host: Rc<dyn ActionHost>,
    ) -> impl std::future::Future<Output = crate::HttpOutcome> + 'static {
        ActionPool::run_http(self.actions.clone(), request, timeout, host)
    }

    /// How many loaded runtimes wait in this isolate's action pool (for tests and metrics).
    pub fn idle_action_runtimes(&self) -> usize {
        self.actions.idle_count()
    }

    /// The app this isolate runs.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    fn inner(&mut self) -> Result<&mut Inner, LoadError> {
        if self.inner.is_none() {
            self.inner = Some(Inner::new(&self.app, &self.scope)?);
        }
        Ok(self.inner.as_mut().expect("inner was just set"))
    }

    /// Lists every registered function of every function module, and the schema.
    pub fn analyze(&mut self) -> Result<Analysis, LoadError> {
        let app = self.app.clone();
        let definition = self.scope.definition;
        let inner = self.inner()?;
        inner.reset_for(FunctionKind::Query, [0; 32], app.import_time_ms, None, IMPORT_TIMEOUT);
        let shared = inner.shared.clone();
        let control = inner.control.clone();
        let result = inner.context.with(|ctx| -> Result<Analysis, LoadError> {
            let control = control.restore(&ctx).map_err(engine_error)?;
            call_control::<()>(&ctx, &control, "begin", ("import",)).map_err(engine_error)?;
            let mut functions = Vec::new();
            let mut schema_json = None;
            let mut crons_json = None;
            for entry in app.entries.iter().filter(|e| e.definition == definition) {
                let rec = &app.modules[entry.record];
                match entry.kind {
                    EntryKind::Schema => {
                        let text: Option<String> = call_control(&ctx, &control, "schema", (entry.module.as_str(),))
                            .map_err(|e| analyze_error(&ctx, &app, &control, &entry.module, e))?;
                        schema_json = text;
                    }
                    EntryKind::Functions | EntryKind::Crons | EntryKind::Http => {
                        if entry.kind == EntryKind::Crons {
                            let text: Option<String> = call_control(&ctx, &control, "crons", (entry.module.as_str(),))
                                .map_err(|e| analyze_error(&ctx, &app, &control, &entry.module, e))?;
                            crons_json = text;
                        }
                        let text: String = call_control(&ctx, &control, "analyze", (entry.module.as_str(),))
                            .map_err(|e| analyze_error(&ctx, &app, &control, &entry.module, e))?;
                        let rows: Vec<(String, String, String, String, String)> = serde_json::from_str(&text)
                            .map_err(|e| LoadError::new("analyze_failed", format!("{}: {e}", rec.name)))?;
                        let mut found: Vec<AnalyzedFunction> = rows
                            .into_iter()
                            .map(|(name, kind, vis, args_json, returns_json)| AnalyzedFunction {
                                module: entry.module.clone(),
                                line: rec.export_lines.get(&name).copied(),
                                kind: FunctionKind::parse(&kind).unwrap_or(FunctionKind::Action),
                                visibility: Visibility::parse(&vis).unwrap_or(Visibility::Public),
                                name,
                                args_json,
                                returns_json,
                            })
                            .collect();
                        found.sort_by(|a, b| {
                            (a.line.unwrap_or(u32::MAX), &a.name).cmp(&(b.line.unwrap_or(u32::MAX), &b.name))
                        });
                        functions.extend(found);
                    }
                }
            }
            let _: Vec<String> = call_control(&ctx, &control, "end", ()).map_err(engine_error)?;
            Ok(Analysis { functions, schema_json, crons_json })
        });
        let aborted = shared.abort.get();
        inner.finish();
        if let Some(reason) = aborted {
            self.inner = None;
            return Err(LoadError::new("analyze_failed", format!("analysis was aborted: {reason:?}")));
        }
        result
    }

    /// Runs one query or mutation to completion against `host`.
    pub fn invoke(&mut self, invocation: &Invocation, host: &mut dyn Host) -> Outcome {
        if invocation.kind == FunctionKind::Action {
            return Outcome {
                result: Err(JsError::new(JsErrorKind::Internal, "actions run through Isolate::invoke_action")),
                log_lines: Vec::new(),
            };
        }
        let app = self.app.clone();
        let inner = match self.inner() {
            Ok(inner) => inner,
            Err(e) => {
                return Outcome {
                    result: Err(JsError::new(
                        JsErrorKind::Internal,
                        format!("could not rebuild the isolate: {}", e.message),
                    )),
                    log_lines: Vec::new(),
                };
            }
        };
        let timeout = invocation.timeout.unwrap_or(app.limits.user_timeout);
        let host_ptr: *mut (dyn Host + '_) = host;
        // SAFETY: only the lifetime is erased; `finish()` clears the pointer before this
        // function returns, so it is never used after `host`'s borrow ends.
        let host_ptr: *mut (dyn Host + 'static) = unsafe { std::mem::transmute(host_ptr) };
        inner.reset_for(invocation.kind, invocation.rng_seed, invocation.now_ms, Some(host_ptr), timeout);
        inner.shared.alloc.limit.set(inner.baseline.saturating_add(app.limits.memory_bytes));
        let shared = inner.shared.clone();
        // Clears the host pointer even if the host panics through us.
        let _guard = HostGuard(shared.clone());
        let control = inner.control.clone();
        let (result, log_lines) = inner.context.with(|ctx| {
            update_stack_top(&ctx);
            run_invocation(&ctx, &app, control, &shared, invocation)
        });
        let (oom, aborted) = abort_error(&app, &shared, timeout);
        inner.finish();
        let result = match aborted {
            Some(e) => Err(e),
            None => result,
        };
        if oom {
            // The heap may be fragmented or hold user garbage: start from a clean runtime.
            self.inner = None;
        }
        Outcome { result, log_lines }
    }
}

/// The error an abort decided on the Rust side ends the call with (`None`: no abort), and
/// whether the runtime ran out of memory (it must then be rebuilt). Takes the fatal host error.
pub(crate) fn abort_error(app: &App, shared: &Shared, timeout: Duration) -> (bool, Option<JsError>) {
    let oom = shared.alloc.oom.get() || shared.abort.get() == Some(Abort::OutOfMemory);
    let fatal = shared.fatal.borrow_mut().take();
    let error = match (oom, shared.abort.get()) {
        (true, _) => Some(JsError::new(
            JsErrorKind::OutOfMemory,
            format!(
                "JavaScript execution ran out of memory (maximum memory usage: {} MB)",
                app.limits.memory_bytes >> 20
            ),
        )),
        (false, Some(Abort::Timeout)) => Some(JsError::new(
            JsErrorKind::Timeout,
            format!("Function execution timed out (maximum duration: {timeout:?})"),
        )),
        (false, Some(Abort::StackOverflow)) => {
            Some(JsError::new(JsErrorKind::StackOverflow, "Uncaught RangeError: Maximum call stack size exceeded"))
        }
        (false, Some(Abort::Fatal)) => {
            let message = fatal.map(|f| f.message).unwrap_or_else(|| "host error".into());
            Some(JsError::new(JsErrorKind::HostFatal, message))
        }
        // `oom` already covers an out-of-memory abort.
        (false, None | Some(Abort::OutOfMemory)) => None,
    };
    (oom, error)
}

impl Inner {
    pub(crate) fn new(app: &Arc<App>, scope: &Scope) -> Result<Inner, LoadError> {
        let alloc = AllocState::new();
        let runtime = Runtime::new_with_alloc(CountingAllocator::new(alloc.clone())).map_err(engine_error)?;
        runtime.set_max_stack_size(app.limits.max_stack_bytes);
        let dynamic_import = Rc::new(Cell::new(false));
        runtime.set_loader(AppResolver(app.clone(), dynamic_import.clone()), AppLoader(app.clone()));
        let shared = Rc::new(Shared {
            dynamic_import,
            alloc,
            host: Cell::new(None),
            action_host: RefCell::new(None),
            real_clock: Cell::new(None),
            rng: RefCell::new(ChaCha12Rng::from_seed(app.import_seed)),
            now_ms: Cell::new(app.import_time_ms),
            perf_now: Cell::new(0.0),
            perf_step: Cell::new(0.0),
            deadline: Cell::new(Some(Instant::now() + IMPORT_TIMEOUT)),
            abort: Cell::new(None),
            fatal: RefCell::new(None),
            unhandled: RefCell::new(Vec::new()),
        });
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
            let env = serde_json::to_string(&scope.env).map_err(|e| LoadError::new("engine_error", e.to_string()))?;
            call_control::<()>(&ctx, &control, "setEnv", (env,)).map_err(|e| js_load_error(&ctx, e))?;
            call_control::<()>(&ctx, &control, "begin", ("import",)).map_err(|e| js_load_error(&ctx, e))?;
            // Top-level code gets the same heap allowance as a function call.
            shared.alloc.limit.set(shared.alloc.used.get().saturating_add(app.limits.memory_bytes));
            for entry in app.entries.iter().filter(|e| e.definition == scope.definition) {
                let name = app.modules[entry.record].name.as_str();
                let ns = match import_module(&ctx, app, &control, &shared, name) {
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
        Ok(Inner { control, context, runtime, shared, baseline })
    }

    pub(crate) fn reset_for(
        &mut self,
        kind: FunctionKind,
        seed: [u8; 32],
        now_ms: f64,
        host: Option<*mut (dyn Host + 'static)>,
        timeout: Duration,
    ) {
        let s = &self.shared;
        *s.rng.borrow_mut() = ChaCha12Rng::from_seed(seed);
        s.now_ms.set(now_ms.floor());
        s.perf_now.set(0.0);
        s.perf_step.set(if kind == FunctionKind::Mutation { 0.001 } else { 0.0 });
        s.abort.set(None);
        s.alloc.oom.set(false);
        *s.fatal.borrow_mut() = None;
        s.host.set(host);
        s.deadline.set(Some(Instant::now() + timeout));
    }

    /// Clears per-execution state after a call (the host pointers first).
    pub(crate) fn finish(&mut self) {
        let s = &self.shared;
        s.host.set(None);
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

/// Clears the per-call host pointer, deadline and memory limit when dropped.
struct HostGuard(Rc<Shared>);

impl Drop for HostGuard {
    fn drop(&mut self) {
        self.0.host.set(None);
        self.0.deadline.set(None);
        self.0.alloc.limit.set(usize::MAX);
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
        && Instant::now() >= deadline
    {
        shared.abort.set(Some(Abort::Timeout));
        return true;
    }
    false
}

pub(crate) fn update_stack_top(ctx: &Ctx<'_>) {
    // SAFETY: `ctx` is a live context; `JS_UpdateStackTop` only records the current native
    // stack position of its runtime so the stack limit is measured from here.
    unsafe { rquickjs::qjs::JS_UpdateStackTop(rquickjs::qjs::JS_GetRuntime(ctx.as_raw().as_ptr())) };
}

/// The native bindings the prelude builds the globals on.
fn install_native<'js>(ctx: &Ctx<'js>, shared: Rc<Shared>, app: Arc<App>) -> rquickjs::Result<Object<'js>> {
    let native = Object::new(ctx.clone())?;
    native.set("mapStack", Function::new(ctx.clone(), move |stack: String| -> String { map_stack(&app, &stack) })?)?;
    let s = shared.clone();
    native.set(
        "syscall",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, op: String, args: String| -> rquickjs::Result<String> {
            if s.abort.get().is_some() {
                return Err(Exception::throw_internal(&ctx, "execution aborted"));
            }
            let action_host = s.action_host.borrow().clone();
            if let Some(host) = action_host {
                // In actions every syscall error is catchable (the action's clock runs on).
                return host.syscall(&op, &args).map_err(|e| Exception::throw_message(&ctx, &e.message));
            }
            match s.call_host(|h| h.syscall(&op, &args)) {
                None => Err(Exception::throw_message(
                    &ctx,
                    "Convex syscalls are only available while a Convex function runs",
                )),
                Some(Ok(text)) => Ok(text),
                Some(Err(e)) if e.is_internal() => {
                    let msg = e.message.clone();
                    s.set_fatal(e);
                    Err(Exception::throw_internal(&ctx, &msg))
                }
                Some(Err(e)) => Err(Exception::throw_message(&ctx, &e.message)),
            }
        })?,
    )?;
    let s = shared.clone();
    native.set(
        "checkCaught",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, stack_overflow: bool| -> rquickjs::Result<()> {
            if stack_overflow && s.abort.get().is_none() {
                s.abort.set(Some(Abort::StackOverflow));
            }
            if s.abort.get().is_none() && !s.alloc.oom.get() {
                return Ok(());
            }
            // An engine-fatal condition was caught by user code: rethrow it uncatchably.
            let err = Exception::from_message(ctx.clone(), "execution aborted")?;
            // SAFETY: `err` is a live Error object of this context; the call only sets its
            // "uncatchable" flag.
            unsafe { rquickjs::qjs::JS_SetUncatchableError(ctx.as_raw().as_ptr(), err.as_raw()) };
            Err(err.throw())
        })?,
    )?;
    // `crypto.subtle`: the prelude validates names and arguments; errors here are TypeErrors.
    native.set(
        "digest",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, name: String, data: ArrayBuffer<'js>| -> rquickjs::Result<ArrayBuffer<'js>> {
                let hash = crate::subtle::Hash::parse(&name)
                    .ok_or_else(|| Exception::throw_type(&ctx, &format!("unsupported hash {name}")))?;
                // SAFETY: the buffer is a fresh copy made by the prelude; no JS runs while it is read.
                let bytes = unsafe { data.as_bytes() }.unwrap_or(&[]).to_vec();
                ArrayBuffer::new(ctx, hash.digest(&[&bytes]))
            },
        )?,
    )?;
    native.set(
        "hmac",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             name: String,
             key: ArrayBuffer<'js>,
             data: ArrayBuffer<'js>|
             -> rquickjs::Result<ArrayBuffer<'js>> {
                let hash = crate::subtle::Hash::parse(&name)
                    .ok_or_else(|| Exception::throw_type(&ctx, &format!("unsupported hash {name}")))?;
                // SAFETY: both buffers are fresh copies made by the prelude; no JS runs meanwhile.
                let (key, data) =
                    unsafe { (key.as_bytes().unwrap_or(&[]).to_vec(), data.as_bytes().unwrap_or(&[]).to_vec()) };
                ArrayBuffer::new(ctx, hash.hmac(&key, &data))
            },
        )?,
    )?;
    let s = shared.clone();
    native.set("random", Function::new(ctx.clone(), move || -> f64 { s.rng.borrow_mut().random::<f64>() })?)?;
    let s = shared.clone();
    native.set(
        "randomBytes",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, n: usize| -> rquickjs::Result<ArrayBuffer<'js>> {
            let mut bytes = vec![0u8; n.min(65536)];
            s.rng.borrow_mut().fill(&mut bytes[..]);
            ArrayBuffer::new(ctx, bytes)
        })?,
    )?;
    let s = shared.clone();
    native.set(
        "now",
        Function::new(ctx.clone(), move || -> f64 {
            if s.real_clock.get().is_some() { wall_clock_ms() } else { s.now_ms.get() }
        })?,
    )?;
    // Real time, for console.time durations only (as Convex does).
    native.set("wallNow", Function::new(ctx.clone(), || -> f64 { wall_clock_ms() })?)?;
    let s = shared;
    native.set(
        "perfNow",
        Function::new(ctx.clone(), move || -> f64 {
            if let Some(start) = s.real_clock.get() {
                return start.elapsed().as_secs_f64() * 1000.0;
            }
            let v = s.perf_now.get() + s.perf_step.get();
            s.perf_now.set(v);
            v
        })?,
    )?;
    Ok(native)
}

/// Milliseconds since the epoch on the real clock (whole milliseconds, as `Date.now()`).
fn wall_clock_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as f64).unwrap_or(0.0)
}

pub(crate) fn call_control<'js, R: rquickjs::FromJs<'js>>(
    _ctx: &Ctx<'js>,
    control: &Object<'js>,
    name: &str,
    args: impl rquickjs::function::IntoArgs<'js>,
) -> rquickjs::Result<R> {
    let f: Function = control.get(name)?;
    f.call(args)
}

/// Module name of the prelude (shown in no stack: `stack.rs` drops its frames).
pub(crate) const PRELUDE_NAME: &str = "emvex:prelude";

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

/// Runs queued jobs until none is left or the execution is aborted.
pub(crate) fn drain_jobs(ctx: &Ctx<'_>, shared: &Shared) {
    while shared.abort.get().is_none() && ctx.execute_pending_job() {}
}

/// Imports one module (and its graph) and returns its namespace.
fn import_module<'js>(
    ctx: &Ctx<'js>,
    app: &App,
    control: &Object<'js>,
    shared: &Shared,
    name: &str,
) -> Result<Object<'js>, LoadError> {
    let promise = Module::import(ctx, name).map_err(|e| {
        let reason = ctx.catch();
        let _ = e;
        import_error(ctx, app, control, name, reason)
    })?;
    drain_jobs(ctx, shared);
    if shared.alloc.oom.get() || shared.abort.get().is_some() {
        let why = if shared.alloc.oom.get() || shared.abort.get() == Some(Abort::OutOfMemory) {
            format!(
                "JavaScript execution ran out of memory (maximum memory usage: {} MB)",
                app.limits.memory_bytes >> 20
            )
        } else {
            format!("top-level code ran longer than {IMPORT_TIMEOUT:?}")
        };
        return Err(LoadError::new("import_failed", format!("{}: {why}", display_name(name))));
    }
    match promise.state() {
        PromiseState::Resolved => {
            promise.result::<Object>().expect("promise is settled").map_err(|e| js_load_error(ctx, e))
        }
        PromiseState::Rejected => {
            let _ = promise.result::<Value>();
            let reason = ctx.catch();
            Err(import_error(ctx, app, control, name, reason))
        }
        PromiseState::Pending => {
            Err(LoadError::new("top_level_await", format!("{name}: Top-level awaits in source files are unsupported")))
        }
    }
}

fn import_error<'js>(ctx: &Ctx<'js>, app: &App, control: &Object<'js>, name: &str, reason: Value<'js>) -> LoadError {
    let err = describe_error(ctx, app, control, reason);
    // Name the first frame inside the app (the original file and line).
    let location =
        err.stack.as_deref().and_then(|s| s.lines().find_map(frame_location)).unwrap_or_else(|| name.to_string());
    let mut message = format!("{location}: {}", err.message.trim_start_matches("Uncaught "));
    if !location.starts_with(name) {
        message.push_str(&format!(" (while importing {name})"));
    }
    if let Some(stack) = &err.stack {
        message.push('\n');
        message.push_str(stack);
    }
    LoadError::new("import_failed", message)
}

fn analyze_error<'js>(ctx: &Ctx<'js>, app: &App, control: &Object<'js>, module: &str, e: rquickjs::Error) -> LoadError {
    if !matches!(e, rquickjs::Error::Exception) {
        return LoadError::new("analyze_failed", format!("Failed to analyze {module}: {e}"));
    }
    let err = describe_error(ctx, app, control, ctx.catch());
    let mut message = format!("Failed to analyze {module}: {}", err.message);
    if let Some(stack) = err.stack {
        message.push('\n');
        message.push_str(&stack);
    }
    LoadError::new("analyze_failed", message)
}

fn engine_error(e: rquickjs::Error) -> LoadError {
    LoadError::new("engine_error", format!("QuickJS: {e}"))
}

fn js_load_error(ctx: &Ctx<'_>, e: rquickjs::Error) -> LoadError {
    if matches!(e, rquickjs::Error::Exception) {
        let v = ctx.catch();
        let text = v
            .as_exception()
            .map(|x| format!("{}\n{}", x.message().unwrap_or_default(), x.stack().unwrap_or_default()))
            .unwrap_or_else(|| format!("{v:?}"));
        return LoadError::new("engine_error", format!("QuickJS exception: {text}"));
    }
    engine_error(e)
}

/// Turns a thrown/rejected JS value into a [`JsError`] (message, mapped stack, ConvexError data).
pub(crate) fn describe_error<'js>(ctx: &Ctx<'js>, app: &App, control: &Object<'js>, reason: Value<'js>) -> JsError {
    let info: rquickjs::Result<rquickjs::Array> = call_control(ctx, control, "errorInfo", (reason,));
    let info = info
        .and_then(|a| Ok((a.get::<String>(0)?, a.get::<String>(1)?, a.get::<String>(2)?, a.get::<Option<String>>(3)?)));
    let (kind, message, stack, data) = match info {
        Ok(v) => v,
        Err(_) => {
            let _ = ctx.catch();
            return JsError::new(JsErrorKind::Uncaught, "Uncaught exception (could not be described)");
        }
    };
    let stack = if stack.trim().is_empty() { None } else { Some(map_stack(app, &stack)) };
    if kind == "convex" {
        let text = data.unwrap_or_else(|| "null".into());
        return match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(data) => JsError { kind: JsErrorKind::ConvexError, message, stack, data: Some(data) },
            Err(_) => JsError {
                kind: JsErrorKind::Uncaught,
                message: format!("ConvexError with invalid data: {text}"),
                stack,
                data: None,
            },
        };
    }
    let kind = if message.ends_with("Maximum call stack size exceeded") {
        JsErrorKind::StackOverflow
    } else {
        JsErrorKind::Uncaught
    };
    JsError { kind, message, stack, data: None }
}

/// The body of `invoke`, inside the context.
fn run_invocation<'js>(
    ctx: &Ctx<'js>,
    app: &App,
    control: Persistent<Object<'static>>,
    shared: &Shared,
    inv: &Invocation,
) -> (Result<String, JsError>, Vec<String>) {
    let control = match control.restore(ctx) {
        Ok(c) => c,
        Err(e) => return (Err(JsError::new(JsErrorKind::Internal, e.to_string())), Vec::new()),
    };
    let result = run_loop(ctx, app, &control, shared, inv);
    (result, end_call(ctx, &control, shared))
}

/// Ends a call on the JS side and returns its log lines. Runs even after an abort: `end` is
/// engine code, so it runs unthrottled and the abort/out-of-memory flags are restored after.
pub(crate) fn end_call<'js>(ctx: &Ctx<'js>, control: &Object<'js>, shared: &Shared) -> Vec<String> {
    let saved_abort = shared.abort.take();
    let saved_oom = shared.alloc.oom.replace(false);
    let logs: Vec<String> = call_control(ctx, control, "end", ()).unwrap_or_else(|_| {
        let _ = ctx.catch();
        Vec::new()
    });
    shared.abort.set(saved_abort);
    shared.alloc.oom.set(saved_oom || shared.alloc.oom.get());
    logs
}

/// An unexpected engine failure (the pending exception, if any, is cleared).
pub(crate) fn internal_error(ctx: &Ctx<'_>, e: rquickjs::Error) -> JsError {
    let _ = ctx.catch();
    JsError::new(JsErrorKind::Internal, format!("engine error: {e}"))
}

/// Whether an abort decided on the Rust side (limit hit, fatal host error) ends the call.
pub(crate) fn aborted(shared: &Shared) -> bool {
    shared.abort.get().is_some() || shared.alloc.oom.get()
}

/// The reason of the first promise rejected without a handler, other than `main`'s.
pub(crate) fn first_unhandled<'js>(
    ctx: &Ctx<'js>,
    shared: &Shared,
    main: &Value<'js>,
) -> Option<rquickjs::Result<Value<'js>>> {
    let reason = {
        let list = shared.unhandled.borrow();
        list.iter().find(|(p, _)| *p != object_identity(main)).map(|(_, r)| r.clone())
    };
    reason.map(|r| r.restore(ctx))
}

/// `control.begin(kind)` then `control.start(...)`: the promise of the function's result.
#[allow(clippy::result_large_err)]
pub(crate) fn start_call<'js>(
    ctx: &Ctx<'js>,
    app: &App,
    control: &Object<'js>,
    shared: &Shared,
    inv: &Invocation,
) -> Result<rquickjs::Promise<'js>, JsError> {
    let internal = |e: rquickjs::Error| internal_error(ctx, e);
    call_control::<()>(ctx, control, "begin", (inv.kind.as_str(),)).map_err(internal)?;
    let started: rquickjs::Result<Value> = call_control(
        ctx,
        control,
        "start",
        (inv.kind.as_str(), inv.module.as_str(), inv.name.as_str(), inv.args_json.as_str()),
    );
    started_promise(ctx, app, control, shared, started)
}

/// The promise a `control.start*` call returned; a string it returned instead is an engine-side
/// refusal (unknown function, wrong kind, ...), a throw is described as the call's error.
#[allow(clippy::result_large_err)]
pub(crate) fn started_promise<'js>(
    ctx: &Ctx<'js>,
    app: &App,
    control: &Object<'js>,
    shared: &Shared,
    started: rquickjs::Result<Value<'js>>,
) -> Result<rquickjs::Promise<'js>, JsError> {
    let started = match started {
        Ok(v) => v,
        Err(rquickjs::Error::Exception) => {
            let reason = ctx.catch();
            if aborted(shared) {
                return Err(JsError::new(JsErrorKind::Internal, "aborted"));
            }
            return Err(describe_error(ctx, app, control, reason));
        }
        Err(e) => return Err(internal_error(ctx, e)),
    };
    if let Some(text) = started.as_string() {
        let text = text.to_string().unwrap_or_default();
        return Err(JsError::new(JsErrorKind::Internal, text));
    }
    started.into_promise().ok_or_else(|| JsError::new(JsErrorKind::Internal, "invoke did not return a promise"))
}

#[allow(clippy::result_large_err)]
fn run_loop<'js>(
    ctx: &Ctx<'js>,
    app: &App,
    control: &Object<'js>,
    shared: &Shared,
    inv: &Invocation,
) -> Result<String, JsError> {
    let internal = |e: rquickjs::Error| internal_error(ctx, e);
    let promise = start_call(ctx, app, control, shared, inv)?;
    let next: Function = control.get("next").map_err(internal)?;
    let resolve: Function = control.get("resolveCurrent").map_err(internal)?;
    let reject: Function = control.get("rejectCurrent").map_err(internal)?;
    loop {
        drain_jobs(ctx, shared);
        if aborted(shared) {
            return Err(JsError::new(JsErrorKind::Internal, "aborted"));
        }
        if promise.state() == PromiseState::Rejected {
            let _ = promise.result::<Value>();
            return Err(describe_error(ctx, app, control, ctx.catch()));
        }
        // An unhandled rejection anywhere ends the execution with that error.
        if let Some(reason) = first_unhandled(ctx, shared, promise.as_value()) {
            let reason = reason.map_err(internal)?;
            return Err(describe_error(ctx, app, control, reason));
        }
        let item: Option<(String, String)> = match next.call::<_, Value>(()) {
            Ok(v) if v.is_undefined() => None,
            Ok(v) => {
                let arr = v.into_array().ok_or_else(|| JsError::new(JsErrorKind::Internal, "bad queue item"))?;
                let op: String = arr.get(0).map_err(internal)?;
                let args: String = arr.get(1).map_err(internal)?;
                Some((op, args))
            }
            Err(e) => return Err(internal(e)),
        };
        let Some((op, args)) = item else {
            return match promise.state() {
                PromiseState::Resolved => promise
                    .result::<String>()
                    .expect("promise is settled")
                    .map_err(|e| JsError::new(JsErrorKind::Internal, format!("invoke result: {e}"))),
                PromiseState::Rejected => {
                    let _ = promise.result::<Value>();
                    Err(describe_error(ctx, app, control, ctx.catch()))
                }
                PromiseState::Pending => {
                    Err(JsError::new(JsErrorKind::Uncaught, "Returned promise will never resolve"))
                }
            };
        };
        let answer =
            shared.call_host(|h| h.async_syscall(&op, &args)).unwrap_or_else(|| Err(HostError::internal("no host")));
        let settled = match answer {
            Ok(text) => resolve.call::<_, ()>((text,)),
            Err(e) if e.is_internal() => {
                let message = e.message.clone();
                shared.set_fatal(e);
                return Err(JsError::new(JsErrorKind::HostFatal, message));
            }
            Err(e) => {
                let data = e.data.as_ref().map(|d| d.to_string());
                reject.call::<_, ()>((e.message, data))
            }
        };
        settled.map_err(internal)?;
    }
}
