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

use crate::call::{self, now_ms};
use crate::components::{Components, Target};
use crate::logs::format_http_log_line;
use crate::path::UdfPath;
use crate::registry::kind_title;
use crate::runner::{Failure, js_failure};
use crate::syscalls::TransactionHost;
use crate::worker::{Shared, Worker};
use crate::HttpActionResponse;

/// An action to run: a function of an instance and its positional arguments.
#[derive(Clone, Debug)]
pub struct ActionRequest {
    /// Instance path (`""` for the app).
    pub component: String,
    pub path: UdfPath,
    pub args: Vec<Value>,
}

/// The isolate whose runtimes run instance `component`'s actions.
fn action_isolate(shared: &Shared, component: &str) -> Result<Rc<Isolate>, Failure> {
    let mut worker = shared.borrow_mut();
    let pool = worker
        .runner
        .pools
        .get_mut(component)
        .ok_or_else(|| Failure::Internal(format!("component \"{component}\" has no isolates")))?;
    pool.action_isolate().map_err(|e| Failure::Internal(format!("cannot start a JS isolate: {}", e.message)))
}

/// Runs an action to completion. Returns its value or failure, and its console lines
/// (including those of the functions it called).
pub async fn run(shared: &Shared, request: &ActionRequest) -> (Result<Value, Failure>, Vec<String>) {
    let components = shared.borrow().runner.components.clone();
    let Some(info) = components.function(&request.component, &request.path) else {
        let message = format!("Could not find function for '{}'", request.path.stripped());
        return (Err(Failure::developer(message)), Vec::new());
    };
    if let Err(failure) = with_table_names(shared, &request.component, |tables| {
        check_args(info.args.as_ref().unwrap_or(&Validator::Any), &request.args, tables)
            .map_err(|e| Failure::developer(format!("ArgumentValidationError: {}", e.message)))
    }) {
        return (Err(failure), Vec::new());
    }
    let isolate = match action_isolate(shared, &request.component) {
        Ok(isolate) => isolate,
        Err(failure) => return (Err(failure), Vec::new()),
    };
    let host = Rc::new(Host {
        shared: shared.clone(),
        component: request.component.clone(),
        path: request.path.clone(),
        logs: Rc::default(),
    });
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
        Ok(text) => decode_result(shared, &request.component, info.returns.as_ref(), &text),
    };
    (result, log_lines)
}

/// Runs one HTTP action: the app's `convex/http.ts` router picks the handler.
pub async fn run_http(shared: &Shared, request: HttpRequest) -> HttpActionResponse {
    let method = request.method.clone();
    let route = url_path(&request.url).to_string();
    let isolate = match action_isolate(shared, "") {
        Ok(isolate) => isolate,
        Err(failure) => return HttpActionResponse { result: Err(failure.full_message()), log_lines: Vec::new() },
    };
    let path = UdfPath { module: "http".into(), name: "default".into() };
    let host = Rc::new(Host { shared: shared.clone(), component: String::new(), path, logs: Rc::default() });
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

fn decode_result(shared: &Shared, component: &str, returns: Option<&Validator>, text: &str) -> Result<Value, Failure> {
    let json: Json =
        serde_json::from_str(text).map_err(|e| Failure::Internal(format!("function result is not JSON: {e}")))?;
    let value = Value::from_convex_json(&json)
        .map_err(|e| Failure::developer(format!("Invalid return value: {}", e.message)))?;
    if let Some(validator) = returns {
        with_table_names(shared, component, |tables| {
            validator
                .check(&value, tables)
                .map_err(|e| Failure::developer(format!("ReturnsValidationError: {}", e.message)))
        })?;
    }
    Ok(value)
}

/// Runs `f` with instance `component`'s table names (for `v.id` validators), read from a fresh
/// snapshot.
fn with_table_names<T>(
    shared: &Shared,
    component: &str,
    f: impl FnOnce(&dyn emvex_value::validator::TableNames) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let tx = shared.borrow().runner.db.begin_query().map_err(|e| Failure::Internal(e.message))?;
    f(&tx.table_names(component))
}

/// Answers one action's syscalls.
struct Host {
    shared: Shared,
    /// The instance the action runs in.
    component: String,
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
        let component = self.component.clone();
        let path = self.path.clone();
        let logs = self.logs.clone();
        Box::pin(async move { dispatch(&shared, &component, &path, &op, &args_json, &logs).await })
    }
}

async fn dispatch(
    shared: &Shared,
    component: &str,
    action_path: &UdfPath,
    op: &str,
    args_json: &str,
    logs: &Rc<RefCell<Vec<String>>>,
) -> Result<String, HostError> {
    let args: Json = serde_json::from_str(args_json).map_err(|e| developer(format!("Invalid arguments for `{op}`: {e}")))?;
    let call_args = || {
        Value::from_convex_json(args.get("args").unwrap_or(&json!({})))
            .map_err(|e| developer(format!("ArgumentValidationError: {}", e.message)))
    };
    match op {
        "1.0/actions/query" | "1.0/actions/mutation" => {
            let kind = if op.ends_with("query") { FunctionKind::Query } else { FunctionKind::Mutation };
            let (target, components) = resolve_callee(shared, component, &args, kind)?;
            let info = components.function(&target.component, &target.path).expect("resolve_callee checked it");
            let call_args = call_args()?;
            let execution = {
                let mut worker = shared.borrow_mut();
                let execution = call::run_transaction(&mut worker.runner, &target.component, info, &[call_args]);
                worker.scheduler.add(execution.new_jobs.iter().cloned());
                execution
            };
            logs.borrow_mut().extend(execution.log_lines);
            execution.result.map(|v| v.to_convex_json().to_string()).map_err(failure_to_host)
        }
        "1.0/actions/action" => {
            let (target, _) = resolve_callee(shared, component, &args, FunctionKind::Action)?;
            let request = ActionRequest { component: target.component, path: target.path, args: vec![call_args()?] };
            let (result, lines) = Box::pin(run(shared, &request)).await;
            logs.borrow_mut().extend(lines);
            result.map(|v| v.to_convex_json().to_string()).map_err(failure_to_host)
        }
        "1.0/actions/schedule" => in_mutation(shared, component, action_path, "1.0/schedule", args_json),
        "1.0/actions/cancel_job" => in_mutation(shared, component, action_path, "1.0/cancel_job", args_json),
        "1.0/createFunctionHandle" => in_mutation(shared, component, action_path, op, args_json),
        "1.0/getUserIdentity" => Ok("null".into()),
        "1.0/getFunctionMetadata" => {
            Ok(json!({ "name": action_path.stripped(), "componentPath": component }).to_string())
        }
        _ => Err(developer(format!("Unknown async operation {op}"))),
    }
}

/// Resolves the function an action calls, from the action's instance, and checks its kind.
fn resolve_callee(
    shared: &Shared,
    component: &str,
    args: &Json,
    kind: FunctionKind,
) -> Result<(Target, std::sync::Arc<Components>), HostError> {
    let components = shared.borrow().runner.components.clone();
    let target = components.resolve(component, args).map_err(|e| developer(e.message))?;
    match components.function(&target.component, &target.path).map(|f| f.kind) {
        Some(found) if found == kind => Ok((target, components)),
        Some(found) => Err(developer(format!(
            "Trying to execute {} as {}, but it is defined as {}.",
            target.path.canonical(),
            kind_title(kind),
            kind_title(found)
        ))),
        None => Err(developer(format!("Could not find function for '{}'", target.path.stripped()))),
    }
}

/// Answers `op` the way a mutation of instance `component` would, in a transaction of its own
/// that commits at once.
fn in_mutation(shared: &Shared, component: &str, action_path: &UdfPath, op: &str, args_json: &str) -> Result<String, HostError> {
    let mut worker = shared.borrow_mut();
    let Worker { runner, scheduler, .. } = &mut *worker;
    let mut tx = runner.db.begin_mutation().map_err(|e| developer(e.message))?;
    let (result, new_jobs) = {
        let mut host =
            TransactionHost::new(&mut tx, runner, component.to_string(), FunctionKind::Mutation, action_path.clone(), now_ms(), 0);
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
