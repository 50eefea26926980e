//! TypeScript stripping and static-import extraction with oxc.
//!
//! Owns: turning one source file into ESM JavaScript that QuickJS can compile, plus the list of
//! static import specifiers (with their position in the ORIGINAL file) and a compact source map.
//! Invariants: JavaScript files are passed through unchanged (so their line numbers need no map);
//! TypeScript files get a [`LineMap`] from generated to original positions; every position is
//! 1-based (line and column), as printed in `file:line:col`.

use std::collections::HashMap;
use std::path::Path;

use oxc::allocator::Allocator;
use oxc::ast::ast::{Declaration, ExportDefaultDeclarationKind, Statement};
use oxc::codegen::{Codegen, CodegenOptions};
use oxc::parser::Parser;
use oxc::semantic::SemanticBuilder;
use oxc::span::SourceType;
use oxc::transformer::{TransformOptions, Transformer};

use crate::LoadError;

/// How a module refers to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImportKind {
    /// A static `import`/`export ... from` of an ES module (ESM resolution conditions).
    Import,
    /// A `require("literal")` of a CommonJS module (CommonJS resolution conditions);
    /// `optional` when inside a `try` block: failing to resolve it is then not a load error.
    Require { optional: bool },
    /// The engine's CommonJS runtime module (`commonjs::RUNTIME_NAME`), not a file.
    Runtime,
}

/// One static `import`/`export ... from` specifier (or `require`) of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImportRef {
    pub specifier: String,
    pub line: u32,
    pub col: u32,
    pub kind: ImportKind,
}

/// Generated-to-original position map: tokens `(gen_line, gen_col, src_line, src_col)`, 0-based,
/// sorted by generated position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LineMap {
    pub tokens: Vec<[u32; 4]>,
}

impl LineMap {
    /// Maps a 1-based generated `(line, col)` to the 1-based original position, if known.
    pub fn lookup(&self, line: u32, col: u32) -> Option<(u32, u32)> {
        if line == 0 {
            return None;
        }
        let (gl, gc) = (line - 1, col.saturating_sub(1));
        let idx = self.tokens.partition_point(|t| (t[0], t[1]) <= (gl, gc));
        if idx > 0 {
            let t = self.tokens[idx - 1];
            if t[0] == gl {
                return Some((t[2] + 1, t[3] + 1));
            }
        }
        // No token before the column on this line: take the first token of the line.
        let first = self.tokens.partition_point(|t| t[0] < gl);
        match self.tokens.get(first) {
            Some(t) if t[0] == gl => Some((t[2] + 1, t[3] + 1)),
            _ => None,
        }
    }
}

/// The result of preparing one file.
#[derive(Debug, Clone)]
pub(crate) struct Transpiled {
    pub code: String,
    pub imports: Vec<ImportRef>,
    /// Export name → 1-based line of its declaration in the original source.
    pub export_lines: HashMap<String, u32>,
    pub map: Option<LineMap>,
    /// The source map as a `data:` URL, only from [`strip_for_node`] (Node.js reads source
    /// maps itself, with `--enable-source-maps`); QuickJS uses `map`.
    pub source_map_url: Option<String>,
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.bytes().filter(|b| *b == b'\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = before[line_start..].chars().count() as u32 + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Name of the prelude global that every instrumented `catch` calls first.
pub(crate) const CATCH_HOOK: &str = "__emvexCatch";

/// Finds catch clauses and returns the source rewritten so that each catch body starts with
/// `__emvexCatch(<caught value>);` (the prelude rethrows engine-fatal errors, such as a stack
/// overflow, as uncatchable). Lines are preserved: text is only inserted within lines.
pub(crate) fn instrument_catches(source: &str, program: &oxc::ast::ast::Program<'_>) -> Option<String> {
    use oxc::ast::ast::CatchClause;
    use oxc::ast_visit::{Visit, walk};
    use oxc::span::GetSpan;
    /// Edits as (start, end, replacement) byte ranges of the original source.
    struct Finder<'s> {
        source: &'s str,
        edits: Vec<(usize, usize, String)>,
    }
    impl<'a> Visit<'a> for Finder<'_> {
        fn visit_catch_clause(&mut self, it: &CatchClause<'a>) {
            let body = it.body.span.start as usize + 1; // just after `{`
            match &it.param {
                Some(param) => match param.pattern.get_binding_identifier() {
                    Some(id) if param.pattern.span() == id.span => {
                        self.edits.push((body, body, format!("{CATCH_HOOK}({});", id.name)));
                    }
                    _ => {
                        // `catch ({ message })`: bind a plain name, destructure inside.
                        let (start, end) = (param.span.start as usize, param.span.end as usize);
                        let pattern = &self.source[start..end];
                        self.edits.push((start, end, "__emvex_e".to_string()));
                        self.edits.push((body, body, format!("{CATCH_HOOK}(__emvex_e); let {pattern} = __emvex_e;")));
                    }
                },
                None => {
                    self.edits.push((body - 1, body - 1, "(__emvex_e) ".to_string()));
                    self.edits.push((body, body, format!("{CATCH_HOOK}(__emvex_e);")));
                }
            }
            walk::walk_catch_clause(self, it);
        }
    }
    let mut finder = Finder { source, edits: Vec::new() };
    finder.visit_program(program);
    if finder.edits.is_empty() {
        return None;
    }
    finder.edits.sort_by_key(|e| (e.0, e.1));
    let mut out = String::with_capacity(source.len() + finder.edits.len() * 32);
    let mut pos = 0;
    for (start, end, text) in finder.edits {
        out.push_str(&source[pos..start]);
        out.push_str(&text);
        pos = end;
    }
    out.push_str(&source[pos..]);
    Some(out)
}

/// Strips TypeScript (if any) and extracts static imports. `display` names the file in errors.
/// `instrument`: rewrite catch clauses (app code only, see [`CATCH_HOOK`]).
pub(crate) fn transpile(path: &Path, display: &str, source: &str, instrument: bool) -> Result<Transpiled, LoadError> {
    if instrument {
        let allocator = Allocator::default();
        let source_type = SourceType::from_path(path).unwrap_or_else(|_| SourceType::mjs()).with_module(true);
        let parsed = Parser::new(&allocator, source, source_type).parse();
        if !parsed.diagnostics.has_errors()
            && let Some(rewritten) = instrument_catches(source, &parsed.program)
        {
            return transpile_inner(path, display, &rewritten, false);
        }
    }
    transpile_inner(path, display, source, false)
}

/// Strips TypeScript (if any) for Node.js, with the source map as a `data:` URL when anything
/// was stripped (see [`Transpiled::source_map_url`]).
pub(crate) fn strip_for_node(path: &Path, display: &str, source: &str) -> Result<Transpiled, LoadError> {
    transpile_inner(path, display, source, true)
}

fn transpile_inner(path: &Path, display: &str, source: &str, map_url: bool) -> Result<Transpiled, LoadError> {
    let allocator = Allocator::default();
    let source_type = SourceType::from_path(path).unwrap_or_else(|_| SourceType::mjs()).with_module(true);
    let parsed = Parser::new(&allocator, source, source_type).parse();
    if let Some(err) = parsed.diagnostics.errors().next() {
        let offset = err.labels.first().map(|l| l.offset() as usize).unwrap_or(0);
        let (line, col) = line_col(source, offset);
        return Err(LoadError::new("SyntaxError", format!("{display}:{line}:{col}: SyntaxError: {}", err.message)));
    }
    let mut program = parsed.program;
    let typescript = source_type.is_typescript();
    let export_lines = collect_export_lines(&program, source);
    if typescript {
        let scoping = SemanticBuilder::new().build(&program).semantic.into_scoping();
        let options = TransformOptions::default();
        let ret = Transformer::new(&allocator, path, &options).build_with_scoping(scoping, &mut program);
        if let Some(err) = ret.diagnostics.errors().next() {
            let offset = err.labels.first().map(|l| l.offset() as usize).unwrap_or(0);
            let (line, col) = line_col(source, offset);
            return Err(LoadError::new("SyntaxError", format!("{display}:{line}:{col}: {}", err.message)));
        }
    }
    let mut imports = Vec::new();
    for stmt in &program.body {
        let lit = match stmt {
            Statement::ImportDeclaration(d) => Some(&d.source),
            Statement::ExportAllDeclaration(d) => Some(&d.source),
            Statement::ExportFromDeclaration(d) => Some(&d.source),
            _ => None,
        };
        if let Some(lit) = lit {
            let (line, col) = line_col(source, lit.span.start as usize);
            imports.push(ImportRef { specifier: lit.value.to_string(), line, col, kind: ImportKind::Import });
        }
    }
    if !typescript {
        return Ok(Transpiled { code: source.to_string(), imports, export_lines, map: None, source_map_url: None });
    }
    let out = Codegen::new()
        .with_options(CodegenOptions { source_map_path: Some(path.to_path_buf()), ..CodegenOptions::default() })
        .build(&program);
    let source_map_url = if map_url { out.map.as_ref().map(|m| m.to_data_url()) } else { None };
    let map = out.map.map(|m| {
        let mut tokens: Vec<[u32; 4]> =
            m.get_tokens().map(|t| [t.get_dst_line(), t.get_dst_col(), t.get_src_line(), t.get_src_col()]).collect();
        tokens.sort_unstable();
        LineMap { tokens }
    });
    Ok(Transpiled { code: out.code, imports, export_lines, map, source_map_url })
}

/// Export name → line of the exported declaration (or of the export statement).
fn collect_export_lines(program: &oxc::ast::ast::Program<'_>, source: &str) -> HashMap<String, u32> {
    let mut out = HashMap::new();
    let mut local_lines: HashMap<String, u32> = HashMap::new();
    let line_of = |start: u32| line_col(source, start as usize).0;
    for stmt in &program.body {
        match stmt {
            Statement::VariableDeclaration(v) => {
                for d in &v.declarations {
                    if let Some(id) = d.id.get_binding_identifier() {
                        local_lines.insert(id.name.to_string(), line_of(d.span.start));
                    }
                }
            }
            Statement::FunctionDeclaration(f) => {
                if let Some(id) = &f.id {
                    local_lines.insert(id.name.to_string(), line_of(f.span.start));
                }
            }
            _ => {}
        }
    }
    for stmt in &program.body {
        match stmt {
            Statement::ExportDeclaration(d) => match &d.declaration {
                Declaration::VariableDeclaration(v) => {
                    for decl in &v.declarations {
                        if let Some(id) = decl.id.get_binding_identifier() {
                            out.insert(id.name.to_string(), line_of(decl.span.start));
                        }
                    }
                }
                Declaration::FunctionDeclaration(f) => {
                    if let Some(id) = &f.id {
                        out.insert(id.name.to_string(), line_of(f.span.start));
                    }
                }
                _ => {}
            },
            Statement::ExportNamedDeclaration(d) => {
                for s in &d.specifiers {
                    let local = s.local.name().to_string();
                    let line = local_lines.get(&local).copied().unwrap_or(line_of(s.span.start));
                    out.insert(s.exported.name().to_string(), line);
                }
            }
            Statement::ExportDefaultDeclaration(d) => {
                let line = match &d.declaration {
                    ExportDefaultDeclarationKind::Identifier(id) => {
                        local_lines.get(id.name.as_str()).copied().unwrap_or(line_of(d.span.start))
                    }
                    _ => line_of(d.span.start),
                };
                out.insert("default".to_string(), line);
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_types_and_lists_imports() {
        let src = "import type { X } from './types';\nimport { a } from \"./a.js\";\nexport * from './b';\nconst n: number = a;\nexport { n };\n";
        let t = transpile(Path::new("m.ts"), "convex/m.ts", src, false).unwrap();
        assert!(!t.code.contains(": number"), "{}", t.code);
        let specs: Vec<_> = t.imports.iter().map(|i| (i.specifier.as_str(), i.line)).collect();
        assert_eq!(specs, vec![("./a.js", 2), ("./b", 3)]);
        assert!(t.map.is_some());
        assert_eq!(t.export_lines.get("n"), Some(&4));
    }

    #[test]
    fn export_lines_cover_all_forms() {
        let src =
            "export const a = 1;\n\nexport function b() {}\nconst c = 2;\nexport { c as d };\nexport default c;\n";
        let t = transpile(Path::new("m.js"), "m.js", src, false).unwrap();
        assert_eq!(t.export_lines.get("a"), Some(&1));
        assert_eq!(t.export_lines.get("b"), Some(&3));
        assert_eq!(t.export_lines.get("d"), Some(&4));
        assert_eq!(t.export_lines.get("default"), Some(&4));
    }

    #[test]
    fn source_map_points_at_original_lines() {
        let src = "type T = {\n  a: number;\n};\n\nexport function f(x: T) {\n  throw new Error('x');\n}\n";
        let t = transpile(Path::new("m.ts"), "m.ts", src, false).unwrap();
        let map = t.map.unwrap();
        let gen_line = t.code.lines().position(|l| l.contains("throw")).unwrap() as u32 + 1;
        let col = t.code.lines().nth(gen_line as usize - 1).unwrap().find("throw").unwrap() as u32 + 1;
        assert_eq!(map.lookup(gen_line, col).map(|p| p.0), Some(6));
    }

    #[test]
    fn syntax_error_names_file_line_col() {
        let err = transpile(Path::new("bad.ts"), "convex/bad.ts", "const a = 1;\nconst = ;\n", true).unwrap_err();
        assert_eq!(err.code, "SyntaxError");
        assert!(err.message.starts_with("convex/bad.ts:2:"), "{}", err.message);
    }

    #[test]
    fn javascript_passes_through() {
        let src = "import x from 'y';\nexport default x;\n";
        let t = transpile(Path::new("m.js"), "m.js", src, false).unwrap();
        assert_eq!(t.code, src);
        assert!(t.map.is_none());
    }

    #[test]
    fn catch_clauses_are_instrumented_on_the_same_lines() {
        let src = "try {\n  a();\n} catch (e: any) {\n  b(e);\n}\ntry { c(); } catch {\n}\ntry {} catch ({ message }) { d(message); }\nconst x = 1;\n";
        let t = transpile(Path::new("m.ts"), "m.ts", src, true).unwrap();
        assert!(t.code.contains("__emvexCatch(e)"), "{}", t.code);
        assert!(t.code.contains("catch (__emvex_e)"), "{}", t.code);
        assert!(t.code.contains("let { message } = __emvex_e"), "{}", t.code);
        let map = t.map.unwrap();
        let line = t.code.lines().position(|l| l.contains("const x")).unwrap() as u32 + 1;
        assert_eq!(map.lookup(line, 1).map(|p| p.0), Some(9));
        let js = transpile(Path::new("m.js"), "m.js", "try { f(); } catch (err) { g(); }\n", true).unwrap();
        assert_eq!(js.code, "try { f(); } catch (err) {__emvexCatch(err); g(); }\n");
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("x", 0), (1, 1));
    }
}
