//! The isolate: what a worker thread holds to run one instance's functions.
//!
//! Owns: [`Isolate`] — one [`FunctionRealm`] for queries, mutations and analysis, plus the
//! pool of realms lent to actions (`action.rs`) — and the entry points `analyze`, `invoke`,
//! `invoke_action` and `invoke_http_action`.
//! Invariants:
//! - An isolate serves one [`Scope`] (the app, or one component instance), and so do the
//!   realms of its action pool.
//! - An isolate is not re-entrant and not `Send`: a nested call made while a host answers a
//!   syscall runs in another isolate on the same thread.
//! - The `Host` of `invoke` is reachable from JS only while `invoke` runs (a guard clears it,
//!   also on a panic); after an out-of-memory, or an aborted analysis, the realm is dropped
//!   and rebuilt on next use.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rquickjs::{Ctx, Object};

use crate::action::ActionPool;
use crate::app::EntryKind;
use crate::calls::{abort_error, call_control, describe_error, run_invocation};
use crate::definitions::DefinitionId;
use crate::function_realm::FunctionRealm;
pub use crate::function_realm::Scope;
use crate::loader::{IMPORT_TIMEOUT, engine_error};
use crate::quickjs_ffi::update_stack_top;
use crate::shared::HostGuard;
use crate::{
    ActionHost, Analysis, AnalyzedFunction, App, FunctionKind, Host, Invocation, JsError, JsErrorKind, LoadError,
    Outcome, Visibility,
};

/// One QuickJS runtime + context with one instance's modules loaded (the app's, or a
/// component's: see [`Scope`]). Not `Send`: create and use it on one thread.
pub struct Isolate {
    realm: Option<FunctionRealm>,
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
        let realm = FunctionRealm::new(&app, &scope)?;
        let actions = Rc::new(ActionPool::new(app.clone(), scope.clone()));
        Ok(Isolate { realm: Some(realm), app, scope, actions })
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

    /// The realm of queries and mutations, rebuilt if an out-of-memory dropped it.
    fn realm(&mut self) -> Result<&mut FunctionRealm, LoadError> {
        if self.realm.is_none() {
            self.realm = Some(FunctionRealm::new(&self.app, &self.scope)?);
        }
        Ok(self.realm.as_mut().expect("the realm was just set"))
    }

    /// Lists every registered function of every function module, and the schema.
    pub fn analyze(&mut self) -> Result<Analysis, LoadError> {
        let app = self.app.clone();
        let definition = self.scope.definition;
        let realm = self.realm()?;
        realm.reset_for(FunctionKind::Query, [0; 32], app.import_time_ms, IMPORT_TIMEOUT);
        let shared = realm.shared.clone();
        let control = realm.control.clone();
        let result = realm.context.with(|ctx| -> Result<Analysis, LoadError> {
            let control = control.restore(&ctx).map_err(engine_error)?;
            call_control::<()>(&ctx, &control, "begin", ("import",)).map_err(engine_error)?;
            let mut functions = Vec::new();
            let mut schema_json = None;
            let mut crons_json = None;
            let mut auth_config_json = None;
            for entry in app.entries.iter().filter(|e| e.definition == definition) {
                let rec = &app.modules[entry.record];
                match entry.kind {
                    EntryKind::Schema => {
                        let text: Option<String> = call_control(&ctx, &control, "schema", (entry.module.as_str(),))
                            .map_err(|e| analyze_error(&ctx, &app, &control, &entry.module, e))?;
                        schema_json = text;
                    }
                    EntryKind::AuthConfig => {
                        let text: Option<String> = call_control(&ctx, &control, "authConfig", (entry.module.as_str(),))
                            .map_err(|e| analyze_error(&ctx, &app, &control, &entry.module, e))?;
                        auth_config_json = text;
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
                            .map_err(|e| LoadError::new("AnalyzeFailed", format!("{}: {e}", rec.name)))?;
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
            Ok(Analysis { functions, schema_json, crons_json, auth_config_json })
        });
        let aborted = shared.abort.get();
        realm.finish();
        if let Some(reason) = aborted {
            self.realm = None;
            return Err(LoadError::new("AnalyzeFailed", format!("analysis was aborted: {reason:?}")));
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
        let realm = match self.realm() {
            Ok(realm) => realm,
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
        realm.reset_for(invocation.kind, invocation.rng_seed, invocation.now_ms, timeout);
        realm.shared.alloc.limit.set(realm.baseline.saturating_add(app.limits.memory_bytes));
        let shared = realm.shared.clone();
        let host_ptr: *mut (dyn Host + '_) = host;
        // SAFETY: only the lifetime is erased; the guard below clears the pointer before this
        // function returns (also on a panic), so it is never used after `host`'s borrow ends,
        // and nothing else uses `host` meanwhile (it is borrowed mutably for this call).
        unsafe { shared.set_host(std::mem::transmute::<*mut (dyn Host + '_), *mut (dyn Host + 'static)>(host_ptr)) };
        // Clears the host pointer even if the host panics through us.
        let _guard = HostGuard(shared.clone());
        let control = realm.control.clone();
        let (result, log_lines) = realm.context.with(|ctx| {
            update_stack_top(&ctx);
            run_invocation(&ctx, &app, control, &shared, invocation)
        });
        let (oom, aborted) = abort_error(&app, &shared, timeout);
        realm.finish();
        let result = match aborted {
            Some(e) => Err(e),
            None => result,
        };
        if oom {
            // The heap may be fragmented or hold user garbage: start from a clean runtime.
            self.realm = None;
        }
        Outcome { result, log_lines }
    }
}

fn analyze_error<'js>(ctx: &Ctx<'js>, app: &App, control: &Object<'js>, module: &str, e: rquickjs::Error) -> LoadError {
    if !matches!(e, rquickjs::Error::Exception) {
        return LoadError::new("AnalyzeFailed", format!("Failed to analyze {module}: {e}"));
    }
    let err = describe_error(ctx, app, control, ctx.catch());
    let mut message = format!("Failed to analyze {module}: {}", err.message);
    if let Some(stack) = err.stack {
        message.push('\n');
        message.push_str(&stack);
    }
    LoadError::new("AnalyzeFailed", message)
}
