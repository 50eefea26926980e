//! Cron jobs (spec §2.9): the jobs `crons.ts` registers, kept in the `_cron_jobs` system table
//! with their next run time, and fired by turning each due run into a scheduled job.
//!
//! At start the table is reconciled with the app's export: new jobs are added (an interval job
//! first runs at once), jobs whose spec changed get a fresh next run,
//! removed jobs are deleted. When a job comes due, its mutation runs in a savepoint of a
//! transaction that also advances `prevTs`/`nextTs`, so each run happens exactly once — a crash
//! before the commit leaves the run due, to happen after the restart. A run that throws is rolled
//! back, its error printed, and the job still advances. An action cron starts after the commit
//! that advanced it, so each run starts at most once. Cron runs are not scheduled functions:
//! they never appear in `_scheduled_functions` (as on Convex). Runs missed while emvex was
//! stopped are skipped, not replayed (as Convex does).
//!
//! Rows: `{name, cronSpec: {udfPath, udfArgs, cronSchedule}, prevTs, nextTs}` with `udfPath`
//! canonical (`crons.js:tick`), `udfArgs` the JSON text of the positional args as bytes, and
//! times in nanoseconds (int64), as in Convex's `_cron_jobs`/`_cron_next_run` (emvex keeps the
//! next run on the job row instead of a second table).
//!
//! Components: each instance whose definition has a `crons.ts` keeps its own `_cron_jobs` and
//! runs its crons' functions in itself.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use emvex_database::{DbError, Query, Transaction};
use emvex_schedule::{CronJob, Schedule, parse_crons};
use emvex_value::function::FunctionKind;
use emvex_value::id::DocumentId;
use emvex_value::{Object, Value};
use serde_json::json;

use crate::call::ActionRequest;
use crate::path::UdfPath;
use crate::request_metadata::RequestMetadata;
use crate::runner::{FunctionRunner, NewJob};

/// The system table of registered cron jobs.
pub(crate) const CRON_JOBS: &str = "_cron_jobs";

/// One registered job.
struct Registered {
    job: CronJob,
    udf_path: UdfPath,
}

/// A job row: the instance whose `_cron_jobs` holds it, and its id there.
type CronKey = (String, DocumentId);

/// Every instance's cron jobs and their next run times.
#[derive(Default)]
pub(crate) struct Crons {
    jobs: HashMap<CronKey, Registered>,
    queue: BinaryHeap<Reverse<(OrderedMs, CronKey)>>,
}

/// A due time ordered by `f64::total_cmp`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct OrderedMs(f64);
impl Eq for OrderedMs {}
impl PartialOrd for OrderedMs {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrderedMs {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

fn ns(ms: f64) -> Value {
    Value::Int64((ms * 1e6) as i64)
}

fn ms_of(v: Option<&Value>) -> Option<f64> {
    match v {
        Some(Value::Int64(ns)) => Some(*ns as f64 / 1e6),
        _ => None,
    }
}

impl Crons {
    /// Reconciles every instance's `_cron_jobs` with its definition's crons export and loads
    /// the next run times. Fails on an invalid export or a job naming a missing function.
    pub(crate) fn sync(runner: &FunctionRunner) -> Result<Crons, String> {
        let mut crons = Crons::default();
        for instance in runner.components.instances() {
            let export = runner.components.definition_of(&instance.path).and_then(|d| d.crons_json.as_deref());
            crons.sync_instance(runner, &instance.path, export)?;
        }
        Ok(crons)
    }

    /// Reconciles the `_cron_jobs` of instance `component` with `export` (`None`: no `crons.ts`).
    fn sync_instance(&mut self, runner: &FunctionRunner, component: &str, export: Option<&str>) -> Result<(), String> {
        let file = if component.is_empty() {
            "convex/crons.ts".to_string()
        } else {
            format!("crons.ts of component \"{component}\"")
        };
        let wanted = match export {
            Some(json) => parse_crons(json).map_err(|e| format!("{file}: {}", e.message))?,
            None => Vec::new(),
        };
        let raw: serde_json::Value = export.and_then(|j| serde_json::from_str(j).ok()).unwrap_or(json!({}));
        let mut resolved = Vec::new();
        for job in wanted {
            let path = UdfPath::parse(&job.udf_path)
                .map_err(|e| format!("{file}: cron job \"{}\": {}", job.identifier, e.message))?;
            if runner.components.function(component, &path).is_none() {
                return Err(format!(
                    "{file}: cron job \"{}\" refers to {}, which does not exist",
                    job.identifier,
                    path.canonical()
                ));
            }
            resolved.push((job, path));
        }
        let db_error = |e: DbError| format!("cannot load cron jobs: {}", e.message);
        let mut tx = runner.db.begin_mutation().map_err(db_error)?;
        let existing = load_rows(&mut tx, component).map_err(db_error)?;
        let crons = self;
        let mut registered = Vec::new();
        let now = tx.clock().now_whole_ms();
        for (job, path) in resolved {
            let spec = cron_spec(&job, &path, &raw[&job.identifier]["schedule"]);
            let (id, next_ms) = match existing.get(&job.identifier) {
                Some((id, row)) if row.get("cronSpec") == Some(&spec) => (*id, ms_of(row.get("nextTs")).unwrap_or(now)),
                Some((id, _)) => {
                    let next = first_run(&job.schedule, now);
                    let mut patch = BTreeMap::new();
                    patch.insert("cronSpec".to_string(), Some(spec));
                    patch.insert("nextTs".to_string(), Some(ns(next)));
                    tx.patch(component, id, patch).map_err(db_error)?;
                    (*id, next)
                }
                None => {
                    let next = first_run(&job.schedule, now);
                    let mut row = Object::new();
                    row.insert("name".into(), Value::String(job.identifier.clone()));
                    row.insert("cronSpec".into(), spec);
                    row.insert("prevTs".into(), Value::Null);
                    row.insert("nextTs".into(), ns(next));
                    let id = tx.insert_system(component, CRON_JOBS, row).map_err(db_error)?;
                    (id, next)
                }
            };
            let key = (component.to_string(), id);
            crons.queue.push(Reverse((OrderedMs(next_ms), key.clone())));
            registered.push(job.identifier.clone());
            crons.jobs.insert(key, Registered { job, udf_path: path });
        }
        for (name, (id, _)) in &existing {
            if !registered.contains(name) {
                tx.delete(component, id).map_err(db_error)?;
            }
        }
        tx.commit().map_err(db_error)?;
        Ok(())
    }

    pub(crate) fn next_due_ms(&self) -> Option<f64> {
        self.queue.peek().map(|Reverse((t, _))| t.0)
    }

    /// Runs every cron run due at `now_ms` and moves each job to its next run, in one
    /// transaction. Returns what ran, for log lines.
    pub(crate) fn run_due(&mut self, runner: &mut FunctionRunner, now_ms: f64) -> Result<Vec<CronRun>, DbError> {
        let mut due = Vec::new();
        while let Some(Reverse((t, _))) = self.queue.peek() {
            if t.0 > now_ms {
                break;
            }
            let Some(Reverse((t, key))) = self.queue.pop() else { break };
            due.push((t.0, key));
        }
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = runner.db.begin_mutation()?;
        let mut runs = Vec::new();
        let mut requeue = Vec::new();
        for (due_ms, key) in due {
            let Some(reg) = self.jobs.get(&key) else { continue };
            runs.push(run_one(runner, &mut tx, &key.0, reg)?);
            let next = next_run(&reg.job.schedule, due_ms, now_ms);
            let mut patch = BTreeMap::new();
            patch.insert("prevTs".to_string(), Some(ns(due_ms)));
            patch.insert("nextTs".to_string(), Some(ns(next)));
            tx.patch(&key.0, &key.1, patch)?;
            requeue.push((next, key));
        }
        tx.commit()?;
        for (next, key) in requeue {
            self.queue.push(Reverse((OrderedMs(next), key)));
        }
        Ok(runs)
    }
}

/// One cron run: what ran and what it printed.
pub(crate) struct CronRun {
    pub kind: FunctionKind,
    pub path: String,
    pub log_lines: Vec<String>,
    /// Jobs the run scheduled (committed with it).
    pub new_jobs: Vec<NewJob>,
    /// An action cron: its run was recorded (committed), the action is to be started now — at
    /// most once per run.
    pub action: Option<ActionRequest>,
}

/// Runs one cron's function inside `tx`, in a savepoint that is rolled back if it throws.
fn run_one(
    runner: &mut FunctionRunner,
    tx: &mut Transaction,
    component: &str,
    reg: &Registered,
) -> Result<CronRun, DbError> {
    let components = runner.components.clone();
    let mut run = CronRun {
        kind: FunctionKind::Mutation,
        path: reg.udf_path.stripped(),
        log_lines: Vec::new(),
        new_jobs: Vec::new(),
        action: None,
    };
    let Some(info) = components.function(component, &reg.udf_path) else {
        run.log_lines.push(format!(
            "[ERROR] cron job \"{}\": {} no longer exists",
            reg.job.identifier,
            reg.udf_path.canonical()
        ));
        return Ok(run);
    };
    run.kind = info.kind;
    let args = Value::from_convex_json(&reg.job.args).unwrap_or(Value::Object(Object::new()));
    match info.kind {
        FunctionKind::Mutation => {}
        FunctionKind::Action => {
            run.action = Some(ActionRequest {
                component: component.to_string(),
                path: reg.udf_path.clone(),
                args: vec![args],
                meta: RequestMetadata::internal(),
            });
            return Ok(run);
        }
        other => {
            run.log_lines.push(format!(
                "[ERROR] cron job \"{}\": {} is a {}; crons run mutations and actions",
                reg.job.identifier,
                reg.udf_path.canonical(),
                other.as_str()
            ));
            return Ok(run);
        }
    }
    tx.savepoint()?;
    let now = tx.clock().now_whole_ms();
    runner.request = RequestMetadata::internal();
    let execution = runner.run(tx, component, info, &[args], now, 0);
    run.log_lines = execution.log_lines;
    match execution.result {
        Ok(_) => {
            tx.release_savepoint()?;
            run.new_jobs = execution.new_jobs;
        }
        Err(failure) => {
            tx.rollback_to_savepoint()?;
            run.log_lines.push(format!(
                "[ERROR] cron job \"{}\" failed: {}",
                reg.job.identifier,
                failure.full_message()
            ));
        }
    }
    Ok(run)
}

/// The first run of a newly registered job: an interval job runs at once, others at their
/// next calendar time.
fn first_run(schedule: &Schedule, now: f64) -> f64 {
    match schedule {
        Schedule::Interval { .. } => now,
        other => other.next_after(now, now),
    }
}

/// The run after one due at `due_ms` that ran at `now_ms`. Interval runs stay on the grid of
/// their previous due time (`due + k·interval`, skipping times already past, as Convex does);
/// after a late run (e.g. one caught up at a restart) the next is pushed a whole interval if it
/// would otherwise follow within half an interval.
fn next_run(schedule: &Schedule, due_ms: f64, now_ms: f64) -> f64 {
    match schedule {
        Schedule::Interval { ms } => {
            let next = schedule.next_after(now_ms, due_ms);
            if next - now_ms < *ms as f64 / 2.0 { next + *ms as f64 } else { next }
        }
        other => other.next_after(now_ms, due_ms),
    }
}

/// `cronSpec` as stored: canonical path, args as the bytes of their JSON text, the schedule as
/// exported.
fn cron_spec(job: &CronJob, path: &UdfPath, schedule: &serde_json::Value) -> Value {
    let mut spec = Object::new();
    spec.insert("udfPath".into(), Value::String(path.canonical()));
    spec.insert("udfArgs".into(), Value::Bytes(json!([job.args]).to_string().into_bytes()));
    spec.insert("cronSchedule".into(), Value::from_convex_json(schedule).unwrap_or(Value::Null));
    Value::Object(spec)
}

/// Existing `_cron_jobs` rows by name.
fn load_rows(tx: &mut Transaction, component: &str) -> Result<HashMap<String, (DocumentId, Object)>, DbError> {
    let query = Query::full_table_scan(CRON_JOBS);
    let stream = tx.query_stream(component, &query)?;
    let mut rows = HashMap::new();
    while let Some(doc) = tx.query_next(stream)? {
        if let Some(name) = doc.body.get("name").and_then(Value::as_str) {
            rows.insert(name.to_string(), (doc.id, doc.body.clone()));
        }
    }
    tx.query_cleanup(stream);
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_runs_keep_their_grid_and_space_out_after_a_late_run() {
        let every_second = Schedule::Interval { ms: 1000 };
        // On time: the next run is one interval after the due time, not after the run.
        assert_eq!(next_run(&every_second, 10_000.0, 10_003.0), 11_000.0);
        // Caught up 2.5 s late: the grid point 0.5 s away is kept...
        assert_eq!(next_run(&every_second, 10_000.0, 12_500.0), 13_000.0);
        // ...but one 2 ms away is pushed a whole interval.
        assert_eq!(next_run(&every_second, 10_000.0, 12_998.0), 14_000.0);
    }
}
