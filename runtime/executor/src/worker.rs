//! The main JS worker thread: a tokio current-thread runtime and `LocalSet` that owns the
//! query/mutation isolates, runs queries and mutations one at a time (single writer,
//! serializable by construction), answers the syscalls actions send it (scheduling, cancelling,
//! handles), hands actions to the JS threads (`action_threads.rs`; it serves lane 0 itself),
//! and fires due scheduled jobs and cron runs — sleeping until the next message or due time,
//! never polling.
//!
//! Invariants: worker state is borrowed only between awaits (never across one); a panic while
//! running a function answers that call with an internal error and replaces the isolates;
//! start-up either fully succeeds (app analyzed, schema applied, schedulers loaded) or reports
//! why, before any call is accepted; the loop ends when the last `Executor` handle is dropped.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use emvex_database::{Database, SchemaDefinition};
use emvex_engine::{App, DefinitionId, Isolate, Scope};
use emvex_node::NodeRuntime;
use emvex_value::function::FunctionKind;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::NativeDefinition;
use crate::action_threads::{self, ActionTask, Dispatcher, LaneReceiver};
use crate::actions::{ActionEnv, MainHandle, SyscallJob};
use crate::call;
use crate::call::ActionRequest;
use crate::components::{self, Components, Definition, Implementation, Instance};
use crate::crons::Crons;
use crate::logs::format_log_line;
use crate::native::native_definition;
use crate::native_driver::{self, NativeDone, NativeDriver};
use crate::panics::panic_text;
use crate::pool::IsolatePool;
use crate::registry::Registry;
use crate::request_metadata::RequestMetadata;
use crate::runner::{FunctionRunner, NewJob};
use crate::scheduler::{self, JobKey, Scheduler};
use crate::storage;
use crate::syscalls::{TransactionHost, db_error};
use crate::{CallError, CallResponse, Job, StartError, worker_gone};

/// Due scheduled jobs run this many to a transaction (one commit per batch).
const SCHEDULED_BATCH: usize = 32;

/// Everything the main worker thread owns.
pub(crate) struct Worker {
    pub runner: FunctionRunner,
    pub scheduler: Scheduler,
    crons: Crons,
    pub print_logs: bool,
    dispatcher: Arc<Dispatcher>,
    pub natives: NativeDriver,
    /// Where the JS threads report the end of actions native instances started.
    pub native_done: UnboundedSender<NativeDone>,
}

/// The channels and handles the main worker is started with.
pub(crate) struct MainChannels {
    pub jobs: UnboundedReceiver<Job>,
    pub syscalls: UnboundedReceiver<SyscallJob>,
    /// Its own senders, for the actions it runs on lane 0.
    pub handle: MainHandle,
    pub dispatcher: Arc<Dispatcher>,
    pub lane: LaneReceiver,
    /// Resolves (with an error) when the last `Executor` handle is dropped.
    pub shutdown: tokio::sync::oneshot::Receiver<()>,
    pub native_done: UnboundedReceiver<NativeDone>,
    pub native_done_tx: UnboundedSender<NativeDone>,
}

pub(crate) type Shared = Rc<RefCell<Worker>>;

impl Worker {
    fn next_due_ms(&self) -> Option<f64> {
        [self.scheduler.next_due_ms(), self.crons.next_due_ms(), self.natives.next_due_ms(&self.runner)]
            .into_iter()
            .flatten()
            .reduce(f64::min)
    }

    /// Hands a task to the JS threads.
    pub(crate) fn dispatcher_task(&self, task: ActionTask) {
        self.dispatcher.dispatch(task);
    }

    /// Prints a function's console lines when running under `emvex dev`.
    pub(crate) fn print(&self, kind: FunctionKind, path: &str, lines: &[String]) {
        if self.print_logs {
            for line in lines {
                println!("{}", format_log_line(Some(kind), path, line));
            }
        }
    }
}

/// The thread's entry point.
pub(crate) fn main(
    app: Arc<App>,
    native: Vec<NativeDefinition>,
    db: Database,
    channels: MainChannels,
    ready: mpsc::Sender<Result<Arc<Components>, StartError>>,
    print_logs: bool,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(StartError { code: "WorkerStartFailed", message: e.to_string() }));
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, run(app, native, db, channels, ready, print_logs));
}

async fn run(
    app: Arc<App>,
    native: Vec<NativeDefinition>,
    db: Database,
    channels: MainChannels,
    ready: mpsc::Sender<Result<Arc<Components>, StartError>>,
    print_logs: bool,
) {
    let MainChannels {
        mut jobs,
        mut syscalls,
        handle,
        dispatcher,
        lane,
        mut shutdown,
        mut native_done,
        native_done_tx,
    } = channels;
    let worker = match load(app.clone(), &native, db.clone(), print_logs, dispatcher, native_done_tx) {
        Ok(loaded) => loaded,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let components = worker.runner.components.clone();
    let _ = ready.send(Ok(components.clone()));
    tokio::task::spawn_local(action_threads::serve(ActionEnv::new(app, components, db, handle, print_logs), lane));
    let shared: Shared = Rc::new(RefCell::new(worker));
    native_driver::recover_all(&shared);
    loop {
        let next_due = shared.borrow().next_due_ms();
        let clock = shared.borrow().runner.db.clock().clone();
        let now = clock.now_whole_ms();
        let wait =
            next_due.map(|due| clock.recheck_after(Duration::from_micros(((due - now).max(0.0) * 1000.0) as u64)));
        let sleep = async {
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(job) = jobs.recv() => handle_call(&shared, job),
            Some(job) = syscalls.recv() => handle_syscall(&shared, job),
            Some(done) = native_done.recv() => {
                let mut batch = vec![done];
                while let Ok(more) = native_done.try_recv() {
                    batch.push(more);
                }
                native_driver::handle_done(&shared, batch);
            }
            _ = &mut shutdown => return,
            _ = sleep => {}
        }
        run_due(&shared, &mut jobs, &mut syscalls).await;
        native_driver::drive_due(&shared);
    }
}

/// Runs due cron runs and scheduled jobs; calls and syscalls that arrive meanwhile go in
/// between batches, and the thread's other tasks (the actions of lane 0, timers) get a turn
/// after each batch, so jobs that keep scheduling jobs cannot starve them.
async fn run_due(shared: &Shared, jobs: &mut UnboundedReceiver<Job>, syscalls: &mut UnboundedReceiver<SyscallJob>) {
    run_crons(shared);
    loop {
        let due = {
            let mut worker = shared.borrow_mut();
            let now = worker.runner.db.clock().now_whole_ms();
            worker.scheduler.pop_due(now, SCHEDULED_BATCH)
        };
        if due.is_empty() {
            break;
        }
        run_scheduled(shared, &due);
        while let Ok(job) = jobs.try_recv() {
            handle_call(shared, job);
        }
        while let Ok(job) = syscalls.try_recv() {
            handle_syscall(shared, job);
        }
        tokio::task::yield_now().await;
    }
}

/// Answers an action's syscall the way a mutation of its instance would, in a transaction of
/// its own that commits at once.
fn handle_syscall(shared: &Shared, job: SyscallJob) {
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut worker = shared.borrow_mut();
        let Worker { runner, scheduler, .. } = &mut *worker;
        let mut tx = runner.db.begin_mutation().map_err(db_error)?;
        let now = tx.clock().now_whole_ms();
        let (result, new_jobs) = if job.op == storage::INSERT_FILE_OP {
            (storage::insert_file_op(&mut tx, &job.component, &job.args_json), Vec::new())
        } else {
            let mut host =
                TransactionHost::new(&mut tx, runner, job.component, FunctionKind::Mutation, job.path, now, 0);
            let result = emvex_engine::Host::async_syscall(&mut host, &job.op, &job.args_json);
            (result, std::mem::take(&mut host.new_jobs))
        };
        let text = result?;
        tx.commit().map_err(db_error)?;
        scheduler.add(new_jobs);
        Ok(text)
    }));
    let answer = result.unwrap_or_else(|panic| {
        shared.borrow_mut().runner.reset_isolates();
        Err(emvex_engine::HostError::developer(format!("internal error: {}", panic_text(&panic))))
    });
    let _ = job.reply.send(answer);
}

fn handle_call(shared: &Shared, job: Job) {
    let request = job.request.clone();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut worker = shared.borrow_mut();
        call::execute(&mut worker.runner, job.request)
    }));
    match result {
        Ok(call::Outcome::Done(response, new_jobs)) => {
            shared.borrow_mut().scheduler.add(new_jobs);
            (job.reply)(response);
        }
        Ok(call::Outcome::Action(action)) => {
            let reply = job.reply;
            let task = ActionTask::Run {
                request: action,
                reply: Box::new(move |_, outcome, log_lines| {
                    reply(CallResponse {
                        log_lines,
                        ..CallResponse::new(request, Some(FunctionKind::Action), outcome.map_err(call::call_error))
                    })
                }),
            };
            shared.borrow().dispatcher.dispatch(task);
        }
        Err(panic) => {
            // The isolates may be in any state after a panic: start fresh ones.
            shared.borrow_mut().runner.reset_isolates();
            (job.reply)(CallResponse {
                outcome: Err(CallError::internal(format!("internal error: {}", panic_text(&panic)))),
                ..worker_gone(request)
            });
        }
    }
}

fn run_scheduled(shared: &Shared, ids: &[JobKey]) {
    let result =
        std::panic::catch_unwind(AssertUnwindSafe(|| scheduler::run_jobs(&mut shared.borrow_mut().runner, ids)));
    match result {
        Ok(Ok(runs)) => {
            for run in runs {
                let mut worker = shared.borrow_mut();
                if let Some((kind, path)) = &run.function {
                    worker.print(*kind, path, &run.log_lines);
                    worker.print(*kind, path, run.error.as_slice());
                }
                worker.scheduler.add(run.new_jobs);
                drop(worker);
                if let Some(action) = run.action {
                    spawn_scheduled_action(shared, action);
                }
            }
        }
        // Nothing of the batch committed: the jobs are still pending; try them again shortly.
        Ok(Err(e)) => {
            eprintln!("emvex: {} scheduled jobs could not run, retrying in 1 s: {}", ids.len(), e.message);
            let retry_at = shared.borrow().runner.db.clock().now_whole_ms() + 1000.0;
            shared.borrow_mut().scheduler.add(ids.iter().map(|job| NewJob {
                component: job.component.clone(),
                id: job.id,
                scheduled_ms: retry_at,
            }));
        }
        Err(panic) => {
            shared.borrow_mut().runner.reset_isolates();
            eprintln!("emvex: {} scheduled jobs failed internally: {}", ids.len(), panic_text(&panic));
        }
    }
}

/// A scheduled action was marked `inProgress` (committed); run it on a JS thread and record how
/// it ended.
fn spawn_scheduled_action(shared: &Shared, action: scheduler::ScheduledAction) {
    let worker = shared.borrow();
    let db = worker.runner.db.clone();
    let job = action.job;
    let path = action.path.clone();
    let meta = RequestMetadata::scheduled(job.id.encode());
    let request = ActionRequest { component: action.component, path: action.path, args: action.args, meta };
    let reply: action_threads::ActionReply = Box::new(move |env, outcome, log_lines| {
        env.print(&path, &log_lines, outcome.as_ref().err());
        if let Err(e) = scheduler::finish_action(&db, &job, outcome.err()) {
            eprintln!("emvex: could not record the end of scheduled action {}: {}", job.id.encode(), e.message);
        }
    });
    worker.dispatcher.dispatch(ActionTask::Run { request, reply });
}

fn run_crons(shared: &Shared) {
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut worker = shared.borrow_mut();
        let Worker { runner, crons, .. } = &mut *worker;
        let now = runner.db.clock().now_whole_ms();
        crons.run_due(runner, now)
    }));
    match result {
        Ok(Ok(runs)) => {
            for run in runs {
                let mut worker = shared.borrow_mut();
                worker.print(run.kind, &run.path, &run.log_lines);
                worker.scheduler.add(run.new_jobs);
                drop(worker);
                if let Some(action) = run.action {
                    let path = action.path.clone();
                    let reply: action_threads::ActionReply = Box::new(move |env, outcome, log_lines| {
                        env.print(&path, &log_lines, outcome.as_ref().err());
                    });
                    shared.borrow().dispatcher.dispatch(ActionTask::Run { request: action, reply });
                }
            }
        }
        Ok(Err(e)) => eprintln!("emvex: cron jobs could not run: {}", e.message),
        Err(panic) => {
            shared.borrow_mut().runner.reset_isolates();
            eprintln!("emvex: cron jobs failed internally: {}", panic_text(&panic));
        }
    }
}

/// Loads the app on this thread: the component tree, one isolate per instance (every module
/// of every instance is evaluated, so import-time errors stop the start), each definition's
/// analysis, the schemas, the scheduler and the crons.
fn load(
    app: Arc<App>,
    native: &[NativeDefinition],
    db: Database,
    print_logs: bool,
    dispatcher: Arc<Dispatcher>,
    native_done: UnboundedSender<NativeDone>,
) -> Result<Worker, StartError> {
    let start_error = |e: emvex_engine::LoadError| StartError { code: e.code, message: e.message };
    let instances = components::build_tree(app.definitions(), app.env())?;
    let node = start_node(&app)?;
    let mut pools = BTreeMap::new();
    let mut definitions: BTreeMap<DefinitionId, Definition> = BTreeMap::new();
    for instance in &instances {
        let info = &app.definitions()[instance.definition.0];
        if let Some(default_name) = &info.opaque {
            if let Entry::Vacant(slot) = definitions.entry(instance.definition) {
                let implementation = native_for(native, info, default_name)?;
                slot.insert(native_definition(info.id, &info.path, implementation)?);
            }
            continue;
        }
        let scope = Scope { definition: instance.definition, env: instance.env.clone() };
        let mut isolate = Isolate::for_scope(app.clone(), scope).map_err(start_error)?;
        if let Entry::Vacant(slot) = definitions.entry(instance.definition) {
            let mut analysis = isolate.analyze().map_err(start_error)?;
            if instance.path.is_empty()
                && let Some(node) = &node
            {
                let functions = node
                    .analyze(app.use_node_modules())
                    .map_err(|e| StartError { code: "NodeActionsUnavailable", message: e.message })?;
                analysis.functions.extend(functions);
            }
            slot.insert(js_definition(&app, instance, analysis)?);
        }
        pools.insert(instance.path.clone(), IsolatePool::new(app.clone(), isolate));
    }
    for instance in &instances {
        let schema = definitions[&instance.definition].schema.as_ref();
        db.apply_schema(&instance.path, schema).map_err(|e| StartError {
            code: "InvalidSchema",
            message: format!("{}: {}", schema_file(instance), e.message),
        })?;
    }
    let components = Arc::new(
        Components::new(instances, definitions.into_values().collect()).with_node(app.use_node_modules(), node),
    );
    let runner =
        FunctionRunner { pools, components, db, native_touched: Default::default(), request: Default::default() };
    let scheduler =
        Scheduler::load(&runner).map_err(|e| StartError { code: "SchedulerLoadFailed", message: e.message })?;
    let crons = Crons::sync(&runner).map_err(|message| StartError { code: "InvalidCrons", message })?;
    Ok(Worker { runner, scheduler, crons, print_logs, dispatcher, natives: NativeDriver::default(), native_done })
}

/// Node.js for the app's `"use node"` modules, if it has any: found on `PATH`, with the
/// modules mirrored for it (see `emvex_node`). An app with such modules and no usable Node.js
/// does not start, and the error names the modules.
fn start_node(app: &App) -> Result<Option<Arc<NodeRuntime>>, StartError> {
    let modules = app.use_node_modules();
    if modules.is_empty() {
        return Ok(None);
    }
    let env = app.env().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    NodeRuntime::prepare(app.app_dir(), &app.app_dir().join("convex"), modules, env, app.limits().node_actions)
        .map(|node| Some(Arc::new(node)))
        .map_err(|e| StartError { code: "NodeActionsUnavailable", message: e.message })
}

/// The native implementation the loader matched for an opaque definition.
fn native_for(
    native: &[NativeDefinition],
    info: &emvex_engine::DefinitionInfo,
    default_name: &str,
) -> Result<Arc<dyn emvex_component::NativeComponent>, StartError> {
    let package = info.package.as_ref().map(|(name, _)| name.as_str());
    native
        .iter()
        .find(|n| Some(n.package.as_str()) == package && n.default_name == default_name)
        .map(|n| n.component.clone())
        .ok_or_else(|| StartError {
            code: "InvalidComponentTree",
            message: format!("no native implementation for component definition \"{}\"", info.path),
        })
}

/// A JavaScript definition from the analysis of its first instance's realm.
fn js_definition(app: &App, instance: &Instance, analysis: emvex_engine::Analysis) -> Result<Definition, StartError> {
    let info = &app.definitions()[instance.definition.0];
    let registry =
        Registry::from_analysis(&analysis).map_err(|message| StartError { code: "InvalidFunction", message })?;
    let schema = match &analysis.schema_json {
        Some(json) => Some(SchemaDefinition::from_export_json(json).map_err(|e| StartError {
            code: "InvalidSchema",
            message: format!("{}: {}", schema_file(instance), e.message),
        })?),
        None => None,
    };
    Ok(Definition {
        id: info.id,
        registry,
        schema,
        crons_json: analysis.crons_json,
        auth_config_json: analysis.auth_config_json,
        implementation: Implementation::Js,
    })
}

/// How load errors name an instance's schema file.
fn schema_file(instance: &Instance) -> String {
    if instance.path.is_empty() {
        "convex/schema.ts".into()
    } else {
        format!("schema.ts of component \"{}\"", instance.path)
    }
}
