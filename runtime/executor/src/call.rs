//! Running one top-level call: resolve the function, check visibility and kind, validate the
//! arguments, run it in a transaction, validate the result, commit or roll back.
//!
//! Invariants: a mutation commits only when the function and its return validation succeed, so
//! a thrown error leaves nothing behind; a query never commits; arguments are validated before
//! any user code runs.

use std::time::{SystemTime, UNIX_EPOCH};

use emvex_database::Database;
use emvex_engine::{FunctionKind, Invocation, Isolate, JsError, JsErrorKind, Visibility};
use emvex_value::Value;
use emvex_value::validator::{Validator, check_args};
use rand::RngCore;
use serde_json::Value as Json;

use crate::path::UdfPath;
use crate::registry::{FunctionInfo, Registry, kind_title};
use crate::syscalls::TransactionHost;
use crate::{CallError, CallRequest, CallResponse};

/// Everything a call needs that lives on the worker thread.
pub struct CallContext<'a> {
    pub isolate: &'a mut Isolate,
    pub registry: &'a Registry,
    pub db: &'a Database,
}

impl CallContext<'_> {
    pub fn execute(&mut self, request: CallRequest) -> CallResponse {
        let mut log_lines = Vec::new();
        let mut kind = None;
        let outcome = self.execute_inner(&request, &mut log_lines, &mut kind);
        CallResponse {
            request_id: request.request_id,
            path: request.path,
            kind,
            outcome,
            log_lines,
        }
    }

    fn execute_inner(
        &mut self,
        request: &CallRequest,
        log_lines: &mut Vec<String>,
        kind_out: &mut Option<FunctionKind>,
    ) -> Result<Value, CallError> {
        let path = UdfPath::parse(&request.path).map_err(|e| CallError::BadRequest {
            code: "BadConvexFunctionIdentifier",
            message: e.message,
        })?;
        if let Some(component) = request.component_path.as_deref().filter(|c| !c.is_empty()) {
            return Err(CallError::function(format!(
                "Component \"{component}\" not found: this app has no component with that path."
            )));
        }
        let info = resolve(self.registry, &path, request.admin)?;
        *kind_out = Some(info.kind);
        if let Some(expected) = request.kind
            && expected != info.kind {
                return Err(CallError::function(format!(
                    "Trying to execute {} as {}, but it is defined as {}.",
                    path.canonical(),
                    kind_title(expected),
                    kind_title(info.kind)
                )));
            }
        let args = decode_args(&request.args)?;
        match info.kind {
            FunctionKind::Query | FunctionKind::Mutation => {
                self.run_transactional(info, &path, args, log_lines)
            }
            FunctionKind::Action => Err(CallError::function(format!(
                "{} is an action: emvex does not run actions yet (they arrive with scheduled functions and HTTP actions).",
                path.canonical()
            ))),
        }
    }

}

/// Finds the function a caller may run: internal functions only for admins, and a missing
/// function answers exactly like a hidden one.
fn resolve<'r>(registry: &'r Registry, path: &UdfPath, admin: bool) -> Result<&'r FunctionInfo, CallError> {
        match registry.get(path) {
            Some(info) if admin || info.visibility == Visibility::Public => Ok(info),
            _ if admin => Err(CallError::function(format!(
                "Could not find function for '{}'. Check the function name and that the file exports it.",
                path.stripped()
            ))),
            _ => Err(CallError::function(format!(
                "Could not find public function for '{}'. Did you forget to run `npx convex dev` or `npx convex deploy`?",
                path.stripped()
            ))),
        }
}

impl CallContext<'_> {
    fn run_transactional(
        &mut self,
        info: &FunctionInfo,
        path: &UdfPath,
        args: Vec<Value>,
        log_lines: &mut Vec<String>,
    ) -> Result<Value, CallError> {
        let mut tx = match info.kind {
            FunctionKind::Mutation => self.db.begin_mutation(),
            _ => self.db.begin_query(),
        }
        .map_err(|e| CallError::internal(e.message))?;

        check_args(info.args.as_ref().unwrap_or(&Validator::Any), &args, &tx.table_names(""))
            .map_err(|e| CallError::function(format!("ArgumentValidationError: {}", e.message)))?;

        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        tx.set_id_seed(u64::from_le_bytes(seed[..8].try_into().expect("8 bytes")));
        let now_ms = now_ms();
        let invocation = Invocation {
            kind: info.kind,
            module: path.module.clone(),
            name: path.name.clone(),
            args_json: Json::Array(args.iter().map(Value::to_convex_json).collect()).to_string(),
            rng_seed: seed,
            now_ms,
            timeout: None,
        };
        let outcome = {
            let mut host = TransactionHost::new(&mut tx, self.registry, "", info.kind, path.clone(), now_ms);
            self.isolate.invoke(&invocation, &mut host)
        };
        log_lines.extend(outcome.log_lines);
        let text = outcome.result.map_err(js_error)?;
        let json: Json = serde_json::from_str(&text)
            .map_err(|e| CallError::internal(format!("function result is not JSON: {e}")))?;
        let value = Value::from_convex_json(&json)
            .map_err(|e| CallError::function(format!("Invalid return value: {}", e.message)))?;
        if let Some(validator) = &info.returns {
            validator
                .check(&value, &tx.table_names(""))
                .map_err(|e| CallError::function(format!("ReturnsValidationError: {}", e.message)))?;
        }
        if info.kind == FunctionKind::Mutation {
            tx.commit().map_err(|e| CallError::internal(e.message))?;
        }
        Ok(value)
    }
}

/// The HTTP API takes either a positional array (ConvexHttpClient) or a bare object
/// (`/api/function`, `/api/run`); no arguments at all means `{}`.
fn decode_args(args: &Json) -> Result<Vec<Value>, CallError> {
    let positional: Vec<&Json> = match args {
        Json::Array(items) => items.iter().collect(),
        Json::Null => Vec::new(),
        other => vec![other],
    };
    if positional.is_empty() {
        return Ok(vec![Value::Object(Default::default())]);
    }
    positional
        .into_iter()
        .map(|a| {
            Value::from_convex_json(a)
                .map_err(|e| CallError::function(format!("ArgumentValidationError: {}", e.message)))
        })
        .collect()
}

fn js_error(e: JsError) -> CallError {
    let message = match (&e.kind, &e.stack) {
        (JsErrorKind::Uncaught | JsErrorKind::ConvexError, Some(stack)) if !stack.is_empty() => {
            format!("{}\n{}", e.message, stack)
        }
        _ => e.message,
    };
    let data = e.data.and_then(|d| Value::from_convex_json(&d).ok());
    CallError::Function { message, data }
}

/// Milliseconds since the epoch, whole, as Convex freezes `Date.now()`.
pub fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as f64).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn args_accept_positional_arrays_bare_objects_and_nothing() {
        let empty = Value::Object(Default::default());
        assert_eq!(decode_args(&json!(null)).unwrap(), vec![empty.clone()]);
        assert_eq!(decode_args(&json!([])).unwrap(), vec![empty.clone()]);
        assert_eq!(decode_args(&json!({})).unwrap(), vec![empty.clone()]);
        assert_eq!(decode_args(&json!([{}, 1])).unwrap().len(), 2);
        let int = decode_args(&json!([{"n": {"$integer": "AQAAAAAAAAA="}}])).unwrap();
        assert_eq!(int[0].as_object().unwrap()["n"], Value::Int64(1));
    }

    #[test]
    fn malformed_convex_json_is_an_argument_error() {
        let err = decode_args(&json!([{"$bad": 1}])).unwrap_err();
        let CallError::Function { message, .. } = err else { panic!("expected a function error") };
        assert!(message.starts_with("ArgumentValidationError: "), "{message}");
    }
}
