//! Running one top-level call: resolve the function, check visibility and kind, validate the
//! arguments, run it in a transaction, validate the result, commit or roll back. An action is
//! not run here: the call resolves to an [`ActionRequest`] the action threads run.
//!
//! Invariants: a mutation commits only when the function and its return validation succeed, so
//! a thrown error leaves nothing behind; a query never commits; arguments are validated before
//! any user code runs.

use std::sync::Arc;

use emvex_database::ReadSet;
use emvex_value::Value;
use emvex_value::function::{FunctionKind, Visibility};
use emvex_value::validator::argument_validation_error;
use serde_json::{Value as Json, json};

use crate::components::Components;
use crate::path::UdfPath;
use crate::registry::FunctionInfo;
use crate::request_metadata::RequestMetadata;
use crate::runner::{Failure, FunctionRunner, NewJob};
use crate::system_queries;
use crate::{CallError, CallRequest, CallResponse};

/// An action to run: a function of an instance, its positional arguments, and the request it
/// serves (shared with what it calls).
#[derive(Clone, Debug)]
pub(crate) struct ActionRequest {
    /// Instance path (`""` for the app).
    pub component: String,
    pub path: UdfPath,
    pub args: Vec<Value>,
    pub meta: RequestMetadata,
}

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
    let mut kind = None;
    let mut run = TopLevelRun::default();
    let outcome = match execute_inner(runner, &request, &mut kind, &mut run) {
        Ok(Ran::Value(value)) => Ok(value),
        Ok(Ran::Action(action)) => return Outcome::Action(action),
        Err(e) => Err(e),
    };
    let response = CallResponse {
        log_lines: run.log_lines,
        ts: run.ts,
        journal: run.journal,
        reads: run.reads,
        ..CallResponse::new(request, kind, outcome)
    };
    Outcome::Done(response, run.new_jobs)
}

enum Ran {
    Value(Value),
    Action(ActionRequest),
}

/// What a top-level query or mutation left besides its value.
#[derive(Default)]
struct TopLevelRun {
    log_lines: Vec<String>,
    new_jobs: Vec<NewJob>,
    ts: Option<u64>,
    journal: Option<String>,
    reads: Option<Arc<ReadSet>>,
}

fn execute_inner(
    runner: &mut FunctionRunner,
    request: &CallRequest,
    kind_out: &mut Option<FunctionKind>,
    run: &mut TopLevelRun,
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
        let meta = RequestMetadata::of_call(&request.request_id, &request.client, identity_in(request, &component));
        return Ok(Ran::Action(ActionRequest { component, path, args, meta }));
    }
    let execution = run_transaction(runner, &component, info, &args, request, run);
    Ok(Ran::Value(execution.map_err(call_error)?))
}

/// The identity a call's function sees: the caller's in the app, none in a component.
fn identity_in(request: &CallRequest, component: &str) -> Option<crate::UserIdentity> {
    request.identity.clone().filter(|_| component.is_empty())
}

/// Runs a query or mutation of instance `component` in a transaction of its own: a mutation
/// commits when it succeeds (its scheduled jobs are then returned), a query never commits.
/// A mutation whose `request.session` already committed is answered from its record.
fn run_transaction(
    runner: &mut FunctionRunner,
    component: &str,
    info: &FunctionInfo,
    args: &[Value],
    request: &CallRequest,
    run: &mut TopLevelRun,
) -> Result<Value, Failure> {
    let mut tx = runner.begin(info.kind)?;
    let session = request.session.as_ref().filter(|_| info.kind == FunctionKind::Mutation);
    if let Some(session) = session
        && let Some(done) = tx.completed_request(session).map_err(|e| Failure::Internal(e.message))?
    {
        let (value, log_lines) = recorded_outcome(&done.outcome)?;
        run.log_lines = log_lines;
        run.ts = Some(done.commit_ts);
        return Ok(value);
    }
    let now = tx.clock().now_whole_ms();
    if info.kind == FunctionKind::Query {
        tx.set_journal(request.journal.clone());
    }
    runner.request = RequestMetadata::of_call(&request.request_id, &request.client, identity_in(request, component));
    let execution = runner.run(&mut tx, component, info, args, now, 0);
    run.log_lines = execution.log_lines;
    if info.kind != FunctionKind::Mutation {
        // A failed query's outcome also holds until what it read changes.
        run.ts = Some(tx.snapshot_ts());
        run.journal = tx.journal();
        if request.track_reads {
            run.reads = Some(Arc::new(tx.read_set()));
        }
    }
    let value = execution.result?;
    if info.kind != FunctionKind::Mutation {
        return Ok(value);
    }
    if let Some(session) = session {
        let outcome = json!({ "value": value.to_convex_json(), "logLines": run.log_lines }).to_string();
        tx.record_request(session.clone(), outcome).map_err(|e| Failure::Internal(e.message))?;
    }
    let ts = tx.commit().map_err(|e| Failure::Internal(e.message))?;
    run.ts = Some(ts);
    run.new_jobs = execution.new_jobs;
    Ok(value)
}

/// The value and log lines of a mutation outcome recorded by [`run_transaction`].
fn recorded_outcome(text: &str) -> Result<(Value, Vec<String>), Failure> {
    let bad = |why: String| Failure::Internal(format!("a recorded mutation outcome is damaged: {why}"));
    let json: Json = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let value = Value::from_convex_json(json.get("value").unwrap_or(&Json::Null)).map_err(|e| bad(e.message))?;
    let log_lines = json
        .get("logLines")
        .and_then(Json::as_array)
        .map(|lines| lines.iter().filter_map(|l| l.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    Ok((value, log_lines))
}

/// Finds the function a caller may run: internal functions only for admins, and a missing
/// function answers exactly like a hidden one.
fn resolve<'r>(
    components: &'r Components,
    component: &str,
    path: &UdfPath,
    admin: bool,
) -> Result<&'r FunctionInfo, CallError> {
    let found = if admin && system_queries::is_system(path) {
        system_queries::info(path)
    } else {
        components.function(component, path)
    };
    match found {
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
