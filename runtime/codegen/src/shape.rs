//! What the generated files of an app depend on, read from the app as the engine loaded it.
//!
//! Owns: [`AppShape`] — the app's module files (by the CLI's rules, see `entry_points`),
//! whether it has a schema, the environment variables its `convex.config.ts` declares, and its
//! mounted components with the module each one's `ComponentApi` type is imported from.
//!
//! The components come from the definitions the engine evaluated ([`App::definitions`]): the
//! app's `childComponents`, in `app.use(...)` order. As the CLI does, a child imported through
//! a package specifier (`@convex-dev/workpool/convex.config`, `emvex/workpool/convex.config`)
//! is typed from `<specifier without /convex.config…>/_generated/component.js`, and a child
//! imported through a relative path (or not found in any config's imports) from
//! `../<definition path>/_generated/component.js`.

use std::path::Path;

use emvex_engine::App;
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
        let has_schema = ["schema.ts", "schema.js"].iter().any(|f| convex_dir.join(f).exists());
        Ok(AppShape { modules, has_schema, env_vars: Vec::new(), components: Vec::new() })
    }

    /// The shape of a loaded app.
    pub fn of(app: &App) -> Result<AppShape, CodegenError> {
        let AppShape { modules, has_schema, .. } = AppShape::from_files(app.app_dir())?;
        let definitions = app.definitions();
        let root_config: Json = match definitions.first().and_then(|d| d.config_json.as_deref()) {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| CodegenError::new("InvalidDefinition", format!("the app's convex.config export: {e}")))?,
            None => Json::Null,
        };
        let env_vars = root_config.get("envVars").and_then(Json::as_array).into_iter().flatten().filter_map(env_var);
        let mut components = Vec::new();
        for child in root_config.get("childComponents").and_then(Json::as_array).into_iter().flatten() {
            let name = child.get("name").and_then(Json::as_str).unwrap_or_default().to_string();
            let path = child.get("path").and_then(Json::as_str).unwrap_or_default();
            let dir = definitions.iter().find(|d| d.id.0 != 0 && d.path == path).map(|d| d.dir.as_path());
            let specifier = dir.and_then(|dir| import_specifier(app, dir));
            let api_module = match specifier {
                Some(s) if !s.starts_with('.') && s != path => s,
                _ => format!("../{path}"),
            };
            components.push(MountedComponent { name, api_module });
        }
        Ok(AppShape { modules, has_schema, env_vars: env_vars.collect(), components })
    }
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
    fn env_vars_are_read_from_the_export() {
        let entry = serde_json::json!(["MODE", {"type": "value", "value": "{\"type\":\"string\"}", "optional": true}]);
        let var = env_var(&entry).unwrap();
        assert_eq!((var.name.as_str(), var.validator.as_str(), var.optional), ("MODE", "{\"type\":\"string\"}", true));
    }
}
