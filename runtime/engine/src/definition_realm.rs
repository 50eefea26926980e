//! The definition realm: evaluating the app's and its components' `convex.config.{ts,js}`.
//!
//! Owns: discovery of every component definition the app's definition
//! (`convex/convex.config.ts`) uses, transitively, through the static import graph that
//! [`App::load`] built, and the evaluation of each config, children first, in a QuickJS
//! runtime + context made for that evaluation only (the "definition" realm). Its module loader
//! is the function realms' one ([`ModuleLoader`]), with synthetic modules: each import of a
//! child definition is replaced by a `_componentDeps/<base64url(definition path)>` module
//! carrying the child's `export()` data, `componentDefinitionPath` and `defaultName` — what the
//! real `convex` package's `app.use(...)` reads.
//!
//! Invariants:
//! - Ids follow discovery order (0 is the root); evaluation is post-order (children before
//!   parents); a cycle is a load error. An opaque definition is not evaluated: its export is
//!   built from its default name.
//! - Definition imports are found without walking into the child (the child's own config is
//!   walked when the child is visited). The synthetic names exist only in the definition
//!   realm's loader: `ModuleRecord::imports` keeps the real targets, function realms never
//!   see them.
//! - In the definition realm every syscall, `Date`, `Math.random` and crypto randomness throw
//!   Convex's "when evaluating app definition" texts; `process.env` is the app's env for the
//!   root config and throws on any read in a component config; console output is discarded.
//!   The synthetic module source is built before QuickJS runs, so no lock is held while the
//!   loader is called back.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use base64::Engine as _;
use rquickjs::{CatchResultExt, Context, Ctx, Function, Object, Runtime, Value};

use crate::app::display_name;
use crate::definitions::{
    DefinitionId, DefinitionInfo, OpaqueDefinition, component_modules, config_file, nearest_package, opaque_match,
    relative_posix,
};
use crate::loader::{
    IMPORT_TIMEOUT, ImportFailure, ModuleLoader, SyntheticModules, engine_error, import_failed_error, import_namespace,
    top_level_await_error,
};
use crate::quickjs_ffi::update_stack_top;
use crate::stack::map_stack;
use crate::{App, LoadError};

/// Prefix of the synthetic modules standing for already-evaluated child definitions.
const DEPS_PREFIX: &str = "_componentDeps/";

/// The `export()` JSON an opaque definition stands for.
fn opaque_export(default_name: &str) -> String {
    serde_json::json!({
        "name": default_name,
        "definitionType": {"type": "childComponent", "name": default_name, "args": []},
        "childComponents": [],
        "httpMounts": {},
        "exports": {"type": "branch", "branch": []},
    })
    .to_string()
}

/// A definition found in the graph, before evaluation.
struct Found {
    dir: PathBuf,
    path: String,
    /// Canonical module name of its config file.
    config: String,
    /// (module name, import specifier) → child index, for every definition import of its graph.
    child_imports: Vec<(String, String, usize)>,
    /// Default name of an opaque definition.
    opaque: Option<String>,
}

/// Discovers and evaluates every definition reachable from the root config `root_config`
/// (a canonical module name in `app`'s graph). Without a root config, returns the root alone.
pub(crate) fn load(
    app: &Arc<App>,
    root_config: Option<&str>,
    opaque: &[OpaqueDefinition],
) -> Result<Vec<DefinitionInfo>, LoadError> {
    let convex_dir = app.app_dir().join("convex");
    let Some(root_config) = root_config else {
        return Ok(vec![DefinitionInfo {
            id: DefinitionId(0),
            path: String::new(),
            package: nearest_package(&convex_dir),
            dir: convex_dir,
            config_json: None,
            opaque: None,
            modules: Vec::new(),
        }]);
    };
    let mut found = vec![Found {
        dir: convex_dir.clone(),
        path: String::new(),
        config: root_config.to_string(),
        child_imports: Vec::new(),
        opaque: None,
    }];
    let mut order = Vec::new();
    visit(app, &convex_dir, opaque, 0, &mut found, &mut Vec::new(), &mut order)?;

    let mut modules = vec![Vec::new(); found.len()];
    for (i, def) in found.iter().enumerate().skip(1).filter(|(_, d)| d.opaque.is_none()) {
        modules[i] = component_modules(&def.dir)?;
    }

    let mut exports: Vec<Option<String>> = vec![None; found.len()];
    for &i in &order {
        let json = match &found[i].opaque {
            Some(name) => {
                let mut json: serde_json::Value = serde_json::from_str(&opaque_export(name)).expect("built from json!");
                json["path"] = serde_json::Value::String(found[i].path.clone());
                json.to_string()
            }
            None => evaluate(app, &found, &exports, i)?,
        };
        exports[i] = Some(json);
    }
    Ok(found
        .into_iter()
        .zip(exports)
        .zip(modules)
        .enumerate()
        .map(|(i, ((def, json), modules))| DefinitionInfo {
            id: DefinitionId(i),
            package: nearest_package(&def.dir),
            path: def.path,
            dir: def.dir,
            config_json: json,
            opaque: def.opaque,
            modules,
        })
        .collect())
}

/// Depth-first walk from definition `idx`: finds its definition imports, visits each child,
/// and appends `idx` to `order` after its children (post-order).
fn visit(
    app: &App,
    convex_dir: &Path,
    opaque: &[OpaqueDefinition],
    idx: usize,
    found: &mut Vec<Found>,
    stack: &mut Vec<usize>,
    order: &mut Vec<usize>,
) -> Result<(), LoadError> {
    stack.push(idx);
    let own_dir = found[idx].dir.clone();
    let mut seen: HashSet<String> = HashSet::from([found[idx].config.clone()]);
    let mut queue = vec![found[idx].config.clone()];
    let mut children = Vec::new();
    while let Some(name) = queue.pop() {
        let Some(&rec) = app.by_name.get(&name) else { continue };
        for (spec, target) in &app.modules[rec].imports {
            let target_path = module_path(app, target);
            let child_dir = if spec.contains("convex.config") {
                target_path.parent().filter(|d| *d != own_dir && config_file(d).is_some())
            } else {
                None
            };
            match child_dir {
                Some(dir) => children.push((name.clone(), spec.clone(), dir.to_path_buf(), target.clone())),
                None => {
                    if seen.insert(target.clone()) {
                        queue.push(target.clone());
                    }
                }
            }
        }
    }
    for (module, spec, dir, config) in children {
        let child = match found.iter().position(|f| f.dir == dir) {
            Some(c) => {
                if stack.contains(&c) {
                    return Err(LoadError::new("DefinitionCycle", "Found cyclic definition dependency"));
                }
                c
            }
            None => {
                let opaque_name = opaque_match(&dir, opaque).map(|o| o.default_name.clone());
                found.push(Found {
                    path: relative_posix(convex_dir, &dir),
                    dir,
                    config,
                    child_imports: Vec::new(),
                    opaque: opaque_name,
                });
                let c = found.len() - 1;
                if found[c].opaque.is_some() {
                    order.push(c);
                } else {
                    visit(app, convex_dir, opaque, c, found, stack, order)?;
                }
                c
            }
        };
        found[idx].child_imports.push((module, spec, child));
    }
    stack.pop();
    order.push(idx);
    Ok(())
}

/// The file of a canonical module name.
fn module_path(app: &App, name: &str) -> PathBuf {
    let p = Path::new(name);
    if p.is_absolute() { p.to_path_buf() } else { app.app_dir().join(p) }
}

/// The synthetic module standing for an evaluated child definition.
fn synthetic_source(path: &str, export_json: &str) -> Result<String, LoadError> {
    let parsed: serde_json::Value = serde_json::from_str(export_json)
        .map_err(|e| LoadError::new("EngineError", format!("definition export of {path}: {e}")))?;
    let default_name = parsed
        .get("name")
        .or_else(|| parsed.pointer("/definitionType/name"))
        .and_then(|v| v.as_str())
        .map(|s| serde_json::Value::String(s.to_string()))
        .unwrap_or(serde_json::Value::Null);
    let path_json = serde_json::Value::String(path.to_string());
    Ok(format!(
        "export default {{ export: () => {{ return {export_json}; }}, componentDefinitionPath: {path_json}, defaultName: {default_name} }};\n"
    ))
}

/// The synthetic module name of a definition path.
pub(crate) fn synthetic_name(path: &str) -> String {
    format!("{DEPS_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(path))
}

/// Globals of the definition realm (`js/definition_realm.js`): a function called with the root's
/// env as JSON, or `null` in a component config.
const REALM_JS: &str = include_str!("js/definition_realm.js");

/// Evaluates definition `idx` in a fresh realm and returns its `export()` JSON with `path`.
fn evaluate(app: &Arc<App>, found: &[Found], exports: &[Option<String>], idx: usize) -> Result<String, LoadError> {
    let def = &found[idx];
    let mut synthetic = SyntheticModules::default();
    for (module, spec, child) in &def.child_imports {
        let child_def = &found[*child];
        let name = synthetic_name(&child_def.path);
        let json = exports[*child].as_deref().ok_or_else(|| {
            LoadError::new("EngineError", format!("definition {} evaluated before its child", def.path))
        })?;
        synthetic.sources.insert(name.clone(), synthetic_source(&child_def.path, json)?);
        synthetic.replaced.insert((module.clone(), spec.clone()), name);
    }
    let env_json = if idx == 0 {
        Some(serde_json::to_string(&app.env).map_err(|e| LoadError::new("EngineError", e.to_string()))?)
    } else {
        None
    };

    let runtime = Runtime::new().map_err(engine_error)?;
    runtime.set_max_stack_size(app.limits.max_stack_bytes);
    runtime.set_memory_limit(app.limits.memory_bytes.saturating_mul(2));
    let clock = app.clock.clone();
    let deadline = clock.elapsed() + IMPORT_TIMEOUT;
    let timed_out = Rc::new(std::cell::Cell::new(false));
    let flag = timed_out.clone();
    runtime.set_interrupt_handler(Some(Box::new(move || {
        let over = clock.elapsed() > deadline;
        if over {
            flag.set(true);
        }
        over
    })));
    ModuleLoader::definition_realm(app.clone(), synthetic).install(&runtime);
    let context = Context::full(&runtime).map_err(engine_error)?;
    let result = context.with(|ctx| -> Result<String, LoadError> {
        update_stack_top(&ctx);
        let setup: Function =
            ctx.eval(REALM_JS).catch(&ctx).map_err(|e| LoadError::new("EngineError", e.to_string()))?;
        setup.call::<_, ()>((env_json,)).catch(&ctx).map_err(|e| LoadError::new("EngineError", e.to_string()))?;
        let ns = import(&ctx, app, &def.config, &timed_out)?;
        export_json(&ctx, &ns, def)
    });
    runtime.set_interrupt_handler(None);
    result
}

/// Imports the config module and returns its namespace.
fn import<'js>(
    ctx: &Ctx<'js>,
    app: &App,
    name: &str,
    timed_out: &std::cell::Cell<bool>,
) -> Result<Object<'js>, LoadError> {
    let timeout = || {
        LoadError::new(
            "ImportFailed",
            format!("{}: top-level code ran longer than {IMPORT_TIMEOUT:?}", display_name(name)),
        )
    };
    let imported = import_namespace(ctx, name, || while ctx.execute_pending_job() {}, || timed_out.get());
    imported.map_err(|failure| match failure {
        ImportFailure::Stopped => timeout(),
        ImportFailure::Threw(_) if timed_out.get() => timeout(),
        ImportFailure::Threw(reason) => import_error(app, name, reason),
        ImportFailure::Engine(e) => engine_error(e),
        ImportFailure::TopLevelAwait => top_level_await_error(name),
    })
}

/// A thrown value as an `ImportFailed` error naming the first `file:line:col` of the stack.
fn import_error(app: &App, name: &str, reason: Value<'_>) -> LoadError {
    let (message, stack) = match reason.as_exception() {
        Some(e) => (
            format!(
                "{}: {}",
                e.get::<_, String>("name").unwrap_or_else(|_| "Error".into()),
                e.message().unwrap_or_default()
            ),
            // Frames of the realm's own globals (an eval'd script) are not the app's.
            e.stack().map(|s| {
                let app_frames: Vec<&str> = s.lines().filter(|l| !l.contains("eval_script:")).collect();
                map_stack(app, &app_frames.join("\n"))
            }),
        ),
        None => (format!("{reason:?}"), None),
    };
    let stack = stack.filter(|s| !s.trim().is_empty());
    import_failed_error(display_name(name), "evaluating", &format!("Uncaught {message}"), stack.as_deref())
}

/// Checks the namespace shape, calls `default.export()` and adds `path`.
fn export_json<'js>(ctx: &Ctx<'js>, ns: &Object<'js>, def: &Found) -> Result<String, LoadError> {
    let invalid = |why: &str| {
        let message = if def.path.is_empty() {
            format!(
                "The default export of `convex.config.ts` in your app has an invalid value ({why}). Please make sure that you’re exporting the return value of `defineApp()` (`import {{ defineApp }} from 'convex/server'`)."
            )
        } else {
            format!(
                "The default export of `convex.config.ts` in component `{}` has an invalid value ({why}). Please make sure that the component is exporting the return value of `defineComponent()` (`import {{ defineComponent }} from 'convex/server'`).",
                def.path
            )
        };
        LoadError::new("InvalidExportValue", message)
    };
    let keys: Vec<String> = ns.keys::<String>().collect::<rquickjs::Result<_>>().map_err(engine_error)?;
    if !keys.iter().any(|k| k == "default") {
        return Err(invalid("missing default export"));
    }
    if keys.len() > 1 {
        return Err(invalid("`convex.config.ts` has more than one export"));
    }
    let default: Value = ns.get("default").map_err(engine_error)?;
    let Some(object) = default.as_object().filter(|_| default.is_object()) else {
        return Err(invalid("the default export is not an object"));
    };
    let export: Value = object.get("export").map_err(engine_error)?;
    let Some(export) = export.as_function() else {
        return Err(invalid("missing `export` property on the default export of `convex.config.ts`"));
    };
    let out: Value = export
        .call((rquickjs::function::This(object.clone()),))
        .catch(ctx)
        .map_err(|e| LoadError::new("ImportFailed", format!("{}: Uncaught {e}", display_name(&def.config))))?;
    if !out.is_object() {
        return Err(invalid("`export()` did not return an object"));
    }
    let text = ctx
        .json_stringify(out)
        .map_err(engine_error)?
        .map(|s| s.to_string())
        .transpose()
        .map_err(engine_error)?
        .unwrap_or_default();
    let mut json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| LoadError::new("EngineError", format!("export() of {}: {e}", def.config)))?;
    if let Some(map) = json.as_object_mut() {
        map.insert("path".into(), serde_json::Value::String(def.path.clone()));
    }
    Ok(json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_names_are_unpadded_base64url() {
        assert_eq!(synthetic_name("counter"), "_componentDeps/Y291bnRlcg");
        assert_eq!(synthetic_name("../a"), "_componentDeps/Li4vYQ");
    }

    #[test]
    fn synthetic_source_carries_path_and_default_name() {
        let s = synthetic_source("counter", r#"{"name":"counter","path":"counter"}"#).unwrap();
        assert!(s.contains(r#"componentDefinitionPath: "counter""#), "{s}");
        assert!(s.contains(r#"defaultName: "counter""#), "{s}");
        let s = synthetic_source("x", r#"{"definitionType":{"type":"childComponent","name":"w"}}"#).unwrap();
        assert!(s.contains(r#"defaultName: "w""#), "{s}");
    }
}
