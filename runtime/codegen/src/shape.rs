//! What the generated files of an app depend on, read from the app as the engine loaded it.
//!
//! Owns: [`AppShape`] — the app's module files (by the CLI's rules, see `entry_points`),
//! whether it has a schema, the environment variables its `convex.config.ts` declares, and its
//! mounted components with the module each one's `ComponentApi` type is imported from; and the
//! same reading of any definition's config export (env vars, children), which `component`
//! uses for a local component's own files.
//!
//! The components come from the definitions the engine evaluated ([`App::definitions`]): a
//! definition's `childComponents`, in `use(...)` order. As the CLI does, a child imported through
//! a package specifier (`@convex-dev/workpool/convex.config`, `emvex/workpool/convex.config`)
//! is typed from `<specifier without /convex.config…>/_generated/component.js`, and a child
//! imported through a relative path (or not found in any config's imports) from
//! `../<its directory relative to the parent's>/_generated/component.js` (for the app:
//! `../<definition path>`; see [`mounted_components`] for where this leaves convex 1.49).

use std::path::Path;

use emvex_engine::{App, DefinitionInfo};
use serde_json::Value as Json;

use crate::CodegenError;
use crate::entry_points::entry_points;

/// The inputs of an app's `_generated/` files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppShape {
    /// Module files under `convex/` (POSIX, with extension), sorted as the CLI sorts them.
    pub modules: Vec<String>,
    /// `convex/schema.ts` or `convex/schema.js` exists.
    pub has_schema: bool,
    /// Variables the app's `defineApp({ env })` declares, in declaration order.
    pub env_vars: Vec<EnvVar>,
    /// Mounted components, in `app.use(...)` order.
    pub components: Vec<MountedComponent>,
}

/// One declared environment variable: its name, the validator JSON and whether it is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub validator: String,
    pub optional: bool,
}

/// One `app.use(...)` of the app's `convex.config.ts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountedComponent {
    /// The instance name (`components.<name>`).
    pub name: String,
    /// The module whose `_generated/component.js` declares its `ComponentApi`
    /// (`@convex-dev/workpool`, `../counter`).
    pub api_module: String,
}

impl AppShape {
    /// What the files of the app in `app_dir` alone say: its modules and schema, no declared
    /// env vars and no components (those need the evaluated `convex.config.ts`).
    pub fn from_files(app_dir: &Path) -> Result<AppShape, CodegenError> {
        let convex_dir = app_dir.join("convex");
        let modules = entry_points(&convex_dir)?;
        let has_schema = has_schema(&convex_dir);
        Ok(AppShape { modules, has_schema, env_vars: Vec::new(), components: Vec::new() })
    }

    /// The shape of a loaded app.
    pub fn of(app: &App) -> Result<AppShape, CodegenError> {
        let AppShape { modules, has_schema, .. } = AppShape::from_files(app.app_dir())?;
        let root_config = match app.definitions().first() {
            Some(root) => config_of(root)?,
            None => Json::Null,
        };
        let env_vars = env_vars_of(&root_config);
        let components = mounted_components(app, &root_config, "");
        Ok(AppShape { modules, has_schema, env_vars, components })
    }
}

/// Whether the functions directory `dir` has a `schema.ts` or `schema.js` (as the CLI checks).
pub(crate) fn has_schema(dir: &Path) -> bool {
    ["schema.ts", "schema.js"].iter().any(|f| dir.join(f).exists())
}

/// The evaluated `convex.config` export of a definition (`null` for a root without one).
pub(crate) fn config_of(definition: &DefinitionInfo) -> Result<Json, CodegenError> {
    match definition.config_json.as_deref() {
        Some(text) => serde_json::from_str(text).map_err(|e| {
            CodegenError::new("InvalidDefinition", format!("the convex.config export of \"{}\": {e}", definition.path))
        }),
        None => Ok(Json::Null),
    }
}

/// The env vars a definition's config export declares, in declaration order.
pub(crate) fn env_vars_of(config: &Json) -> Vec<EnvVar> {
    config.get("envVars").and_then(Json::as_array).into_iter().flatten().filter_map(env_var).collect()
}

/// The children a definition's config export mounts, for the `_generated/api` of the definition
/// at `parent_path` (`""` for the app). A child imported through a relative path is typed from
/// its directory relative to the parent's: `../<that path>/_generated/component.js` is read from
/// the parent's `_generated/`.
///
/// For a component (not the app) this differs from convex 1.49, which writes
/// `../<child's definition path>` there too: for `counter` mounting `counter/leaf` it imports
/// `../counter/leaf/_generated/component.js` from `convex/counter/_generated/api.ts`, a path
/// that does not exist (TypeScript then fails on it). emvex writes the path that resolves
/// (`../leaf/…`); for the app both are the same.
pub(crate) fn mounted_components(app: &App, config: &Json, parent_path: &str) -> Vec<MountedComponent> {
    let definitions = app.definitions();
    let mut components = Vec::new();
    for child in config.get("childComponents").and_then(Json::as_array).into_iter().flatten() {
        let name = child.get("name").and_then(Json::as_str).unwrap_or_default().to_string();
        let path = child.get("path").and_then(Json::as_str).unwrap_or_default();
        let dir = definitions.iter().find(|d| d.id.0 != 0 && d.path == path).map(|d| d.dir.as_path());
        let specifier = dir.and_then(|dir| import_specifier(app, dir));
        let api_module = match specifier {
            Some(s) if !s.starts_with('.') && s != path => s,
            _ => format!("../{}", relative_path(parent_path, path)),
        };
        components.push(MountedComponent { name, api_module });
    }
    components
}

/// POSIX path `to` relative to `from`, both relative to the same directory (`""` is that
/// directory itself): `("counter", "counter/leaf")` → `leaf`, `("", "counter")` → `counter`.
fn relative_path(from: &str, to: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    let to: Vec<&str> = to.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

/// `[name, {type: "value", value: "<validator JSON>", optional?}]` of an `envVars` export.
fn env_var(entry: &Json) -> Option<EnvVar> {
    let name = entry.get(0)?.as_str()?.to_string();
    let decl = entry.get(1)?;
    let validator = decl.get("value")?.as_str()?.to_string();
    let optional = decl.get("optional").and_then(Json::as_bool).unwrap_or(false);
    Some(EnvVar { name, validator, optional })
}

/// The specifier through which some loaded definition imports the config of the definition in
/// `dir`, with `/convex.config…` cut off (as the CLI records `importSpecifier`).
fn import_specifier(app: &App, dir: &Path) -> Option<String> {
    let configs = app.definitions().iter().flat_map(|d| {
        ["convex.config.ts", "convex.config.js"].map(|f| d.dir.join(f)).into_iter().filter(|p| p.is_file())
    });
    let mut found = None;
    for config in configs {
        for (specifier, target) in app.static_imports(&config) {
            let is_config = target.file_name().is_some_and(|n| n.to_string_lossy().contains(".config."));
            if is_config && target.parent() == Some(dir) {
                found = Some(strip_config_suffix(&specifier).to_string());
            }
        }
    }
    found
}

/// The CLI's `specifier.replace(/\/convex\.config.*$/, "")`.
fn strip_config_suffix(specifier: &str) -> &str {
    specifier.find("/convex.config").map_or(specifier, |i| &specifier[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_suffixes_are_cut_like_the_cli() {
        assert_eq!(strip_config_suffix("@convex-dev/workpool/convex.config"), "@convex-dev/workpool");
        assert_eq!(strip_config_suffix("@convex-dev/workpool/convex.config.js"), "@convex-dev/workpool");
        assert_eq!(strip_config_suffix("emvex/workpool/convex.config"), "emvex/workpool");
        assert_eq!(strip_config_suffix("./counter/convex.config"), "./counter");
        assert_eq!(strip_config_suffix("pkg"), "pkg");
    }

    #[test]
    fn child_paths_are_relative_to_the_parent() {
        assert_eq!(relative_path("", "counter"), "counter");
        assert_eq!(relative_path("counter", "counter/leaf"), "leaf");
        assert_eq!(relative_path("a/b", "c"), "../../c");
        assert_eq!(relative_path("", "../node_modules/pkg/dist/component"), "../node_modules/pkg/dist/component");
    }

    #[test]
    fn env_vars_are_read_from_the_export() {
        let entry = serde_json::json!(["MODE", {"type": "value", "value": "{\"type\":\"string\"}", "optional": true}]);
        let var = env_var(&entry).unwrap();
        assert_eq!((var.name.as_str(), var.validator.as_str(), var.optional), ("MODE", "{\"type\":\"string\"}", true));
    }
}
