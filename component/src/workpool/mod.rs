//! The native workpool: `@convex-dev/workpool@0.4.16`'s component implemented in Rust
//! (spec `workpool.md`). Apps mount it unchanged — `@convex-dev/workpool/convex.config` and
//! `emvex/workpool/convex.config` both resolve to it (see [`definitions`]) — and drive it with
//! upstream's `Workpool` class or ours (`emvex/workpool`), through the same seven public
//! functions.
//!
//! How it differs inside (not in what the API shows): there is no polling loop. Producers
//! (`lib.enqueue*`, `lib.cancel*`, `config.update`) write `work` rows in the caller's
//! transaction; the executor then calls [`NativeComponent::drive`], which finishes canceled
//! pending work, and starts due work while slots are free — mutations and queries run at once
//! inside the drive's transaction (each in its own savepoint, their completion and `onComplete`
//! committing with them, so a mutation never runs twice), actions are marked `running` and
//! handed to the executor, whose outcome comes back through [`NativeComponent::actions_done`].
//! The drive asks to be woken at the next `runAt` (future work, retry backoff).
//!
//! Invariants (spec §4, §9): `attempts` counts finished attempts; a retry happens only for a
//! failed, retryable result with attempts left (`maxAttempts` includes the first try), after
//! `initialBackoffMs · base^(attempts−1) · U[0.5, 1.5)`; `onComplete` is called once, for the
//! terminal result, in the transaction that deletes the work row (an `onComplete` that throws
//! is rolled back and scheduled instead, without changing the outcome); running work is never
//! interrupted by a cancel, but its retry becomes `canceled`; at most `maxParallelism` actions
//! run at once, and 0 starts nothing.

mod api;
mod report;
mod run;
mod store;

use std::sync::Arc;

use emvex_value::id::DocumentId;
use emvex_value::{Object, Value};
use serde_json::json;

use crate::{
    ActionOutcome, NativeCall, NativeComponent, NativeContext, NativeDefinition, NativeError, NativeFunction,
    NativeHost, Progress,
};
use store::{Globals, Work, number, string};

/// Args or an `onComplete` context larger than this are refused (spec §5).
const MAX_ARGS_BYTES: usize = 1_000_000;
/// `runAt` older than this is clamped to now; later than 4 years to now + 1 year (spec §4.3).
const YEAR_MS: f64 = 365.0 * 24.0 * 3600.0 * 1000.0;
/// Rows `cancelAll` handles per page unless told otherwise.
const CANCEL_ALL_PAGE: f64 = 64.0;

/// The native workpool.
#[derive(Debug, Default)]
pub struct NativeWorkpool {
    reports: report::Reports,
}

/// The definitions the native workpool replaces: upstream's package and ours.
pub fn definitions() -> Vec<NativeDefinition> {
    let component: Arc<dyn NativeComponent> = Arc::new(NativeWorkpool::default());
    vec![
        NativeDefinition {
            package: "@convex-dev/workpool".into(),
            dir_in_package: "dist/component".into(),
            default_name: "workpool".into(),
            component: component.clone(),
        },
        NativeDefinition {
            package: "emvex".into(),
            dir_in_package: "dist/workpool/component".into(),
            default_name: "workpool".into(),
            component,
        },
    ]
}

impl NativeComponent for NativeWorkpool {
    fn schema_json(&self) -> Option<String> {
        Some(api::schema_json())
    }

    fn functions(&self) -> Vec<NativeFunction> {
        api::functions()
    }

    fn call(&self, call: NativeCall<'_>) -> Result<Value, NativeError> {
        let args = call.args.as_object().cloned().unwrap_or_default();
        let mut pool = Pool { instance: call.instance, now_ms: call.now_ms, host: call.host, reports: &self.reports };
        match (call.module, call.name) {
            ("lib", "enqueue") => {
                let globals = pool.apply_config(args.get("config"))?;
                Ok(Value::String(pool.enqueue(&args, &globals)?.encode()))
            }
            ("lib", "enqueueBatch") => {
                let globals = pool.apply_config(args.get("config"))?;
                let items = match args.get("items") {
                    Some(Value::Array(items)) => items.clone(),
                    _ => Vec::new(),
                };
                let mut ids = Vec::with_capacity(items.len());
                for item in &items {
                    let item = item.as_object().cloned().unwrap_or_default();
                    ids.push(Value::String(pool.enqueue(&item, &globals)?.encode()));
                }
                Ok(Value::Array(ids))
            }
            ("lib", "cancel") => {
                let globals = pool.set_log_level(args.get("logLevel"))?;
                let id = work_id(&args, "id")?;
                pool.cancel(&id, &globals)?;
                Ok(Value::Null)
            }
            ("lib", "cancelAll") => {
                let globals = pool.set_log_level(args.get("logLevel"))?;
                pool.cancel_all(&args, &globals)?;
                Ok(Value::Null)
            }
            ("lib", "status") => pool.status(&work_id(&args, "id")?),
            ("lib", "statusBatch") => {
                let ids = match args.get("ids") {
                    Some(Value::Array(ids)) => ids.clone(),
                    _ => Vec::new(),
                };
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    let id = DocumentId::decode(id.as_str().unwrap_or_default())
                        .map_err(|e| NativeError::developer(e.message))?;
                    out.push(pool.status(&id)?);
                }
                Ok(Value::Array(out))
            }
            ("config", "update") => {
                let config = Value::Object(args);
                pool.apply_config(Some(&config))?;
                Ok(Value::Null)
            }
            (module, name) => Err(NativeError::developer(format!("workpool has no function {module}:{name}"))),
        }
    }

    fn drive(&self, ctx: NativeContext<'_>) -> Result<Progress, NativeError> {
        Pool { instance: ctx.instance, now_ms: ctx.now_ms, host: ctx.host, reports: &self.reports }.drive()
    }

    fn actions_done(&self, ctx: NativeContext<'_>, outcomes: Vec<(Value, ActionOutcome)>) -> Result<(), NativeError> {
        Pool { instance: ctx.instance, now_ms: ctx.now_ms, host: ctx.host, reports: &self.reports }
            .actions_done(outcomes)
    }

    fn recover(&self, ctx: NativeContext<'_>) -> Result<(), NativeError> {
        Pool { instance: ctx.instance, now_ms: ctx.now_ms, host: ctx.host, reports: &self.reports }.recover()
    }
}

fn work_id(args: &Object, key: &str) -> Result<DocumentId, NativeError> {
    let text = string(args, key).unwrap_or_default();
    DocumentId::decode(text).map_err(|e| NativeError::developer(format!("Invalid work id \"{text}\": {}", e.message)))
}

/// One call's view of a pool instance.
pub(crate) struct Pool<'a> {
    pub instance: &'a str,
    pub now_ms: f64,
    pub host: &'a mut dyn NativeHost,
    pub reports: &'a report::Reports,
}

impl Pool<'_> {
    /// Prints a line at `level` when the pool's level lets it through.
    pub fn log(&mut self, globals: &Globals, level: &str, text: String) {
        if store::should_log(&globals.log_level, level) {
            let tag = if level == "REPORT" { "INFO" } else { level };
            self.host.log(format!("[{tag}] '{text}'"));
        }
    }

    /// Emits a structured event (`{"component":"workpool","event":…}`) at INFO (`report` at
    /// REPORT).
    pub fn event(&mut self, globals: &Globals, name: &str, fields: serde_json::Value) {
        let level = if name == "report" { "REPORT" } else { "INFO" };
        if !store::should_log(&globals.log_level, level) {
            return;
        }
        let mut event = json!({"component": "workpool", "event": name});
        if let (Some(target), Some(extra)) = (event.as_object_mut(), fields.as_object()) {
            target.extend(extra.clone());
        }
        self.log(globals, level, event.to_string());
    }

    /// `config` of an enqueue or `config.update`: validated, then merged into `globals`.
    fn apply_config(&mut self, config: Option<&Value>) -> Result<Globals, NativeError> {
        let config = config.and_then(Value::as_object);
        let max = config.and_then(|c| number(c, "maxParallelism"));
        let level = config.and_then(|c| string(c, "logLevel"));
        let (globals, _) = store::update_globals(&mut self.host.db(), max, level)?;
        if max.is_some_and(|n| n > store::SOFT_MAX_PARALLELISM) {
            self.log(
                &globals,
                "WARN",
                format!(
                    "maxParallelism should be <= {} , but is set to {}. This will be an error in a future version.",
                    store::SOFT_MAX_PARALLELISM,
                    globals.max_parallelism
                ),
            );
        }
        Ok(globals)
    }

    fn set_log_level(&mut self, level: Option<&Value>) -> Result<Globals, NativeError> {
        Ok(store::update_globals(&mut self.host.db(), None, level.and_then(Value::as_str))?.0)
    }

    /// Inserts one work item (spec §4.3).
    fn enqueue(&mut self, item: &Object, globals: &Globals) -> Result<DocumentId, NativeError> {
        let fn_name = string(item, "fnName").unwrap_or_default().to_string();
        let fn_args = item.get("fnArgs").cloned().unwrap_or(Value::Object(Object::new()));
        let size = fn_args.size();
        if size > MAX_ARGS_BYTES {
            return Err(NativeError::developer(format!(
                "Function arguments for function {fn_name} too large: {size} bytes (max: {MAX_ARGS_BYTES} bytes)"
            )));
        }
        let on_complete = item.get("onComplete").and_then(Value::as_object);
        if let Some(context) = on_complete.and_then(|o| o.get("context")) {
            let size = context.size();
            if size > MAX_ARGS_BYTES {
                return Err(NativeError::developer(format!(
                    "OnComplete context for function {fn_name} too large: {size} bytes (max: {MAX_ARGS_BYTES} bytes)"
                )));
            }
        }
        let requested = number(item, "runAt").unwrap_or(self.now_ms);
        if !requested.is_finite() {
            return Err(NativeError::developer(format!("Invalid runAt {requested} for function {fn_name}")));
        }
        let run_at = if requested < self.now_ms - YEAR_MS {
            self.log(
                globals,
                "ERROR",
                format!("runAt is more than a year in the past ({requested}); running {fn_name} now"),
            );
            self.now_ms
        } else if requested > self.now_ms + 4.0 * YEAR_MS {
            self.log(
                globals,
                "ERROR",
                format!("runAt is more than 4 years in the future ({requested}); running {fn_name} in a year"),
            );
            self.now_ms + YEAR_MS
        } else {
            requested
        };
        let mut row = Object::new();
        for key in ["fnType", "fnHandle", "fnName", "onComplete", "retryBehavior"] {
            if let Some(v) = item.get(key) {
                row.insert(key.into(), v.clone());
            }
        }
        row.insert("fnArgs".into(), fn_args);
        row.insert("attempts".into(), Value::Float64(0.0));
        row.insert("state".into(), Value::String("pending".into()));
        row.insert("runAt".into(), Value::Float64(run_at));
        let id = self.host.db().insert(store::WORK, row)?;
        self.event(
            globals,
            "enqueued",
            json!({
                "workId": id.encode(), "fnName": fn_name, "runAt": run_at, "enqueuedAt": self.now_ms,
            }),
        );
        Ok(id)
    }

    /// `lib.cancel`: pending work is finished as `canceled` by the next drive; running work is
    /// flagged so its retry becomes `canceled`. Missing work and repeated cancels do nothing.
    fn cancel(&mut self, id: &DocumentId, globals: &Globals) -> Result<(), NativeError> {
        let Some(work) = store::load_work(&mut self.host.db(), id)? else {
            self.log(globals, "WARN", format!("Work {} not found: it is finished or never existed", id.encode()));
            return Ok(());
        };
        if work.canceled() {
            self.log(globals, "WARN", format!("Work {} is already being canceled", id.encode()));
            return Ok(());
        }
        let mut fields = vec![("canceled", Some(Value::Boolean(true)))];
        if work.state() == "pending" {
            fields.push(("state", Some(Value::String("canceling".into()))));
        }
        store::patch_work(&mut self.host.db(), id, fields)
    }

    /// `lib.cancelAll`: cancels the newest `limit` items created at or before `before`, and
    /// schedules itself for the next page when the page was full.
    fn cancel_all(&mut self, args: &Object, globals: &Globals) -> Result<(), NativeError> {
        let limit = number(args, "limit").unwrap_or(CANCEL_ALL_PAGE);
        if limit.is_nan() || limit < 1.0 || limit.fract() != 0.0 {
            return Err(NativeError::developer(format!(
                "cancelAll: limit must be a positive whole number, got {limit}"
            )));
        }
        // Without `before`, every row this transaction sees: a `_creationTime` can be a fraction
        // of a millisecond past the transaction's whole-millisecond `Date.now()`, so `now`
        // could miss work enqueued just before.
        let before = number(args, "before").unwrap_or(f64::MAX);
        let page = self.host.db().collect(&store::work_created_before(before, limit as usize))?;
        let last = page.last().map(|d| d.creation_time);
        let full = page.len() == limit as usize;
        for doc in page {
            let work = Work::from_doc(doc);
            if !work.canceled() {
                self.cancel(&work.id, globals)?;
            }
        }
        if let (true, Some(last)) = (full, last) {
            // Continue strictly before the last row seen, so a page never re-reads it.
            let mut next = Object::new();
            next.insert("before".into(), Value::Float64(previous_float(last)));
            next.insert("limit".into(), Value::Float64(limit));
            next.insert("logLevel".into(), Value::String(globals.log_level.clone()));
            let handle = format!("function://{}#lib:cancelAll", self.instance);
            self.host.schedule(&handle, self.now_ms, Value::Object(next))?;
        }
        Ok(())
    }

    /// `lib.status` (spec §4.9): no row → finished; pending or canceling → pending; running →
    /// running.
    fn status(&mut self, id: &DocumentId) -> Result<Value, NativeError> {
        let mut out = Object::new();
        match store::load_work(&mut self.host.db(), id)? {
            None => {
                out.insert("state".into(), Value::String("finished".into()));
            }
            Some(work) => {
                let state = if work.state() == "running" { "running" } else { "pending" };
                out.insert("state".into(), Value::String(state.into()));
                out.insert("previousAttempts".into(), Value::Float64(work.attempts()));
            }
        }
        Ok(Value::Object(out))
    }
}

/// The largest float below `x` (for exclusive continuation bounds).
fn previous_float(x: f64) -> f64 {
    if x > 0.0 { f64::from_bits(x.to_bits() - 1) } else { x - f64::EPSILON }
}
