//! Which files of a `convex/` directory are function modules, by the rules of the `convex` CLI
//! (`entryPoints` in convex 1.49's bundler), and the order its codegen lists them in.
//!
//! Owns: the module list that `_generated/api.d.ts` imports. It follows the CLI and not
//! emvex's loader on purpose: the generated files must be byte for byte what
//! `npx convex codegen` writes, and `tests/node/codegen.test.mjs` runs the CLI's own
//! `entryPoints` against this list.
//!
//! Rules, in the CLI's order: walk the directory (not following symlinks), skipping any
//! sub-directory that holds a `convex.config.ts`; a file under `_deps/` is an error; keep files
//! ending in `.js .mjs .cjs .ts .tsx .mts .cts .jsx`, except those under the top `_generated/`,
//! names starting with `.` or `#`, `schema.ts`/`schema.js`, names with more than one dot
//! (`convex.config.ts`, `a.test.ts`, `x.d.ts`) and paths containing a space; a `.ts`/`.tsx` file
//! must also contain a line starting (after at most 100 whitespace characters) with `import` or
//! `export`. Paths are POSIX, relative to the directory, with their extension, sorted by code
//! unit (`compareModulePaths`).

use std::fs;
use std::path::Path;

use crate::CodegenError;

const EXTENSIONS: [&str; 8] = [".js", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".jsx"];

/// The module files of `dir` (relative POSIX paths with extension), sorted.
pub fn entry_points(dir: &Path) -> Result<Vec<String>, CodegenError> {
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), CodegenError> {
    let read = fs::read_dir(dir).map_err(|e| CodegenError::io(dir, &e))?;
    let mut items = read.collect::<Result<Vec<_>, _>>().map_err(|e| CodegenError::io(dir, &e))?;
    items.sort_by_key(|item| item.file_name());
    for item in items {
        let path = item.path();
        let name = item.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        let file_type = item.file_type().map_err(|e| CodegenError::io(&path, &e))?;
        if file_type.is_dir() {
            if !path.join("convex.config.ts").exists() {
                walk(&path, &format!("{rel}/"), out)?;
            }
            continue;
        }
        if !file_type.is_file() {
            continue;
        }
        if rel.starts_with("_deps/") {
            return Err(CodegenError::new(
                "ReservedDirectory",
                format!(
                    "The path \"{}\" is within the \"_deps\" directory, which is reserved for dependencies. Please move your code to another directory.",
                    path.display()
                ),
            ));
        }
        if is_entry_point(&rel, &name) && (!is_typescript(&rel) || declares_module(&path)?) {
            out.push(rel);
        }
    }
    Ok(())
}

/// The name rules (everything but the content check) for a file at POSIX path `rel`.
fn is_entry_point(rel: &str, name: &str) -> bool {
    EXTENSIONS.iter().any(|ext| rel.ends_with(ext))
        && !rel.starts_with("_generated/")
        && !name.starts_with('.')
        && !name.starts_with('#')
        && name != "schema.ts"
        && name != "schema.js"
        && name.matches('.').count() <= 1
        && !rel.contains(' ')
}

fn is_typescript(rel: &str) -> bool {
    rel.ends_with(".ts") || rel.ends_with(".tsx")
}

fn declares_module(path: &Path) -> Result<bool, CodegenError> {
    let source = fs::read_to_string(path).map_err(|e| CodegenError::io(path, &e))?;
    Ok(has_import_or_export_line(&source))
}

/// The CLI's `/^\s{0,100}(import|export)/m`: some line starts, after at most 100 whitespace
/// characters (line breaks included, as JavaScript's `\s`), with `import` or `export`.
fn has_import_or_export_line(source: &str) -> bool {
    let breaks = source.char_indices().filter(|(_, c)| is_line_break(*c)).map(|(i, c)| i + c.len_utf8());
    std::iter::once(0).chain(breaks).any(|start| {
        // Whitespace cannot begin `import`/`export`, so only the end of the (capped) run matters.
        let rest = &source[start..];
        let skipped: usize = rest.chars().take(100).take_while(|c| is_js_whitespace(*c)).map(char::len_utf8).sum();
        rest[skipped..].starts_with("import") || rest[skipped..].starts_with("export")
    })
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// JavaScript's `\s`: white space and line terminators.
fn is_js_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules_follow_the_cli() {
        assert!(is_entry_point("messages.ts", "messages.ts"));
        assert!(is_entry_point("dir/sub/my-file.cjs", "my-file.cjs"));
        assert!(is_entry_point("node_modules/x/y.js", "y.js"));
        for (rel, name) in [
            ("schema.ts", "schema.ts"),
            ("convex.config.ts", "convex.config.ts"),
            ("a.test.ts", "a.test.ts"),
            ("types.d.ts", "types.d.ts"),
            (".hidden.ts", ".hidden.ts"),
            ("#a.ts", "#a.ts"),
            ("sp ace.ts", "sp ace.ts"),
            ("_generated/api.js", "api.js"),
            ("data.json", "data.json"),
            ("README", "README"),
        ] {
            assert!(!is_entry_point(rel, name), "{rel}");
        }
        // Only the top `_generated/` is skipped, and `schema` only by its exact names.
        assert!(is_entry_point("dir/_generated/x.js", "x.js"));
        assert!(is_entry_point("schema.mts", "schema.mts"));
    }

    #[test]
    fn a_typescript_module_needs_an_import_or_export_line() {
        assert!(has_import_or_export_line("export const a = 1;"));
        assert!(has_import_or_export_line("// c\n   import x from \"y\";"));
        assert!(has_import_or_export_line("\n\n\texport default 1"));
        assert!(!has_import_or_export_line("const a = 1; export {};"));
        assert!(!has_import_or_export_line("const a = 1;\n"));
        assert!(!has_import_or_export_line(&format!("{}export const a = 1;", " ".repeat(101))));
        assert!(has_import_or_export_line(&format!("{}export const a = 1;", " ".repeat(100))));
    }
}
