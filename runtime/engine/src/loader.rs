//! The module loader of every realm: how a QuickJS runtime finds, compiles and imports the
//! modules of an [`App`]'s graph.
//!
//! Owns: [`ModuleLoader`] (the resolver and loader installed in the function realms and in the
//! definition realm), its optional [`SyntheticModules`] (modules that exist only in one realm,
//! standing in for some imports of the graph), the policy for dynamic `import()`, importing
//! one module graph to its namespace ([`import_namespace`]), and the `LoadError`s every realm
//! words the same way.
//! Invariants:
//! - A name resolves to, in this order: the synthetic module replacing that import, the static
//!   import the importing module declared at load time, a module of the graph named as is;
//!   then, only while the realm allows dynamic imports (an action runs), a relative path or a
//!   bare specifier some module of the app imports statically. Nothing outside the load-time
//!   graph (and the synthetic modules) is ever loaded.
//! - A module is compiled at most once per app: its bytecode is stored in the [`App`] (and in
//!   the disk cache) by the first realm that compiles it; every later load reads the bytecode.
//!   Synthetic modules are compiled from source in each realm and never cached.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::promise::PromiseState;
use rquickjs::{Ctx, Module, Object, Runtime, Value, WriteOptions};

use crate::stack::frame_location;
use crate::{App, LoadError};

/// Time allowed for the top-level code of a realm's modules (any realm), and for analysis.
pub(crate) const IMPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Modules that exist in one realm only, each standing in for some imports of the graph.
#[derive(Debug, Default)]
pub(crate) struct SyntheticModules {
    /// (importing module, specifier) → synthetic module name.
    pub(crate) replaced: HashMap<(String, String), String>,
    /// Synthetic module name → its source.
    pub(crate) sources: HashMap<String, String>,
}

/// The resolver and loader of one realm over the app's load-time graph.
#[derive(Clone)]
pub(crate) struct ModuleLoader {
    app: Arc<App>,
    synthetic: Rc<SyntheticModules>,
    /// Whether dynamic `import()` of the app's modules is allowed right now.
    dynamic_import: Rc<Cell<bool>>,
    /// Why a dynamic `import()` is refused while it is not allowed.
    refusal: &'static str,
}

impl ModuleLoader {
    /// The loader of a function realm: dynamic `import()` only while `dynamic_import` is set.
    pub(crate) fn function_realm(app: Arc<App>, dynamic_import: Rc<Cell<bool>>) -> ModuleLoader {
        ModuleLoader {
            app,
            synthetic: Rc::default(),
            dynamic_import,
            refusal: "dynamic import() is not supported in queries and mutations (only static imports resolved when the app was loaded can be imported)",
        }
    }

    /// The loader of a definition realm: the graph with `synthetic` modules, never dynamic
    /// `import()`.
    pub(crate) fn definition_realm(app: Arc<App>, synthetic: SyntheticModules) -> ModuleLoader {
        ModuleLoader {
            app,
            synthetic: Rc::new(synthetic),
            dynamic_import: Rc::new(Cell::new(false)),
            refusal: "dynamic import() is not supported while evaluating app definition",
        }
    }

    /// Makes this the module resolver and loader of `runtime`.
    pub(crate) fn install(self, runtime: &Runtime) {
        runtime.set_loader(self.clone(), self);
    }
}

impl Resolver for ModuleLoader {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        if !self.synthetic.replaced.is_empty()
            && let Some(synthetic) = self.synthetic.replaced.get(&(base.to_string(), name.to_string()))
        {
            return Ok(synthetic.clone());
        }
        let app = &self.app;
        if let Some(target) = app.resolve_static(base, name) {
            return Ok(target);
        }
        if self.dynamic_import.get() {
            return resolve_dynamic(app, base, name).ok_or_else(|| {
                rquickjs::Error::new_resolving_message(
                    base,
                    name,
                    "dynamic import() in actions can only import modules that the app imports statically somewhere",
                )
            });
        }
        Err(rquickjs::Error::new_resolving_message(base, name, self.refusal))
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

impl Loader for ModuleLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        if let Some(source) = self.synthetic.sources.get(name) {
            return Module::declare(ctx.clone(), name, source.as_bytes());
        }
        let app = &self.app;
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

/// Why [`import_namespace`] did not give a namespace; the realm words it.
pub(crate) enum ImportFailure<'js> {
    /// Linking or top-level code threw: the thrown value.
    Threw(Value<'js>),
    /// The realm stopped the import (its time or memory limit).
    Stopped,
    /// The evaluated module's namespace could not be read.
    Engine(rquickjs::Error),
    /// Top-level code awaited something that never settled.
    TopLevelAwait,
}

/// Imports module `name` (and its graph) and returns its namespace. `run_jobs` runs the
/// realm's pending jobs after the import started; `stopped` says, after them, whether the
/// realm stopped the evaluation (which then wins over what JS did).
pub(crate) fn import_namespace<'js>(
    ctx: &Ctx<'js>,
    name: &str,
    run_jobs: impl FnOnce(),
    stopped: impl FnOnce() -> bool,
) -> Result<Object<'js>, ImportFailure<'js>> {
    let promise = Module::import(ctx, name).map_err(|_| ImportFailure::Threw(ctx.catch()))?;
    run_jobs();
    if stopped() {
        return Err(ImportFailure::Stopped);
    }
    match promise.state() {
        PromiseState::Resolved => {
            promise.result::<Object>().expect("promise is settled").map_err(ImportFailure::Engine)
        }
        PromiseState::Rejected => {
            let _ = promise.result::<Value>();
            Err(ImportFailure::Threw(ctx.catch()))
        }
        PromiseState::Pending => Err(ImportFailure::TopLevelAwait),
    }
}

/// `TopLevelAwait`: module `name` awaited at top level.
pub(crate) fn top_level_await_error(name: &str) -> LoadError {
    LoadError::new("TopLevelAwait", format!("{name}: Top-level awaits in source files are unsupported"))
}

/// `ImportFailed` for an error thrown while `doing` (e.g. "importing") module `shown_name`:
/// the message is prefixed with the first `file:line:col` of `stack` (else `shown_name`), the
/// module is named when that location is elsewhere, and the stack follows.
pub(crate) fn import_failed_error(shown_name: &str, doing: &str, message: &str, stack: Option<&str>) -> LoadError {
    let location = stack.and_then(|s| s.lines().find_map(frame_location)).unwrap_or_else(|| shown_name.to_string());
    let mut text = format!("{location}: {message}");
    if !location.starts_with(shown_name) {
        text.push_str(&format!(" (while {doing} {shown_name})"));
    }
    if let Some(stack) = stack {
        text.push('\n');
        text.push_str(stack);
    }
    LoadError::new("ImportFailed", text)
}

/// `EngineError`: QuickJS itself failed.
pub(crate) fn engine_error(e: rquickjs::Error) -> LoadError {
    LoadError::new("EngineError", format!("QuickJS: {e}"))
}
