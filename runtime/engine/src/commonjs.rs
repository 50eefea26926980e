//! CommonJS modules: telling them from ES modules, finding their `require`s and named exports,
//! and wrapping them into ES modules QuickJS can load.
//!
//! Owns: the module-format decision ([`format_of`], with [`PackageTypes`] for the nearest
//! `package.json` `"type"`), the analysis of a CommonJS file over oxc's AST (static
//! `require("…")` specifiers, export names and re-exports detected the way Node's
//! cjs-module-lexer does), the ES-module wrapper ([`wrap`]) and the small runtime module every
//! wrapper imports ([`RUNTIME_NAME`], [`RUNTIME_SOURCE`]).
//! Invariants:
//! - The wrapper keeps the original source on its original lines: the prologue shares line 1,
//!   the epilogue follows the last line, so errors and stack frames need no source map (only
//!   columns on line 1 are shifted).
//! - The wrapper depends only on the file's content and name, never on how its requires
//!   resolve, so it can be cached under a key of its content. Every static `require` becomes a
//!   namespace import of the wrapper (resolved with CommonJS conditions by `app.rs`); a
//!   re-export becomes `export * from`.
//! - A wrapped module's body runs at most once per realm, on the first `require` of it or when
//!   its wrapper is evaluated, whichever comes first (circular requires see partial exports,
//!   as in Node); its ES default export is `module.exports`, its named exports are the
//!   detected names read from `module.exports` when the body has run.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use oxc::allocator::Allocator;
use oxc::ast::ast::{
    Argument, AssignmentExpression, AssignmentTarget, BindingPattern, CallExpression, Expression, ObjectPropertyKind,
    Program, TryStatement, VariableDeclarator,
};
use oxc::ast_visit::{Visit, walk};
use oxc::parser::Parser;
use oxc::span::SourceType;

use crate::LoadError;
use crate::transpile::{self, ImportKind, ImportRef, Transpiled};

/// Canonical name of the runtime module every wrapper imports. It also stands in for a
/// `require` that could not be resolved when the app was loaded (see `app.rs`).
pub(crate) const RUNTIME_NAME: &str = "emvex:commonjs";

/// What a wrapper imports to learn whether it runs its body when it is evaluated (an
/// "eager" module: some ES module imports it, or nothing requires it) or only when first
/// required (so CommonJS bodies run in Node's order). `app.rs` resolves it per module to
/// [`EAGER_NAME`] or to [`RUNTIME_NAME`] (which has no `eager` export).
pub(crate) const MODE_SPECIFIER: &str = "emvex:commonjs-mode";

/// The module that tells an eager wrapper to run its body when evaluated.
pub(crate) const EAGER_NAME: &str = "emvex:commonjs-eager";

/// Source of [`EAGER_NAME`].
pub(crate) const EAGER_SOURCE: &str = "export const eager = true;\n";

/// The hoisted function every wrapper exports: runs the body (once) and returns its `module`.
const HOOK: &str = "__emvexCommonJs";

/// Source of [`RUNTIME_NAME`].
pub(crate) const RUNTIME_SOURCE: &str = r#"import * as self from "emvex:commonjs";
const registry = new Map();
const builtins = new Set(["assert", "async_hooks", "buffer", "child_process", "cluster", "crypto", "dgram", "dns", "events", "fs", "http", "http2", "https", "net", "os", "path", "perf_hooks", "process", "querystring", "readline", "stream", "string_decoder", "timers", "tls", "tty", "url", "util", "v8", "vm", "worker_threads", "zlib"]);
function notFound(spec, from, why) {
  const error = new Error(`Cannot find module '${spec}' required by ${from}: ${why}`);
  error.code = "MODULE_NOT_FOUND";
  return error;
}
function makeRequire(name, deps) {
  function require(spec) {
    if (typeof spec !== "string") {
      throw new TypeError(`require() in ${name} expects a string, got ${typeof spec}`);
    }
    const ns = deps(spec);
    if (ns === undefined) {
      throw notFound(spec, name, "only require() calls with a string literal argument are resolved when the app is loaded, and this one was not among them");
    }
    if (typeof ns.__emvexCommonJs === "function") return ns.__emvexCommonJs().exports;
    if (ns === self) {
      const bare = spec.startsWith("node:") ? spec.slice(5) : spec;
      throw notFound(spec, name, builtins.has(bare.split("/")[0])
        ? "Node.js built-in modules are not available in the Convex runtime (use an action in a \"use node\" file)"
        : "it could not be resolved when the app was loaded");
    }
    return ns;
  }
  require.resolve = (spec) => {
    throw new Error(`require.resolve("${spec}") is not supported (in ${name})`);
  };
  require.cache = Object.create(null);
  return require;
}
function load(body, name, deps, settle) {
  let module = registry.get(name);
  if (module !== undefined) return module;
  module = { id: name, filename: name, path: dirname(name), loaded: false, exports: {}, children: [], paths: [] };
  module.require = makeRequire(name, deps);
  registry.set(name, module);
  try {
    body.call(module.exports, module.exports, module.require, module, name, module.path);
  } catch (e) {
    registry.delete(name);
    throw e;
  }
  module.loaded = true;
  settle(module.exports);
  return module;
}
function dirname(name) {
  const i = name.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : name.slice(0, i);
}
const runtime = Object.freeze({ load });
export default runtime;
"#;

/// How a file is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    EsModule,
    CommonJs,
}

/// A JSON file as a module: its ES default export is the parsed value (`import data from
/// "./data.json"`, as esbuild allows), and it carries the [`HOOK`] a wrapper's `require` looks
/// for, so `require("./data")` gives the value whatever the specifier looks like (Node adds
/// `.json` when resolving).
pub(crate) fn json_module(display: &str, text: &str) -> Result<Transpiled, LoadError> {
    if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
        return Err(LoadError::new("SyntaxError", format!("{display}:{}:{}: invalid JSON: {e}", e.line(), e.column())));
    }
    Ok(Transpiled {
        code: format!(
            "const __emvex_json = {};\nexport default __emvex_json;\nexport function {HOOK}() {{ return {{ exports: __emvex_json }}; }}\n",
            text.trim()
        ),
        imports: Vec::new(),
        export_lines: HashMap::new(),
        map: None,
    })
}

/// The `"type"` of the nearest `package.json` of each directory, remembered per directory.
#[derive(Debug, Default)]
pub(crate) struct PackageTypes {
    by_dir: HashMap<PathBuf, bool>,
}

impl PackageTypes {
    /// Whether the nearest `package.json` above `file` says `"type": "module"`.
    pub(crate) fn is_module(&mut self, file: &Path) -> bool {
        let Some(dir) = file.parent() else { return false };
        self.dir_is_module(dir)
    }

    fn dir_is_module(&mut self, dir: &Path) -> bool {
        if let Some(&known) = self.by_dir.get(dir) {
            return known;
        }
        let manifest = dir.join("package.json");
        let is_module = match fs::read_to_string(&manifest) {
            Ok(text) => serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(|t| t == "module"))
                .unwrap_or(false),
            Err(_) => match dir.parent() {
                Some(parent) => self.dir_is_module(parent),
                None => false,
            },
        };
        self.by_dir.insert(dir.to_path_buf(), is_module);
        is_module
    }
}

/// The format of `path` with content `source`, as Node decides it: `.cjs` is CommonJS, `.mjs`
/// and TypeScript are ES modules; a `.js`/`.jsx` file is an ES module when its package says
/// `"type": "module"` or it has `import`/`export` syntax, and CommonJS when it has neither
/// and uses `require`, `module` or `exports` (a file that uses none of them loads the same
/// either way and is taken as an ES module). `package_is_module`: the nearest `package.json`
/// says `"type": "module"`.
pub(crate) fn format_of(path: &Path, source: &str, package_is_module: bool) -> Format {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "cjs" => Format::CommonJs,
        "js" | "jsx" if !package_is_module => {
            if !(source.contains("require") || source.contains("module") || source.contains("exports")) {
                return Format::EsModule;
            }
            let allocator = Allocator::default();
            let source_type = SourceType::unambiguous().with_jsx(path.extension().is_some_and(|e| e == "jsx"));
            let parsed = Parser::new(&allocator, source, source_type).parse();
            if parsed.module_record.has_module_syntax { Format::EsModule } else { Format::CommonJs }
        }
        _ => Format::EsModule,
    }
}

/// What a CommonJS file requires and exports.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Analysis {
    /// Every `require("literal")`, in source order (duplicates kept).
    pub requires: Vec<ImportRef>,
    /// Named exports found in the file itself (`default` and `__esModule` excluded).
    pub exports: BTreeSet<String>,
    /// Specifiers whose exports this module re-exports.
    pub reexports: Vec<String>,
}

/// Parses `source` as CommonJS and analyzes it. `display` names the file in errors.
pub(crate) fn analyze(display: &str, source: &str) -> Result<Analysis, LoadError> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, SourceType::cjs()).parse();
    if let Some(err) = parsed.diagnostics.errors().next() {
        let offset = err.labels.first().map(|l| l.offset() as usize).unwrap_or(0);
        let (line, col) = transpile::line_col(source, offset);
        return Err(LoadError::new("SyntaxError", format!("{display}:{line}:{col}: SyntaxError: {}", err.message)));
    }
    Ok(analyze_program(source, &parsed.program))
}

fn analyze_program(source: &str, program: &Program<'_>) -> Analysis {
    let mut finder = Finder { source, try_depth: 0, required_as: HashMap::new(), out: Analysis::default() };
    finder.visit_program(program);
    let mut out = finder.out;
    out.exports.remove("default");
    out.exports.remove("__esModule");
    out.exports.remove(HOOK);
    let mut seen = BTreeSet::new();
    out.reexports.retain(|s| seen.insert(s.clone()));
    out
}

struct Finder<'s> {
    source: &'s str,
    try_depth: u32,
    /// Variables holding a required module (`var _x = require("x")`, also through an interop
    /// helper: `_interopRequireWildcard(require("x"))`), by name.
    required_as: HashMap<String, String>,
    out: Analysis,
}

/// The specifier a variable's initializer requires: `require("x")` or `helper(require("x"))`.
fn required_through_helper<'a>(init: &Expression<'a>) -> Option<&'a str> {
    required(init).or_else(|| match init.without_parentheses() {
        Expression::CallExpression(call) => call.arguments.first()?.as_expression().and_then(required),
        _ => None,
    })
}

/// `X` in Babel's re-export loop `Object.keys(X).forEach(…)`.
fn object_keys_for_each<'a>(call: &CallExpression<'a>) -> Option<&'a str> {
    let member = call.callee.without_parentheses().as_member_expression()?;
    if member.static_property_name() != Some("forEach") {
        return None;
    }
    let Expression::CallExpression(keys) = member.object().without_parentheses() else { return None };
    if !keys.callee.is_specific_member_access("Object", "keys") || keys.arguments.len() != 1 {
        return None;
    }
    match keys.arguments[0].as_expression()?.without_parentheses() {
        Expression::Identifier(id) => Some(id.name.as_str()),
        _ => None,
    }
}

/// `exports` or `module.exports`.
fn is_exports_object(expr: &Expression<'_>) -> bool {
    match expr.without_parentheses() {
        Expression::Identifier(id) => id.name == "exports",
        expr => expr.as_member_expression().is_some_and(|m| m.is_specific_member_access("module", "exports")),
    }
}

/// The specifier of `require("literal")`.
fn required<'a>(expr: &Expression<'a>) -> Option<&'a str> {
    match expr.without_parentheses() {
        Expression::CallExpression(call) => required_by_call(call),
        _ => None,
    }
}

fn required_by_call<'a>(call: &CallExpression<'a>) -> Option<&'a str> {
    if !call.callee.is_specific_id("require") || call.arguments.len() != 1 {
        return None;
    }
    match &call.arguments[0] {
        Argument::StringLiteral(lit) => Some(lit.value.as_str()),
        Argument::TemplateLiteral(lit) if lit.expressions.is_empty() && lit.quasis.len() == 1 => {
            lit.quasis[0].value.cooked.map(|c| c.as_str())
        }
        _ => None,
    }
}

/// The name a call's callee ends in: `f(…)`, `a.f(…)`, `(0, a.f)(…)`.
fn callee_name<'a>(callee: &Expression<'a>) -> Option<&'a str> {
    match callee.without_parentheses() {
        Expression::Identifier(id) => Some(id.name.as_str()),
        Expression::SequenceExpression(seq) => seq.expressions.last().and_then(callee_name),
        expr => expr.as_member_expression().and_then(|m| m.static_property_name()),
    }
}

impl<'a> Visit<'a> for Finder<'_> {
    fn visit_variable_declarator(&mut self, it: &VariableDeclarator<'a>) {
        if let (BindingPattern::BindingIdentifier(id), Some(init)) = (&it.id, &it.init)
            && let Some(spec) = required_through_helper(init)
        {
            self.required_as.insert(id.name.to_string(), spec.to_string());
        }
        walk::walk_variable_declarator(self, it);
    }

    fn visit_try_statement(&mut self, it: &TryStatement<'a>) {
        self.try_depth += 1;
        self.visit_block_statement(&it.block);
        self.try_depth -= 1;
        if let Some(handler) = &it.handler {
            self.visit_catch_clause(handler);
        }
        if let Some(finalizer) = &it.finalizer {
            self.visit_block_statement(finalizer);
        }
    }

    fn visit_call_expression(&mut self, call: &CallExpression<'a>) {
        if let Some(spec) = required_by_call(call) {
            let (line, col) = transpile::line_col(self.source, call.span.start as usize);
            let kind = ImportKind::Require { optional: self.try_depth > 0 };
            self.out.requires.push(ImportRef { specifier: spec.to_string(), line, col, kind });
        }
        match callee_name(&call.callee) {
            // `Object.defineProperty(exports, "name", …)`
            Some("defineProperty")
                if call.callee.is_specific_member_access("Object", "defineProperty") && call.arguments.len() >= 2 =>
            {
                if let (Some(target), Argument::StringLiteral(name)) =
                    (call.arguments[0].as_expression(), &call.arguments[1])
                    && is_exports_object(target)
                {
                    self.out.exports.insert(name.value.to_string());
                }
            }
            // TypeScript's `__exportStar(require("x"), exports)` and `__export(require("x"))`,
            // esbuild's `__reExport(target, require("x"), module.exports)`.
            Some("__exportStar" | "__export" | "__reExport") => {
                for arg in &call.arguments {
                    if let Some(spec) = arg.as_expression().and_then(required) {
                        self.out.reexports.push(spec.to_string());
                    }
                }
            }
            _ => {}
        }
        // Babel's `Object.keys(_x).forEach(function (key) { … exports[key] = _x[key] … })`
        // where `var _x = require("x")`: a re-export of "x".
        if let Some(spec) = object_keys_for_each(call).and_then(|name| self.required_as.get(name)) {
            self.out.reexports.push(spec.clone());
        }
        walk::walk_call_expression(self, call);
    }

    fn visit_assignment_expression(&mut self, it: &AssignmentExpression<'a>) {
        if let Some(member) = it.left.as_member_expression() {
            if is_exports_object(member.object()) {
                // `exports.a = …`, `module.exports.a = …`, `exports["a"] = …`
                if let Some(name) = member.static_property_name() {
                    self.out.exports.insert(name.to_string());
                }
            } else if matches!(&it.left, AssignmentTarget::StaticMemberExpression(m) if m.object.is_specific_id("module") && m.property.name == "exports")
            {
                // `module.exports = require("x")` / `= { a, b: …, ...require("y") }`
                match it.right.without_parentheses() {
                    Expression::ObjectExpression(obj) => {
                        for prop in &obj.properties {
                            match prop {
                                ObjectPropertyKind::ObjectProperty(p) if !p.computed => {
                                    if let Some(name) = p.key.static_name() {
                                        self.out.exports.insert(name.into_owned());
                                    }
                                }
                                ObjectPropertyKind::SpreadProperty(s) => {
                                    if let Some(spec) = required(&s.argument) {
                                        self.out.reexports.push(spec.to_string());
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                    right => {
                        if let Some(spec) = required(right) {
                            self.out.reexports.push(spec.to_string());
                        }
                    }
                }
            }
        }
        walk::walk_assignment_expression(self, it);
    }
}

/// Whether `name` can be written as an identifier name in `export { x as name }`.
fn is_identifier_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Wraps the CommonJS file `source` (module `name`, its `__filename`; shown as `display` in
/// errors) into an ES module. `instrument`: rewrite catch clauses as for app code
/// (`transpile::CATCH_HOOK`). Its imports are the runtime module and every static `require`.
pub(crate) fn wrap(name: &str, display: &str, source: &str, instrument: bool) -> Result<Transpiled, LoadError> {
    let analysis = analyze(display, source)?;
    let mut body = std::borrow::Cow::Borrowed(source);
    if instrument {
        let allocator = Allocator::default();
        let parsed = Parser::new(&allocator, source, SourceType::cjs()).parse();
        if let Some(rewritten) = transpile::instrument_catches(source, &parsed.program) {
            body = rewritten.into();
        }
    }
    // A hashbang is only allowed at the very start of a file; keep it as a comment.
    if body.starts_with("#!") {
        body = format!("//{}", &body[2..]).into();
    }
    let json = |s: &str| serde_json::to_string(s).expect("strings serialize");
    let mut specs: Vec<&str> = Vec::new();
    for r in &analysis.requires {
        if !specs.contains(&r.specifier.as_str()) {
            specs.push(&r.specifier);
        }
    }
    let mut code = String::with_capacity(source.len() + 1024);
    code.push_str(&format!(
        "import __emvex_cjs from {}; import * as __emvex_mode from {}; ",
        json(RUNTIME_NAME),
        json(MODE_SPECIFIER)
    ));
    for (i, spec) in specs.iter().enumerate() {
        code.push_str(&format!("import * as __emvex_r{i} from {}; ", json(spec)));
    }
    code.push_str(&format!(
        "export function {HOOK}() {{ return __emvex_cjs.load(__emvex_body, {}, __emvex_deps, __emvex_settle); }} ",
        json(name)
    ));
    code.push_str("function __emvex_deps(s) { switch (s) { ");
    for (i, spec) in specs.iter().enumerate() {
        code.push_str(&format!("case {}: return __emvex_r{i}; ", json(spec)));
    }
    code.push_str("} } function __emvex_body(exports, require, module, __filename, __dirname) {");
    code.push_str(&body);
    // The ES exports are `var`s (live, assignable before the top level runs), set once the
    // body has run, by whichever comes first: a `require` or this module's evaluation.
    code.push_str("\n}\nvar __emvex_default;\n");
    let mut names = vec!["__emvex_default as default".to_string()];
    let mut settle = String::from("function __emvex_settle(e) { __emvex_default = e; ");
    for (i, export) in analysis.exports.iter().enumerate() {
        code.push_str(&format!("var __emvex_e{i};\n"));
        settle.push_str(&format!("__emvex_e{i} = e == null ? undefined : e[{}]; ", json(export)));
        let shown = if is_identifier_name(export) { export.clone() } else { json(export) };
        names.push(format!("__emvex_e{i} as {shown}"));
    }
    settle.push_str("}\n");
    code.push_str(&settle);
    code.push_str(&format!("export {{ {} }};\n", names.join(", ")));
    code.push_str(&format!("if (__emvex_mode.eager === true) {HOOK}();\n"));
    for spec in &analysis.reexports {
        code.push_str(&format!("export * from {};\n", json(spec)));
    }
    let mut imports = vec![
        ImportRef { specifier: RUNTIME_NAME.to_string(), line: 1, col: 1, kind: ImportKind::Runtime },
        ImportRef { specifier: MODE_SPECIFIER.to_string(), line: 1, col: 1, kind: ImportKind::Runtime },
    ];
    imports.extend(analysis.requires);
    Ok(Transpiled { code, imports, export_lines: HashMap::new(), map: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(a: &Analysis) -> Vec<&str> {
        a.exports.iter().map(String::as_str).collect()
    }

    #[test]
    fn json_modules() {
        let t = json_module("d.json", "{\"a\": [1, 2]}\n").unwrap();
        assert!(
            t.code.starts_with("const __emvex_json = {\"a\": [1, 2]};\nexport default __emvex_json;\n"),
            "{}",
            t.code
        );
        assert!(t.code.contains(&format!("export function {HOOK}()")));
        let err = json_module("d.json", "{\n  \"a\": }").unwrap_err();
        assert!(err.message.starts_with("d.json:2:"), "{}", err.message);
    }

    #[test]
    fn detects_export_forms() {
        let src = r#""use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.a = 1;
module.exports.b = 2;
exports["c-d"] = 3;
Object.defineProperty(exports, "e", { enumerable: true, get: function () { return 1; } });
Object.defineProperty(module.exports, "f", { value: 1 });
exports.default = 4;
function g() { exports.inner = 5; }
other.x = 6;
"#;
        let a = analyze("m.js", src).unwrap();
        assert_eq!(names(&a), vec!["a", "b", "c-d", "e", "f", "inner"]);
        assert!(a.reexports.is_empty() && a.requires.is_empty());
    }

    #[test]
    fn detects_object_literal_and_reexports() {
        let src = r#"const x = require("./x");
module.exports = { a, b: 1, "c": 2, [d]: 3, ...require("./spread"), e() {} };
__exportStar(require("./star"), exports);
tslib_1.__exportStar(require("./tslib"), exports);
(0, tslib.__exportStar)(require("./seq"), exports);
__export(require("./old"));
__reExport(src_exports, require("./esb"), module.exports);
0 && (module.exports = { hint, ...require("./hinted") });
"#;
        let a = analyze("m.js", src).unwrap();
        assert_eq!(names(&a), vec!["a", "b", "c", "e", "hint"]);
        assert_eq!(a.reexports, vec!["./spread", "./star", "./tslib", "./seq", "./old", "./esb", "./hinted"]);
        let specs: Vec<_> = a.requires.iter().map(|r| (r.specifier.as_str(), r.line)).collect();
        assert_eq!(specs[0], ("./x", 1));
        assert_eq!(specs.len(), 8);
    }

    #[test]
    fn babels_object_keys_loop_is_a_reexport() {
        let a = analyze(
            "m.js",
            r#""use strict";
var _util = require("./util");
var _types = _interopRequireWildcard(require("./types"));
var _other = require("./other");
Object.keys(_util).forEach(function (key) {
  if (key === "default" || key === "__esModule") return;
  Object.defineProperty(exports, key, { enumerable: true, get: function () { return _util[key]; } });
});
Object.keys(_types).forEach(function (key) { exports[key] = _types[key]; });
Object.keys(someObject).forEach(function () {});
"#,
        )
        .unwrap();
        assert_eq!(a.reexports, vec!["./util", "./types"], "_other is required but not re-exported");
    }

    #[test]
    fn module_exports_require_is_a_reexport() {
        let a = analyze("m.js", "module.exports = require('./impl');\n").unwrap();
        assert_eq!(a.reexports, vec!["./impl"]);
        assert!(a.exports.is_empty());
    }

    #[test]
    fn requires_in_try_are_optional_and_dynamic_ones_are_skipped() {
        let src = "try { require('opt'); } catch (e) { require('fallback'); }\nrequire(name);\nrequire(`t`);\n";
        let a = analyze("m.js", src).unwrap();
        let kinds: Vec<_> = a.requires.iter().map(|r| (r.specifier.as_str(), r.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("opt", ImportKind::Require { optional: true }),
                ("fallback", ImportKind::Require { optional: false }),
                ("t", ImportKind::Require { optional: false }),
            ]
        );
    }

    #[test]
    fn format_follows_node() {
        let p = |n: &str| PathBuf::from(n);
        assert_eq!(format_of(&p("a.cjs"), "export const a = 1;", true), Format::CommonJs);
        assert_eq!(format_of(&p("a.mjs"), "module.exports = 1;", false), Format::EsModule);
        assert_eq!(format_of(&p("a.ts"), "module.exports = 1;", false), Format::EsModule);
        assert_eq!(format_of(&p("a.js"), "module.exports = 1;", true), Format::EsModule);
        assert_eq!(format_of(&p("a.js"), "module.exports = 1;", false), Format::CommonJs);
        assert_eq!(format_of(&p("a.js"), "import x from 'y';\nconst r = require;", false), Format::EsModule);
        assert_eq!(format_of(&p("a.js"), "const m = import.meta; exports.a = 1", false), Format::EsModule);
        assert_eq!(format_of(&p("a.js"), "const m = import('x'); exports.a = 1", false), Format::CommonJs);
        assert_eq!(format_of(&p("a.js"), "globalThis.x = 1;", false), Format::EsModule);
    }

    #[test]
    fn package_type_is_inherited_from_the_nearest_manifest() {
        let dir = std::env::temp_dir().join(format!("emvex-cjs-types-{}", std::process::id()));
        fs::create_dir_all(dir.join("a/b")).unwrap();
        fs::create_dir_all(dir.join("c")).unwrap();
        fs::write(dir.join("package.json"), r#"{"type":"module"}"#).unwrap();
        fs::write(dir.join("a/package.json"), r#"{"name":"a"}"#).unwrap();
        let mut types = PackageTypes::default();
        assert!(types.is_module(&dir.join("c/x.js")));
        assert!(!types.is_module(&dir.join("a/b/x.js")));
        assert!(!types.is_module(&dir.join("a/x.js")));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn wrapper_keeps_lines_and_exports_names() {
        let src = "#!/usr/bin/env node\nconst d = require('./d.json');\nexports.a = d;\nexports['b c'] = 2;\nthrow new Error('x');";
        let t = wrap("lib/m.cjs", "lib/m.cjs", src, false).unwrap();
        let lines: Vec<_> = t.code.lines().collect();
        assert!(lines[0].starts_with("import __emvex_cjs from \"emvex:commonjs\"; import * as __emvex_mode from \"emvex:commonjs-mode\"; import * as __emvex_r0 from \"./d.json\";"), "{}", lines[0]);
        assert!(lines[0].ends_with("{///usr/bin/env node"), "{}", lines[0]);
        assert_eq!(lines[4], "throw new Error('x');");
        assert!(
            t.code.contains("export { __emvex_default as default, __emvex_e0 as a, __emvex_e1 as \"b c\" };"),
            "{}",
            t.code
        );
        assert_eq!(t.imports[1].kind, ImportKind::Runtime);
        assert_eq!(t.imports[2].specifier, "./d.json");
        assert_eq!(t.imports[2].line, 2);
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err =
            wrap("/x/node_modules/bad/index.js", "node_modules/bad/index.js", "exports.a = 1;\nexports.b = ;\n", false)
                .unwrap_err();
        assert_eq!(err.code, "SyntaxError");
        assert!(err.message.starts_with("node_modules/bad/index.js:2:"), "{}", err.message);
    }

    #[test]
    fn app_code_catches_are_instrumented() {
        let t = wrap("lib/m.cjs", "lib/m.cjs", "try { f(); } catch (e) { g(); }\n", true).unwrap();
        assert!(t.code.contains("catch (e) {__emvexCatch(e); g(); }"), "{}", t.code);
    }
}
