//! The component tree of a loaded app: which instances exist (`""` = the app, `counter`,
//! `counter/leaf`), which definition each runs, the environment its realm sees, the functions,
//! schema and crons of each definition, and how a function address written in one instance
//! (`name`, `reference`, `functionHandle`) resolves to a function of some instance
//! (`docs/components.md` §3–§4.1).
//!
//! Built once at start from the evaluated `convex.config` exports; immutable afterwards.
//!
//! Invariants:
//! - Instance paths are unique; the root is `""`; a child's path is its parent's path plus
//!   `/name` (no leading slash under the root). Sibling names are unique.
//! - A child's env is exactly its bindings from the parent's `use(…, {env})` (literal values or
//!   the parent's own variables) plus the platform variables `CONVEX_CLOUD_URL` and
//!   `CONVEX_SITE_URL`; every binding satisfies the child's declared `env` validators, and
//!   every required declared variable is bound.
//! - `_reference/childComponent/…` references reach only *public* functions of a direct child
//!   of the caller; names and `_reference/function/…` stay in the caller; handles name any
//!   instance that exists.

use std::collections::BTreeMap;
use std::sync::Arc;

use emvex_node::NodeRuntime;

use emvex_component::NativeComponent;
use emvex_database::SchemaDefinition;
use emvex_engine::{DefinitionId, DefinitionInfo};
use emvex_value::Value;
use emvex_value::function::Visibility;
use emvex_value::validator::Validator;
use serde_json::Value as Json;

use crate::StartError;
use crate::path::{FunctionAddress, HANDLE_PREFIX, PathError, UdfPath, decode_handle};
use crate::registry::{FunctionInfo, Registry};

/// Platform variables every component realm sees, copied from the app's env.
const PLATFORM_VARS: [&str; 2] = ["CONVEX_CLOUD_URL", "CONVEX_SITE_URL"];

/// One mounted instance of a definition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Instance {
    /// `""` for the app, `counter`, `counter/leaf`.
    pub path: String,
    /// The name its parent gave it (`""` for the app).
    pub name: String,
    pub parent: Option<String>,
    /// Child name → child instance path.
    pub children: BTreeMap<String, String>,
    pub definition: DefinitionId,
    /// What `process.env` holds in this instance's realm.
    pub env: BTreeMap<String, String>,
}

/// How a definition's functions are answered.
pub(crate) enum Implementation {
    /// Its own JavaScript/TypeScript modules, in per-instance realms.
    Js,
    /// A Rust implementation plugged in through [`crate::native`].
    Native(Arc<dyn NativeComponent>),
}

/// What every instance of one definition shares.
pub(crate) struct Definition {
    pub id: DefinitionId,
    pub registry: Registry,
    pub schema: Option<SchemaDefinition>,
    /// The `crons.ts` export JSON, if the definition has one.
    pub crons_json: Option<String>,
    /// The `auth.config.ts` export JSON (the app's definition only).
    pub auth_config_json: Option<String>,
    pub implementation: Implementation,
}

/// The loaded tree: instances by path and the definitions they run.
pub(crate) struct Components {
    instances: BTreeMap<String, Instance>,
    definitions: BTreeMap<DefinitionId, Definition>,
    /// The app's `"use node"` modules (`dir/file`), whose actions run in Node.js, and the
    /// Node.js runtime they run in (`None` when the app has none).
    use_node_modules: std::collections::BTreeSet<String>,
    node: Option<Arc<NodeRuntime>>,
}

/// Where a function address leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// Instance path of the callee.
    pub component: String,
    pub path: UdfPath,
}

impl Components {
    /// Assembles the tree from its instances and their definitions' analyses.
    pub(crate) fn new(instances: Vec<Instance>, definitions: Vec<Definition>) -> Components {
        Components {
            instances: instances.into_iter().map(|i| (i.path.clone(), i)).collect(),
            definitions: definitions.into_iter().map(|d| (d.id, d)).collect(),
            use_node_modules: Default::default(),
            node: None,
        }
    }

    /// The same, with the app's `"use node"` modules and the Node.js runtime their actions
    /// run in.
    pub(crate) fn with_node(mut self, modules: &[String], node: Option<Arc<NodeRuntime>>) -> Components {
        self.use_node_modules = modules.iter().cloned().collect();
        self.node = node;
        self
    }

    /// The Node.js runtime that runs `path` of instance `component`, when it is an action of a
    /// `"use node"` module (only the app's own modules can be: components refuse them).
    pub(crate) fn node_runtime(&self, component: &str, path: &UdfPath) -> Option<&Arc<NodeRuntime>> {
        if component.is_empty() && self.use_node_modules.contains(&path.module) { self.node.as_ref() } else { None }
    }

    /// Every instance, the app first, parents before children.
    pub(crate) fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.instances.values()
    }

    pub(crate) fn instance(&self, path: &str) -> Option<&Instance> {
        self.instances.get(path)
    }

    /// The definition instance `path` runs.
    pub(crate) fn definition_of(&self, path: &str) -> Option<&Definition> {
        self.definitions.get(&self.instances.get(path)?.definition)
    }

    /// The function `path` of instance `component`.
    pub(crate) fn function(&self, component: &str, path: &UdfPath) -> Option<&FunctionInfo> {
        self.definition_of(component)?.registry.get(path)
    }

    /// Whether instance `component` has a function module `module`.
    pub(crate) fn has_module(&self, component: &str, module: &str) -> bool {
        self.definition_of(component).is_some_and(|d| d.registry.has_module(module))
    }

    /// Resolves a function address written in a function of instance `caller`. A child
    /// reference is checked here (the child exists and exports that public function); for
    /// names and handles only the instance is, the caller checks the function with its own
    /// wording.
    pub(crate) fn resolve(&self, caller: &str, address: &FunctionAddress) -> Result<Target, PathError> {
        match address {
            FunctionAddress::Handle(handle) => self.resolve_handle(handle),
            FunctionAddress::Reference(reference) => {
                if let Some(path) = reference.strip_prefix("_reference/function/") {
                    return Ok(Target { component: caller.to_string(), path: UdfPath::parse(path)? });
                }
                if let Some(rest) = reference.strip_prefix("_reference/childComponent/") {
                    return self.resolve_child_reference(caller, rest);
                }
                Err(PathError { message: format!("Invalid reference {reference}") })
            }
            FunctionAddress::Name(name) if name.starts_with(HANDLE_PREFIX) => self.resolve_handle(name),
            FunctionAddress::Name(name) => Ok(Target { component: caller.to_string(), path: UdfPath::parse(name)? }),
        }
    }

    fn resolve_handle(&self, handle: &str) -> Result<Target, PathError> {
        let (component, path) = decode_handle(handle)?;
        if !self.instances.contains_key(&component) {
            return Err(PathError { message: format!("Invalid function handle \"{handle}\"") });
        }
        Ok(Target { component, path })
    }

    /// `<child>/<module segments…>/<export>`: a public function of a direct child of `caller`.
    fn resolve_child_reference(&self, caller: &str, rest: &str) -> Result<Target, PathError> {
        let segments: Vec<&str> = rest.split('/').collect();
        let child = segments[0];
        let Some(child_path) = self.instances.get(caller).and_then(|i| i.children.get(child)) else {
            return Err(PathError { message: format!("Child component \"{child}\" not found") });
        };
        let attributes = &segments[1..];
        if attributes.len() < 2 {
            return Err(PathError { message: "Intermediate export references unsupported".into() });
        }
        let (name, module) = attributes.split_last().expect("at least two attributes");
        let not_exported = || PathError {
            message: format!("Child component \"{child}\" does not export {}", quoted_list(attributes)),
        };
        let path = UdfPath { module: module.join("/"), name: name.to_string() };
        if UdfPath::parse(&path.stripped()).is_err() {
            return Err(not_exported());
        }
        match self.function(child_path, &path) {
            Some(info) if info.visibility == Visibility::Public => Ok(Target { component: child_path.clone(), path }),
            Some(_) => Err(not_exported()),
            None if self.has_module(child_path, &attributes.join("/")) => {
                Err(PathError { message: "Intermediate export references unsupported".into() })
            }
            None => Err(not_exported()),
        }
    }
}

/// `["lib", "enqueue"]`, as the backend prints an attribute list.
fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Builds the instance tree from the evaluated definitions: the app with `root_env`, then each
/// `childComponents` entry of each instance's definition, depth first.
pub(crate) fn build_tree(
    definitions: &[DefinitionInfo],
    root_env: &BTreeMap<String, String>,
) -> Result<Vec<Instance>, StartError> {
    let root_def =
        definitions.first().ok_or_else(|| tree_error("InvalidComponentTree", "the app has no definition".into()))?;
    check_app_env(root_def, root_env)?;
    let mut instances = Vec::new();
    let root = Instance {
        path: String::new(),
        name: String::new(),
        parent: None,
        children: BTreeMap::new(),
        definition: root_def.id,
        env: root_env.clone(),
    };
    add_instance(definitions, root, root_env, &mut instances)?;
    Ok(instances)
}

/// Adds `instance` and, recursively, the children its definition's config mounts.
fn add_instance(
    definitions: &[DefinitionInfo],
    mut instance: Instance,
    root_env: &BTreeMap<String, String>,
    out: &mut Vec<Instance>,
) -> Result<(), StartError> {
    let definition = &definitions[instance.definition.0];
    let config: Json = match &definition.config_json {
        Some(text) => serde_json::from_str(text).map_err(|e| {
            tree_error("InvalidComponentTree", format!("component config of \"{}\" is not JSON: {e}", definition.path))
        })?,
        None => Json::Null,
    };
    if let Some((prefix, _)) = config.get("httpMounts").and_then(Json::as_object).and_then(|m| m.iter().next()) {
        return Err(tree_error(
            "UnsupportedHttpMount",
            format!(
                "emvex does not serve HTTP routes of components yet (httpPrefix \"{prefix}\" in {})",
                describe(&instance)
            ),
        ));
    }
    let mut children = Vec::new();
    for child in config.get("childComponents").and_then(Json::as_array).into_iter().flatten() {
        let name = child.get("name").and_then(Json::as_str).unwrap_or_default().to_string();
        let def_path = child.get("path").and_then(Json::as_str).unwrap_or_default();
        let Some(child_def) = definitions.iter().find(|d| d.path == def_path && d.id.0 != 0) else {
            return Err(tree_error(
                "InvalidComponentTree",
                format!("component definition \"{def_path}\" was not loaded"),
            ));
        };
        if instance.children.contains_key(&name) {
            return Err(tree_error(
                "InvalidComponentName",
                format!(
                    "Component names must be unique among siblings: \"{name}\" is used twice in {}",
                    describe(&instance)
                ),
            ));
        }
        let path = if instance.path.is_empty() { name.clone() } else { format!("{}/{name}", instance.path) };
        let env = child_env(&instance, &name, child.get("env"), child_def, root_env)?;
        instance.children.insert(name.clone(), path.clone());
        children.push(Instance {
            path,
            name,
            parent: Some(instance.path.clone()),
            children: BTreeMap::new(),
            definition: child_def.id,
            env,
        });
    }
    out.push(instance);
    for child in children {
        add_instance(definitions, child, root_env, out)?;
    }
    Ok(())
}

/// The env of child `name` of `parent`: its bindings (literal or the parent's variable) and
/// the platform variables, checked against the child definition's declared `env`.
fn child_env(
    parent: &Instance,
    name: &str,
    bindings: Option<&Json>,
    child_def: &DefinitionInfo,
    root_env: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, StartError> {
    let mut env = BTreeMap::new();
    for var in PLATFORM_VARS {
        if let Some(value) = root_env.get(var) {
            env.insert(var.to_string(), value.clone());
        }
    }
    for binding in bindings.and_then(Json::as_array).into_iter().flatten() {
        let (Some(key), Some(source)) = (binding.get(0).and_then(Json::as_str), binding.get(1)) else { continue };
        let value = match source.get("type").and_then(Json::as_str) {
            Some("value") => source.get("value").and_then(Json::as_str).map(str::to_string),
            Some("envVar") => source.get("name").and_then(Json::as_str).and_then(|n| parent.env.get(n)).cloned(),
            _ => None,
        };
        if let Some(value) = value {
            env.insert(key.to_string(), value);
        }
    }
    let child_path = if parent.path.is_empty() { name.to_string() } else { format!("{}/{name}", parent.path) };
    let declared = check_declared_env(child_def, &env);
    if let Some(var) = declared.missing.first() {
        return Err(tree_error(
            "InvalidComponentEnv",
            format!("Component \"{child_path}\" requires environment variable \"{var}\", but it was not provided"),
        ));
    }
    if let Some((var, problem)) = declared.invalid.first() {
        return Err(tree_error(
            "InvalidComponentEnv",
            format!("Environment variable \"{var}\" of component \"{child_path}\" is invalid: {problem}"),
        ));
    }
    Ok(env)
}

/// What is wrong with the values a definition gets for the variables it declares.
#[derive(Debug, Default)]
struct DeclaredEnv {
    /// Required and absent, in declaration order.
    missing: Vec<String>,
    /// Present but refused by the declared validator: (variable, why).
    invalid: Vec<(String, String)>,
}

/// Checks `env` against the `envVars` a definition's analysis declares (`defineApp({env})`,
/// `defineComponent(name, {env})`): each is a string checked by its validator, optional ones
/// may be absent.
fn check_declared_env(definition: &DefinitionInfo, env: &BTreeMap<String, String>) -> DeclaredEnv {
    let config: Json =
        definition.config_json.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Json::Null);
    let mut found = DeclaredEnv::default();
    for declared in config.get("envVars").and_then(Json::as_array).into_iter().flatten() {
        let Some(var) = declared.get(0).and_then(Json::as_str) else { continue };
        let spec = declared.get(1).cloned().unwrap_or(Json::Null);
        let optional = spec.get("optional").and_then(Json::as_bool).unwrap_or(false);
        // A value is a string: it is checked against string validators (`v.string()`, string
        // literals and unions of them); what other validators would make of it is not known
        // here, so it is not refused.
        let validator = spec
            .get("value")
            .and_then(Json::as_str)
            .and_then(|t| serde_json::from_str::<Json>(t).ok())
            .filter(|j| matches!(j.get("type").and_then(Json::as_str), Some("string" | "literal" | "union")))
            .and_then(|j| Validator::from_json(&j).ok());
        match (env.get(var), validator) {
            (None, _) if optional => {}
            (None, _) => found.missing.push(var.to_string()),
            (Some(value), Some(validator)) => {
                let no_tables = |_: u32| None::<String>;
                if let Err(e) = validator.check(&Value::String(value.clone()), &no_tables) {
                    found.invalid.push((var.to_string(), e.message));
                }
            }
            (Some(_), None) => {}
        }
    }
    found
}

/// Checks the deployment's variables against what the app declares in `defineApp({env})`.
fn check_app_env(app: &DefinitionInfo, env: &BTreeMap<String, String>) -> Result<(), StartError> {
    let declared = check_declared_env(app, env);
    if !declared.missing.is_empty() {
        return Err(tree_error(
            "MissingEnvironmentVariables",
            format!(
                "Required environment variables are not set: {}. Set them with `--env NAME=value`, or declare \
                 them `v.optional(...)` in `defineApp({{ env }})`.",
                declared.missing.join(", ")
            ),
        ));
    }
    if let Some((var, problem)) = declared.invalid.first() {
        return Err(tree_error(
            "InvalidEnvironmentVariable",
            format!("Environment variable \"{var}\" is invalid: {problem}"),
        ));
    }
    Ok(())
}

fn describe(instance: &Instance) -> String {
    if instance.path.is_empty() { "the app".into() } else { format!("component \"{}\"", instance.path) }
}

fn tree_error(code: &'static str, message: String) -> StartError {
    StartError { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn def(id: usize, path: &str, config: Json) -> DefinitionInfo {
        DefinitionInfo {
            id: DefinitionId(id),
            path: path.into(),
            dir: PathBuf::from(path),
            package: None,
            config_json: Some(config.to_string()),
            opaque: None,
            modules: Vec::new(),
        }
    }

    fn child(name: &str, path: &str, env: Json) -> Json {
        serde_json::json!({"name": name, "path": path, "args": [], "env": env})
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn counter_def() -> DefinitionInfo {
        let greeting = serde_json::json!({"type": "value", "value": "{\"type\":\"string\"}", "optional": true});
        def(
            1,
            "counter",
            serde_json::json!({
                "childComponents": [child("leaf", "counter/leaf", serde_json::json!([]))],
                "httpMounts": {},
                "envVars": [["GREETING", greeting]],
            }),
        )
    }

    #[test]
    fn builds_paths_and_env_from_values_and_references() {
        let root = def(
            0,
            "",
            serde_json::json!({
                "childComponents": [
                    child("counter", "counter", serde_json::json!([])),
                    child("second", "counter", serde_json::json!([["GREETING", {"type": "value", "value": "hi"}]])),
                    child("third", "counter", serde_json::json!([["GREETING", {"type": "envVar", "name": "APP_GREETING"}]])),
                ],
                "httpMounts": {},
            }),
        );
        let leaf = def(2, "counter/leaf", serde_json::json!({"childComponents": [], "httpMounts": {}}));
        let root_env = env(&[("APP_GREETING", "yo"), ("CONVEX_CLOUD_URL", "http://c"), ("SECRET", "s")]);
        let tree = build_tree(&[root, counter_def(), leaf], &root_env).unwrap();
        let paths: Vec<&str> = tree.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["", "counter", "counter/leaf", "second", "second/leaf", "third", "third/leaf"]);
        let by_path = |p: &str| tree.iter().find(|i| i.path == p).unwrap();
        assert_eq!(by_path("counter").env, env(&[("CONVEX_CLOUD_URL", "http://c")]));
        assert_eq!(by_path("second").env["GREETING"], "hi");
        assert_eq!(by_path("third").env["GREETING"], "yo");
        assert_eq!(by_path("counter/leaf").parent.as_deref(), Some("counter"));
        assert_eq!(by_path("").children["second"], "second");
        assert!(!by_path("third").env.contains_key("SECRET"), "app variables are not inherited");
    }

    #[test]
    fn rejects_duplicate_names_missing_and_invalid_env_and_http_mounts() {
        let leaf = def(2, "counter/leaf", serde_json::json!({"childComponents": [], "httpMounts": {}}));
        let twice = def(
            0,
            "",
            serde_json::json!({
                "childComponents": [child("c", "counter", serde_json::json!([])), child("c", "counter", serde_json::json!([]))],
                "httpMounts": {},
            }),
        );
        let err = build_tree(&[twice, counter_def(), leaf.clone()], &BTreeMap::new()).unwrap_err();
        assert_eq!(err.code, "InvalidComponentName");

        let required = serde_json::json!({"type": "value", "value": "{\"type\":\"literal\",\"value\":\"a\"}"});
        let strict = def(
            1,
            "strict",
            serde_json::json!({"childComponents": [], "httpMounts": {}, "envVars": [["MODE", required]]}),
        );
        let missing = def(
            0,
            "",
            serde_json::json!({"childComponents": [child("s", "strict", serde_json::json!([]))], "httpMounts": {}}),
        );
        let err = build_tree(&[missing, strict.clone()], &BTreeMap::new()).unwrap_err();
        assert_eq!(err.code, "InvalidComponentEnv");
        assert!(err.message.contains("\"MODE\""), "{}", err.message);
        let wrong = def(
            0,
            "",
            serde_json::json!({
                "childComponents": [child("s", "strict", serde_json::json!([["MODE", {"type": "value", "value": "b"}]]))],
                "httpMounts": {},
            }),
        );
        assert_eq!(build_tree(&[wrong, strict.clone()], &BTreeMap::new()).unwrap_err().code, "InvalidComponentEnv");
        let right = def(
            0,
            "",
            serde_json::json!({
                "childComponents": [child("s", "strict", serde_json::json!([["MODE", {"type": "value", "value": "a"}]]))],
                "httpMounts": {},
            }),
        );
        assert!(build_tree(&[right, strict], &BTreeMap::new()).is_ok());

        let app =
            |vars: Json| def(0, "", serde_json::json!({"childComponents": [], "httpMounts": {}, "envVars": vars}));
        let level = serde_json::json!({
            "type": "value",
            "value": "{\"type\":\"union\",\"value\":[{\"type\":\"literal\",\"value\":\"low\"},{\"type\":\"literal\",\"value\":\"high\"}]}",
        });
        let string = serde_json::json!({"type": "value", "value": "{\"type\":\"string\"}"});
        let number = serde_json::json!({"type": "value", "value": "{\"type\":\"number\"}"});
        let optional = serde_json::json!({"type": "value", "value": "{\"type\":\"string\"}", "optional": true});
        let vars = serde_json::json!([["MODE", string], ["LEVEL", level], ["RETRIES", number], ["EXTRA", optional]]);
        let err = build_tree(&[app(vars.clone())], &env(&[("LEVEL", "low")])).unwrap_err();
        assert_eq!(err.code, "MissingEnvironmentVariables");
        assert!(
            err.message.starts_with("Required environment variables are not set: MODE, RETRIES."),
            "{}",
            err.message
        );
        let err =
            build_tree(&[app(vars.clone())], &env(&[("MODE", "m"), ("LEVEL", "mid"), ("RETRIES", "3")])).unwrap_err();
        assert_eq!(err.code, "InvalidEnvironmentVariable");
        assert!(err.message.contains("\"LEVEL\""), "{}", err.message);
        assert!(build_tree(&[app(vars)], &env(&[("MODE", "m"), ("LEVEL", "high"), ("RETRIES", "x")])).is_ok());

        let mounted = def(
            0,
            "",
            serde_json::json!({"childComponents": [], "httpMounts": {"/c/": "_reference/childComponent/c"}}),
        );
        assert_eq!(build_tree(&[mounted], &BTreeMap::new()).unwrap_err().code, "UnsupportedHttpMount");
    }

    fn registry(functions: &[(&str, &str, Visibility)]) -> Registry {
        let analysis = emvex_engine::Analysis {
            functions: functions
                .iter()
                .map(|(module, name, visibility)| emvex_engine::AnalyzedFunction {
                    module: module.to_string(),
                    name: name.to_string(),
                    kind: emvex_value::function::FunctionKind::Mutation,
                    visibility: *visibility,
                    args_json: "null".into(),
                    returns_json: "null".into(),
                    line: None,
                })
                .collect(),
            schema_json: None,
            crons_json: None,
            auth_config_json: None,
        };
        Registry::from_analysis(&analysis).unwrap()
    }

    fn tree() -> Components {
        let instance = |path: &str, definition: usize, children: &[(&str, &str)]| Instance {
            path: path.into(),
            name: path.rsplit('/').next().unwrap().into(),
            parent: None,
            children: children.iter().map(|(n, p)| (n.to_string(), p.to_string())).collect(),
            definition: DefinitionId(definition),
            env: BTreeMap::new(),
        };
        let definition = |id: usize, registry: Registry| Definition {
            id: DefinitionId(id),
            registry,
            schema: None,
            crons_json: None,
            auth_config_json: None,
            implementation: Implementation::Js,
        };
        Components::new(
            vec![instance("", 0, &[("pool", "pool")]), instance("pool", 1, &[])],
            vec![
                definition(0, registry(&[("app", "run", Visibility::Public)])),
                definition(
                    1,
                    registry(&[
                        ("lib", "enqueue", Visibility::Public),
                        ("lib", "secret", Visibility::Internal),
                        ("dir/file", "fn", Visibility::Public),
                    ]),
                ),
            ],
        )
    }

    fn resolve(c: &Components, caller: &str, args: Json) -> Result<(String, String), String> {
        crate::syscalls::function_address(&args)
            .and_then(|address| c.resolve(caller, &address))
            .map(|t| (t.component, t.path.stripped()))
            .map_err(|e| e.message)
    }

    #[test]
    fn resolves_names_references_and_handles_from_the_callers_instance() {
        let c = tree();
        let ok = |component: &str, path: &str| Ok((component.to_string(), path.to_string()));
        assert_eq!(resolve(&c, "", serde_json::json!({"name": "app:run"})), ok("", "app:run"));
        assert_eq!(resolve(&c, "pool", serde_json::json!({"name": "lib:secret"})), ok("pool", "lib:secret"));
        assert_eq!(
            resolve(&c, "pool", serde_json::json!({"reference": "_reference/function/lib:secret"})),
            ok("pool", "lib:secret")
        );
        let child = |rest: &str| serde_json::json!({"reference": format!("_reference/childComponent/{rest}")});
        assert_eq!(resolve(&c, "", child("pool/lib/enqueue")), ok("pool", "lib:enqueue"));
        assert_eq!(resolve(&c, "", child("pool/dir/file/fn")), ok("pool", "dir/file:fn"));
        assert_eq!(
            resolve(&c, "", child("pool/lib/secret")).unwrap_err(),
            r#"Child component "pool" does not export ["lib", "secret"]"#
        );
        assert_eq!(
            resolve(&c, "", child("pool/lib/nope")).unwrap_err(),
            r#"Child component "pool" does not export ["lib", "nope"]"#
        );
        assert_eq!(resolve(&c, "", child("pool/lib")).unwrap_err(), "Intermediate export references unsupported");
        assert_eq!(resolve(&c, "", child("pool/dir/file")).unwrap_err(), "Intermediate export references unsupported");
        assert_eq!(resolve(&c, "", child("nope/lib/x")).unwrap_err(), r#"Child component "nope" not found"#);
        assert_eq!(resolve(&c, "pool", child("pool/lib/enqueue")).unwrap_err(), r#"Child component "pool" not found"#);
        assert_eq!(
            resolve(&c, "", serde_json::json!({"reference": "_reference/componentArgument/x"})).unwrap_err(),
            "Invalid reference _reference/componentArgument/x"
        );
        // Handles reach any instance, internal functions too.
        assert_eq!(
            resolve(&c, "", serde_json::json!({"functionHandle": "function://pool#lib:secret"})),
            ok("pool", "lib:secret")
        );
        assert_eq!(resolve(&c, "pool", serde_json::json!({"name": "function://#app:run"})), ok("", "app:run"));
        assert_eq!(
            resolve(&c, "", serde_json::json!({"functionHandle": "function://gone#lib:x"})).unwrap_err(),
            r#"Invalid function handle "function://gone#lib:x""#
        );
        assert!(resolve(&c, "", serde_json::json!({})).is_err());
    }
}
