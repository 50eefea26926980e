//! The syscall host for queries and mutations: answers the `convex` package's `1.0/*` ops
//! (spec `convex-runtime.md` §3) against one database transaction.
//!
//! Invariants: every op acts on the current component's namespace and the current transaction;
//! async ops are answered in the order the engine hands them over (FIFO); developer errors come
//! back as catchable `HostError`s with Convex's texts, storage failures as internal ones; queries
//! never write; at most one `paginate()` per execution.

use std::borrow::Cow;
use std::collections::BTreeMap;

use emvex_database::{
    Document, MAX_BYTES_READ, MAX_BYTES_WRITTEN, MAX_DATABASE_QUERIES, MAX_DOCUMENTS_READ, MAX_DOCUMENTS_WRITTEN,
    PageRequest, Query, Transaction,
};
use emvex_engine::{Host, HostError};
use emvex_value::function::FunctionKind;
use emvex_value::id::DocumentId;
use emvex_value::{Object, Value, contains_commit_ts, maybe_value_from_convex_json, resolve_commit_ts};
use serde_json::{Value as Json, json};

use crate::components::Target;
pub(crate) use crate::host_errors::{db_error, developer};
use crate::path::{FunctionAddress, PathError, UdfPath, encode_handle};
use crate::registry::FunctionInfo;
use crate::runner::{FunctionRunner, NewJob};
use crate::scheduler::{SCHEDULED_FUNCTIONS, TARGET_FIELD, state};
use crate::storage;
use crate::unsupported::unsupported;
use emvex_database::files::{FILE_KEY_FIELD, STORAGE_TABLE};

/// At most this many functions may be scheduled by one mutation (spec §3.9).
const MAX_SCHEDULED_PER_TRANSACTION: usize = 1000;
/// The limit `getTransactionMetrics` reports for the arguments of scheduled functions (§6.5).
const MAX_SCHEDULED_ARGS_BYTES: u64 = 16 << 20;
/// Scheduled times may be at most five years away (spec §3.9).
const MAX_SCHEDULE_DISTANCE_MS: f64 = 5.0 * 365.0 * 24.0 * 3600.0 * 1000.0;

/// Nested calls may go this deep (spec §3.10).
const MAX_CALL_DEPTH: usize = 8;

/// Answers syscalls for one query or mutation execution.
pub(crate) struct TransactionHost<'a> {
    pub tx: &'a mut Transaction,
    runner: &'a mut FunctionRunner,
    pub component: String,
    pub kind: FunctionKind,
    pub path: UdfPath,
    /// The execution's frozen `Date.now()`, inherited by nested calls and used by the scheduler.
    now_ms: f64,
    /// 0 for a top-level call.
    depth: usize,
    paginated: bool,
    scheduled: usize,
    /// Bytes of the arguments of the functions `scheduled` (their Convex JSON).
    scheduled_args_bytes: usize,
    /// Jobs scheduled by this execution and its committed nested mutations.
    pub new_jobs: Vec<NewJob>,
    /// Console lines of nested calls, in the order they ran.
    pub nested_logs: Vec<String>,
}

impl<'a> TransactionHost<'a> {
    pub(crate) fn new(
        tx: &'a mut Transaction,
        runner: &'a mut FunctionRunner,
        component: String,
        kind: FunctionKind,
        path: UdfPath,
        now_ms: f64,
        depth: usize,
    ) -> Self {
        TransactionHost {
            tx,
            runner,
            component,
            kind,
            path,
            now_ms,
            depth,
            paginated: false,
            scheduled: 0,
            scheduled_args_bytes: 0,
            new_jobs: Vec::new(),
            nested_logs: Vec::new(),
        }
    }

    fn dispatch_sync(&mut self, op: &str, args: &Json) -> Result<Json, HostError> {
        match op {
            "1.0/queryStream" => {
                let query = Query::from_wire_json(field(args, "query")?).map_err(db_error)?;
                let id = self.tx.query_stream(&self.component, &query).map_err(db_error)?;
                Ok(json!({ "queryId": id }))
            }
            "1.0/queryCleanup" => {
                let id = u32_field(args, "queryId")?;
                Ok(Json::Bool(self.tx.query_cleanup(id)))
            }
            "1.0/db/normalizeId" => {
                let table = str_field(args, "table")?;
                let id_string = str_field(args, "idString")?;
                Ok(json!({ "id": self.normalize_id(table, id_string)? }))
            }
            "1.0/getSnapshotTs" => {
                let ts = self.tx.snapshot_ts().min(i64::MAX as u64) as i64;
                Ok(Value::Int64(ts).to_convex_json())
            }
            _ => Err(unsupported(op)),
        }
    }

    fn dispatch_async(&mut self, op: &str, args: &Json) -> Result<Json, HostError> {
        match op {
            "1.0/get" => self.get(args),
            "1.0/queryStreamNext" => {
                let id = u32_field(args, "queryId")?;
                match self.tx.query_next(id).map_err(db_error)? {
                    Some(doc) => Ok(json!({ "value": document_json(&doc), "done": false })),
                    None => Ok(json!({ "value": null, "done": true })),
                }
            }
            "1.0/queryPage" => self.query_page(args),
            "1.0/count" => {
                let table = str_field(args, "table")?;
                let n = self.tx.count(&self.component, table).map_err(db_error)?;
                Ok(json!(n as f64))
            }
            "1.0/insert" => {
                self.require_mutation("insert")?;
                let table = str_field(args, "table")?;
                let value = self.with_commit_ts(field(args, "value")?)?;
                let body = object_arg(&value, "insert")?;
                let id = self.tx.insert(&self.component, table, body).map_err(db_error)?;
                Ok(json!({ "_id": id.encode() }))
            }
            "1.0/shallowMerge" => {
                self.require_mutation("patch")?;
                let id = self.writable_id(args, "db.patch")?;
                let value = self.with_commit_ts(field(args, "value")?)?;
                let patch = patch_arg(&value)?;
                let doc = self.tx.patch(&self.component, &id, patch).map_err(db_error)?;
                Ok(doc.to_value().to_convex_json())
            }
            "1.0/replace" => {
                self.require_mutation("replace")?;
                let id = self.writable_id(args, "db.replace")?;
                let value = self.with_commit_ts(field(args, "value")?)?;
                let body = object_arg(&value, "replace")?;
                let doc = self.tx.replace(&self.component, &id, body).map_err(db_error)?;
                Ok(doc.to_value().to_convex_json())
            }
            "1.0/remove" => {
                self.require_mutation("delete")?;
                let id = self.writable_id(args, "db.delete")?;
                let doc = self.tx.delete(&self.component, &id).map_err(db_error)?;
                Ok(doc.to_value().to_convex_json())
            }
            "1.0/schedule" => self.schedule_syscall(args),
            "1.0/cancel_job" => self.cancel_job_syscall(args),
            "1.0/runUdf" => self.run_udf_syscall(args),
            "1.0/createFunctionHandle" => {
                let target = self.resolve_target(&function_address(args).map_err(path_error)?)?;
                Ok(Json::String(encode_handle(&target.component, &target.path)))
            }
            "1.0/getUserIdentity" => Ok(self.runner.request.identity_json()),
            "1.0/getFunctionMetadata" => Ok(json!({
                "name": self.path.stripped(),
                "componentPath": self.component,
            })),
            "1.0/getDeploymentMetadata" => Ok(deployment_metadata()),
            "1.0/getTransactionMetrics" => Ok(self.transaction_metrics()),
            "1.0/getRequestMetadata" => {
                if self.kind == FunctionKind::Query {
                    return Err(developer("Cannot get request metadata in a query".into()));
                }
                Ok(self.runner.request.to_json())
            }
            op if storage::is_storage_op(op) => {
                let db = self.runner.db.clone();
                let cx = storage::StorageContext {
                    tx: self.tx,
                    db: &db,
                    component: &self.component,
                    origin: storage::origin(&self.runner.components),
                    is_mutation: self.kind == FunctionKind::Mutation,
                };
                storage::syscall(cx, op, args)
            }
            _ => Err(unsupported(op)),
        }
    }

    /// `ctx.meta.getTransactionMetrics()`: what this transaction used of each limit (§6.5);
    /// `remaining` may be negative.
    fn transaction_metrics(&self) -> Json {
        let m = self.tx.metrics();
        let metric = |used: u64, max: u64| json!({ "used": used as f64, "remaining": max as f64 - used as f64 });
        json!({
            "bytesRead": metric(m.bytes_read, MAX_BYTES_READ),
            "bytesWritten": metric(m.bytes_written, MAX_BYTES_WRITTEN),
            "databaseQueries": metric(m.database_queries, MAX_DATABASE_QUERIES),
            "documentsRead": metric(m.documents_read, MAX_DOCUMENTS_READ),
            "documentsWritten": metric(m.documents_written, MAX_DOCUMENTS_WRITTEN),
            "functionsScheduled": metric(self.scheduled as u64, MAX_SCHEDULED_PER_TRANSACTION as u64),
            "scheduledFunctionArgsBytes": metric(self.scheduled_args_bytes as u64, MAX_SCHEDULED_ARGS_BYTES),
        })
    }

    /// `json` with each `db.vars.commitTs` placeholder replaced by this mutation's commit
    /// timestamp (spec §4.2). Outside a mutation it is returned as is, and the decoder refuses
    /// the placeholder with `CommitTsNotAllowed`.
    fn with_commit_ts<'j>(&mut self, json: &'j Json) -> Result<Cow<'j, Json>, HostError> {
        if self.kind != FunctionKind::Mutation || !contains_commit_ts(json) {
            return Ok(Cow::Borrowed(json));
        }
        let ts = self.tx.commit_ts().map_err(db_error)?;
        Ok(Cow::Owned(resolve_commit_ts(json, ts.min(i64::MAX as u64) as i64)))
    }

    fn require_mutation(&self, what: &str) -> Result<(), HostError> {
        if self.kind == FunctionKind::Mutation {
            Ok(())
        } else {
            Err(developer(format!("Can't {what} a document in a query: writes are only allowed in mutations.")))
        }
    }

    fn normalize_id(&self, table: &str, id_string: &str) -> Result<Option<String>, HostError> {
        let Ok(id) = DocumentId::decode(id_string) else { return Ok(None) };
        let number = self.tx.table_number(&self.component, table).map_err(db_error)?;
        Ok((number == Some(id.table_number)).then(|| id.encode()))
    }

    /// `1.0/get`: undecodable ids are an error, ids of unknown tables read as null.
    fn get(&mut self, args: &Json) -> Result<Json, HostError> {
        let id_string = str_field(args, "id")?;
        let is_system = args.get("isSystem").and_then(Json::as_bool).unwrap_or(false);
        let id = DocumentId::decode(id_string).map_err(|e| {
            developer(format!("Invalid argument `id` for `db.get`: Unable to decode ID: {}", e.message))
        })?;
        let Some(table) = self.tx.table_name(&self.component, id.table_number).map_err(db_error)? else {
            return Ok(Json::Null);
        };
        check_system(&table, is_system)?;
        if let Some(expected) = args.get("table").and_then(Json::as_str)
            && expected != table
        {
            return Err(developer(format!(
                "Invalid argument `id` for `db.get`: expected to be an Id<\"{expected}\">, got Id<\"{table}\"> instead."
            )));
        }
        Ok(match self.tx.get(&self.component, &id).map_err(db_error)? {
            Some(doc) => document_json(&doc),
            None => Json::Null,
        })
    }

    /// Resolves the id of a patch/replace/delete: it must decode, name a user table of this
    /// component, and match the optional `table` argument.
    fn writable_id(&self, args: &Json, method: &str) -> Result<DocumentId, HostError> {
        let id_string = str_field(args, "id")?;
        let id = DocumentId::decode(id_string).map_err(|e| {
            developer(format!("Invalid argument `id` for `{method}`: Unable to decode ID: {}", e.message))
        })?;
        let table = self.tx.table_name(&self.component, id.table_number).map_err(db_error)?;
        let Some(table) = table else {
            return Err(developer(format!(
                "Invalid argument `id` for `{method}`: Table for ID \"{id_string}\" not found"
            )));
        };
        check_system(&table, false)?;
        if let Some(expected) = args.get("table").and_then(Json::as_str)
            && expected != table
        {
            return Err(developer(format!(
                "Invalid argument `id` for `{method}`: expected to be an Id<\"{expected}\">, got Id<\"{table}\"> instead."
            )));
        }
        Ok(id)
    }

    /// `1.0/schedule` as JS calls it: `{name | reference | functionHandle, ts (seconds), args}`.
    fn schedule_syscall(&mut self, args: &Json) -> Result<Json, HostError> {
        self.require_mutation("schedule")?;
        let target = self.schedule_target(&function_address(args).map_err(path_error)?)?;
        let ts = field(args, "ts")?
            .as_f64()
            .filter(|t| t.is_finite())
            .ok_or_else(|| developer("Invalid argument `ts` for scheduling: expected a finite number".into()))?;
        let at_ms = ts * 1000.0;
        self.check_schedulable(&target, at_ms)?;
        let fn_args = Value::from_convex_json(field(args, "args")?).map_err(|e| {
            developer(format!("Invalid arguments for scheduled function {}: {}", target.path.stripped(), e.message))
        })?;
        let id = self.insert_job(target, at_ms, fn_args)?;
        Ok(Json::String(id.encode()))
    }

    /// Schedules the function at `address` to run at `at_ms` (ms since the epoch) with `args`:
    /// records a pending job in `_scheduled_functions` inside this transaction, so it exists only
    /// if the mutation commits. Only the target's existence is checked now; its arguments are
    /// validated when it runs (spec §3.9).
    pub(crate) fn schedule(
        &mut self,
        address: &FunctionAddress,
        at_ms: f64,
        args: Value,
    ) -> Result<DocumentId, HostError> {
        self.require_mutation("schedule")?;
        let target = self.schedule_target(address)?;
        self.check_schedulable(&target, at_ms)?;
        self.insert_job(target, at_ms, args)
    }

    /// The limits of scheduling: how far away, and how many per mutation.
    fn check_schedulable(&self, target: &Target, at_ms: f64) -> Result<(), HostError> {
        if (at_ms - self.now_ms).abs() > MAX_SCHEDULE_DISTANCE_MS {
            return Err(developer(format!(
                "Cannot schedule {} at {at_ms} ms: the time is more than 5 years away",
                target.path.stripped()
            )));
        }
        if self.scheduled >= MAX_SCHEDULED_PER_TRANSACTION {
            return Err(developer(format!(
                "Too many functions scheduled by this mutation (limit: {MAX_SCHEDULED_PER_TRANSACTION})"
            )));
        }
        Ok(())
    }

    fn insert_job(&mut self, target: Target, at_ms: f64, args: Value) -> Result<DocumentId, HostError> {
        let mut job = Object::new();
        job.insert("name".into(), Value::String(target.path.canonical()));
        job.insert("args".into(), Value::Array(vec![args]));
        job.insert("scheduledTime".into(), Value::Float64(at_ms));
        job.insert("state".into(), state("pending"));
        if target.component != self.component {
            job.insert(TARGET_FIELD.into(), Value::String(target.component));
        }
        let args_bytes = job.get("args").map_or(0, |a| a.to_convex_json().to_string().len());
        let id = self.tx.insert_system(&self.component, SCHEDULED_FUNCTIONS, job).map_err(db_error)?;
        self.scheduled += 1;
        self.scheduled_args_bytes += args_bytes;
        self.new_jobs.push(NewJob { component: self.component.clone(), id, scheduled_ms: at_ms });
        Ok(id)
    }

    /// The function a schedule call names. Only its existence is checked now; whether it is a
    /// mutation or an action is checked when the job runs (spec §3.9).
    fn schedule_target(&self, address: &FunctionAddress) -> Result<Target, HostError> {
        let components = &self.runner.components;
        let target = components.resolve(&self.component, address).map_err(path_error)?;
        if components.function(&target.component, &target.path).is_some() {
            return Ok(target);
        }
        let path = &target.path;
        Err(developer(if components.has_module(&target.component, &path.module) {
            format!(
                "Attempted to schedule function, but no exported function {} found in the file: {}.js. Did you forget to export it?",
                path.name, path.module
            )
        } else {
            format!("Attempted to schedule function at nonexistent path: {}.js", path.module)
        }))
    }

    /// Resolves a function address, from this instance, to an existing function.
    fn resolve_target(&self, address: &FunctionAddress) -> Result<Target, HostError> {
        let components = &self.runner.components;
        let target = components.resolve(&self.component, address).map_err(path_error)?;
        if components.function(&target.component, &target.path).is_none() {
            return Err(developer(format!(
                "Attempted to call function at nonexistent path: {}. Did you forget to export it?",
                target.path.canonical()
            )));
        }
        Ok(target)
    }

    /// `1.0/runUdf` as JS calls it: `{udfType, name | reference | functionHandle, args}`.
    fn run_udf_syscall(&mut self, args: &Json) -> Result<Json, HostError> {
        let call = NestedCall::parse(str_field(args, "udfType")?)?;
        self.check_nested(call)?;
        let target = self.callee(&function_address(args).map_err(path_error)?, call)?;
        let call_args = self.with_commit_ts(field(args, "args")?)?;
        let call_args = Value::from_convex_json(&call_args)
            .map_err(|e| developer(format!("Invalid arguments for {}: {}", target.path.stripped(), e.message)))?;
        Ok(self.run_callee(&target, call, call_args)?.to_convex_json())
    }

    /// Runs the function at `address` as a nested `ctx.runQuery`/`ctx.runMutation` (spec §3.10,
    /// §6.4). It shares this transaction; a nested mutation runs in a savepoint that is rolled
    /// back if it throws, and a snapshot query reads the snapshot this mutation started from,
    /// without its writes.
    pub(crate) fn run_function(
        &mut self,
        address: &FunctionAddress,
        call: NestedCall,
        args: Value,
    ) -> Result<Value, HostError> {
        self.check_nested(call)?;
        let target = self.callee(address, call)?;
        self.run_callee(&target, call, args)
    }

    /// A query may only call queries of its own snapshot.
    fn check_nested(&self, call: NestedCall) -> Result<(), HostError> {
        if self.kind == FunctionKind::Query && call != NestedCall::Query {
            return Err(developer(format!(
                "Cannot call a {} function from a Query function",
                if call == NestedCall::SnapshotQuery { "snapshot Query" } else { call.kind().title() }
            )));
        }
        Ok(())
    }

    /// The function a nested call runs: it exists, has the kind the call expects, and the call
    /// stays within the depth limit.
    fn callee(&self, address: &FunctionAddress, call: NestedCall) -> Result<Target, HostError> {
        let target = self.resolve_target(address)?;
        let info = self.runner.components.function(&target.component, &target.path).expect("resolve_target checked");
        if info.kind != call.kind() {
            return Err(developer(format!(
                "Trying to execute {} as {}, but it is defined as {}.",
                target.path.canonical(),
                call.kind().title(),
                info.kind.title()
            )));
        }
        if self.depth + 1 > MAX_CALL_DEPTH {
            return Err(developer(
                "Cross component call depth limit exceeded. Do you have an infinite loop in your app?".into(),
            ));
        }
        Ok(target)
    }

    fn run_callee(&mut self, target: &Target, call: NestedCall, args: Value) -> Result<Value, HostError> {
        let components = self.runner.components.clone();
        let info: &FunctionInfo = components.function(&target.component, &target.path).expect("callee checked");
        let depth = self.depth + 1;
        // The identity does not cross into or out of a component: hidden for the callee's run.
        let outer = self.runner.request.clone();
        self.runner.request = outer.crossing(&self.component, &target.component);
        let execution = self.run_callee_in(target, info, call, args, depth);
        self.runner.request = outer;
        let execution = execution?;
        self.nested_logs.extend(execution.log_lines);
        let value = execution.result?;
        self.new_jobs.extend(execution.new_jobs);
        Ok(value)
    }

    fn run_callee_in(
        &mut self,
        target: &Target,
        info: &FunctionInfo,
        call: NestedCall,
        args: Value,
        depth: usize,
    ) -> Result<crate::runner::Execution, HostError> {
        Ok(match call {
            NestedCall::SnapshotQuery => {
                let mut snapshot = self.runner.db.begin_query().map_err(db_error)?;
                self.runner.run(&mut snapshot, &target.component, info, &[args], self.now_ms, depth)
            }
            NestedCall::Mutation => {
                self.tx.savepoint().map_err(db_error)?;
                let execution = self.runner.run(self.tx, &target.component, info, &[args], self.now_ms, depth);
                if execution.result.is_ok() {
                    self.tx.release_savepoint().map_err(db_error)?;
                } else {
                    self.tx.rollback_to_savepoint().map_err(db_error)?;
                }
                execution
            }
            NestedCall::Query => self.runner.run(self.tx, &target.component, info, &[args], self.now_ms, depth),
        })
    }

    /// `1.0/cancel_job` as JS calls it: `{id}`.
    fn cancel_job_syscall(&mut self, args: &Json) -> Result<Json, HostError> {
        self.require_mutation("cancel")?;
        let id_string = str_field(args, "id")?;
        let id = DocumentId::decode(id_string).map_err(|e| {
            developer(format!("Invalid argument `id` for `scheduler.cancel`: Unable to decode ID: {}", e.message))
        })?;
        self.cancel_job(&id)?;
        Ok(Json::Null)
    }

    /// Cancels job `id` of this instance's `_scheduled_functions`: a pending or running job
    /// becomes `canceled`; finished jobs are left as they are.
    pub(crate) fn cancel_job(&mut self, id: &DocumentId) -> Result<(), HostError> {
        self.require_mutation("cancel")?;
        let table = self.tx.table_name(&self.component, id.table_number).map_err(db_error)?;
        if table.as_deref() != Some(SCHEDULED_FUNCTIONS) {
            return Err(developer(format!(
                "Invalid argument `id` for `scheduler.cancel`: {} is not a scheduled function id",
                id.encode()
            )));
        }
        let Some(job) = self.tx.get(&self.component, id).map_err(db_error)? else {
            return Ok(());
        };
        let kind =
            job.body.get("state").and_then(|s| s.as_object()).and_then(|s| s.get("kind")).and_then(Value::as_str);
        if matches!(kind, Some("pending") | Some("inProgress")) {
            let mut patch = BTreeMap::new();
            patch.insert("state".to_string(), Some(state("canceled")));
            patch.insert("completedTime".to_string(), Some(Value::Float64(self.now_ms)));
            self.tx.patch(&self.component, id, patch).map_err(db_error)?;
        }
        Ok(())
    }

    fn query_page(&mut self, args: &Json) -> Result<Json, HostError> {
        if self.paginated {
            return Err(developer(
                "This query or mutation function ran multiple paginated queries. Convex only supports a single paginated query in each function.".into(),
            ));
        }
        self.paginated = true;
        let opt_str = |key: &str| args.get(key).and_then(Json::as_str).map(str::to_string);
        let opt_num = |key: &str| args.get(key).and_then(Json::as_f64);
        let query_json = field(args, "query")?;
        let request = PageRequest {
            cursor: opt_str("cursor"),
            end_cursor: opt_str("endCursor"),
            page_size: opt_num("pageSize")
                .ok_or_else(|| developer("Invalid arguments for `paginate`: missing `pageSize`".into()))?,
            maximum_rows_read: opt_num("maximumRowsRead"),
            maximum_bytes_read: opt_num("maximumBytesRead"),
            query: Query::from_wire_json(query_json).map_err(db_error)?,
        };
        let page = self.tx.query_page(&self.component, &request).map_err(db_error)?;
        let docs: Vec<Json> = page.page.iter().map(document_json).collect();
        Ok(json!({
            "page": docs,
            "isDone": page.is_done,
            "continueCursor": page.continue_cursor,
            "splitCursor": page.split_cursor,
            "pageStatus": page.page_status,
        }))
    }
}

impl Host for TransactionHost<'_> {
    fn syscall(&mut self, op: &str, args_json: &str) -> Result<String, HostError> {
        let args = parse_args(op, args_json)?;
        self.dispatch_sync(op, &args).map(|v| v.to_string())
    }

    fn async_syscall(&mut self, op: &str, args_json: &str) -> Result<String, HostError> {
        let args = parse_args(op, args_json)?;
        self.dispatch_async(op, &args).map(|v| v.to_string())
    }
}

/// How a nested call runs a function (`udfType` of `1.0/runUdf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NestedCall {
    /// `ctx.runQuery`: a query on this transaction, seeing its writes.
    Query,
    /// `ctx.runQuery` on the snapshot the calling mutation started from.
    SnapshotQuery,
    /// `ctx.runMutation`: a mutation in a savepoint of this transaction.
    Mutation,
}

impl NestedCall {
    fn parse(udf_type: &str) -> Result<NestedCall, HostError> {
        match udf_type {
            "query" => Ok(NestedCall::Query),
            "snapshotQuery" => Ok(NestedCall::SnapshotQuery),
            "mutation" => Ok(NestedCall::Mutation),
            other => Err(developer(format!("Invalid udfType for a nested call: {other}"))),
        }
    }

    /// The nested call that runs a function of `kind` (queries and mutations only).
    pub(crate) fn of_kind(kind: FunctionKind) -> Result<NestedCall, HostError> {
        match kind {
            FunctionKind::Query => Ok(NestedCall::Query),
            FunctionKind::Mutation => Ok(NestedCall::Mutation),
            FunctionKind::Action => NestedCall::parse(kind.as_str()),
        }
    }

    /// The kind of function the call runs.
    fn kind(self) -> FunctionKind {
        match self {
            NestedCall::Query | NestedCall::SnapshotQuery => FunctionKind::Query,
            NestedCall::Mutation => FunctionKind::Mutation,
        }
    }
}

/// The function address of a syscall's arguments: the first of `functionHandle`, `reference`
/// and `name` that is a string.
pub(crate) fn function_address(args: &Json) -> Result<FunctionAddress, PathError> {
    let field = |k: &str| args.get(k).and_then(Json::as_str).map(str::to_string);
    if let Some(handle) = field("functionHandle") {
        return Ok(FunctionAddress::Handle(handle));
    }
    if let Some(reference) = field("reference") {
        return Ok(FunctionAddress::Reference(reference));
    }
    field("name")
        .map(FunctionAddress::Name)
        .ok_or_else(|| PathError { message: "Missing required argument 'name'".into() })
}

fn path_error(e: PathError) -> HostError {
    developer(e.message)
}

/// A document as JS sees it: emvex's own bookkeeping fields are left out — of
/// `_scheduled_functions` the instance a job targets (when it is not the scheduling one), of
/// `_storage` the key of its file.
fn document_json(doc: &Document) -> Json {
    let mut json = doc.to_value().to_convex_json();
    let hidden = match doc.table.as_str() {
        SCHEDULED_FUNCTIONS => TARGET_FIELD,
        STORAGE_TABLE => FILE_KEY_FIELD,
        _ => return json,
    };
    if let Some(fields) = json.as_object_mut() {
        fields.remove(hidden);
    }
    json
}

fn check_system(table: &str, is_system: bool) -> Result<(), HostError> {
    match (table.starts_with('_'), is_system) {
        (true, false) => Err(developer("System tables can only be accessed with db.system.".into())),
        (false, true) => Err(developer("User tables cannot be accessed with db.system.".into())),
        _ => Ok(()),
    }
}

fn parse_args(op: &str, args_json: &str) -> Result<Json, HostError> {
    serde_json::from_str(args_json).map_err(|e| developer(format!("Invalid arguments for `{op}`: not JSON: {e}")))
}

fn field<'j>(args: &'j Json, key: &str) -> Result<&'j Json, HostError> {
    args.get(key).ok_or_else(|| developer(format!("Missing required argument '{key}'")))
}

fn str_field<'j>(args: &'j Json, key: &str) -> Result<&'j str, HostError> {
    field(args, key)?.as_str().ok_or_else(|| developer(format!("Invalid argument `{key}`: expected a string")))
}

fn u32_field(args: &Json, key: &str) -> Result<u32, HostError> {
    field(args, key)?
        .as_f64()
        .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= u32::MAX as f64)
        .map(|n| n as u32)
        .ok_or_else(|| developer(format!("Invalid argument `{key}`: expected a non-negative integer")))
}

fn object_arg(json: &Json, method: &str) -> Result<Object, HostError> {
    let value = Value::from_convex_json(json)
        .map_err(|e| developer(format!("Invalid argument `value` for `db.{method}`: {}", e.message)))?;
    match value {
        Value::Object(o) => Ok(o),
        other => Err(developer(format!(
            "Invalid argument `value` for `db.{method}`: expected an object, got {}",
            other.type_name()
        ))),
    }
}

/// A patch: top-level fields whose value is `{"$undefined": null}` are removed.
fn patch_arg(json: &Json) -> Result<BTreeMap<String, Option<Value>>, HostError> {
    let Json::Object(map) = json else {
        return Err(developer("Invalid argument `value` for `db.patch`: expected an object".into()));
    };
    map.iter()
        .map(|(k, v)| {
            let value = maybe_value_from_convex_json(v)
                .map_err(|e| developer(format!("Invalid argument `value` for `db.patch`: {}", e.message)))?;
            Ok((k.clone(), value))
        })
        .collect()
}

/// What `ctx.meta.getDeploymentMetadata()` answers: a local deployment.
pub(crate) fn deployment_metadata() -> Json {
    json!({ "name": "emvex-local", "region": null, "class": "s16" })
}
