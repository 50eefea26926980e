//! The scheduler: runs the jobs of `_scheduled_functions` when they come due (spec §3.9, §6.8).
//!
//! Due times live in an in-memory queue, filled from the table at start and by each committed
//! mutation that scheduled something; the worker sleeps until the earliest due time (no
//! polling). A popped job is re-read in the transaction that runs it, so cancels and restarts
//! need no queue bookkeeping.
//!
//! Due jobs run in batches: one transaction, a savepoint per job, one commit.
//!
//! Components: a job lives in the `_scheduled_functions` of the instance that scheduled it and
//! runs its target there, or — when it was scheduled by reference or handle into another
//! instance — in the instance its `emvexTarget` field names (a field JS never sees). Jobs of
//! every mounted instance are loaded at start.
//!
//! Invariants: a scheduled mutation runs exactly once — its writes and its `success` state
//! commit together, and a crash before that commit leaves the job `pending`, to run again after
//! a restart; a job that throws ends `failed` with its error and none of its writes; a job
//! found `inProgress` at start (an action interrupted by a crash) ends `failed`, never re-run.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};

use emvex_database::{DbError, Query, Transaction};
use emvex_value::function::FunctionKind;
use emvex_value::id::DocumentId;
use emvex_value::{Object, Value};

use crate::path::UdfPath;
use crate::request_metadata::RequestMetadata;
use crate::runner::{Failure, FunctionRunner, NewJob};

/// The system table holding scheduled jobs.
pub(crate) const SCHEDULED_FUNCTIONS: &str = "_scheduled_functions";

/// Field of a job row naming the instance its function lives in, when that is not the
/// scheduling instance (a job scheduled through a component reference or a handle).
pub(crate) const TARGET_FIELD: &str = "emvexTarget";

/// A job: the instance whose table holds it, and its id there.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct JobKey {
    pub component: String,
    pub id: DocumentId,
}

/// One queued due time.
#[derive(Clone, Debug)]
struct Due {
    at_ms: f64,
    job: JobKey,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at_ms.total_cmp(&other.at_ms).then_with(|| self.job.cmp(&other.job))
    }
}

/// Due times of pending jobs, earliest first.
#[derive(Default)]
pub(crate) struct Scheduler {
    queue: BinaryHeap<Reverse<Due>>,
}

/// What running one job produced.
pub(crate) struct JobRun {
    /// The function that ran, for log lines (`None` when the job was not runnable).
    pub function: Option<(FunctionKind, String)>,
    pub log_lines: Vec<String>,
    /// Jobs the job itself scheduled (committed).
    pub new_jobs: Vec<NewJob>,
    /// A scheduled action, now `inProgress` (once the batch commits), to run.
    pub action: Option<ScheduledAction>,
    /// The error the job failed with, if it ran and failed.
    pub error: Option<String>,
}

/// A scheduled action to run after its `inProgress` state has committed.
pub(crate) struct ScheduledAction {
    pub job: JobKey,
    /// The instance the action runs in.
    pub component: String,
    pub path: UdfPath,
    pub args: Vec<Value>,
}

/// Records how a scheduled action ended: `success`, or `failed` with its error. A job canceled
/// while it ran stays `canceled`.
pub(crate) fn finish_action(
    db: &emvex_database::Database,
    job: &JobKey,
    failure: Option<Failure>,
) -> Result<(), DbError> {
    let mut tx = db.begin_mutation()?;
    let still_running = tx.get(&job.component, &job.id)?.is_some_and(|doc| state_kind(&doc.body) == Some("inProgress"));
    if still_running {
        let final_state = match failure {
            None => state("success"),
            Some(Failure::Developer { message, .. } | Failure::Internal(message)) => failed_state(&message),
        };
        finish(&mut tx, job, final_state)?;
        tx.commit()?;
    }
    Ok(())
}

impl Scheduler {
    /// Loads the pending jobs of every mounted instance and fails jobs a crash left running.
    pub(crate) fn load(runner: &FunctionRunner) -> Result<Scheduler, DbError> {
        let mut tx = runner.db.begin_mutation()?;
        let mut scheduler = Scheduler::default();
        let mut interrupted = Vec::new();
        let query = Query::full_table_scan(SCHEDULED_FUNCTIONS);
        for instance in runner.components.instances() {
            let component = instance.path.clone();
            let stream = tx.query_stream(&component, &query)?;
            while let Some(doc) = tx.query_next(stream)? {
                let job = JobKey { component: component.clone(), id: doc.id };
                match state_kind(&doc.body) {
                    Some("pending") => {
                        let at_ms = match doc.body.get("scheduledTime") {
                            Some(Value::Float64(t)) => *t,
                            _ => 0.0,
                        };
                        scheduler.queue.push(Reverse(Due { at_ms, job }));
                    }
                    Some("inProgress") => interrupted.push(job),
                    _ => {}
                }
            }
            tx.query_cleanup(stream);
        }
        for job in &interrupted {
            finish(&mut tx, job, failed_state("Transient error while executing action"))?;
        }
        tx.commit()?;
        Ok(scheduler)
    }

    pub(crate) fn add(&mut self, jobs: impl IntoIterator<Item = NewJob>) {
        for job in jobs {
            let key = JobKey { component: job.component, id: job.id };
            self.queue.push(Reverse(Due { at_ms: job.scheduled_ms, job: key }));
        }
    }

    /// The earliest due time, in ms since the epoch.
    pub(crate) fn next_due_ms(&self) -> Option<f64> {
        self.queue.peek().map(|Reverse(d)| d.at_ms)
    }

    /// Up to `max` jobs due at or before `now_ms`, earliest first.
    pub(crate) fn pop_due(&mut self, now_ms: f64, max: usize) -> Vec<JobKey> {
        let mut due = Vec::new();
        while due.len() < max {
            match self.queue.peek() {
                Some(Reverse(d)) if d.at_ms <= now_ms => due.extend(self.queue.pop().map(|Reverse(d)| d.job)),
                _ => break,
            }
        }
        due
    }
}

/// Runs due jobs in one transaction, each inside its own savepoint, and commits once: a batch
/// costs one commit instead of one per job. A job that throws is rolled back to its savepoint
/// and marked `failed` in the same transaction. Storage errors leave every job of the batch
/// pending (they run again after the next start) and are returned.
pub(crate) fn run_jobs(runner: &mut FunctionRunner, jobs: &[JobKey]) -> Result<Vec<JobRun>, DbError> {
    let mut tx = runner.db.begin_mutation()?;
    let mut runs = Vec::with_capacity(jobs.len());
    for job in jobs {
        runs.push(run_job(runner, &mut tx, job)?);
    }
    tx.commit()?;
    Ok(runs)
}

/// Runs one job inside the batch's transaction, if it is still pending.
fn run_job(runner: &mut FunctionRunner, tx: &mut Transaction, key: &JobKey) -> Result<JobRun, DbError> {
    let mut run = JobRun { function: None, log_lines: Vec::new(), new_jobs: Vec::new(), action: None, error: None };
    let Some(job) = tx.get(&key.component, &key.id)? else { return Ok(run) };
    if state_kind(&job.body) != Some("pending") {
        return Ok(run);
    }
    let name = job.body.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let args = match job.body.get("args") {
        Some(Value::Array(args)) => args.clone(),
        _ => vec![Value::Object(Object::new())],
    };
    let component = match job.body.get(TARGET_FIELD) {
        Some(Value::String(target)) => target.clone(),
        _ => key.component.clone(),
    };
    let components = runner.components.clone();
    let target = UdfPath::parse(&name).ok().and_then(|p| components.function(&component, &p).map(|info| (p, info)));
    let Some((path, info)) = target else {
        finish(tx, key, failed_state(&format!("Could not find function for '{name}'")))?;
        return Ok(run);
    };
    run.function = Some((info.kind, path.stripped()));
    match info.kind {
        FunctionKind::Mutation => {}
        FunctionKind::Action => {
            // At most once: the job is marked running before the action starts, and a job found
            // running at the next start is failed rather than run again.
            set_state(tx, key, state("inProgress"), None)?;
            run.action = Some(ScheduledAction { job: key.clone(), component, path, args });
            return Ok(run);
        }
        other => {
            let why =
                format!("{} is a {}: only mutations and actions can be scheduled", path.canonical(), other.as_str());
            finish(tx, key, failed_state(&why))?;
            return Ok(run);
        }
    }
    // The mutation sees its own job as in progress, and its success commits with its writes.
    tx.savepoint()?;
    set_state(tx, key, state("inProgress"), None)?;
    let now = tx.clock().now_whole_ms();
    runner.request = RequestMetadata::scheduled(key.id.encode());
    let execution = runner.run(tx, &component, info, &args, now, 0);
    run.log_lines = execution.log_lines;
    match execution.result {
        Ok(_) => {
            finish(tx, key, state("success"))?;
            tx.release_savepoint()?;
            run.new_jobs = execution.new_jobs;
        }
        Err(failure) => {
            tx.rollback_to_savepoint()?;
            let message = match &failure {
                Failure::Developer { message, .. } | Failure::Internal(message) => message.clone(),
            };
            finish(tx, key, failed_state(&message))?;
            run.error = Some(failure.full_message());
        }
    }
    Ok(run)
}

fn state_kind(body: &Object) -> Option<&str> {
    body.get("state")?.as_object()?.get("kind")?.as_str()
}

/// A job state `{kind}` as stored in `_scheduled_functions`.
pub(crate) fn state(kind: &str) -> Value {
    let mut o = Object::new();
    o.insert("kind".into(), Value::String(kind.into()));
    Value::Object(o)
}

fn failed_state(error: &str) -> Value {
    let mut o = Object::new();
    o.insert("kind".into(), Value::String("failed".into()));
    o.insert("error".into(), Value::String(error.into()));
    Value::Object(o)
}

fn set_state(tx: &mut Transaction, job: &JobKey, state: Value, completed_ms: Option<f64>) -> Result<(), DbError> {
    let mut patch = BTreeMap::new();
    patch.insert("state".to_string(), Some(state));
    if let Some(t) = completed_ms {
        patch.insert("completedTime".to_string(), Some(Value::Float64(t)));
    }
    tx.patch(&job.component, &job.id, patch)?;
    Ok(())
}

/// Moves a job to a final state, stamping `completedTime`.
fn finish(tx: &mut Transaction, job: &JobKey, state: Value) -> Result<(), DbError> {
    let now = tx.clock().now_whole_ms();
    set_state(tx, job, state, Some(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> DocumentId {
        DocumentId { table_number: 513, internal_id: [n; 16] }
    }

    fn job(n: u8) -> JobKey {
        JobKey { component: String::new(), id: id(n) }
    }

    #[test]
    fn pops_in_due_order_and_only_when_due() {
        let mut s = Scheduler::default();
        let new = |n: u8, scheduled_ms: f64| NewJob { component: String::new(), id: id(n), scheduled_ms };
        s.add([new(1, 30.0), new(2, 10.0), new(3, 20.0)]);
        assert_eq!(s.next_due_ms(), Some(10.0));
        assert_eq!(s.pop_due(5.0, 10), vec![]);
        assert_eq!(s.pop_due(25.0, 1), vec![job(2)]);
        assert_eq!(s.pop_due(25.0, 10), vec![job(3)]);
        assert_eq!(s.next_due_ms(), Some(30.0));
        assert_eq!(s.pop_due(30.0, 10), vec![job(1)]);
        assert_eq!(s.next_due_ms(), None);
    }
}
