//! Actions (spec §3.10 "From actions"): running one on a JS thread's action isolate, and
//! answering its syscalls. Actions run on any of the executor's JS threads (see
//! `action_threads.rs`); everything that needs the database writer or the scheduler goes to the
//! main worker thread as a message and is awaited: each `ctx.runQuery`/`ctx.runMutation` is its
//! own top-level call there (an admin call in the target instance), and scheduling, cancelling
//! and creating handles run there in small transactions of their own that commit at once.
//! `ctx.runAction` runs another action concurrently on the same thread. Nothing is atomic across
//! calls, as on Convex.
//!
//! Invariants: the thread's state is borrowed only inside a syscall's synchronous part, never
//! across an await; arguments are validated before the action's code runs and its return value
//! after; every syscall error reaches the action as a catchable error (spec §1.3(c)); an
//! action resolves function addresses from its own instance, so visibility rules are checked
//! where the call is written.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use emvex_database::{Database, VectorQuery};
use emvex_engine::{ActionHost, App, HostError, HttpRequest, Invocation, Isolate, Scope};
use emvex_node::{NodeAction, NodeActionError, NodePool, NodeRuntime, SyscallError};
use emvex_value::function::FunctionKind;
use emvex_value::validator::argument_validation_error;
use emvex_value::{ErrorClass, Value};
use serde_json::{Value as Json, json};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use crate::call::{self, ActionRequest};
use crate::components::{Components, Target};
use crate::logs::{format_http_log_line, format_log_line};
use crate::path::UdfPath;
use crate::registry::FunctionInfo;
use crate::request_metadata::RequestMetadata;
use crate::runner::{Failure, FunctionRunner, check_arguments, check_returns, js_failure, parse_result};
use crate::storage;
use crate::syscalls::{db_error, deployment_metadata, developer, function_address};
use crate::unsupported::unsupported_in_action;
use crate::{CallError, CallRequest, CallResponse, ClientInfo, HttpActionResponse, Job};

/// A syscall of an action that must run on the main worker (it writes through the single
/// writer): `op` answered as a mutation of `component` named `path` would answer it.
pub(crate) struct SyscallJob {
    pub component: String,
    pub path: UdfPath,
    pub op: String,
    pub args_json: String,
    pub reply: oneshot::Sender<Result<String, HostError>>,
}

/// How a JS thread reaches the main worker.
#[derive(Clone)]
pub(crate) struct MainHandle {
    pub jobs: UnboundedSender<Job>,
    pub syscalls: UnboundedSender<SyscallJob>,
}

/// What one JS thread needs to run actions: the app and its component tree, the database (for
/// snapshots), the main worker's channels, and one action isolate per instance, created on
/// first use.
pub(crate) struct ActionEnv {
    app: Arc<App>,
    components: Arc<Components>,
    db: Database,
    main: MainHandle,
    isolates: RefCell<BTreeMap<String, Rc<Isolate>>>,
    /// This thread's query runner, created on first use (queries run on every JS thread
    /// against WAL snapshots; only mutations need the main worker).
    queries: RefCell<Option<FunctionRunner>>,
    /// This thread's Node.js processes for `"use node"` actions, created on first use.
    node_pool: RefCell<Option<Rc<NodePool>>>,
    pub print_logs: bool,
}

pub(crate) type Env = Rc<ActionEnv>;

impl ActionEnv {
    pub(crate) fn new(
        app: Arc<App>,
        components: Arc<Components>,
        db: Database,
        main: MainHandle,
        print_logs: bool,
    ) -> Env {
        Rc::new(ActionEnv {
            app,
            components,
            db,
            main,
            isolates: RefCell::default(),
            queries: RefCell::default(),
            node_pool: RefCell::default(),
            print_logs,
        })
    }

    /// The isolate whose runtimes run instance `component`'s actions on this thread.
    fn action_isolate(&self, component: &str) -> Result<Rc<Isolate>, Failure> {
        if let Some(isolate) = self.isolates.borrow().get(component) {
            return Ok(isolate.clone());
        }
        let instance = self
            .components
            .instance(component)
            .ok_or_else(|| Failure::Internal(format!("component \"{component}\" is not mounted")))?;
        let scope = Scope { definition: instance.definition, env: instance.env.clone() };
        let isolate = Isolate::for_scope(self.app.clone(), scope)
            .map_err(|e| Failure::Internal(format!("cannot start a JS isolate: {}", e.message)))?;
        let isolate = Rc::new(isolate);
        self.isolates.borrow_mut().insert(component.to_string(), isolate.clone());
        Ok(isolate)
    }

    /// This thread's pool of Node.js processes.
    fn node_pool(&self, node: Arc<NodeRuntime>) -> Rc<NodePool> {
        self.node_pool.borrow_mut().get_or_insert_with(|| Rc::new(NodePool::new(node))).clone()
    }

    /// Runs a query call on this thread, in a read transaction of its own.
    pub(crate) fn run_query(&self, request: CallRequest) -> CallResponse {
        let mut slot = self.queries.borrow_mut();
        let runner = slot
            .get_or_insert_with(|| FunctionRunner::for_queries(&self.app, self.components.clone(), self.db.clone()));
        let fallback = request.clone();
        match std::panic::catch_unwind(AssertUnwindSafe(|| call::execute(runner, request))) {
            Ok(call::Outcome::Done(response, _)) => response,
            // `execute` refuses a non-query before it would hand back an action.
            Ok(call::Outcome::Action(_)) => CallResponse::new(
                fallback,
                Some(FunctionKind::Action),
                Err(CallError::internal("an action reached the query runner".into())),
            ),
            Err(panic) => {
                runner.reset_isolates();
                let message = format!("internal error: {}", crate::panics::panic_text(&panic));
                CallResponse::new(fallback, None, Err(CallError::internal(message)))
            }
        }
    }

    /// Runs a call on the main worker and waits for its response.
    async fn call_main(&self, request: CallRequest) -> CallResponse {
        let (tx, rx) = oneshot::channel();
        let fallback = request.clone();
        let job = Job { request, reply: Box::new(move |r| drop(tx.send(r))) };
        if self.main.jobs.send(job).is_err() {
            return crate::worker_gone(fallback);
        }
        rx.await.unwrap_or_else(|_| crate::worker_gone(fallback))
    }

    /// Answers `op` on the main worker as a mutation of `component` would.
    async fn syscall_main(
        &self,
        component: &str,
        path: &UdfPath,
        op: &str,
        args_json: &str,
    ) -> Result<String, HostError> {
        let (reply, rx) = oneshot::channel();
        let job = SyscallJob {
            component: component.to_string(),
            path: path.clone(),
            op: op.to_string(),
            args_json: args_json.to_string(),
            reply,
        };
        let gone = || developer("the main JS worker has stopped".into());
        self.main.syscalls.send(job).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Prints an action's console lines (and its error) under `emvex dev`.
    pub(crate) fn print(&self, path: &UdfPath, lines: &[String], failure: Option<&Failure>) {
        if self.print_logs {
            let path = path.stripped();
            for line in lines {
                println!("{}", format_log_line(Some(FunctionKind::Action), &path, line));
            }
            if let Some(failure) = failure {
                println!("{}", format_log_line(Some(FunctionKind::Action), &path, &failure.full_message()));
            }
        }
    }
}

/// Runs an action to completion. Returns its value or failure, and its console lines
/// (including those of the functions it called).
pub(crate) async fn run(env: &Env, request: &ActionRequest) -> (Result<Value, Failure>, Vec<String>) {
    let components = env.components.clone();
    let Some(info) = components.function(&request.component, &request.path) else {
        let message = format!("Could not find function for '{}'", request.path.stripped());
        return (Err(Failure::developer(message)), Vec::new());
    };
    if let Err(failure) =
        with_table_names(env, &request.component, |tables| check_arguments(info, &request.args, tables))
    {
        return (Err(failure), Vec::new());
    }
    if let Some(node) = components.node_runtime(&request.component, &request.path) {
        return run_in_node(env, request, info, node.clone()).await;
    }
    let isolate = match env.action_isolate(&request.component) {
        Ok(isolate) => isolate,
        Err(failure) => return (Err(failure), Vec::new()),
    };
    let host = Rc::new(Host {
        env: env.clone(),
        component: request.component.clone(),
        path: request.path.clone(),
        logs: Rc::default(),
        meta: request.meta.clone(),
    });
    let invocation = Invocation {
        kind: FunctionKind::Action,
        module: request.path.module.clone(),
        name: request.path.name.clone(),
        args_json: Json::Array(request.args.iter().map(Value::to_convex_json).collect()).to_string(),
        rng_seed: [0; 32],
        // Actions read the app's clock themselves.
        now_ms: 0.0,
        timeout: None,
    };
    let outcome = isolate.invoke_action(invocation, host.clone()).await;
    let mut log_lines = outcome.log_lines;
    log_lines.extend(host.logs.take());
    let result = match outcome.result {
        Err(e) => Err(js_failure(e)),
        Ok(text) => decode_result(env, &request.component, info, &text),
    };
    (result, log_lines)
}

/// Runs an action of a `"use node"` module in one of this thread's Node.js processes; its
/// syscalls are answered here exactly as a QuickJS action's are.
async fn run_in_node(
    env: &Env,
    request: &ActionRequest,
    info: &FunctionInfo,
    node: Arc<NodeRuntime>,
) -> (Result<Value, Failure>, Vec<String>) {
    let pool = env.node_pool(node);
    let nested_logs: Rc<RefCell<Vec<String>>> = Rc::default();
    let args_json = Json::Array(request.args.iter().map(Value::to_convex_json).collect()).to_string();
    let action = NodeAction {
        module: &request.path.module,
        name: &request.path.name,
        request_id: &request.meta.request_id,
        args_json: &args_json,
        timeout: env.app.limits().action_timeout,
    };
    let syscall = |op: String, args: String| {
        let (env, logs, meta) = (env.clone(), nested_logs.clone(), request.meta.clone());
        let (component, path) = (request.component.clone(), request.path.clone());
        async move {
            dispatch(&env, &component, &path, &op, &args, &logs, &meta)
                .await
                .map_err(|e| SyscallError { message: e.message, data: e.data.map(|d| d.to_string()) })
        }
    };
    let run = pool.run(action, syscall).await;
    let mut log_lines = run.logs;
    log_lines.extend(nested_logs.take());
    let result = match run.outcome {
        Ok(text) => decode_result(env, &request.component, info, &text),
        Err(NodeActionError::Js(thrown)) => Err(Failure::Developer {
            message: thrown.message,
            stack: thrown.stack,
            data: thrown
                .data
                .and_then(|d| serde_json::from_str::<Json>(&d).ok())
                .and_then(|d| Value::from_convex_json(&d).ok()),
        }),
        Err(NodeActionError::Timeout(limit)) => {
            Err(Failure::developer(format!("Function execution timed out (maximum duration: {limit:?})")))
        }
        Err(NodeActionError::Process(what)) => Err(Failure::developer(format!("Uncaught Error: {what}"))),
    };
    (result, log_lines)
}

/// Runs one HTTP action: the app's `convex/http.ts` router picks the handler.
pub(crate) async fn run_http(env: &Env, request: HttpRequest, identity: crate::HttpIdentity) -> HttpActionResponse {
    let method = request.method.clone();
    let route = url_path(&request.url).to_string();
    let isolate = match env.action_isolate("") {
        Ok(isolate) => isolate,
        Err(failure) => return HttpActionResponse { result: Err(failure.full_message()), log_lines: Vec::new() },
    };
    let path = UdfPath { module: "http".into(), name: "default".into() };
    let user_agent =
        request.headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("user-agent")).map(|(_, v)| v.clone());
    let client = ClientInfo { ip: None, user_agent };
    let (identity, identity_error) = match identity {
        Ok(identity) => (identity, None),
        Err(reason) => (None, Some(reason)),
    };
    let meta = RequestMetadata { client, identity, identity_error, ..RequestMetadata::internal() };
    let host = Rc::new(Host { env: env.clone(), component: String::new(), path, logs: Rc::default(), meta });
    let outcome = isolate.invoke_http_action(request, None, host.clone()).await;
    let mut log_lines = outcome.log_lines;
    log_lines.extend(host.logs.take());
    let result = outcome.result.map_err(|e| js_failure(e).full_message());
    if env.print_logs {
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

fn decode_result(env: &Env, component: &str, info: &FunctionInfo, text: &str) -> Result<Value, Failure> {
    let value = parse_result(text)?;
    if info.returns.is_some() {
        with_table_names(env, component, |tables| check_returns(info, &value, tables))?;
    }
    Ok(value)
}

/// Runs `f` with instance `component`'s table names (for `v.id` validators), read from a fresh
/// snapshot.
fn with_table_names<T>(
    env: &Env,
    component: &str,
    f: impl FnOnce(&dyn emvex_value::validator::TableNames) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let tx = env.db.begin_query().map_err(|e| Failure::Internal(e.message))?;
    f(&tx.table_names(component))
}

/// Answers one action's syscalls.
struct Host {
    env: Env,
    /// The instance the action runs in.
    component: String,
    path: UdfPath,
    /// Console lines of the queries, mutations and actions this action called.
    logs: Rc<RefCell<Vec<String>>>,
    /// The request the action serves, passed on to what it calls.
    meta: RequestMetadata,
}

impl ActionHost for Host {
    fn syscall(&self, op: &str, _args_json: &str) -> Result<String, HostError> {
        Err(unsupported_in_action(op))
    }

    fn async_syscall(&self, op: String, args_json: String) -> Pin<Box<dyn Future<Output = Result<String, HostError>>>> {
        let env = self.env.clone();
        let component = self.component.clone();
        let path = self.path.clone();
        let logs = self.logs.clone();
        let meta = self.meta.clone();
        Box::pin(async move { dispatch(&env, &component, &path, &op, &args_json, &logs, &meta).await })
    }

    fn store_blob(
        &self,
        args_json: String,
        bytes: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<String, HostError>>>> {
        let env = self.env.clone();
        let component = self.component.clone();
        let path = self.path.clone();
        Box::pin(async move {
            let args: Json = serde_json::from_str(&args_json)
                .map_err(|e| developer(format!("Invalid arguments for `storage/storeBlob`: {e}")))?;
            store(&env, &component, &path, &args, &bytes).await
        })
    }

    fn get_blob(&self, args_json: String) -> emvex_engine::BlobFuture {
        let env = self.env.clone();
        let component = self.component.clone();
        Box::pin(async move {
            let args: Json = serde_json::from_str(&args_json)
                .map_err(|e| developer(format!("Invalid arguments for `storage/getBlob`: {e}")))?;
            get_blob(&env, &component, &args)
        })
    }
}

async fn dispatch(
    env: &Env,
    component: &str,
    action_path: &UdfPath,
    op: &str,
    args_json: &str,
    logs: &Rc<RefCell<Vec<String>>>,
    meta: &RequestMetadata,
) -> Result<String, HostError> {
    let args: Json =
        serde_json::from_str(args_json).map_err(|e| developer(format!("Invalid arguments for `{op}`: {e}")))?;
    let call_args = || {
        Value::from_convex_json(args.get("args").unwrap_or(&json!({})))
            .map_err(|e| developer(argument_validation_error(e.message)))
    };
    match op {
        "1.0/actions/query" | "1.0/actions/mutation" => {
            let kind = if op.ends_with("query") { FunctionKind::Query } else { FunctionKind::Mutation };
            let target = resolve_callee(env, component, &args, kind)?;
            // The target was resolved (and its visibility checked) here; it runs as an admin
            // call in its instance: a query on this thread, a mutation on the main worker.
            let request = CallRequest {
                request_id: meta.request_id.clone(),
                client: meta.client.clone(),
                path: target.path.stripped(),
                args: json!([call_args()?.to_convex_json()]),
                kind: Some(kind),
                admin: true,
                identity: meta.crossing(component, &target.component).identity,
                component_path: Some(target.component),
                ..CallRequest::default()
            };
            let response =
                if kind == FunctionKind::Query { env.run_query(request) } else { env.call_main(request).await };
            logs.borrow_mut().extend(response.log_lines);
            match response.outcome {
                Ok(value) => Ok(value.to_convex_json().to_string()),
                Err(CallError::Developer { message, data }) => {
                    Err(HostError { message, data: data.map(|d| d.to_convex_json()), class: ErrorClass::Developer })
                }
                Err(CallError::BadRequest { message, .. }) => Err(developer(message)),
                Err(CallError::Internal { message }) => Err(HostError::internal(message)),
            }
        }
        "1.0/actions/action" => {
            let target = resolve_callee(env, component, &args, FunctionKind::Action)?;
            let meta = meta.crossing(component, &target.component);
            let request =
                ActionRequest { component: target.component, path: target.path, args: vec![call_args()?], meta };
            let (result, lines) = Box::pin(run(env, &request)).await;
            logs.borrow_mut().extend(lines);
            result.map(|v| v.to_convex_json().to_string()).map_err(HostError::from)
        }
        "1.0/actions/schedule" => env.syscall_main(component, action_path, "1.0/schedule", args_json).await,
        "1.0/actions/cancel_job" => env.syscall_main(component, action_path, "1.0/cancel_job", args_json).await,
        "1.0/createFunctionHandle" => env.syscall_main(component, action_path, op, args_json).await,
        "1.0/getUserIdentity" => match &meta.identity_error {
            Some(reason) => Err(developer(reason.clone())),
            None => Ok(meta.identity_json().to_string()),
        },
        "1.0/actions/vectorSearch" => vector_search(env, component, &args).await,
        "1.0/getFunctionMetadata" => {
            Ok(json!({ "name": action_path.stripped(), "componentPath": component }).to_string())
        }
        "1.0/getDeploymentMetadata" => Ok(deployment_metadata().to_string()),
        "1.0/getRequestMetadata" => Ok(meta.to_json().to_string()),
        "1.0/storageGetUrl" | "1.0/storageGetMetadata" | "1.0/storageGet" => {
            // Reads: on a snapshot of this thread.
            let mut tx = env.db.begin_query().map_err(db_error)?;
            let cx = storage::StorageContext {
                tx: &mut tx,
                db: &env.db,
                component,
                origin: storage::origin(&env.components),
                is_mutation: false,
            };
            storage::syscall(cx, op, &args).map(|v| v.to_string())
        }
        "1.0/storageGenerateUploadUrl" => {
            let secret = env.db.files().secret().map_err(storage::io_error)?;
            let token = storage::issue_token(&secret, component, env.db.clock().now_ms());
            Ok(Json::String(storage::upload_url(&storage::origin(&env.components), &token)).to_string())
        }
        "1.0/storageDelete" => env.syscall_main(component, action_path, op, args_json).await,
        "1.0/storageStore" => {
            use base64::Engine;
            let blob = args.get("blob").and_then(Json::as_str).unwrap_or_default();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(blob)
                .map_err(|_| developer("Invalid argument `blob` for `storage.store`: not base64".into()))?;
            store(env, component, action_path, &args, &bytes).await
        }
        _ => Err(unsupported_in_action(op)),
    }
}

/// `ctx.storage.store(blob)` in an action: the file is written and put in place on this
/// thread, then its `_storage` document is committed on the main worker.
async fn store(
    env: &Env,
    component: &str,
    action_path: &UdfPath,
    args: &Json,
    bytes: &[u8],
) -> Result<String, HostError> {
    let files = env.db.files();
    let staged = files.stage(bytes).map_err(storage::io_error)?;
    storage::check_sha256(&staged, args.get("sha256").and_then(Json::as_str))?;
    let insert = storage::insert_file_args(&staged, args.get("contentType").and_then(Json::as_str));
    let key = staged.key.clone();
    files.promote(component, staged).map_err(storage::io_error)?;
    let result = env.syscall_main(component, action_path, storage::INSERT_FILE_OP, &insert).await;
    if result.is_err() {
        let _ = files.remove(component, &key);
    }
    result
}

/// `ctx.storage.get(id)` in an action: the file's bytes, read on this thread.
fn get_blob(env: &Env, component: &str, args: &Json) -> Result<Option<emvex_engine::StoredBlob>, HostError> {
    let id = args.get("storageId").and_then(Json::as_str).unwrap_or_default();
    let mut tx = env.db.begin_query().map_err(db_error)?;
    let Some(file) = storage::lookup(&mut tx, component, id)? else { return Ok(None) };
    drop(tx);
    let bytes = storage::read_file(&env.db, component, &file)?;
    Ok(Some((bytes, file.content_type)))
}

/// `ctx.vectorSearch` (spec §3.15): `{"results": [{"_id", "_score"}, …]}`. The scan runs on
/// a thread of its own, so this action thread's other actions go on meanwhile.
async fn vector_search(env: &Env, component: &str, args: &Json) -> Result<String, HostError> {
    let query = VectorQuery::from_json(args.get("query").unwrap_or(&Json::Null)).map_err(db_error)?;
    let (db, component) = (env.db.clone(), component.to_string());
    let (send, receive) = oneshot::channel();
    std::thread::spawn(move || {
        let _ = send.send(db.vector_search(&component, &query));
    });
    let found = receive.await.map_err(|_| HostError::internal(String::from("the vector search thread stopped")))?;
    let results: Vec<Json> =
        found.map_err(db_error)?.into_iter().map(|m| json!({ "_id": m.id.encode(), "_score": m.score })).collect();
    Ok(json!({ "results": results }).to_string())
}

/// Resolves the function an action calls, from the action's instance, and checks its kind.
fn resolve_callee(env: &Env, component: &str, args: &Json, kind: FunctionKind) -> Result<Target, HostError> {
    let components = &env.components;
    let address = function_address(args).map_err(|e| developer(e.message))?;
    let target = components.resolve(component, &address).map_err(|e| developer(e.message))?;
    match components.function(&target.component, &target.path).map(|f| f.kind) {
        Some(found) if found == kind => Ok(target),
        Some(found) => Err(developer(format!(
            "Trying to execute {} as {}, but it is defined as {}.",
            target.path.canonical(),
            kind.title(),
            found.title()
        ))),
        None => Err(developer(format!("Could not find function for '{}'", target.path.stripped()))),
    }
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
