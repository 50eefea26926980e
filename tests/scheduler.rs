//! Scheduled functions over HTTP, against `fixtures/scheduling`: `runAfter`/`runAt`
//! run when due and not before, `cancel` prevents a run, chains of self-scheduling
//! mutations complete in order, a rolled-back mutation schedules nothing, a failing
//! job ends `failed` with its writes rolled back, due work runs after a restart, and a
//! `kill -9` during a burst leaves every job run exactly once.
//!
//! Every wait polls with a deadline; the only sleeps are until a job's due time, to
//! show that it did not run before it.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// How long a due job may take to finish (debug builds, shared cores).
const RUN_DEADLINE: Duration = Duration::from_secs(10);

fn start() -> Server {
    start_scheduling(&["--in-memory"])
}

/// A mutation's result that must be a scheduled job id.
#[track_caller]
fn job_id(returned: Value) -> String {
    let id = returned.as_str().unwrap_or_else(|| panic!("expected a job id, got {returned}"));
    decode_id(id).unwrap_or_else(|| panic!("not a Convex id: {id}"));
    id.to_string()
}

fn schedule_after(s: &Server, label: &str, delay_ms: f64) -> String {
    job_id(s.mutation_ok("jobs:scheduleAfter", json!({ "label": label, "delayMs": delay_ms })))
}

/// The `ranAt` of every `jobs:record` run with `label`.
fn runs(s: &Server, label: &str) -> Vec<f64> {
    let rows = s.query_ok("jobs:runs", json!({ "label": label }));
    rows.as_array()
        .expect("jobs:runs returns an array")
        .iter()
        .map(|r| {
            assert_eq!(r["label"], label, "{r}");
            r["ranAt"].as_f64().unwrap_or_else(|| panic!("ranAt not a number: {r}"))
        })
        .collect()
}

/// Every `_scheduled_functions` row except the cron fixture's own (`crons.js:*`), which
/// `tests/crons.rs` checks: the interval cron of the fixture runs in every server.
fn app_jobs(s: &Server) -> Vec<Value> {
    let all = s.query_ok("jobs:scheduled", json!({}));
    let all = all.as_array().expect("jobs:scheduled returns an array");
    all.iter().filter(|j| !j["name"].as_str().unwrap_or_default().starts_with("crons.js:")).cloned().collect()
}

fn number(v: &Value, field: &str) -> f64 {
    v[field].as_f64().unwrap_or_else(|| panic!("{field} is not a number in {v}"))
}

/// Asserts a finished `jobs:record` job: state, name, args, times, and one run at or
/// after its scheduled time.
#[track_caller]
fn assert_recorded_once(s: &Server, job: &Value, label: &str) {
    assert_eq!(job["state"], json!({ "kind": "success" }), "{job}");
    assert_eq!(job["name"], "jobs.js:record", "{job}");
    assert_json_eq(&job["args"], &json!([{ "label": label }]));
    let scheduled = number(job, "scheduledTime");
    let completed = number(job, "completedTime");
    assert!(completed >= scheduled, "completedTime {completed} before scheduledTime {scheduled}");
    let ran = runs(s, label);
    assert_eq!(ran.len(), 1, "{label} ran {ran:?}");
    assert!(ran[0] >= scheduled, "{label} ran at {} before its scheduledTime {scheduled}", ran[0]);
}

/// Asserts that job `id` is still pending and has not run, until shortly before `due_ms`.
#[track_caller]
fn assert_pending_until(s: &Server, id: &str, label: &str, due_ms: f64) {
    let mut checks = 0;
    while now_ms() < due_ms - 150.0 {
        let job = scheduled_job(s, id);
        assert_eq!(job["state"], json!({ "kind": "pending" }), "ran before its time ({due_ms}): {job}");
        assert!(job.get("completedTime").is_none(), "{job}");
        assert_eq!(runs(s, label), Vec::<f64>::new(), "{label} ran before {due_ms}");
        checks += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(checks > 0, "the job was due before the first check; lengthen the delay");
}

#[test]
fn run_after_zero_runs_soon_and_succeeds() {
    let s = start();
    let before = now_ms();
    let id = schedule_after(&s, "soon", 0.0);
    let job = wait_job_final(&s, &id, RUN_DEADLINE);
    let finished = now_ms();
    assert_eq!(keys(&job), ["args", "completedTime", "id", "name", "scheduledTime", "state"], "{job}");
    assert_eq!(job["id"], id.as_str());
    assert_recorded_once(&s, &job, "soon");
    let scheduled = number(&job, "scheduledTime");
    assert!(
        scheduled >= before - 1.0 && scheduled <= finished,
        "scheduledTime {scheduled} is not the scheduling mutation's time ({before}..{finished})"
    );
    assert!(finished - before < 2_000.0, "runAfter(0) took {} ms", finished - before);
}

#[test]
fn run_after_delay_runs_then_and_not_before() {
    let s = start();
    let before = now_ms();
    let id = schedule_after(&s, "later", 1_500.0);
    let job = scheduled_job(&s, &id);
    let due = number(&job, "scheduledTime");
    assert!((due - before - 1_500.0).abs() < 1_000.0, "scheduledTime {due} is not ~1.5 s after {before}");
    assert_pending_until(&s, &id, "later", due);
    let job = wait_job_final(&s, &id, RUN_DEADLINE);
    assert_recorded_once(&s, &job, "later");
}

#[test]
fn run_at_runs_then_and_not_before() {
    let s = start();
    let at = (now_ms() + 1_500.0).floor();
    let id = job_id(s.mutation_ok("jobs:scheduleAt", json!({ "label": "at-ms", "at": at })));
    let date_id = job_id(s.mutation_ok("jobs:scheduleAtDate", json!({ "label": "at-date", "at": at + 100.0 })));
    let job = scheduled_job(&s, &id);
    assert_json_eq(&job["scheduledTime"], &json!(at));
    assert_json_eq(&scheduled_job(&s, &date_id)["scheduledTime"], &json!(at + 100.0));
    assert_pending_until(&s, &id, "at-ms", at);
    assert_eq!(runs(&s, "at-date"), Vec::<f64>::new());
    let job = wait_job_final(&s, &id, RUN_DEADLINE);
    assert_recorded_once(&s, &job, "at-ms");
    let job = wait_job_final(&s, &date_id, RUN_DEADLINE);
    assert_recorded_once(&s, &job, "at-date");
}

#[test]
fn cancel_before_due_never_runs() {
    let s = start();
    let id = schedule_after(&s, "canceled", 1_000.0);
    let due = number(&scheduled_job(&s, &id), "scheduledTime");
    assert_eq!(s.mutation_ok("jobs:cancel", json!({ "id": id })), json!(null));
    let job = scheduled_job(&s, &id);
    assert_eq!(job["state"], json!({ "kind": "canceled" }), "{job}");
    let completed = number(&job, "completedTime");
    // Canceling again is a no-op.
    assert_eq!(s.mutation_ok("jobs:cancel", json!({ "id": id })), json!(null));
    let again = scheduled_job(&s, &id);
    assert_eq!(again["state"], json!({ "kind": "canceled" }));
    assert_json_eq(&again["completedTime"], &json!(completed));

    // Scheduled and canceled in one transaction: canceled from the start.
    let same_tx = job_id(s.mutation_ok("jobs:scheduleAndCancel", json!({ "label": "same-tx" })));
    assert_eq!(scheduled_job(&s, &same_tx)["state"], json!({ "kind": "canceled" }));

    // A later job is the barrier: once it ran, the earlier due ones had their chance.
    sleep_until_ms(due + 500.0);
    let barrier = schedule_after(&s, "barrier", 0.0);
    wait_job_final(&s, &barrier, RUN_DEADLINE);
    assert_eq!(runs(&s, "canceled"), Vec::<f64>::new());
    assert_eq!(runs(&s, "same-tx"), Vec::<f64>::new());
    assert_eq!(scheduled_job(&s, &id)["state"], json!({ "kind": "canceled" }));
    assert_eq!(scheduled_job(&s, &same_tx)["state"], json!({ "kind": "canceled" }));
}

#[test]
fn cancel_after_success_changes_nothing() {
    let s = start();
    let id = schedule_after(&s, "done", 0.0);
    let job = wait_job_final(&s, &id, RUN_DEADLINE);
    assert_eq!(s.mutation_ok("jobs:cancel", json!({ "id": id })), json!(null));
    assert_eq!(scheduled_job(&s, &id), job);
    assert_eq!(runs(&s, "done").len(), 1);
}

#[test]
fn chain_of_twenty_completes_in_order() {
    let s = start();
    s.mutation_ok("jobs:startChain", json!({ "chain": "c20", "total": 20.0 }));
    let expected: Vec<Value> = (0..20).map(|i| json!(i as f64)).collect();
    poll("20 chain steps", Duration::from_secs(30), || {
        let steps = s.query_ok("jobs:chainSteps", json!({ "chain": "c20" }));
        if steps.as_array().map(Vec::len) == Some(20) { Ok(()) } else { Err(steps.to_string()) }
    });
    assert_json_eq(&s.query_ok("jobs:chainSteps", json!({ "chain": "c20" })), &Value::Array(expected));
    let jobs = scheduled_named(&s, "jobs.js:chainStep");
    assert_eq!(jobs.len(), 20, "{jobs:?}");
    for (i, job) in jobs.iter().enumerate() {
        assert_eq!(job["state"], json!({ "kind": "success" }), "step {i}: {job}");
        assert_json_eq(&job["args"], &json!([{ "chain": "c20", "step": i as f64, "total": 20.0 }]));
    }
    // Each step was scheduled by the previous one, after it ran.
    for pair in jobs.windows(2) {
        assert!(number(&pair[1], "scheduledTime") >= number(&pair[0], "scheduledTime"), "{pair:?}");
    }
}

#[test]
fn scheduling_from_a_rolled_back_mutation_schedules_nothing() {
    let s = start();
    let e = s.mutation_err("jobs:scheduleThenThrow", json!({ "label": "ghost" }));
    e.assert_contains("Uncaught Error: rolled back after scheduling ghost");
    assert_eq!(app_jobs(&s), Vec::<Value>::new());
    let barrier = schedule_after(&s, "barrier", 0.0);
    wait_job_final(&s, &barrier, RUN_DEADLINE);
    assert_eq!(runs(&s, "ghost"), Vec::<f64>::new());
    let all = Value::Array(app_jobs(&s));
    assert_eq!(all.as_array().map(Vec::len), Some(1), "only the barrier job exists: {all}");
    assert_eq!(all[0]["id"], barrier.as_str());
}

#[test]
fn failing_scheduled_mutation_ends_failed_without_writes() {
    let s = start();
    let id = job_id(s.mutation_ok("jobs:scheduleFailing", json!({ "label": "boom" })));
    let job = wait_job_final(&s, &id, RUN_DEADLINE);
    assert_eq!(job_kind(&job), "failed", "{job}");
    assert_eq!(job["name"], "jobs.js:failing");
    assert_eq!(keys(&job["state"]), ["error", "kind"], "{job}");
    let error = job["state"]["error"].as_str().unwrap_or_else(|| panic!("error not a string: {job}"));
    assert!(
        error.starts_with("Uncaught Error: scheduled job failed: boom"),
        "the job's error is Convex's text for the thrown error: {error:?}"
    );
    assert!(number(&job, "completedTime") >= number(&job, "scheduledTime"), "{job}");
    // The job inserted a row before throwing; it was rolled back.
    assert_eq!(runs(&s, "boom"), Vec::<f64>::new());
    // The scheduler keeps serving after a failure.
    let next = schedule_after(&s, "after-failure", 0.0);
    let job = wait_job_final(&s, &next, RUN_DEADLINE);
    assert_recorded_once(&s, &job, "after-failure");
}

#[test]
fn due_work_runs_after_a_restart() {
    let dir = TempDir::new("sched-restart");
    let s = start_scheduling(&["--data", dir.str()]);
    let labels = ["r0", "r1", "r2"];
    let ids: Vec<String> = labels.iter().map(|l| schedule_after(&s, l, 2_000.0)).collect();
    let at = (now_ms() + 2_000.0).floor();
    let at_id = job_id(s.mutation_ok("jobs:scheduleAt", json!({ "label": "r-at", "at": at })));
    for id in ids.iter().chain([&at_id]) {
        assert_eq!(scheduled_job(&s, id)["state"], json!({ "kind": "pending" }));
    }
    // A canceled job stays canceled across the restart.
    let canceled = schedule_after(&s, "r-canceled", 1_000.0);
    s.mutation_ok("jobs:cancel", json!({ "id": canceled }));
    s.stop();

    // Restart once everything is due: every job runs, once.
    sleep_until_ms(at + 200.0);
    let s = start_scheduling(&["--data", dir.str()]);
    for (id, label) in ids.iter().zip(labels).chain([(&at_id, "r-at")]) {
        let job = wait_job_final(&s, id, RUN_DEADLINE);
        assert_recorded_once(&s, &job, label);
    }
    s.kill9();

    // And again: nothing runs twice after another restart.
    let s = start_scheduling(&["--data", dir.str()]);
    let barrier = schedule_after(&s, "barrier", 0.0);
    wait_job_final(&s, &barrier, RUN_DEADLINE);
    for label in labels.iter().chain(&["r-at"]) {
        assert_eq!(runs(&s, label).len(), 1, "{label}");
    }
    assert_eq!(runs(&s, "r-canceled"), Vec::<f64>::new());
    assert_eq!(scheduled_job(&s, &canceled)["state"], json!({ "kind": "canceled" }));
}

#[test]
fn pending_future_work_survives_a_restart_and_runs_when_due() {
    let dir = TempDir::new("sched-future");
    let s = start_scheduling(&["--data", dir.str()]);
    let id = schedule_after(&s, "future", 3_000.0);
    let due = number(&scheduled_job(&s, &id), "scheduledTime");
    s.kill9();
    let s = start_scheduling(&["--data", dir.str()]);
    assert_pending_until(&s, &id, "future", due);
    let job = wait_job_final(&s, &id, RUN_DEADLINE);
    assert_recorded_once(&s, &job, "future");
}

/// `[index, rows]` of a burst as a map.
fn burst_counts(s: &Server, run: &str) -> std::collections::BTreeMap<u32, f64> {
    let pairs = s.query_ok("jobs:burstCounts", json!({ "run": run }));
    pairs
        .as_array()
        .expect("burstCounts returns an array")
        .iter()
        .map(|p| (number(p, "index") as u32, number(p, "rows")))
        .collect()
}

#[test]
fn kill9_during_a_burst_runs_each_job_exactly_once() {
    const K: u32 = 200;
    let dir = TempDir::new("sched-burst");
    let s = start_scheduling(&["--data", dir.str()]);
    assert_json_eq(&s.mutation_ok("jobs:burst", json!({ "run": "b", "count": K as f64 })), &json!(K as f64));
    // Kill as soon as some (not necessarily all) of the burst has run.
    poll("the burst starts running", RUN_DEADLINE, || {
        let counts = burst_counts(&s, "b");
        if counts.is_empty() { Err("no rows yet".into()) } else { Ok(()) }
    });
    let ran_before_kill = burst_counts(&s, "b").len();
    s.kill9();
    eprintln!("{ran_before_kill} of {K} burst jobs had run when the server was killed");

    let s = start_scheduling(&["--data", dir.str()]);
    poll("every burst job finished", Duration::from_secs(60), || {
        let jobs = scheduled_named(&s, "jobs.js:burstItem");
        let done = jobs.iter().filter(|j| j["state"] == json!({ "kind": "success" })).count();
        if done == K as usize { Ok(()) } else { Err(format!("{done} of {} jobs succeeded", jobs.len())) }
    });
    let counts = burst_counts(&s, "b");
    let expected: std::collections::BTreeMap<u32, f64> = (0..K).map(|i| (i, 1.0)).collect();
    assert_eq!(counts, expected, "each index exactly once ({ran_before_kill} had run before the kill)");
}

#[test]
fn scheduled_rows_have_convex_shape_in_the_system_table() {
    let s = start();
    let before = now_ms();
    let id = schedule_after(&s, "shape", 60_000.0);
    let all = Value::Array(app_jobs(&s));
    let rows = all.as_array().expect("an array");
    assert_eq!(rows.len(), 1, "{all}");
    let job = &rows[0];
    assert_eq!(keys(job), ["args", "id", "name", "scheduledTime", "state"], "no completedTime while pending");
    assert_eq!(job["id"], id.as_str());
    assert_eq!(job["name"], "jobs.js:record");
    assert_eq!(job["state"], json!({ "kind": "pending" }));
    assert_json_eq(&job["args"], &json!([{ "label": "shape" }]));
    let scheduled = number(job, "scheduledTime");
    assert!((scheduled - before - 60_000.0).abs() < 5_000.0, "{scheduled} vs {before}");
    assert_eq!(&scheduled_job(&s, &id), job);
}

#[test]
fn a_running_scheduled_mutation_sees_its_own_job_in_progress() {
    let s = start();
    let id = job_id(s.mutation_ok("jobs:scheduleSelfState", json!({})));
    let job = wait_job_final(&s, &id, RUN_DEADLINE);
    assert_eq!(job["state"], json!({ "kind": "success" }), "{job}");
    assert_eq!(s.query_ok("jobs:seen", json!({})), json!([["inProgress"]]));
}

#[test]
fn scheduling_a_missing_function_fails_with_convex_text() {
    let s = start();
    let module = s.mutation_ok("jobs:scheduleMissing", json!({ "path": "nope:fn" }));
    let module = module.as_str().unwrap_or_else(|| panic!("must throw, got {module}"));
    // Convex names the module only (`validate_schedule_args`), not the function.
    assert_eq!(module, "Attempted to schedule function at nonexistent path: nope.js");
    let export = s.mutation_ok("jobs:scheduleMissing", json!({ "path": "jobs:nope" }));
    let export = export.as_str().unwrap_or_else(|| panic!("must throw, got {export}"));
    assert_eq!(
        export,
        "Attempted to schedule function, but no exported function nope found in the file: \
         jobs.js. Did you forget to export it?"
    );
    assert_eq!(app_jobs(&s), Vec::<Value>::new());
}

#[test]
fn arguments_are_validated_when_the_job_runs() {
    let s = start();
    // Bad arguments are accepted at schedule time and fail the job when it runs.
    let id = job_id(s.mutation_ok("jobs:scheduleBadArgs", json!({})));
    let job = wait_job_final(&s, &id, RUN_DEADLINE);
    assert_eq!(job_kind(&job), "failed", "{job}");
    let error = job["state"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("ArgumentValidationError: Value does not match validator."), "{error:?}");
    assert!(error.contains("Path: .label"), "{error:?}");
}

#[test]
fn scheduling_a_query_is_accepted_and_the_job_fails_when_due() {
    let s = start();
    // Convex checks only that the function exists when scheduling; the kind when it runs.
    let id = job_id(s.mutation_ok("jobs:scheduleQuery", json!({})));
    let job = wait_job_final(&s, &id, RUN_DEADLINE);
    assert_eq!(job_kind(&job), "failed", "{job}");
    assert!(!job["state"]["error"].as_str().unwrap_or_default().is_empty(), "{job}");
    assert_eq!(job["name"], "jobs.js:runs");
}

#[test]
fn at_most_a_thousand_jobs_per_mutation() {
    let s = start();
    let e = s.mutation_err("jobs:burst", json!({ "run": "over", "count": 1001.0 }));
    e.assert_contains("Too many functions scheduled by this mutation (limit: 1000)");
    assert_eq!(app_jobs(&s), Vec::<Value>::new());
    assert_json_eq(&s.mutation_ok("jobs:burst", json!({ "run": "max", "count": 1000.0 })), &json!(1000.0));
    poll("1000 burst rows", Duration::from_secs(60), || {
        let n = burst_counts(&s, "max").len();
        if n == 1000 { Ok(()) } else { Err(format!("{n} indexes ran")) }
    });
    assert!(burst_counts(&s, "max").values().all(|&rows| rows == 1.0));
}

#[test]
fn jobs_scheduled_by_a_rolled_back_nested_mutation_do_not_exist() {
    let s = start();
    let kept = job_id(s.mutation_ok("jobs:scheduleViaNested", json!({ "label": "n" })));
    let job = wait_job_final(&s, &kept, RUN_DEADLINE);
    assert_recorded_once(&s, &job, "n-kept");
    let all = Value::Array(app_jobs(&s));
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(runs(&s, "n-dropped"), Vec::<f64>::new());
}

#[test]
fn kill9_during_a_chain_runs_each_step_exactly_once() {
    let dir = TempDir::new("sched-chain");
    let s = start_scheduling(&["--data", dir.str()]);
    s.mutation_ok("jobs:startChain", json!({ "chain": "k", "total": 30.0 }));
    poll("the chain starts", RUN_DEADLINE, || {
        let steps = s.query_ok("jobs:chainSteps", json!({ "chain": "k" }));
        if steps.as_array().is_some_and(|a| a.len() >= 3) { Ok(()) } else { Err(steps.to_string()) }
    });
    s.kill9();
    let s = start_scheduling(&["--data", dir.str()]);
    let expected: Vec<Value> = (0..30).map(|i| json!(i as f64)).collect();
    poll("30 chain steps after the restart", Duration::from_secs(30), || {
        let steps = s.query_ok("jobs:chainSteps", json!({ "chain": "k" }));
        if steps.as_array().map(Vec::len) >= Some(30) { Ok(()) } else { Err(steps.to_string()) }
    });
    assert_json_eq(&s.query_ok("jobs:chainSteps", json!({ "chain": "k" })), &Value::Array(expected));
}

#[test]
fn a_job_scheduled_by_emvex_run_runs_under_emvex_dev() {
    let dir = TempDir::new("sched-cli");
    let out = run_cli(
        &["run", SCHEDULING_FIXTURE, "jobs:scheduleAfter", r#"{"label":"from-cli","delayMs":0}"#, "--data", dir.str()],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "emvex run failed: {}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    let id = job_id(printed);
    let s = start_scheduling(&["--data", dir.str()]);
    let job = wait_job_final(&s, &id, RUN_DEADLINE);
    assert_recorded_once(&s, &job, "from-cli");
}
