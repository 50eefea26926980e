//! Component definitions: finding `convex.config.{ts,js}` files and evaluating them.
//!
//! Owns: discovery of the app's definition (`convex/convex.config.ts`) and of every component
//! definition it uses, transitively, through the static import graph that [`App::load`] built;
//! their definition paths; the CLI's entry-point rules inside a component directory; and the
//! evaluation of each config, children first, in a QuickJS runtime + context made for that
//! evaluation only (the "definition" realm), whose resolver replaces each import of a child
//! definition by a synthetic `_componentDeps/<base64url(definition path)>` module carrying the
//! child's `export()` data, `componentDefinitionPath` and `defaultName` — what the real
//! `convex` package's `app.use(...)` reads.
//!
//! Invariants:
//! - A definition is identified by its canonical directory; its *definition path* is the POSIX
//!   path of that directory relative to the root's `convex/` directory (`""` for the root,
//!   `counter`, `../node_modules/pkg/dist/component`). Definitions are deduplicated by it.
//! - Id 0 is always the root (also when the app has no `convex.config.*`: then its
//!   `config_json` is `None` and there is no other definition). Other ids follow discovery
//!   order; evaluation is post-order (children before parents); a cycle is a load error.
//! - Definition imports are found without walking into the child (the child's own config is
//!   walked when the child is visited). The synthetic names exist only in the definition
//!   realm's resolver: `ModuleRecord::imports` keeps the real targets, function realms never
//!   see them.
//! - In the definition realm every syscall, `Date`, `Math.random` and crypto randomness throw
//!   Convex's "when evaluating app definition" texts; `process.env` is the app's env for the
//!   root config and throws on any read in a component config; console output is discarded.
//!   The synthetic module source is built before QuickJS runs, so no lock is held while the
//!   loader is called back.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::promise::PromiseState;
use rquickjs::{CatchResultExt, Context, Ctx, Function, Module, Object, Runtime, Value, WriteOptions};

use crate::stack::{display_name, frame_location, map_stack};
use crate::{App, LoadError};

/// Time allowed for evaluating one definition's config module graph.
const EVAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Prefix of the synthetic modules standing for already-evaluated child definitions.
const DEPS_PREFIX: &str = "_componentDeps/";

/// Index of a definition in [`App::definitions`]; `DefinitionId(0)` is the app itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DefinitionId(pub usize);

/// One app or component definition, after its `convex.config` was evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionInfo {
    pub id: DefinitionId,
    /// Definition path (see the module docs), `""` for the root.
    pub path: String,
    /// Canonical definition directory (the root's is its `convex/` directory).
    pub dir: PathBuf,
    /// `name` of the nearest `package.json` at or above `dir`, and that file's directory.
    pub package: Option<(String, PathBuf)>,
    /// `export()` JSON text of the config's default export, with `"path"` added; `None` only
    /// for a root without `convex.config.*`.
    pub config_json: Option<String>,
    /// `Some(default name)` for a definition matched by an [`OpaqueDefinition`] (a native
    /// implementation): its config was not evaluated and nothing of it was loaded.
    pub opaque: Option<String>,
    /// Function module paths of a component, relative to `dir`, found with the CLI's rules
    /// (see [`component_modules`]); empty for the root (its entries are `App`'s). `App::load`
    /// adds them to the module graph; an isolate of this definition's scope evaluates them.
    pub modules: Vec<String>,
}

/// A definition the loader does not evaluate (a native component replaces it), matched by the
/// `name` of the nearest `package.json` of the definition directory and that directory relative
/// to the package's root (POSIX, e.g. `dist/component`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueDefinition {
    pub package: String,
    pub dir_in_package: String,
    /// What its synthetic module gives as `defaultName` (and its export's `name`).
    pub default_name: String,
}

/// The opaque definition matching definition directory `dir`, if any.
fn opaque_match<'a>(dir: &Path, opaque: &'a [OpaqueDefinition]) -> Option<&'a OpaqueDefinition> {
    if opaque.is_empty() {
        return None;
    }
    let (name, root) = nearest_package(dir)?;
    let rel = relative_posix(&root, dir);
    opaque.iter().find(|o| o.package == name && o.dir_in_package.trim_matches('/') == rel)
}

/// Whether `file` is the config file of an opaque definition (its imports are not loaded).
pub(crate) fn is_opaque_config(file: &Path, opaque: &[OpaqueDefinition]) -> bool {
    let is_config = file.file_name().is_some_and(|n| n == "convex.config.ts" || n == "convex.config.js");
    is_config && file.parent().is_some_and(|dir| opaque_match(dir, opaque).is_some())
}

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

/// The root config file, `convex/convex.config.ts` else `.js`, if any.
pub(crate) fn config_file(dir: &Path) -> Option<PathBuf> {
    ["convex.config.ts", "convex.config.js"].iter().map(|f| dir.join(f)).find(|p| p.is_file())
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
                    return Err(LoadError::new("definition_cycle", "Found cyclic definition dependency"));
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

/// POSIX path of `to` relative to `from` (both canonical absolute paths).
fn relative_posix(from: &Path, to: &Path) -> String {
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    parts.extend(b[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

/// `name` of the nearest `package.json` at or above `dir`, with its directory.
fn nearest_package(dir: &Path) -> Option<(String, PathBuf)> {
    dir.ancestors().find_map(|d| {
        let text = fs::read_to_string(d.join("package.json")).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some((json.get("name")?.as_str()?.to_string(), d.to_path_buf()))
    })
}

/// Function module paths of the component whose definition directory is `dir` (relative to
/// it, without extension), sorted, by the CLI's entry-point rules: skip `_generated/`, `node_modules/`, dot and `#`
/// names, names with spaces or more than one dot (`*.d.ts`, `convex.config.ts`, `a.test.ts`),
/// non-JS extensions, `schema`/`crons`/`http` are kept, sub-directories holding their own
/// `convex.config.*` are skipped. A `"use node"` module is a load error (components run in the
/// Convex runtime only).
pub fn component_modules(dir: &Path) -> Result<Vec<String>, LoadError> {
    let mut out = Vec::new();
    collect_modules(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn collect_modules(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), LoadError> {
    let io = |e: std::io::Error| LoadError::new("io_error", format!("cannot read {}: {e}", dir.display()));
    let mut items: Vec<_> = fs::read_dir(dir).map_err(io)?.collect::<Result<_, _>>().map_err(io)?;
    items.sort_by_key(|i| i.file_name());
    for item in items {
        let path = item.path();
        let file_name = item.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') || file_name.starts_with('#') || file_name.contains(' ') {
            continue;
        }
        if path.is_dir() {
            if file_name == "_generated" || file_name == "node_modules" || config_file(&path).is_some() {
                continue;
            }
            collect_modules(root, &path, out)?;
            continue;
        }
        let Some((stem, ext)) = file_name.split_once('.') else { continue };
        if ext.contains('.') || !matches!(ext, "ts" | "tsx" | "js" | "jsx" | "mjs" | "mts") {
            continue;
        }
        if crate::app::has_use_node_directive(&path) {
            return Err(LoadError::new(
                "use_node_in_component",
                format!(
                    "\"use node\" directive is not supported in components. Remove it from the component at: {}.",
                    root.display()
                ),
            ));
        }
        let rel = dir.strip_prefix(root).unwrap_or(Path::new(""));
        let mut module: String = rel.components().map(|c| format!("{}/", c.as_os_str().to_string_lossy())).collect();
        module.push_str(stem);
        out.push(module);
    }
    Ok(())
}

/// The synthetic module standing for an evaluated child definition.
fn synthetic_source(path: &str, export_json: &str) -> Result<String, LoadError> {
    let parsed: serde_json::Value = serde_json::from_str(export_json)
        .map_err(|e| LoadError::new("engine_error", format!("definition export of {path}: {e}")))?;
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

/// Resolver of the definition realm: the app graph, with definition imports replaced.
struct DefResolver {
    app: Arc<App>,
    /// (importing module, specifier) → synthetic module name.
    replaced: HashMap<(String, String), String>,
}

impl Resolver for DefResolver {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        if let Some(synthetic) = self.replaced.get(&(base.to_string(), name.to_string())) {
            return Ok(synthetic.clone());
        }
        if let Some(target) = self.app.resolve_static(base, name) {
            return Ok(target);
        }
        Err(rquickjs::Error::new_resolving_message(
            base,
            name,
            "dynamic import() is not supported while evaluating app definition",
        ))
    }
}

/// Loader of the definition realm: synthetic sources, else the app's bytecode.
struct DefLoader {
    app: Arc<App>,
    synthetic: HashMap<String, String>,
}

impl Loader for DefLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        if let Some(source) = self.synthetic.get(name) {
            return Module::declare(ctx.clone(), name, source.as_bytes());
        }
        let Some(&idx) = self.app.by_name.get(name) else {
            return Err(rquickjs::Error::new_loading(name));
        };
        let rec = &self.app.modules[idx];
        if let Some(bytes) = rec.bytecode.get() {
            // SAFETY: the bytes were produced by `Module::write` of this same QuickJS build
            // (now or in a cache entry keyed by the engine and QuickJS versions).
            return unsafe { Module::load(ctx.clone(), bytes) };
        }
        let module = Module::declare(ctx.clone(), name, rec.source.as_bytes())?;
        let bytes = module.write(WriteOptions::default())?;
        self.app.store_bytecode(idx, bytes);
        Ok(module)
    }
}

/// Globals of the definition realm. `ENV` is replaced by the root's env object literal, or
/// `null` in a component config.
const REALM_JS: &str = include_str!("js/definition_realm.js");

/// Evaluates definition `idx` in a fresh realm and returns its `export()` JSON with `path`.
fn evaluate(app: &Arc<App>, found: &[Found], exports: &[Option<String>], idx: usize) -> Result<String, LoadError> {
    let def = &found[idx];
    let mut replaced = HashMap::new();
    let mut synthetic = HashMap::new();
    for (module, spec, child) in &def.child_imports {
        let child_def = &found[*child];
        let name = synthetic_name(&child_def.path);
        let json = exports[*child].as_deref().ok_or_else(|| {
            LoadError::new("engine_error", format!("definition {} evaluated before its child", def.path))
        })?;
        synthetic.insert(name.clone(), synthetic_source(&child_def.path, json)?);
        replaced.insert((module.clone(), spec.clone()), name);
    }
    let env_json = if idx == 0 {
        Some(serde_json::to_string(&app.env).map_err(|e| LoadError::new("engine_error", e.to_string()))?)
    } else {
        None
    };

    let runtime = Runtime::new().map_err(engine_error)?;
    runtime.set_max_stack_size(app.limits.max_stack_bytes);
    runtime.set_memory_limit(app.limits.memory_bytes.saturating_mul(2));
    let deadline = Instant::now() + EVAL_TIMEOUT;
    let timed_out = Rc::new(std::cell::Cell::new(false));
    let flag = timed_out.clone();
    runtime.set_interrupt_handler(Some(Box::new(move || {
        let over = Instant::now() > deadline;
        if over {
            flag.set(true);
        }
        over
    })));
    runtime.set_loader(DefResolver { app: app.clone(), replaced }, DefLoader { app: app.clone(), synthetic });
    let context = Context::full(&runtime).map_err(engine_error)?;
    let result = context.with(|ctx| -> Result<String, LoadError> {
        crate::isolate::update_stack_top(&ctx);
        let setup: Function =
            ctx.eval(REALM_JS).catch(&ctx).map_err(|e| LoadError::new("engine_error", e.to_string()))?;
        setup.call::<_, ()>((env_json,)).catch(&ctx).map_err(|e| LoadError::new("engine_error", e.to_string()))?;
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
    let failed = |ctx: &Ctx<'js>| -> LoadError {
        if timed_out.get() {
            return LoadError::new(
                "import_failed",
                format!("{}: top-level code ran longer than {EVAL_TIMEOUT:?}", display_name(name)),
            );
        }
        import_error(ctx, app, name, ctx.catch())
    };
    let promise = Module::import(ctx, name).map_err(|_| failed(ctx))?;
    while ctx.execute_pending_job() {}
    match promise.state() {
        PromiseState::Resolved => promise.result::<Object>().expect("promise is settled").map_err(|_| failed(ctx)),
        PromiseState::Rejected => {
            let _ = promise.result::<Value>();
            Err(failed(ctx))
        }
        PromiseState::Pending => {
            Err(LoadError::new("top_level_await", format!("{name}: Top-level awaits in source files are unsupported")))
        }
    }
}

/// A thrown value as an `import_failed` error naming the first `file:line:col` of the stack.
fn import_error<'js>(_ctx: &Ctx<'js>, app: &App, name: &str, reason: Value<'js>) -> LoadError {
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
    let location = stack
        .as_deref()
        .and_then(|s| s.lines().find_map(frame_location))
        .unwrap_or_else(|| display_name(name).to_string());
    let mut text = format!("{location}: Uncaught {message}");
    if !location.starts_with(display_name(name)) {
        text.push_str(&format!(" (while evaluating {})", display_name(name)));
    }
    if let Some(stack) = stack.filter(|s| !s.trim().is_empty()) {
        text.push('\n');
        text.push_str(&stack);
    }
    LoadError::new("import_failed", text)
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
        LoadError::new("invalid_export_value", message)
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
        .map_err(|e| LoadError::new("import_failed", format!("{}: Uncaught {e}", display_name(&def.config))))?;
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
        .map_err(|e| LoadError::new("engine_error", format!("export() of {}: {e}", def.config)))?;
    if let Some(map) = json.as_object_mut() {
        map.insert("path".into(), serde_json::Value::String(def.path.clone()));
    }
    Ok(json.to_string())
}

fn engine_error(e: rquickjs::Error) -> LoadError {
    LoadError::new("engine_error", format!("QuickJS: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_posix_and_climb() {
        assert_eq!(relative_posix(Path::new("/a/app/convex"), Path::new("/a/app/convex/counter")), "counter");
        assert_eq!(
            relative_posix(Path::new("/a/app/convex"), Path::new("/a/app/node_modules/p/dist/component")),
            "../node_modules/p/dist/component"
        );
        assert_eq!(relative_posix(Path::new("/a/app/convex"), Path::new("/a/app/convex")), "");
    }

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

    #[test]
    fn component_module_rules() {
        let dir = std::env::temp_dir().join(format!("emvex-defs-rules-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for f in [
            "lib.ts",
            "schema.ts",
            "a.d.ts",
            "convex.config.ts",
            "b.test.ts",
            "has space.ts",
            ".hidden.ts",
            "#x.ts",
            "map.js.map",
            "sub/deep.js",
            "_generated/api.js",
            "nested/convex.config.ts",
            "nested/inner.ts",
        ] {
            let p = dir.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "export const a = 1;\n").unwrap();
        }
        assert_eq!(component_modules(&dir).unwrap(), ["lib", "schema", "sub/deep"]);
        fs::write(dir.join("node.ts"), "\"use node\";\nexport const a = 1;\n").unwrap();
        let err = component_modules(&dir).unwrap_err();
        assert_eq!(err.code, "use_node_in_component");
        assert_eq!(
            err.message,
            format!(
                "\"use node\" directive is not supported in components. Remove it from the component at: {}.",
                dir.display()
            )
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
