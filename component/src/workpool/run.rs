//! The pool's background work: the drive (finish canceled pending work, start due work while
//! slots are free), attempt completion with retries and `onComplete` (spec §4.6–§4.7), action
//! outcomes, and recovery of actions lost to a crash (§4.11).
//!
//! Invariants: completion is keyed by the attempt number, so a late or duplicate outcome is a
//! no-op; the terminal result deletes the work row and dispatches `onComplete` in the same
//! transaction; a drive never throws for one bad row (a work item whose target cannot run
//! fails that attempt instead).

use emvex_value::function::FunctionKind;
use emvex_value::{Object, Value};
use rand::Rng;
use serde_json::json;

use crate::{ActionOutcome, ActionStart, NativeError, Progress};

use super::Pool;
use super::store::{self, Globals, RunAt, Work, number, string};

/// Starts (and inline runs) handled per drive; more makes the executor drive again at once.
const DRIVE_BATCH: usize = 64;
/// Retry times are floored to 100 ms segments, as upstream.
const SEGMENT_MS: f64 = 100.0;
/// What a lost action attempt fails with (the scheduler's text for an interrupted action).
const LOST_ACTION: &str = "Transient error while executing action";

/// How one attempt ended.
enum Attempt {
    Success(Value),
    Failed { error: String, data: Option<Value>, non_retryable: bool },
    Canceled,
}

impl Attempt {
    fn failed(message: String, data: Option<Value>) -> Attempt {
        // `NonRetryableError` data: `{__convexWorkpoolNonRetryable: true, message}`.
        let marker = data
            .as_ref()
            .and_then(Value::as_object)
            .filter(|d| matches!(d.get("__convexWorkpoolNonRetryable"), Some(Value::Boolean(true))));
        match marker.and_then(|d| string(d, "message")) {
            Some(message) => Attempt::Failed { error: message.to_string(), data, non_retryable: true },
            None => Attempt::Failed { error: message, data, non_retryable: false },
        }
    }

    fn from_call(result: Result<Value, NativeError>) -> Result<Attempt, NativeError> {
        match result {
            Ok(value) => Ok(Attempt::Success(value)),
            Err(NativeError::Developer { message, data }) => Ok(Attempt::failed(message, data)),
            Err(internal @ NativeError::Internal(_)) => Err(internal),
        }
    }
}

impl Pool<'_> {
    /// Finishes canceled pending work, then starts due work up to the free slots.
    pub fn drive(&mut self) -> Result<Progress, NativeError> {
        let globals = store::globals(&mut self.host.db())?;
        let mut progress = Progress::default();
        let canceling = self.host.db().collect(&store::work_in_state("canceling", None, DRIVE_BATCH))?;
        progress.again |= canceling.len() == DRIVE_BATCH;
        for doc in canceling {
            self.complete(&globals, Work::from_doc(doc), Attempt::Canceled)?;
        }
        let limit = globals.max_parallelism as usize;
        let running = self.host.db().collect(&store::work_in_state("running", None, limit + 1))?.len();
        let mut free = limit.saturating_sub(running);
        let mut handled = 0;
        // Fetch only as many due rows as there are free slots: actions take a slot each;
        // mutations and queries finish inline and leave theirs free, so fetch again.
        while free > 0 && handled < DRIVE_BATCH {
            let want = free.min(DRIVE_BATCH - handled);
            let due =
                self.host.db().collect(&store::work_in_state("pending", Some(RunAt::AtMost(self.now_ms)), want))?;
            let fetched = due.len();
            for doc in due {
                let work = Work::from_doc(doc);
                handled += 1;
                if kind_of(&work) == FunctionKind::Action {
                    progress.actions.push(self.start_action(&globals, &work)?);
                    free -= 1;
                } else {
                    self.run_inline(&globals, work)?;
                }
            }
            if fetched < want {
                break;
            }
        }
        progress.again |= handled == DRIVE_BATCH && free > 0;
        let running_now = limit.saturating_sub(free).max(running);
        if let Some(report) = self.reports.take_due(self.instance, self.now_ms, running_now, 0) {
            // Due work waiting for a slot, counted up to 10,000 (once a minute at most).
            let backlog = self
                .host
                .db()
                .collect(&store::work_in_state("pending", Some(RunAt::AtMost(self.now_ms)), 10_000))?
                .len();
            let mut report = report;
            report["backlog"] = json!(backlog);
            self.event(&globals, "report", report);
        }
        let next = self.host.db().collect(&store::work_in_state("pending", Some(RunAt::After(self.now_ms)), 1))?;
        progress.wake_at_ms = next.first().and_then(|d| number(&d.body, "runAt"));
        Ok(progress)
    }

    fn started_event(&mut self, globals: &Globals, work: &Work) {
        let run_at = number(&work.body, "runAt").unwrap_or(self.now_ms);
        self.event(
            globals,
            "started",
            json!({
                "workId": work.id.encode(),
                "fnName": work.fn_name(),
                "enqueuedAt": work.creation_time,
                "startedAt": self.now_ms,
                "startLag": self.now_ms - run_at,
            }),
        );
    }

    /// Marks an action attempt running and returns what the executor must start.
    fn start_action(&mut self, globals: &Globals, work: &Work) -> Result<ActionStart, NativeError> {
        store::patch_work(&mut self.host.db(), &work.id, vec![("state", Some(Value::String("running".into())))])?;
        self.started_event(globals, work);
        let mut token = Object::new();
        token.insert("workId".into(), Value::String(work.id.encode()));
        token.insert("attempt".into(), Value::Float64(work.attempts()));
        Ok(ActionStart { handle: work.fn_handle().to_string(), args: work.fn_args(), token: Value::Object(token) })
    }

    /// Runs a mutation or query item now, inside this transaction (a failing mutation's writes
    /// are rolled back to its savepoint), and completes it.
    fn run_inline(&mut self, globals: &Globals, work: Work) -> Result<(), NativeError> {
        self.started_event(globals, &work);
        let result = self.host.run_function(work.fn_handle(), kind_of(&work), work.fn_args());
        if let Err(NativeError::Developer { message, .. }) = &result {
            self.log(globals, "ERROR", format!("{} failed: {message}", work.fn_name()));
        }
        let attempt = Attempt::from_call(result)?;
        self.complete(globals, work, attempt)
    }

    /// Action attempts reported back (each `token` = `{workId, attempt}`).
    pub fn actions_done(&mut self, outcomes: Vec<(Value, ActionOutcome)>) -> Result<(), NativeError> {
        let globals = store::globals(&mut self.host.db())?;
        for (token, outcome) in outcomes {
            self.action_done(&globals, &token, outcome)?;
        }
        Ok(())
    }

    fn action_done(&mut self, globals: &Globals, token: &Value, outcome: ActionOutcome) -> Result<(), NativeError> {
        let token = token.as_object().cloned().unwrap_or_default();
        let Ok(id) = emvex_value::id::DocumentId::decode(string(&token, "workId").unwrap_or_default()) else {
            return Ok(());
        };
        let Some(work) = store::load_work(&mut self.host.db(), &id)? else { return Ok(()) };
        if work.state() != "running" || Some(work.attempts()) != number(&token, "attempt") {
            return Ok(()); // a late or duplicate outcome
        }
        let attempt = match outcome {
            ActionOutcome::Success(value) => Attempt::Success(value),
            ActionOutcome::Failed { message, data } => Attempt::failed(message, data),
        };
        self.complete(globals, work, attempt)
    }

    /// At start: every action attempt still `running` was lost with the process; it fails as
    /// an interrupted scheduled action does, and the usual retry rules apply.
    pub fn recover(&mut self) -> Result<(), NativeError> {
        let globals = store::globals(&mut self.host.db())?;
        loop {
            let lost = self.host.db().collect(&store::work_in_state("running", None, DRIVE_BATCH))?;
            if lost.is_empty() {
                return Ok(());
            }
            for doc in lost {
                let work = Work::from_doc(doc);
                self.log(
                    &globals,
                    "WARN",
                    format!("{} was running when emvex stopped; recording it as failed", work.fn_name()),
                );
                self.complete(&globals, work, Attempt::failed(LOST_ACTION.into(), None))?;
            }
        }
    }

    /// Records an attempt's outcome (spec §4.6): a retryable failure with attempts left goes
    /// back to `pending` after its backoff (or ends `canceled` if a cancel came meanwhile);
    /// anything else is terminal — `onComplete` is dispatched and the work row deleted.
    fn complete(&mut self, globals: &Globals, work: Work, attempt: Attempt) -> Result<(), NativeError> {
        let attempts = work.attempts() + 1.0;
        let mut attempt = attempt;
        if let Attempt::Failed { non_retryable: false, .. } = attempt {
            let behavior = work.retry_behavior().cloned();
            let max_attempts = behavior.as_ref().and_then(|b| number(b, "maxAttempts")).unwrap_or(0.0);
            if max_attempts > 0.0 && attempts < max_attempts {
                if work.canceled() {
                    attempt = Attempt::Canceled;
                } else {
                    let behavior = behavior.unwrap_or_default();
                    let run_at = self.retry_at(&behavior, attempts);
                    store::patch_work(
                        &mut self.host.db(),
                        &work.id,
                        vec![
                            ("attempts", Some(Value::Float64(attempts))),
                            ("state", Some(Value::String("pending".into()))),
                            ("runAt", Some(Value::Float64(run_at))),
                        ],
                    )?;
                    self.completed_event(globals, &work, attempts, "retrying");
                    return Ok(());
                }
            }
        }
        let (kind, result) = result_value(&attempt);
        if let Some(on_complete) = work.on_complete().cloned() {
            let excluded = match on_complete.get("excludeKinds") {
                Some(Value::Array(kinds)) => kinds.iter().any(|k| k.as_str() == Some(kind)),
                _ => false,
            };
            if !excluded {
                self.dispatch_on_complete(globals, &work, &on_complete, result)?;
            }
        }
        self.host.db().delete(&work.id)?;
        self.completed_event(globals, &work, attempts, kind);
        Ok(())
    }

    /// Calls `onComplete` with `{workId, context, result}` in this transaction; if it throws,
    /// its writes are rolled back and it is scheduled instead (at most one call commits).
    fn dispatch_on_complete(
        &mut self,
        globals: &Globals,
        work: &Work,
        on_complete: &Object,
        result: Value,
    ) -> Result<(), NativeError> {
        let handle = string(on_complete, "fnHandle").unwrap_or_default().to_string();
        let mut args = Object::new();
        args.insert("workId".into(), Value::String(work.id.encode()));
        if let Some(context) = on_complete.get("context") {
            args.insert("context".into(), context.clone());
        }
        args.insert("result".into(), result);
        let args = Value::Object(args);
        match self.host.run_function(&handle, FunctionKind::Mutation, args.clone()) {
            Ok(_) => Ok(()),
            Err(NativeError::Developer { message, .. }) => {
                self.log(
                    globals,
                    "ERROR",
                    format!("onComplete for {} failed, scheduling it instead: {message}", work.fn_name()),
                );
                if let Err(e) = self.host.schedule(&handle, self.now_ms, args) {
                    self.log(globals, "ERROR", format!("could not schedule onComplete for {}: {e:?}", work.fn_name()));
                }
                Ok(())
            }
            Err(internal) => Err(internal),
        }
    }

    fn completed_event(&mut self, globals: &Globals, work: &Work, attempts: f64, status: &str) {
        self.reports.record(self.instance, status);
        self.event(
            globals,
            "completed",
            json!({
                "workId": work.id.encode(),
                "fnName": work.fn_name(),
                "completedAt": self.now_ms,
                "attempts": attempts,
                "status": status,
            }),
        );
    }

    /// When the retry after `attempts` finished attempts may start:
    /// `now + initialBackoffMs · base^(attempts−1) · U[0.5, 1.5)`, floored to 100 ms.
    fn retry_at(&self, behavior: &Object, attempts: f64) -> f64 {
        let initial = number(behavior, "initialBackoffMs").unwrap_or(250.0);
        let base = number(behavior, "base").unwrap_or(2.0);
        let jitter = 0.5 + rand::rng().random::<f64>();
        let delay = initial * base.powf(attempts - 1.0) * jitter;
        let delay = if delay.is_finite() { delay.max(0.0) } else { 0.0 };
        ((self.now_ms + delay) / SEGMENT_MS).floor() * SEGMENT_MS
    }
}

/// The result kind and the `RunResult` object `onComplete` receives.
fn result_value(attempt: &Attempt) -> (&'static str, Value) {
    let mut result = Object::new();
    let kind = match attempt {
        Attempt::Success(value) => {
            result.insert("returnValue".into(), value.clone());
            "success"
        }
        Attempt::Failed { error, data, .. } => {
            result.insert("error".into(), Value::String(error.clone()));
            if let Some(data) = data {
                result.insert("errorData".into(), data.clone());
            }
            "failed"
        }
        Attempt::Canceled => "canceled",
    };
    result.insert("kind".into(), Value::String(kind.into()));
    (kind, Value::Object(result))
}

/// What an item runs: its `fnType` (one of `action`, `mutation`, `query`, checked by the
/// enqueue validator).
fn kind_of(work: &Work) -> FunctionKind {
    FunctionKind::parse(work.fn_type()).unwrap_or(FunctionKind::Action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_retryable_errors_are_recognised_by_their_marker() {
        let mut marker = Object::new();
        marker.insert("__convexWorkpoolNonRetryable".into(), Value::Boolean(true));
        marker.insert("message".into(), Value::String("stop".into()));
        match Attempt::failed("Uncaught ConvexError: ...".into(), Some(Value::Object(marker))) {
            Attempt::Failed { error, non_retryable, data } => {
                assert_eq!(error, "stop");
                assert!(non_retryable);
                assert!(data.is_some());
            }
            _ => panic!("expected a failure"),
        }
        match Attempt::failed("Uncaught Error: boom".into(), Some(Value::Float64(0.0))) {
            Attempt::Failed { error, non_retryable, data } => {
                assert_eq!(error, "Uncaught Error: boom");
                assert!(!non_retryable);
                assert_eq!(data, Some(Value::Float64(0.0)), "falsy ConvexError data is kept");
            }
            _ => panic!("expected a failure"),
        }
    }

    #[test]
    fn run_results_have_upstreams_shape() {
        let (kind, value) = result_value(&Attempt::Canceled);
        assert_eq!(kind, "canceled");
        assert_eq!(value.to_convex_json(), json!({"kind": "canceled"}));
        let (_, value) = result_value(&Attempt::Success(Value::String("ok".into())));
        assert_eq!(value.to_convex_json(), json!({"kind": "success", "returnValue": "ok"}));
    }
}
