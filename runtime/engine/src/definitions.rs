//! What a component definition is, and the files that make one.
//!
//! Owns: the identity of the app's and its components' definitions ([`DefinitionId`],
//! [`DefinitionInfo`], [`OpaqueDefinition`]) and the filesystem rules about them: which file
//! is a definition's `convex.config.*`, which definitions a native implementation replaces
//! (matched through the nearest `package.json`), definition paths, and the CLI's entry-point
//! rules inside a component directory ([`component_modules`], `"use node"` detection).
//! Evaluating definitions is `definition_realm.rs`'s.
//!
//! Invariants:
//! - A definition is identified by its canonical directory; its *definition path* is the POSIX
//!   path of that directory relative to the root's `convex/` directory (`""` for the root,
//!   `counter`, `../node_modules/pkg/dist/component`). Definitions are deduplicated by it.
//! - Id 0 is always the root (also when the app has no `convex.config.*`: then its
//!   `config_json` is `None` and there is no other definition).
//! - Nothing here reads the module graph or runs JavaScript: these rules hold before the app's
//!   graph exists (the graph builder uses them to skip components and opaque configs).

use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::LoadError;

/// Index of a definition in [`crate::App::definitions`]; `DefinitionId(0)` is the app itself.
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
pub(crate) fn opaque_match<'a>(dir: &Path, opaque: &'a [OpaqueDefinition]) -> Option<&'a OpaqueDefinition> {
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

/// The root config file, `convex/convex.config.ts` else `.js`, if any.
pub(crate) fn config_file(dir: &Path) -> Option<PathBuf> {
    ["convex.config.ts", "convex.config.js"].iter().map(|f| dir.join(f)).find(|p| p.is_file())
}

/// POSIX path of `to` relative to `from` (both canonical absolute paths).
pub(crate) fn relative_posix(from: &Path, to: &Path) -> String {
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    parts.extend(b[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

/// `name` of the nearest `package.json` at or above `dir`, with its directory.
pub(crate) fn nearest_package(dir: &Path) -> Option<(String, PathBuf)> {
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
    let io = |e: std::io::Error| LoadError::new("Io", format!("cannot read {}: {e}", dir.display()));
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
        if has_use_node_directive(&path) {
            return Err(LoadError::new(
                "UseNodeInComponent",
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

/// Whether the file starts (after comments) with a `"use node"` directive.
pub(crate) fn has_use_node_directive(path: &Path) -> bool {
    let Ok(text) = fs::read_to_string(path) else { return false };
    let mut rest = text.trim_start_matches('\u{feff}');
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.split_once('\n').map(|(_, r)| r).unwrap_or("");
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map(|(_, r)| r).unwrap_or("");
        } else {
            break;
        }
    }
    rest.starts_with("\"use node\"") || rest.starts_with("'use node'")
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
        assert_eq!(err.code, "UseNodeInComponent");
        assert_eq!(
            err.message,
            format!(
                "\"use node\" directive is not supported in components. Remove it from the component at: {}.",
                dir.display()
            )
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn detects_use_node() {
        let dir = std::env::temp_dir().join(format!("emvex-use-node-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let yes = dir.join("a.ts");
        fs::write(&yes, "// comment\n/* block */\n\"use node\";\nimport fs from 'fs';\n").unwrap();
        let no = dir.join("b.ts");
        fs::write(&no, "import x from 'y';\n\"use node\";\n").unwrap();
        assert!(has_use_node_directive(&yes));
        assert!(!has_use_node_directive(&no));
        let _ = fs::remove_dir_all(&dir);
    }
}
