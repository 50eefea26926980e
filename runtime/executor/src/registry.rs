//! The analyzed app: which functions exist, their kind, visibility and validators.
//!
//! Built once from the engine's analysis at start; immutable afterwards. Validators are parsed
//! here, so a function whose `exportArgs()` JSON is not a valid validator fails the load instead
//! of failing at call time.

use std::collections::BTreeMap;

use emvex_engine::{Analysis, AnalyzedFunction};
use emvex_value::function::{FunctionKind, Visibility};
use emvex_value::validator::Validator;

use crate::path::UdfPath;

/// One callable function of the app.
#[derive(Debug)]
pub(crate) struct FunctionInfo {
    pub path: UdfPath,
    pub kind: FunctionKind,
    pub visibility: Visibility,
    /// `None` when the function declared no `args` (`{"type":"any"}`).
    pub args: Option<Validator>,
    /// `None` when the function declared no `returns`.
    pub returns: Option<Validator>,
}

/// All functions of the root component, by path.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    functions: BTreeMap<UdfPath, FunctionInfo>,
}

impl Registry {
    /// Builds the registry; fails with a message naming the function whose validators are invalid.
    pub(crate) fn from_analysis(analysis: &Analysis) -> Result<Registry, String> {
        let mut functions = BTreeMap::new();
        for f in &analysis.functions {
            let info = function_info(f)?;
            functions.insert(info.path.clone(), info);
        }
        Ok(Registry { functions })
    }

    pub(crate) fn get(&self, path: &UdfPath) -> Option<&FunctionInfo> {
        self.functions.get(path)
    }

    /// Every function, by path.
    pub(crate) fn functions(&self) -> impl Iterator<Item = &FunctionInfo> {
        self.functions.values()
    }

    /// Whether any function lives in `module` (`dir/file`).
    pub(crate) fn has_module(&self, module: &str) -> bool {
        self.functions.keys().any(|p| p.module == module)
    }
}

fn function_info(f: &AnalyzedFunction) -> Result<FunctionInfo, String> {
    let path = UdfPath { module: f.module.clone(), name: f.name.clone() };
    let parse = |what: &str, text: &str| -> Result<Option<Validator>, String> {
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("{}: {what} validator is not JSON: {e}", path.canonical()))?;
        if json.is_null() {
            return Ok(None);
        }
        let v = Validator::from_json(&json)
            .map_err(|e| format!("{}: invalid {what} validator: {}", path.canonical(), e.message))?;
        Ok(Some(v))
    };
    let args = match parse("args", &f.args_json)? {
        Some(Validator::Any) | None => None,
        Some(v @ Validator::Object(_)) => Some(v),
        Some(_) => {
            return Err(format!("{}: Args validator must be an object or any", path.canonical()));
        }
    };
    let returns = parse("returns", &f.returns_json)?;
    Ok(FunctionInfo { path, kind: f.kind, visibility: f.visibility, args, returns })
}
