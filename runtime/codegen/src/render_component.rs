//! The text of a local component's `_generated/` files, exactly as `npx convex codegen` of
//! convex 1.49 writes them for a component directory: always TypeScript (`.ts`), whatever the
//! app's options — `dataModel.ts`, `component.ts` (the `ComponentApi` type its parents'
//! `components` use), `server.ts` (builders and the `Env` type of its declared env vars) and
//! `api.ts` (`api`/`internal` from its modules, `components` of its own children). Before the
//! app is loaded the CLI writes the [`initial`] versions of the three files its modules import,
//! each only when missing.
//!
//! Owns: those file names and contents. The fixed parts in `templates/component*.txt` are the
//! CLI's templates (`codegen_templates/component_{api,server}.js`) after its prettier 3 pass;
//! the `ComponentApi` tree is laid out with [`crate::pretty`] as prettier lays it out (objects of
//! the tree always broken, each `FunctionReference<…>` on one line when it fits in 80 columns).
//!
//! Where emvex deviates from 1.49, on purpose: the import path of a nested local child (see
//! `shape::mounted_components`), and names that are not identifiers (a module `my-file.ts`,
//! an argument `"a-b"`) are quoted in `component.ts`, where 1.49 writes them bare and fails.

use serde_json::Value as Json;

use crate::CodegenError;
use crate::collation::compare_strings;
use crate::component::{ComponentFunction, ComponentShape};
use crate::pretty::{Doc, broken_group, concat, group, if_break, indent, join, print, text};
use crate::render::{
    API_HEADER, DATA_MODEL_NO_SCHEMA, DATA_MODEL_SCHEMA, GeneratedFile, api_members, component_members, env_type,
    module_imports, property_key,
};
use crate::validator_type::validator_to_doc;

const COMPONENT_HEAD: &str = include_str!("templates/component.head.ts.txt");
const API_IMPORTS: &str = include_str!("templates/component_api.imports.ts.txt");
const API_REFERENCES: &str = include_str!("templates/component_api.refs.ts.txt");
const API_STUB: &str = include_str!("templates/component_api.stub.ts.txt");
const SERVER_HEAD: &str = include_str!("templates/component_server.head.ts.txt");
const SERVER_BODY: &str = include_str!("templates/component_server.body.ts.txt");
const SERVER_TAIL: &str = include_str!("templates/component_server.tail.ts.txt");

/// `server.ts`'s `env` with the `Env` type (final codegen) and without (initial codegen).
const ENV_TYPED: &str =
    "export const env: Env = (globalThis as unknown as { process: { env: Env } })\n  .process.env;\n";
const ENV_UNTYPED: &str = "export const env: Record<string, string | undefined> = (\n  globalThis as unknown as {\n    process: { env: Record<string, string | undefined> };\n  }\n).process.env;\n";

/// Prettier's default line width.
const WIDTH: usize = 80;

/// The names of the files the CLI writes into a component's `_generated/`, in its order.
pub const COMPONENT_FILES: [&str; 4] = ["dataModel.ts", "component.ts", "server.ts", "api.ts"];

/// The four files, in the order the CLI writes them.
pub fn render_component(shape: &ComponentShape) -> Result<Vec<GeneratedFile>, CodegenError> {
    Ok(vec![
        GeneratedFile { name: "dataModel.ts", contents: data_model(shape.has_schema).to_string() },
        GeneratedFile { name: "component.ts", contents: component_ts(shape)? },
        GeneratedFile { name: "server.ts", contents: server_ts(Some(&env_type(&shape.env_vars))) },
        GeneratedFile { name: "api.ts", contents: api_ts(shape) },
    ])
}

/// What the CLI writes before the app is analyzed, each file only if it is missing:
/// `dataModel.ts`, `server.ts` without the `Env` type, and an untyped `api.ts`.
pub fn initial(has_schema: bool) -> Vec<GeneratedFile> {
    vec![
        GeneratedFile { name: "dataModel.ts", contents: data_model(has_schema).to_string() },
        GeneratedFile { name: "server.ts", contents: server_ts(None) },
        GeneratedFile { name: "api.ts", contents: API_STUB.to_string() },
    ]
}

fn data_model(has_schema: bool) -> &'static str {
    if has_schema { DATA_MODEL_SCHEMA } else { DATA_MODEL_NO_SCHEMA }
}

fn server_ts(env_type: Option<&str>) -> String {
    let mut out = String::from(SERVER_HEAD);
    if let Some(env_type) = env_type {
        out.push_str(env_type);
        out.push('\n');
    }
    out.push_str(SERVER_BODY);
    out.push_str(if env_type.is_some() { ENV_TYPED } else { ENV_UNTYPED });
    out.push_str(SERVER_TAIL);
    out
}

fn api_ts(shape: &ComponentShape) -> String {
    let mut out = String::from(API_HEADER);
    out.push_str(&module_imports(&shape.modules));
    out.push_str(API_IMPORTS);
    out.push_str(&format!("const fullApi: ApiFromModules<{}> = anyApi as any;\n", api_members(&shape.modules)));
    out.push_str(API_REFERENCES);
    out.push_str(&format!(
        "export const components = componentsGeneric() as unknown as {};\n",
        component_members(&shape.components)
    ));
    out
}

/// A node of the exported API: a function, or names leading to more nodes.
enum Export<'a> {
    Function(&'a ComponentFunction),
    Branch(Vec<(String, Export<'a>)>),
}

impl<'a> Export<'a> {
    /// The backend's `file_based_exports`: each public function under its module path.
    fn of(functions: &'a [ComponentFunction]) -> Result<Export<'a>, CodegenError> {
        let mut root = Export::Branch(Vec::new());
        for f in functions.iter().filter(|f| f.public) {
            let mut node = &mut root;
            for part in f.module.split('/') {
                let Export::Branch(children) = node else { unreachable!("only branches are descended into") };
                let i = match children.iter().position(|(name, _)| name == part) {
                    Some(i) => i,
                    None => {
                        children.push((part.to_string(), Export::Branch(Vec::new())));
                        children.len() - 1
                    }
                };
                node = &mut children[i].1;
                if matches!(node, Export::Function(_)) {
                    return Err(conflict(f));
                }
            }
            let Export::Branch(children) = node else { unreachable!("checked above") };
            if children.iter().any(|(name, _)| *name == f.name) {
                return Err(conflict(f));
            }
            children.push((f.name.clone(), Export::Function(f)));
        }
        Ok(root)
    }

    fn doc(&self) -> Result<Doc, CodegenError> {
        match self {
            Export::Function(f) => function_reference(f),
            Export::Branch(children) if children.is_empty() => Ok(text("{}")),
            Export::Branch(children) => {
                // The backend hands the tree over sorted by code unit; the CLI sorts it again
                // with its collator (a stable sort).
                let mut sorted: Vec<&(String, Export)> = children.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                sorted.sort_by(|a, b| compare_strings(&a.0, &b.0));
                let members = sorted
                    .into_iter()
                    .map(|(name, child)| Ok(concat(vec![text(format!("{}: ", property_key(name))), child.doc()?])))
                    .collect::<Result<Vec<_>, CodegenError>>()?;
                Ok(broken_group(concat(vec![
                    text("{"),
                    indent(concat(vec![Doc::Line, join(&concat(vec![text(";"), Doc::Line]), members)])),
                    if_break(text(";"), text("")),
                    Doc::Line,
                    text("}"),
                ])))
            }
        }
    }
}

fn conflict(f: &ComponentFunction) -> CodegenError {
    CodegenError::new("InvalidExport", format!("Path \"{}\":{} conflicts with existing export", f.module, f.name))
}

/// `FunctionReference<"query", "internal", Args, Returns, Name>` of an exported function: the
/// parent calls it as an internal function of the component instance `Name`.
fn function_reference(f: &ComponentFunction) -> Result<Doc, CodegenError> {
    let invalid = |what: &str, v: &Json| {
        CodegenError::new("InvalidValidator", format!("Invalid function {what} of {}:{}: {v}", f.module, f.name))
    };
    let args = match f.args.get("type").and_then(Json::as_str) {
        Some("object" | "any") => validator_to_doc(&f.args).ok_or_else(|| invalid("args", &f.args))?,
        _ => return Err(invalid("args", &f.args)),
    };
    let returns = match &f.returns {
        Json::Null => text("any"),
        v => validator_to_doc(v).ok_or_else(|| invalid("returns", v))?,
    };
    let params = vec![text(format!("\"{}\"", f.kind)), text("\"internal\""), args, returns, text("Name")];
    Ok(group(concat(vec![
        text("FunctionReference<"),
        indent(concat(vec![Doc::SoftLine, join(&concat(vec![text(","), Doc::Line]), params)])),
        Doc::SoftLine,
        text(">"),
    ])))
}

fn component_ts(shape: &ComponentShape) -> Result<String, CodegenError> {
    let tree = Export::of(&shape.functions)?.doc()?;
    let body = print(&indent(concat(vec![Doc::HardLine, tree, text(";")])), WIDTH);
    Ok(format!("{}{body}\n", COMPONENT_HEAD.trim_end_matches('\n')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn function(module: &str, name: &str, public: bool, args: Json, returns: Json) -> ComponentFunction {
        ComponentFunction { module: module.into(), name: name.into(), kind: "query", public, args, returns }
    }

    fn shape(functions: Vec<ComponentFunction>) -> ComponentShape {
        ComponentShape {
            path: "counter".into(),
            modules: vec!["lib.ts".into()],
            has_schema: true,
            env_vars: Vec::new(),
            components: Vec::new(),
            functions,
        }
    }

    fn body(text: &str) -> &str {
        &text[text.find("export type ComponentApi").unwrap()..]
    }

    #[test]
    fn component_ts_types_public_functions_sorted_and_long_ones_broken() {
        let name = json!({"type": "object", "value": {"name": {"fieldType": {"type": "string"}, "optional": false}}});
        let fns = vec![
            // 79 columns with its indentation and `;`: it stays flat.
            function("lib", "get", true, name.clone(), json!({"type": "any"})),
            function("lib", "secret", false, name.clone(), Json::Null),
            function("dir/sub", "aVeryLongFunctionNameThatDoesNotFit", true, name, Json::Null),
            function("lib", "Greet", true, json!({"type": "any"}), Json::Null),
        ];
        let text = component_ts(&shape(fns)).unwrap();
        assert_eq!(
            body(&text),
            r#"export type ComponentApi<Name extends string | undefined = string | undefined> =
  {
    dir: {
      sub: {
        aVeryLongFunctionNameThatDoesNotFit: FunctionReference<
          "query",
          "internal",
          { name: string },
          any,
          Name
        >;
      };
    };
    lib: {
      get: FunctionReference<"query", "internal", { name: string }, any, Name>;
      Greet: FunctionReference<"query", "internal", any, any, Name>;
    };
  };
"#
        );
    }

    #[test]
    fn a_component_without_public_functions_has_an_empty_api() {
        let text = component_ts(&shape(vec![])).unwrap();
        assert!(text.ends_with("ComponentApi<Name extends string | undefined = string | undefined> =\n  {};\n"));
    }

    #[test]
    fn conflicting_exports_are_an_error() {
        let fns = vec![
            function("a", "b", true, json!({"type": "any"}), Json::Null),
            function("a/b", "c", true, json!({"type": "any"}), Json::Null),
        ];
        assert_eq!(Export::of(&fns).err().unwrap().code, "InvalidExport");
    }

    #[test]
    fn server_ts_types_env_only_in_the_final_version() {
        let final_ = render_component(&shape(vec![])).unwrap();
        let server = &final_.iter().find(|f| f.name == "server.ts").unwrap().contents;
        assert!(server.contains("type Env = {\n  readonly CONVEX_CLOUD_URL: string;\n"));
        assert!(server.contains(ENV_TYPED));
        let initial = initial(false);
        assert!(initial[1].contents.contains(ENV_UNTYPED) && !initial[1].contents.contains("type Env"));
        assert!(initial[0].contents.contains("AnyDataModel"));
    }

    #[test]
    fn api_ts_lists_modules_and_children() {
        let mut s = shape(vec![]);
        s.components = vec![crate::MountedComponent { name: "leaf".into(), api_module: "../leaf".into() }];
        let api = api_ts(&s);
        assert!(api.contains("const fullApi: ApiFromModules<{\n  lib: typeof lib;\n}> = anyApi as any;\n"));
        assert!(api.ends_with(
            "export const components = componentsGeneric() as unknown as {\n  leaf: import(\"../leaf/_generated/component.js\").ComponentApi<\"leaf\">;\n};\n"
        ));
    }
}
