//! Running one top-level call: resolve the function, check visibility and kind, validate the
//! arguments, run it in a transaction, validate the result, commit or roll back.
//!
//! Invariants: a mutation commits only when the function and its return validation succeed, so
//! a thrown error leaves nothing behind; a query never commits; arguments are validated before
//! any user code runs.

use emvex_value::Value;
use emvex_value::function::{FunctionKind, Visibility};
use emvex_value::validator::argument_validation_error;
use serde_json::Value as Json;

use crate::actions::ActionRequest;
use crate::components::Components;
use crate::path::UdfPath;
use crate::registry::FunctionInfo;
use crate::runner::{Execution, Failure, FunctionRunner, NewJob};
use crate::{CallError, CallRequest, CallResponse};

/// What handling a call on the worker thread produced.
pub(crate) enum Outcome {
    /// A query or mutation ran (or the call failed before running): the response, and the jobs
    /// the call scheduled (committed), for the scheduler.
    Done(CallResponse, Vec<NewJob>),
    /// An action, to be run asynchronously.
    Action(ActionRequest),
}

/// Handles a client's call on the worker thread: queries and mutations run to completion here;
/// actions are resolved and validated, then handed back to run concurrently.
pub(crate) fn execute(runner: &mut FunctionRunner, request: CallRequest) -> Outcome {
    let mut log_lines = Vec::new();
    let mut kind = None;
    let mut new_jobs = Vec::new();
    let outcome = match execute_inner(runner, &request, &mut log_lines, &mut kind, &mut new_jobs) {
        Ok(Ran::Value(value)) => Ok(value),
        Ok(Ran::Action(action)) => return Outcome::Action(action),
        Err(e) => Err(e),
    };
    let response = CallResponse { request_id: request.request_id, path: request.path, kind, outcome, log_lines };
    Outcome::Done(response, new_jobs)
}

enum Ran {
    Value(Value),
    Action(ActionRequest),
}

fn execute_inner(
    runner: &mut FunctionRunner,
    request: &CallRequest,
    log_lines: &mut Vec<String>,
    kind_out: &mut Option<FunctionKind>,
    new_jobs: &mut Vec<NewJob>,
) -> Result<Ran, CallError> {
    let path = UdfPath::parse(&request.path)
        .map_err(|e| CallError::BadRequest { code: "BadConvexFunctionIdentifier", message: e.message })?;
    let components = runner.components.clone();
    // Public clients reach the app's own functions only; admins may name any instance.
    let component = match request.component_path.as_deref().filter(|c| !c.is_empty()) {
        Some(component) if request.admin => {
            if components.instance(component).is_none() {
                return Err(CallError::developer(format!(
                    "Component \"{component}\" not found: this app has no component with that path."
                )));
            }
            component.to_string()
        }
        _ => String::new(),
    };
    let info = resolve(&components, &component, &path, request.admin)?;
    *kind_out = Some(info.kind);
    if let Some(expected) = request.kind
        && expected != info.kind
    {
        return Err(CallError::developer(format!(
            "Trying to execute {} as {}, but it is defined as {}.",
            path.canonical(),
            expected.title(),
            info.kind.title()
        )));
    }
    let args = decode_args(&request.args)?;
    if info.kind == FunctionKind::Action {
        return Ok(Ran::Action(ActionRequest { component, path, args }));
    }
    let execution = run_transaction(runner, &component, info, &args);
    log_lines.extend(execution.log_lines);
    new_jobs.extend(execution.new_jobs);
    Ok(Ran::Value(execution.result.map_err(call_error)?))
}

/// Runs a query or mutation of instance `component` in a transaction of its own: a mutation
/// commits when it succeeds (its scheduled jobs are then returned), a query never commits.
pub(crate) fn run_transaction(
    runner: &mut FunctionRunner,
    component: &str,
    info: &FunctionInfo,
    args: &[Value],
) -> Execution {
    let mut tx = match runner.begin(info.kind) {
        Ok(tx) => tx,
        Err(failure) => return Execution { result: Err(failure), log_lines: Vec::new(), new_jobs: Vec::new() },
    };
    let now = tx.clock().now_whole_ms();
    let mut execution = runner.run(&mut tx, component, info, args, now, 0);
    if info.kind != FunctionKind::Mutation || execution.result.is_err() {
        execution.new_jobs.clear();
        return execution;
    }
    if let Err(e) = tx.commit() {
        execution.result = Err(Failure::Internal(e.message));
        execution.new_jobs.clear();
    }
    execution
}

/// Finds the function a caller may run: internal functions only for admins, and a missing
/// function answers exactly like a hidden one.
fn resolve<'r>(
    components: &'r Components,
    component: &str,
    path: &UdfPath,
    admin: bool,
) -> Result<&'r FunctionInfo, CallError> {
    match components.function(component, path) {
        Some(info) if admin || info.visibility == Visibility::Public => Ok(info),
        _ if admin => Err(CallError::developer(format!(
            "Could not find function for '{}'. Check the function name and that the file exports it.",
            path.stripped()
        ))),
        _ => Err(CallError::developer(format!(
            "Could not find public function for '{}'. Did you forget to run `npx convex dev` or `npx convex deploy`?",
            path.stripped()
        ))),
    }
}

pub(crate) fn call_error(failure: Failure) -> CallError {
    let message = failure.full_message();
    match failure {
        Failure::Developer { data, .. } => CallError::Developer { message, data },
        Failure::Internal(_) => CallError::Internal { message },
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
        .map(|a| Value::from_convex_json(a).map_err(|e| CallError::developer(argument_validation_error(e.message))))
        .collect()
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
        let CallError::Developer { message, .. } = err else { panic!("expected a function error") };
        assert!(message.starts_with("ArgumentValidationError: "), "{message}");
    }
}
