//! Actions (spec §3.10 "From actions"): running one on the action isolate, and answering its
//! syscalls. Each `ctx.runQuery`/`ctx.runMutation` from an action is its own top-level
//! transaction (run on the worker between the action's awaits); `ctx.runAction` runs another
//! action concurrently; scheduling and cancelling commit at once in their own small
//! transactions. Nothing is atomic across calls, as on Convex.
//!
//! Invariants: the worker state is borrowed only inside a syscall's synchronous part, never
//! across an await; arguments are validated before the action's code runs and its return value
//! after; every syscall error reaches the action as a catchable error (spec §1.3(c)).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use emvex_engine::{ActionHost, FunctionKind, HostError, HttpRequest, Invocation, Isolate};
use emvex_value::Value;
use emvex_value::validator::{Validator, check_args};
use serde_json::{Value as Json, json};

use crate::call::{self, Outcome, now_ms};
use crate::logs::format_http_log_line;
use crate::path::{UdfPath, resolve_address};
use crate::registry::kind_title;
use crate::runner::{Failure, js_failure};
use crate::syscalls::TransactionHost;
use crate::worker::{Shared, Worker};
use crate::{CallError, CallRequest, HttpActionResponse};

/// An action to run: a function of the app and its positional arguments.
#[derive(Clone, Debug)]
pub struct ActionRequest {
    pub path: UdfPath,
    pub args: Vec<Value>,
}

/// Runs an action to completion. Returns its value or failure, and its console lines
/// (including those of the functions it called).
pub async fn run(shared: &Shared, isolate: &Rc<Isolate>, request: &ActionRequest) -> (Result<Value, Failure>, Vec<String>) {
    let registry = shared.borrow().runner.registry.clone();
    let Some(info) = registry.get(&request.path) else {
        let message = format!("Could not find function for '{}'", request.path.stripped());
        return (Err(Failure::developer(message)), Vec::new());
    };
    if let Err(failure) = with_table_names(shared, |tables| {
        check_args(info.args.as_ref().unwrap_or(&Validator::Any), &request.args, tables)
            .map_err(|e| Failure::developer(format!("ArgumentValidationError: {}", e.message)))
    }) {
        return (Err(failure), Vec::new());
    }
    let host = Rc::new(Host { shared: shared.clone(), isolate: isolate.clone(), path: request.path.clone(), logs: Rc::default() });
    let invocation = Invocation {
        kind: FunctionKind::Action,
        module: request.path.module.clone(),
        name: request.path.name.clone(),
        args_json: Json::Array(request.args.iter().map(Value::to_convex_json).collect()).to_string(),
        rng_seed: [0; 32],
        now_ms: now_ms(),
        timeout: None,
    };
    let outcome = isolate.invoke_action(invocation, host.clone()).await;
    let mut log_lines = outcome.log_lines;
    log_lines.extend(host.logs.take());
    let result = match outcome.result {
        Err(e) => Err(js_failure(e)),
        Ok(text) => decode_result(shared, info.returns.as_ref(), &text),
    };
    (result, log_lines)
}

/// Runs one HTTP action: the app's `convex/http.ts` router picks the handler.
pub async fn run_http(shared: &Shared, isolate: &Rc<Isolate>, request: HttpRequest) -> HttpActionResponse {
    let method = request.method.clone();
    let route = url_path(&request.url).to_string();
    let path = UdfPath { module: "http".into(), name: "default".into() };
    let host = Rc::new(Host { shared: shared.clone(), isolate: isolate.clone(), path, logs: Rc::default() });
    let outcome = isolate.invoke_http_action(request, None, host.clone()).await;
    let mut log_lines = outcome.log_lines;
    log_lines.extend(host.logs.take());
    let result = outcome.result.map_err(|e| js_failure(e).full_message());
    if shared.borrow().print_logs {
        let error = result.as_ref().err();
        for line in log_lines.iter().chain(error) {
            println!("{}", format_http_log_line(&method, &route, line));
        }
    }
    HttpActionResponse { result, log_lines }
}

/// The path part of a URL (`http://host/a/b?q` → `/a/b`).
fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    path.split(['?', '#']).next().unwrap_or("/")
}

fn decode_result(shared: &Shared, returns: Option<&Validator>, text: &str) -> Result<Value, Failure> {
    let json: Json =
        serde_json::from_str(text).map_err(|e| Failure::Internal(format!("function result is not JSON: {e}")))?;
    let value = Value::from_convex_json(&json)
        .map_err(|e| Failure::developer(format!("Invalid return value: {}", e.message)))?;
    if let Some(validator) = returns {
        with_table_names(shared, |tables| {
            validator
                .check(&value, tables)
                .map_err(|e| Failure::developer(format!("ReturnsValidationError: {}", e.message)))
        })?;
    }
    Ok(value)
}

/// Runs `f` with the app's table names (for `v.id` validators), read from a fresh snapshot.
fn with_table_names<T>(
    shared: &Shared,
    f: impl FnOnce(&dyn emvex_value::validator::TableNames) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let tx = shared.borrow().runner.db.begin_query().map_err(|e| Failure::Internal(e.message))?;
    f(&tx.table_names(""))
}

/// Answers one action's syscalls.
struct Host {
    shared: Shared,
    isolate: Rc<Isolate>,
    path: UdfPath,
    /// Console lines of the queries, mutations and actions this action called.
    logs: Rc<RefCell<Vec<String>>>,
}

fn developer(message: String) -> HostError {
    HostError { message, data: None, fatal: false }
}

fn failure_to_host(failure: Failure) -> HostError {
    match failure {
        Failure::Developer { message, data, .. } => HostError { message, data: data.map(|d| d.to_convex_json()), fatal: false },
        Failure::Internal(message) => HostError { message, data: None, fatal: false },
    }
}

impl ActionHost for Host {
    fn syscall(&self, op: &str, _args_json: &str) -> Result<String, HostError> {
        Err(developer(format!("Unknown operation {op}")))
    }

    fn async_syscall(&self, op: String, args_json: String) -> Pin<Box<dyn Future<Output = Result<String, HostError>>>> {
        let shared = self.shared.clone();
        let isolate = self.isolate.clone();
        let path = self.path.clone();
        let logs = self.logs.clone();
        Box::pin(async move { dispatch(&shared, &isolate, &path, &op, &args_json, &logs).await })
    }
}

async fn dispatch(
    shared: &Shared,
    isolate: &Rc<Isolate>,
    action_path: &UdfPath,
    op: &str,
    args_json: &str,
    logs: &Rc<RefCell<Vec<String>>>,
) -> Result<String, HostError> {
    let args: Json = serde_json::from_str(args_json).map_err(|e| developer(format!("Invalid arguments for `{op}`: {e}")))?;
    match op {
        "1.0/actions/query" | "1.0/actions/mutation" => {
            let kind = if op.ends_with("query") { FunctionKind::Query } else { FunctionKind::Mutation };
            let path = resolve_root(&args)?;
            let request = CallRequest {
                request_id: "action".into(),
                path: path.stripped(),
                args: json!([args.get("args").cloned().unwrap_or(json!({}))]),
                kind: Some(kind),
                admin: true,
                component_path: None,
            };
            let outcome = {
                let mut worker = shared.borrow_mut();
                call::execute(&mut worker.runner, request)
            };
            let Outcome::Done(response, new_jobs) = outcome else {
                return Err(developer(format!("{} is an action, not a {}", path.canonical(), kind_title(kind))));
            };
            shared.borrow_mut().scheduler.add(new_jobs);
            logs.borrow_mut().extend(response.log_lines);
            match response.outcome {
                Ok(value) => Ok(value.to_convex_json().to_string()),
                Err(CallError::Function { message, data }) => {
                    Err(HostError { message, data: data.map(|d| d.to_convex_json()), fatal: false })
                }
                Err(CallError::BadRequest { message, .. } | CallError::Internal { message }) => Err(developer(message)),
            }
        }
        "1.0/actions/action" => {
            let path = resolve_root(&args)?;
            let registry = shared.borrow().runner.registry.clone();
            match registry.get(&path).map(|f| f.kind) {
                Some(FunctionKind::Action) => {}
                Some(other) => {
                    return Err(developer(format!(
                        "Trying to execute {} as Action, but it is defined as {}.",
                        path.canonical(),
                        kind_title(other)
                    )));
                }
                None => return Err(developer(format!("Could not find function for '{}'", path.stripped()))),
            }
            let call_args = Value::from_convex_json(args.get("args").unwrap_or(&json!({})))
                .map_err(|e| developer(format!("Invalid arguments for {}: {}", path.stripped(), e.message)))?;
            let request = ActionRequest { path, args: vec![call_args] };
            let (result, lines) = Box::pin(run(shared, isolate, &request)).await;
            logs.borrow_mut().extend(lines);
            result.map(|v| v.to_convex_json().to_string()).map_err(failure_to_host)
        }
        "1.0/actions/schedule" => in_mutation(shared, action_path, "1.0/schedule", args_json),
        "1.0/actions/cancel_job" => in_mutation(shared, action_path, "1.0/cancel_job", args_json),
        "1.0/createFunctionHandle" => in_mutation(shared, action_path, op, args_json),
        "1.0/getUserIdentity" => Ok("null".into()),
        "1.0/getFunctionMetadata" => Ok(json!({ "name": action_path.stripped(), "componentPath": "" }).to_string()),
        _ => Err(developer(format!("Unknown async operation {op}"))),
    }
}

/// A function of the app (components are not loaded yet).
fn resolve_root(args: &Json) -> Result<UdfPath, HostError> {
    let (component, path) = resolve_address(args, "").map_err(|e| developer(e.message))?;
    if component.is_empty() {
        Ok(path)
    } else {
        Err(developer(format!("Component \"{component}\" not found: emvex does not load components yet")))
    }
}

/// Answers `op` the way a mutation would, in a transaction of its own that commits at once.
fn in_mutation(shared: &Shared, action_path: &UdfPath, op: &str, args_json: &str) -> Result<String, HostError> {
    let mut worker = shared.borrow_mut();
    let Worker { runner, scheduler, .. } = &mut *worker;
    let mut tx = runner.db.begin_mutation().map_err(|e| developer(e.message))?;
    let (result, new_jobs) = {
        let mut host = TransactionHost::new(&mut tx, runner, FunctionKind::Mutation, action_path.clone(), now_ms(), 0);
        let result = emvex_engine::Host::async_syscall(&mut host, op, args_json);
        (result, std::mem::take(&mut host.new_jobs))
    };
    let text = result?;
    tx.commit().map_err(|e| developer(e.message))?;
    scheduler.add(new_jobs);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::url_path;

    #[test]
    fn url_paths() {
        assert_eq!(url_path("http://127.0.0.1:3211/echo?x=1"), "/echo");
        assert_eq!(url_path("http://h"), "/");
        assert_eq!(url_path("https://h/a/b#f"), "/a/b");
    }
}
