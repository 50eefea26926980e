//! What a local component's own `_generated/` files depend on, read from the loaded app.
//!
//! Owns: [`ComponentShape`] — for each component definition the CLI generates code for (not
//! the root, not a native one, and with a `convex.config.ts`: a definition whose config is
//! `.js` is a published package, which the CLI leaves alone) its definition path, module files,
//! schema, declared env vars, mounted children and analyzed functions; and
//! [`local_component_dirs`], the same directories found from the files alone, before the app
//! can be loaded.
//!
//! Invariants:
//! - Functions come from analyzing the definition in an isolate of its own scope (with an
//!   empty env), as the executor analyzes it; their validators are put in the form Convex's
//!   backend hands the CLI (object fields sorted by name), since the CLI types them from that.
//! - The exported API is the backend's `file_based_exports`: every public function, under its
//!   module path split at `/`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use emvex_engine::{App, DefinitionInfo, Isolate, Scope, Visibility};
use serde_json::Value as Json;

use crate::CodegenError;
use crate::entry_points::entry_points;
use crate::shape::{EnvVar, MountedComponent, config_of, env_vars_of, has_schema, mounted_components};

/// The inputs of one local component's `_generated/` files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentShape {
    /// Definition path, relative to the app's `convex/` (`counter`, `counter/leaf`).
    pub path: String,
    /// Module files of the component directory (with extension), sorted as the CLI sorts them.
    pub modules: Vec<String>,
    /// `schema.ts` or `schema.js` exists in the component directory.
    pub has_schema: bool,
    /// Variables its `defineComponent(…, { env })` declares.
    pub env_vars: Vec<EnvVar>,
    /// Children its `convex.config.ts` mounts, in `use(...)` order.
    pub components: Vec<MountedComponent>,
    /// Its registered functions, by module (without extension) then source order.
    pub functions: Vec<ComponentFunction>,
}

/// One registered function of a component, as analyzed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentFunction {
    /// Module path without extension (`lib`, `dir/file`).
    pub module: String,
    pub name: String,
    /// `query`, `mutation` or `action`.
    pub kind: &'static str,
    pub public: bool,
    /// Args validator JSON (object fields sorted).
    pub args: Json,
    /// Returns validator JSON (object fields sorted); `null` when not declared.
    pub returns: Json,
}

impl ComponentShape {
    /// Every local component definition of `app`, in definition order.
    pub fn all_of(app: &Arc<App>) -> Result<Vec<ComponentShape>, CodegenError> {
        app.definitions().iter().filter(|d| is_local(d)).map(|d| ComponentShape::of(app, d)).collect()
    }

    fn of(app: &Arc<App>, definition: &DefinitionInfo) -> Result<ComponentShape, CodegenError> {
        let config = config_of(definition)?;
        let scope = Scope { definition: definition.id, env: BTreeMap::new() };
        let not_loadable = |e: emvex_engine::LoadError| CodegenError::new("AppNotLoadable", e.message);
        let analysis = Isolate::for_scope(app.clone(), scope).and_then(|mut i| i.analyze()).map_err(not_loadable)?;
        let functions = analysis
            .functions
            .into_iter()
            .map(|f| {
                let parse = |text: &str| {
                    serde_json::from_str::<Json>(text).map(|j| sorted(&j)).map_err(|e| {
                        CodegenError::new(
                            "InvalidValidator",
                            format!("{}: {}:{}: {e}", definition.path, f.module, f.name),
                        )
                    })
                };
                Ok(ComponentFunction {
                    args: parse(&f.args_json)?,
                    returns: parse(&f.returns_json)?,
                    kind: f.kind.as_str(),
                    public: f.visibility == Visibility::Public,
                    module: f.module,
                    name: f.name,
                })
            })
            .collect::<Result<_, CodegenError>>()?;
        Ok(ComponentShape {
            path: definition.path.clone(),
            modules: entry_points(&definition.dir)?,
            has_schema: has_schema(&definition.dir),
            env_vars: env_vars_of(&config),
            components: mounted_components(app, &config, &definition.path),
            functions,
        })
    }
}

/// A definition whose `_generated/` the CLI writes: a component (not the root), evaluated (not
/// native), defined by a `convex.config.ts`.
fn is_local(definition: &DefinitionInfo) -> bool {
    definition.id.0 != 0 && definition.opaque.is_none() && definition.dir.join("convex.config.ts").is_file()
}

/// `v` with the keys of every object sorted (how the backend's validators serialize).
fn sorted(v: &Json) -> Json {
    match v {
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Json::Object(entries.into_iter().map(|(k, v)| (k.clone(), sorted(v))).collect())
        }
        Json::Array(items) => Json::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Local component directories under `convex_dir` found from the files alone: directories
/// holding a `convex.config.ts` (not `node_modules/`, `_generated/` or dot directories), with
/// their definition paths. Used before the app is loaded, to write the files a component's
/// modules import when they are missing.
pub fn local_component_dirs(convex_dir: &Path) -> Result<Vec<(String, PathBuf)>, CodegenError> {
    let mut out = Vec::new();
    walk(convex_dir, "", &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), CodegenError> {
    let read = fs::read_dir(dir).map_err(|e| CodegenError::io(dir, &e))?;
    let mut items = read.collect::<Result<Vec<_>, _>>().map_err(|e| CodegenError::io(dir, &e))?;
    items.sort_by_key(|item| item.file_name());
    for item in items {
        let name = item.file_name().to_string_lossy().into_owned();
        let is_dir = item.file_type().map_err(|e| CodegenError::io(&item.path(), &e))?.is_dir();
        if !is_dir || name.starts_with('.') || name == "node_modules" || name == "_generated" {
            continue;
        }
        let path = item.path();
        let rel = format!("{prefix}{name}");
        if path.join("convex.config.ts").is_file() {
            out.push((rel.clone(), path.clone()));
        }
        walk(&path, &format!("{rel}/"), out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_are_sorted_like_the_backend_serializes_them() {
        let v: Json = serde_json::from_str(
            r#"{"type":"object","value":{"name":{"fieldType":{"type":"string"},"optional":false},"by":{"fieldType":{"type":"number"},"optional":true}}}"#,
        )
        .unwrap();
        let sorted = sorted(&v);
        let keys: Vec<&String> = sorted["value"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["by", "name"]);
    }

    #[test]
    fn component_dirs_are_found_by_their_config() {
        let dir = std::env::temp_dir().join(format!("emvex-codegen-dirs-{}", std::process::id()));
        for d in ["counter/leaf", "node_modules/pkg", "_generated/x", "plain"] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        for d in ["counter", "counter/leaf", "node_modules/pkg", "_generated/x"] {
            fs::write(dir.join(d).join("convex.config.ts"), "").unwrap();
        }
        let found: Vec<String> = local_component_dirs(&dir).unwrap().into_iter().map(|(p, _)| p).collect();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found, ["counter", "counter/leaf"]);
    }
}
