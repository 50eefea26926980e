//! The JS worker thread: a tokio current-thread runtime and `LocalSet` that owns the isolates,
//! runs queries and mutations one at a time (single writer, serializable by construction), runs
//! actions concurrently (each awaiting its I/O while others proceed), and fires due scheduled
//! jobs and cron runs — sleeping until the next call or due time, never polling.
//!
//! Invariants: worker state is borrowed only between awaits (never across one), so actions and
//! the loop interleave safely on the one thread; a panic while running a function answers that
//! call with an internal error and replaces the isolates; start-up either fully succeeds (app
//! analyzed, schema applied, schedulers loaded) or reports why, before any call is accepted.

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use emvex_database::{Database, SchemaDefinition};
use emvex_engine::{App, FunctionKind, Isolate};
use emvex_value::id::DocumentId;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::actions::{self, ActionRequest};
use crate::call;
use crate::crons::Crons;
use crate::logs::format_log_line;
use crate::pool::IsolatePool;
use crate::registry::Registry;
use crate::runner::{FunctionRunner, NewJob};
use crate::scheduler::{self, Scheduler};
use crate::{CallError, CallResponse, HttpJob, Job, StartError, worker_gone};

/// Due scheduled jobs run this many to a transaction (one commit per batch).
const SCHEDULED_BATCH: usize = 32;

/// Everything the worker thread owns besides the action isolate.
pub struct Worker {
    pub runner: FunctionRunner,
    pub scheduler: Scheduler,
    crons: Crons,
    pub print_logs: bool,
}

pub type Shared = Rc<RefCell<Worker>>;

impl Worker {
    fn next_due_ms(&self) -> Option<f64> {
        match (self.scheduler.next_due_ms(), self.crons.next_due_ms()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Prints a function's console lines when running under `emvex dev`.
    pub fn print(&self, kind: FunctionKind, path: &str, lines: &[String]) {
        if self.print_logs {
            for line in lines {
                println!("{}", format_log_line(Some(kind), path, line));
            }
        }
    }
}

/// The thread's entry point.
pub fn main(
    app: Arc<App>,
    db: Database,
    jobs: UnboundedReceiver<Job>,
    http_jobs: UnboundedReceiver<HttpJob>,
    ready: mpsc::Sender<Result<Arc<Registry>, StartError>>,
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
    local.block_on(&runtime, run(app, db, jobs, http_jobs, ready, print_logs));
}

async fn run(
    app: Arc<App>,
    db: Database,
    mut jobs: UnboundedReceiver<Job>,
    mut http_jobs: UnboundedReceiver<HttpJob>,
    ready: mpsc::Sender<Result<Arc<Registry>, StartError>>,
    print_logs: bool,
) {
    let (worker, action_isolate) = match load(app, db, print_logs) {
        Ok(loaded) => loaded,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(worker.runner.registry.clone()));
    let shared: Shared = Rc::new(RefCell::new(worker));
    let action_isolate = Rc::new(action_isolate);
    loop {
        let next_due = shared.borrow().next_due_ms();
        let wait = next_due.map(|due| Duration::from_micros(((due - call::now_ms()).max(0.0) * 1000.0) as u64));
        let sleep = async {
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            job = jobs.recv() => match job {
                Some(job) => handle_call(&shared, &action_isolate, job),
                None => return,
            },
            Some(job) = http_jobs.recv() => handle_http(&shared, &action_isolate, job),
            _ = sleep => {}
        }
        run_due(&shared, &action_isolate, &mut jobs);
    }
}

/// Runs due cron runs and scheduled jobs; calls that arrive meanwhile go in between batches.
fn run_due(shared: &Shared, action_isolate: &Rc<Isolate>, jobs: &mut UnboundedReceiver<Job>) {
    run_crons(shared, action_isolate);
    loop {
        let due = shared.borrow_mut().scheduler.pop_due(call::now_ms(), SCHEDULED_BATCH);
        if due.is_empty() {
            break;
        }
        run_scheduled(shared, action_isolate, &due);
        while let Ok(job) = jobs.try_recv() {
            handle_call(shared, action_isolate, job);
        }
    }
}

fn handle_call(shared: &Shared, action_isolate: &Rc<Isolate>, job: Job) {
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
            let shared = shared.clone();
            let isolate = action_isolate.clone();
            tokio::task::spawn_local(async move {
                let (outcome, log_lines) = actions::run(&shared, &isolate, &action).await;
                (job.reply)(CallResponse {
                    request_id: request.request_id,
                    path: request.path,
                    kind: Some(FunctionKind::Action),
                    outcome: outcome.map_err(call::call_error),
                    log_lines,
                });
            });
        }
        Err(panic) => {
            // The isolates may be in any state after a panic: start fresh ones.
            shared.borrow_mut().runner.pool.reset();
            (job.reply)(CallResponse {
                outcome: Err(CallError::internal(format!("internal error: {}", panic_text(&panic)))),
                ..worker_gone(request)
            });
        }
    }
}

fn handle_http(shared: &Shared, action_isolate: &Rc<Isolate>, job: HttpJob) {
    let shared = shared.clone();
    let isolate = action_isolate.clone();
    tokio::task::spawn_local(async move {
        let response = actions::run_http(&shared, &isolate, job.request).await;
        let _ = job.reply.send(response);
    });
}

fn run_scheduled(shared: &Shared, action_isolate: &Rc<Isolate>, ids: &[DocumentId]) {
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        scheduler::run_jobs(&mut shared.borrow_mut().runner, ids)
    }));
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
                    spawn_scheduled_action(shared, action_isolate, action);
                }
            }
        }
        // Nothing of the batch committed: the jobs are still pending; try them again shortly.
        Ok(Err(e)) => {
            eprintln!("emvex: {} scheduled jobs could not run, retrying in 1 s: {}", ids.len(), e.message);
            let retry_at = call::now_ms() + 1000.0;
            shared.borrow_mut().scheduler.add(ids.iter().map(|id| NewJob { id: *id, scheduled_ms: retry_at }));
        }
        Err(panic) => {
            shared.borrow_mut().runner.pool.reset();
            eprintln!("emvex: {} scheduled jobs failed internally: {}", ids.len(), panic_text(&panic));
        }
    }
}

/// A scheduled action was marked `inProgress` (committed); run it and record how it ended.
fn spawn_scheduled_action(shared: &Shared, action_isolate: &Rc<Isolate>, action: scheduler::ScheduledAction) {
    let shared = shared.clone();
    let isolate = action_isolate.clone();
    tokio::task::spawn_local(async move {
        let request = ActionRequest { path: action.path.clone(), args: action.args };
        let (outcome, log_lines) = actions::run(&shared, &isolate, &request).await;
        let worker = shared.borrow();
        let path = action.path.stripped();
        worker.print(FunctionKind::Action, &path, &log_lines);
        if let Err(failure) = &outcome {
            worker.print(FunctionKind::Action, &path, &[failure.full_message()]);
        }
        if let Err(e) = scheduler::finish_action(&worker.runner, &action.job, outcome.err()) {
            eprintln!("emvex: could not record the end of scheduled action {}: {}", action.job.encode(), e.message);
        }
    });
}

fn run_crons(shared: &Shared, action_isolate: &Rc<Isolate>) {
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut worker = shared.borrow_mut();
        let Worker { runner, crons, .. } = &mut *worker;
        crons.run_due(runner, call::now_ms())
    }));
    match result {
        Ok(Ok(runs)) => {
            for run in runs {
                let mut worker = shared.borrow_mut();
                worker.print(run.kind, &run.path, &run.log_lines);
                worker.scheduler.add(run.new_jobs);
                drop(worker);
                if let Some(action) = run.action {
                    let shared = shared.clone();
                    let isolate = action_isolate.clone();
                    tokio::task::spawn_local(async move {
                        let (outcome, log_lines) = actions::run(&shared, &isolate, &action).await;
                        let worker = shared.borrow();
                        let path = action.path.stripped();
                        worker.print(FunctionKind::Action, &path, &log_lines);
                        if let Err(failure) = outcome {
                            worker.print(FunctionKind::Action, &path, &[failure.full_message()]);
                        }
                    });
                }
            }
        }
        Ok(Err(e)) => eprintln!("emvex: cron jobs could not run: {}", e.message),
        Err(panic) => {
            shared.borrow_mut().runner.pool.reset();
            eprintln!("emvex: cron jobs failed internally: {}", panic_text(&panic));
        }
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

/// Loads the app on this thread: isolates, analysis, registry, schema, scheduler and crons.
fn load(app: Arc<App>, db: Database, print_logs: bool) -> Result<(Worker, Isolate), StartError> {
    let start_error = |e: emvex_engine::LoadError| StartError { code: e.code, message: e.message };
    let mut isolate = Isolate::new(app.clone()).map_err(start_error)?;
    let analysis = isolate.analyze().map_err(start_error)?;
    let registry = Registry::from_analysis(&analysis)
        .map_err(|message| StartError { code: "InvalidFunction", message })?;
    let invalid_schema = |message: String| StartError { code: "InvalidSchema", message: format!("convex/schema.ts: {message}") };
    let schema = match &analysis.schema_json {
        Some(json) => Some(SchemaDefinition::from_export_json(json).map_err(|e| invalid_schema(e.message))?),
        None => None,
    };
    db.apply_schema("", schema.as_ref()).map_err(|e| invalid_schema(e.message))?;
    let action_isolate = Isolate::new(app.clone()).map_err(start_error)?;
    let runner = FunctionRunner { pool: IsolatePool::new(app, isolate), registry: Arc::new(registry), db };
    let scheduler = Scheduler::load(&runner)
        .map_err(|e| StartError { code: "SchedulerLoadFailed", message: e.message })?;
    let crons = Crons::sync(&runner, analysis.crons_json.as_deref())
        .map_err(|message| StartError { code: "InvalidCrons", message })?;
    Ok((Worker { runner, scheduler, crons, print_logs }, action_isolate))
}
