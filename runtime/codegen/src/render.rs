//! The text of each generated file, exactly as `npx convex codegen` of convex 1.49 writes it for
//! an app (a root component with the default `codegen` options: `.js` + `.d.ts` files, dynamic
//! data model and api, `ComponentApi` imports for mounted components).
//!
//! Owns: the file names and their contents. The fixed parts in `templates/` are the CLI's
//! templates (`codegen_templates/{api,component_api,server,dataModel}.js`) after the CLI's
//! prettier 3 pass; the parts that vary (module imports and keys, the `Env` type, the
//! `components` entries) are printed here the way prettier prints them. Prettier never breaks
//! an `import type * as x from "…"` line, a `key: typeof x;` member or an `import("…").T<"…">`
//! member, so those stay on one line whatever their length. `tests/node/codegen.test.mjs`
//! renders the real templates through the real prettier and compares.

use crate::shape::{AppShape, EnvVar, MountedComponent};
use crate::validator_type::validator_to_type;

pub(crate) const API_HEADER: &str = include_str!("templates/api.header.d.ts.txt");
const API_SERVER_IMPORT: &str = include_str!("templates/api.imports.d.ts.txt");
const API_REFERENCES: &str = include_str!("templates/api.refs.d.ts.txt");
const API_JS: &str = include_str!("templates/api.js.txt");
const SERVER_JS: &str = include_str!("templates/server.js.txt");
const SERVER_DTS_HEAD: &str = include_str!("templates/server.head.d.ts.txt");
const SERVER_DTS_TAIL: &str = include_str!("templates/server.tail.d.ts.txt");
pub(crate) const DATA_MODEL_SCHEMA: &str = include_str!("templates/dataModel.schema.d.ts.txt");
pub(crate) const DATA_MODEL_NO_SCHEMA: &str = include_str!("templates/dataModel.noSchema.d.ts.txt");

/// Variables every deployment has, typed before the app's own (`withPlatformEnvVars`).
const PLATFORM_ENV_VARS: [&str; 2] = ["CONVEX_CLOUD_URL", "CONVEX_SITE_URL"];

const ENV_DOC: &str = "/**
 * Typesafe environment variables.
 *
 * This includes platform-provided env vars and any variables declared in
 * `convex.config.ts`.
 */
";

/// One file of `convex/_generated/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// File name inside `_generated/` (`api.d.ts`).
    pub name: &'static str,
    pub contents: String,
}

/// The five files, in the order the CLI writes them.
pub fn render(shape: &AppShape) -> Vec<GeneratedFile> {
    let data_model = if shape.has_schema { DATA_MODEL_SCHEMA } else { DATA_MODEL_NO_SCHEMA };
    vec![
        GeneratedFile { name: "dataModel.d.ts", contents: data_model.to_string() },
        GeneratedFile { name: "server.js", contents: SERVER_JS.to_string() },
        GeneratedFile { name: "server.d.ts", contents: server_dts(&shape.env_vars) },
        GeneratedFile { name: "api.js", contents: API_JS.to_string() },
        GeneratedFile { name: "api.d.ts", contents: api_dts(&shape.modules, &shape.components) },
    ]
}

fn server_dts(env_vars: &[EnvVar]) -> String {
    let mut out = String::from(SERVER_DTS_HEAD);
    out.push_str(&env_type(env_vars));
    out.push_str(SERVER_DTS_TAIL);
    out
}

/// The `Env` type of `server.d.ts`/`server.ts`: the platform variables, then `env_vars`.
pub(crate) fn env_type(env_vars: &[EnvVar]) -> String {
    let mut out = String::from(ENV_DOC);
    out.push_str("type Env = {\n");
    for name in PLATFORM_ENV_VARS {
        out.push_str(&format!("  readonly {name}: string;\n"));
    }
    for var in env_vars {
        let mut ty = serde_json::from_str(&var.validator)
            .ok()
            .and_then(|v| validator_to_type(&v))
            .unwrap_or_else(|| "unknown".into());
        if var.optional {
            ty.push_str(" | undefined");
        }
        out.push_str(&format!("  readonly {}: {ty};\n", var.name));
    }
    out.push_str("};\n");
    out
}

fn api_dts(modules: &[String], components: &[MountedComponent]) -> String {
    let mut out = String::from(API_HEADER);
    out.push_str(&module_imports(modules));
    out.push_str(API_SERVER_IMPORT);
    out.push_str(&format!("declare const fullApi: ApiFromModules<{}>;\n", api_members(modules)));
    out.push('\n');
    out.push_str(API_REFERENCES);
    out.push_str(&format!("export declare const components: {};\n", component_members(components)));
    out
}

/// One `import type * as x from "../x.js";` line per module, then a blank line if any.
pub(crate) fn module_imports(modules: &[String]) -> String {
    let mut out = String::new();
    for module in modules {
        out.push_str(&format!(
            "import type * as {} from \"../{}.js\";\n",
            module_identifier(module),
            import_path(module)
        ));
    }
    if !modules.is_empty() {
        out.push('\n');
    }
    out
}

/// The type argument of `ApiFromModules<…>`: `{}`, or one `key: typeof x;` line per module.
pub(crate) fn api_members(modules: &[String]) -> String {
    if modules.is_empty() {
        return "{}".into();
    }
    let mut out = String::from("{\n");
    for module in modules {
        out.push_str(&format!("  {}: typeof {};\n", property_key(&import_path(module)), module_identifier(module)));
    }
    out.push('}');
    out
}

/// The type of `components`: `{}`, or one `name: import("…").ComponentApi<"name">;` line each.
pub(crate) fn component_members(components: &[MountedComponent]) -> String {
    if components.is_empty() {
        return "{}".into();
    }
    let mut out = String::from("{\n");
    for c in components {
        out.push_str(&format!(
            "  {}: import(\"{}/_generated/component.js\").ComponentApi<\"{}\">;\n",
            property_key(&c.name),
            c.api_module,
            c.name
        ));
    }
    out.push('}');
    out
}

/// The CLI's `importPath`: the module path without its extension.
fn import_path(module: &str) -> String {
    module.rfind('.').map_or(module, |i| &module[..i]).to_string()
}

/// The CLI's `moduleIdentifier`: `/` and `-` become `_`, and a name that would clash with the
/// file's own bindings or a reserved word gets a trailing `_`.
fn module_identifier(module: &str) -> String {
    const TAKEN: [&str; 4] = ["fullApi", "api", "internal", "components"];
    const RESERVED: [&str; 46] = [
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "import",
        "in",
        "instanceof",
        "new",
        "null",
        "return",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "let",
        "static",
        "yield",
        "await",
        "enum",
        "implements",
        "interface",
        "package",
        "private",
        "protected",
        "public",
    ];
    let mut ident = import_path(module).replace(['/', '-'], "_");
    if TAKEN.contains(&ident.as_str()) {
        ident.push('_');
    }
    if RESERVED.contains(&ident.as_str()) {
        ident.push('_');
    }
    ident
}

/// A property key as prettier (`quoteProps: "as-needed"`) prints a quoted one in TypeScript:
/// unquoted when it is an identifier name (reserved words included), quoted otherwise.
/// Non-ASCII names stay quoted (prettier unquotes some of them; emvex does not attempt to).
pub(crate) fn property_key(key: &str) -> String {
    let mut chars = key.chars();
    let is_identifier = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if is_identifier { key.to_string() } else { format!("\"{key}\"") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(modules: &[&str], components: &[(&str, &str)]) -> AppShape {
        AppShape {
            modules: modules.iter().map(|m| m.to_string()).collect(),
            has_schema: true,
            env_vars: Vec::new(),
            components: components
                .iter()
                .map(|(name, api_module)| MountedComponent {
                    name: name.to_string(),
                    api_module: api_module.to_string(),
                })
                .collect(),
        }
    }

    fn file(files: &[GeneratedFile], name: &str) -> String {
        files.iter().find(|f| f.name == name).unwrap().contents.clone()
    }

    #[test]
    fn identifiers_and_keys_follow_the_cli_and_prettier() {
        assert_eq!(module_identifier("dir/sub/my-file.ts"), "dir_sub_my_file");
        assert_eq!(module_identifier("api.ts"), "api_");
        assert_eq!(module_identifier("default.js"), "default_");
        assert_eq!(module_identifier("messages.ts"), "messages");
        assert_eq!(property_key("default"), "default");
        assert_eq!(property_key("dir/b"), "\"dir/b\"");
        assert_eq!(property_key("my-file"), "\"my-file\"");
        assert_eq!(property_key("9lives"), "\"9lives\"");
    }

    #[test]
    fn api_dts_lists_modules_and_components() {
        let files = render(&shape(&["a.ts", "dir/b.ts"], &[("pool", "@convex-dev/workpool")]));
        let api = file(&files, "api.d.ts");
        assert!(api.contains(
            "import type * as a from \"../a.js\";\nimport type * as dir_b from \"../dir/b.js\";\n\nimport type {\n"
        ));
        assert!(api.contains("ApiFromModules<{\n  a: typeof a;\n  \"dir/b\": typeof dir_b;\n}>;\n"));
        assert!(api.ends_with(
            "export declare const components: {\n  pool: import(\"@convex-dev/workpool/_generated/component.js\").ComponentApi<\"pool\">;\n};\n"
        ));
    }

    #[test]
    fn an_empty_app_has_empty_objects() {
        let files = render(&AppShape { has_schema: false, ..shape(&[], &[]) });
        let api = file(&files, "api.d.ts");
        assert!(api.contains(" */\n\nimport type {\n"));
        assert!(api.contains("declare const fullApi: ApiFromModules<{}>;\n"));
        assert!(api.ends_with("export declare const components: {};\n"));
        assert!(file(&files, "dataModel.d.ts").contains("export type DataModel = AnyDataModel;"));
    }

    #[test]
    fn server_dts_types_declared_env_vars_after_the_platform_ones() {
        let var = EnvVar { name: "MODE".into(), validator: r#"{"type":"string"}"#.into(), optional: true };
        let server = server_dts(&[var]);
        assert!(server.contains(
            "type Env = {\n  readonly CONVEX_CLOUD_URL: string;\n  readonly CONVEX_SITE_URL: string;\n  readonly MODE: string | undefined;\n};\n"
        ));
        assert!(server.contains("export declare const env: Env;"));
    }
}
