//! The executor's JS threads for actions and HTTP actions, and how work is spread over them.
//!
//! Thread 0 is the main worker (mutations, scheduler, crons; see `worker.rs`), which also runs
//! actions, and queries when it is the only thread; threads 1..N run actions and queries, each
//! thread's queries in its own isolates against a WAL snapshot of their own. Each thread has a
//! tokio current-thread runtime with a `LocalSet`, its own action isolates (one per instance, created on first use)
//! and an [`ActionEnv`] that reaches the main worker through channels. An action waiting on I/O
//! never blocks others on its thread; CPU-bound actions on different threads run in parallel.
//!
//! Invariants: a task goes to the lane with the fewest tasks in flight (ties go to the
//! highest-numbered lane, keeping the main worker free for queries and mutations); a lane's
//! in-flight count rises when a task is handed to it and falls just before the task's reply is
//! sent; every task's reply is called exactly once unless its thread dies (callers then see
//! their reply channel closed).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use emvex_database::Database;
use emvex_engine::App;
use emvex_value::Value;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::actions::{self, ActionEnv, Env, MainHandle};
use crate::call::ActionRequest;
use crate::components::Components;
use crate::runner::Failure;
use crate::{HttpJob, Job, StartError};

/// What to do with an action's outcome, on the thread that ran it.
pub(crate) type ActionReply = Box<dyn FnOnce(&ActionEnv, Result<Value, Failure>, Vec<String>) + Send>;

/// Work for a JS thread.
pub(crate) enum ActionTask {
    /// Run an action and hand its outcome and console lines to `reply`.
    Run { request: ActionRequest, reply: ActionReply },
    /// Run the app's HTTP router on one request.
    Http(HttpJob),
    /// Run a query call (on a thread other than the main worker, when there is one).
    Query(Job),
}

/// One thread's queue and its number of tasks in flight.
struct Lane {
    sender: UnboundedSender<ActionTask>,
    in_flight: Arc<AtomicUsize>,
}

/// The receiving end of a lane, handed to the thread that serves it.
pub(crate) struct LaneReceiver {
    tasks: UnboundedReceiver<ActionTask>,
    in_flight: Arc<AtomicUsize>,
}

/// Hands actions to the JS threads.
pub(crate) struct Dispatcher {
    lanes: Vec<Lane>,
}

impl Dispatcher {
    /// A dispatcher over `threads` lanes (at least one), with their receiving ends.
    pub(crate) fn new(threads: usize) -> (Arc<Dispatcher>, Vec<LaneReceiver>) {
        let mut lanes = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..threads.max(1) {
            let (sender, tasks) = unbounded_channel();
            let in_flight = Arc::new(AtomicUsize::new(0));
            lanes.push(Lane { sender, in_flight: in_flight.clone() });
            receivers.push(LaneReceiver { tasks, in_flight });
        }
        (Arc::new(Dispatcher { lanes }), receivers)
    }

    /// Whether queries have threads of their own besides the main worker.
    pub(crate) fn has_query_lanes(&self) -> bool {
        self.lanes.len() > 1
    }

    /// Queues `task` on the least busy lane; queries never go to the main worker's lane (it
    /// has its own queue for them).
    pub(crate) fn dispatch(&self, task: ActionTask) {
        let candidates = if matches!(task, ActionTask::Query(_)) { &self.lanes[1..] } else { &self.lanes[..] };
        let lane = candidates
            .iter()
            .rev()
            .min_by_key(|lane| lane.in_flight.load(Ordering::SeqCst))
            .expect("at least one lane");
        lane.in_flight.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = lane.sender.send(task) {
            lane.in_flight.fetch_sub(1, Ordering::SeqCst);
            // The thread is gone: answer HTTP requests at once; an action's reply is dropped,
            // which its caller sees as a stopped worker.
            match e.0 {
                ActionTask::Http(job) => {
                    let _ = job.reply.send(crate::HttpActionResponse {
                        result: Err("the JS worker thread has stopped".into()),
                        log_lines: Vec::new(),
                    });
                }
                ActionTask::Query(job) => (job.reply)(crate::worker_gone(job.request)),
                ActionTask::Run { .. } => {}
            }
        }
    }
}

/// Serves one lane on the current `LocalSet` until the dispatcher is dropped.
pub(crate) async fn serve(env: Env, mut lane: LaneReceiver) {
    while let Some(task) = lane.tasks.recv().await {
        let env = env.clone();
        let in_flight = lane.in_flight.clone();
        tokio::task::spawn_local(async move {
            // The lane counts as free again before the reply leaves, so a caller that has its
            // answer and calls again sees the lane's true load (the next call would otherwise
            // race the decrement and could land on the main worker behind a busy action).
            match task {
                ActionTask::Run { request, reply } => {
                    let (outcome, log_lines) = actions::run(&env, &request).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    reply(&env, outcome, log_lines);
                }
                ActionTask::Http(job) => {
                    let response = actions::run_http(&env, job.request, job.identity).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let _ = job.reply.send(response);
                }
                ActionTask::Query(job) => {
                    let response = env.run_query(job.request);
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    (job.reply)(response);
                }
            }
        });
    }
}

/// Starts a JS thread that serves `lane` (threads 1..N).
pub(crate) fn spawn_thread(
    index: usize,
    app: Arc<App>,
    components: Arc<Components>,
    db: Database,
    main: MainHandle,
    print_logs: bool,
    lane: LaneReceiver,
) -> Result<(), StartError> {
    thread::Builder::new()
        .name(format!("emvex-js-{index}"))
        .stack_size(crate::JS_THREAD_STACK_BYTES)
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!("emvex: JS thread {index} could not start: {e}");
                    return;
                }
            };
            let env = ActionEnv::new(app, components, db, main, print_logs);
            tokio::task::LocalSet::new().block_on(&runtime, serve(env, lane));
        })
        .map(|_| ())
        .map_err(|e| StartError { code: "WorkerSpawnFailed", message: e.to_string() })
}
