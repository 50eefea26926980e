//! Actions: many in flight on one thread, each in its own loaded runtime.
//!
//! Owns: the pool of loaded function realms an isolate lends to actions, and the event loop
//! of one action — JS runs in short synchronous bursts (microtasks drained), and between
//! bursts the action's operations (async syscalls answered by its [`ActionHost`], `fetch`
//! requests, timers) are awaited together; each completion settles its JS promise or fires
//! its timer.
//! Invariants:
//! - A realm is lent to exactly one action at a time; it returns to the pool only after a
//!   normal end, timeout or fatal error, with per-call state cleared (`FunctionRealm::finish`);
//!   after an out-of-memory, or if the action's future is dropped, it is discarded.
//! - The action's deadline covers its whole wall-clock time, awaits included: between bursts
//!   it is a timer of the loop, inside a burst the interrupt handler enforces it.
//! - Operations still in flight when the action's promise settles are dropped (a warning
//!   line is logged for unawaited syscalls and fetches); timers pending then never fire.
//! - Every syscall error reaches JS as a catchable rejection (spec §1.3(c)); fetch failures
//!   reject with a `TypeError`.

// `JsError` is the crate's public error type; the bursts return it as is, as `invoke` does.
#![allow(clippy::result_large_err)]

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{AbortHandle, abortable};
use futures_util::stream::{FuturesUnordered, StreamExt};
use rand::Rng;
use rquickjs::promise::PromiseState;
use rquickjs::{Array, ArrayBuffer, Ctx, Object, Persistent, Promise, Value};

use crate::calls::{
    abort_error, aborted, call_control, describe_error, drain_jobs, end_call, first_unhandled,
    internal_error as internal, start_call, started_promise,
};
use crate::fetch::{FetchClient, FetchError, FetchRequest, FetchResponse};
use crate::function_realm::{FunctionRealm, Scope};
use crate::quickjs_ffi::update_stack_top;
use crate::shared::{Abort, Shared};
use crate::{
    ActionHost, App, FunctionKind, HostError, HttpOutcome, HttpRequest, HttpResponse, Invocation, JsError, JsErrorKind,
    Outcome,
};

/// At most this many loaded runtimes wait in an isolate's pool; more are dropped when their
/// action ends (a burst of concurrent actions must not pin their memory for ever).
pub(crate) const MAX_IDLE_RUNTIMES: usize = 16;

/// Loaded runtimes waiting to run an action, and the isolate's HTTP clients.
pub(crate) struct ActionPool {
    app: Arc<App>,
    scope: Rc<Scope>,
    idle: RefCell<Vec<FunctionRealm>>,
    http: OnceCell<Result<FetchClient, FetchError>>,
}

/// What an action runs.
enum Call {
    Function(Invocation),
    Http(HttpRequest),
}

/// Status line and headers of an HTTP action's response, as `control.startHttp` resolves.
#[derive(serde::Deserialize)]
struct HttpHead {
    status: u16,
    #[serde(rename = "statusText")]
    status_text: String,
    headers: Vec<(String, String)>,
}

/// An operation the action started, as taken from `control.takeOps()`.
#[derive(Debug)]
enum NewOp {
    Syscall {
        id: u64,
        op: String,
        args: String,
    },
    /// `storage/storeBlob`: the blob's bytes travel as bytes, not base64.
    StoreBlob {
        id: u64,
        args: String,
        bytes: Vec<u8>,
    },
    /// `storage/getBlob`: answered with the bytes and the content type.
    GetBlob {
        id: u64,
        args: String,
    },
    Fetch {
        id: u64,
        request: FetchRequest,
    },
    Timer {
        id: u64,
        delay: Duration,
    },
    ClearTimer {
        id: u64,
    },
    /// A fetch whose `AbortSignal` fired: its promise is already rejected.
    Cancel {
        id: u64,
    },
}

enum Completed {
    Syscall(Result<String, HostError>),
    Blob(Result<Option<crate::StoredBlob>, HostError>),
    Fetch(Result<FetchResponse, FetchError>),
    Cancelled,
}

type OpFuture = Pin<Box<dyn Future<Output = (u64, Completed)>>>;

/// What a JS burst ended with.
enum Burst {
    Done(Result<String, JsError>),
    Ops(Vec<NewOp>),
}

/// A runtime lent to one action. Field order matters: the promise handle drops before the
/// runtime it lives in.
struct Lent {
    promise: Option<Persistent<Promise<'static>>>,
    realm: FunctionRealm,
}

/// Pending timers, earliest first (ties in creation order).
#[derive(Default)]
struct Timers {
    by_time: BTreeMap<(Duration, u64), u64>,
    by_id: HashMap<u64, (Duration, u64)>,
    seq: u64,
}

impl Timers {
    fn arm(&mut self, id: u64, at: Duration) {
        self.clear(id);
        self.seq += 1;
        self.by_time.insert((at, self.seq), id);
        self.by_id.insert(id, (at, self.seq));
    }

    fn clear(&mut self, id: u64) {
        if let Some(key) = self.by_id.remove(&id) {
            self.by_time.remove(&key);
        }
    }

    fn next_at(&self) -> Option<Duration> {
        self.by_time.keys().next().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    fn pop_due(&mut self, now: Duration) -> Option<u64> {
        let (&key, &id) = self.by_time.iter().next()?;
        if key.0 > now {
            return None;
        }
        self.by_time.remove(&key);
        self.by_id.remove(&id);
        Some(id)
    }

    fn is_empty(&self) -> bool {
        self.by_time.is_empty()
    }
}

impl ActionPool {
    pub(crate) fn new(app: Arc<App>, scope: Rc<Scope>) -> ActionPool {
        ActionPool { app, scope, idle: RefCell::new(Vec::new()), http: OnceCell::new() }
    }

    pub(crate) fn idle_count(&self) -> usize {
        self.idle.borrow().len()
    }

    fn http(&self) -> Result<FetchClient, FetchError> {
        self.http.get_or_init(FetchClient::new).clone()
    }

    /// Runs one action on a runtime taken from the pool (or a new one).
    pub(crate) async fn run(pool: Rc<ActionPool>, inv: Invocation, host: Rc<dyn ActionHost>) -> Outcome {
        if inv.kind != FunctionKind::Action {
            let message = format!(
                "invoke_action runs actions only, not the {} {}:{} (use invoke)",
                inv.kind.as_str(),
                inv.module,
                inv.name
            );
            return Outcome { result: Err(JsError::new(JsErrorKind::Internal, message)), log_lines: Vec::new() };
        }
        let timeout = inv.timeout;
        let (result, log_lines) = Self::run_call(pool, Call::Function(inv), timeout, host).await;
        Outcome { result: result.map(|(text, _)| text), log_lines }
    }

    /// Runs one HTTP action: routes `request` through `convex/http.ts`'s router.
    pub(crate) async fn run_http(
        pool: Rc<ActionPool>,
        request: HttpRequest,
        timeout: Option<Duration>,
        host: Rc<dyn ActionHost>,
    ) -> HttpOutcome {
        let (result, log_lines) = Self::run_call(pool, Call::Http(request), timeout, host).await;
        let result = result.and_then(|(head, body)| {
            let head: HttpHead = serde_json::from_str(&head)
                .map_err(|e| JsError::new(JsErrorKind::Internal, format!("HTTP response head: {e}")))?;
            Ok(HttpResponse {
                status: head.status,
                status_text: head.status_text,
                headers: head.headers,
                body: body.unwrap_or_default(),
            })
        });
        HttpOutcome { result, log_lines }
    }

    /// Runs a call on a runtime lent from the pool: its result text (and, for HTTP actions,
    /// the response body) and its log lines.
    async fn run_call(
        pool: Rc<ActionPool>,
        call: Call,
        timeout: Option<Duration>,
        host: Rc<dyn ActionHost>,
    ) -> (Result<(String, Option<Vec<u8>>), JsError>, Vec<String>) {
        let fail = |message: String| (Err(JsError::new(JsErrorKind::Internal, message)), Vec::new());
        let app = pool.app.clone();
        let taken = pool.idle.borrow_mut().pop();
        let realm = match taken {
            Some(realm) => realm,
            None => match FunctionRealm::new(&app, &pool.scope) {
                Ok(realm) => realm,
                Err(e) => {
                    return fail(format!("could not create a runtime for the action: {}", e.message));
                }
            },
        };
        let timeout = timeout.unwrap_or(app.limits.action_timeout);
        let mut lent = Lent { promise: None, realm };
        let started = app.clock.elapsed();
        let deadline = started + timeout;
        {
            let realm = &mut lent.realm;
            let seed: [u8; 32] = rand::rng().random();
            realm.reset_for(FunctionKind::Action, seed, 0.0, timeout);
            // `reset_for` seeds the generator: from real randomness here.
            let s = &realm.shared;
            s.deadline.set(Some(deadline));
            s.real_clock.set(Some(started));
            s.dynamic_import.set(true);
            *s.action_host.borrow_mut() = Some(host.clone());
            s.alloc.limit.set(realm.baseline.saturating_add(app.limits.memory_bytes));
        }
        let mut unawaited = Vec::new();
        let result = drive(&pool, &app, &mut lent, &call, host, deadline, &mut unawaited).await;
        let Lent { promise, mut realm } = lent;
        drop(promise);
        let control = realm.control.clone();
        let shared = realm.shared.clone();
        let is_http = matches!(call, Call::Http(_));
        let (body, mut log_lines) = realm.context.with(|ctx| match control.restore(&ctx) {
            Ok(control) => {
                let body = if is_http && result.is_ok() { take_http_body(&ctx, &control) } else { None };
                (body, end_call(&ctx, &control, &shared))
            }
            Err(_) => (None, Vec::new()),
        });
        if !unawaited.is_empty() {
            let n = unawaited.len();
            log_lines.push(format!(
                "[WARN] {n} unawaited operation{}: [{}]. Async operations should be awaited or they might not run.",
                if n == 1 { "" } else { "s" },
                unawaited.join(", ")
            ));
        }
        let (oom, stopped) = abort_error(&app, &shared, timeout);
        realm.finish();
        let mut idle = pool.idle.borrow_mut();
        if !oom && idle.len() < MAX_IDLE_RUNTIMES {
            idle.push(realm);
        }
        drop(idle);
        let result = match stopped {
            Some(e) => Err(e),
            None => result.map(|text| (text, body)),
        };
        (result, log_lines)
    }
}

/// The action's event loop; returns its result (an abort is reported by `abort_error`).
async fn drive(
    pool: &ActionPool,
    app: &App,
    lent: &mut Lent,
    call: &Call,
    host: Rc<dyn ActionHost>,
    deadline: Duration,
    unawaited: &mut Vec<String>,
) -> Result<String, JsError> {
    let control = lent.realm.control.clone();
    let shared = lent.realm.shared.clone();
    let promise = lent.realm.context.with(|ctx| -> Result<Persistent<Promise<'static>>, JsError> {
        update_stack_top(&ctx);
        let control = control.clone().restore(&ctx).map_err(|e| internal(&ctx, e))?;
        let promise = match call {
            Call::Function(inv) => start_call(&ctx, app, &control, &shared, inv)?,
            Call::Http(req) => start_http(&ctx, app, &control, &shared, req)?,
        };
        Ok(Persistent::save(&ctx, promise))
    })?;
    lent.promise = Some(promise.clone());
    let max_body = app.limits.memory_bytes;
    let mut ops: FuturesUnordered<OpFuture> = FuturesUnordered::new();
    let mut timers = Timers::default();
    let mut fetches: HashMap<u64, AbortHandle> = HashMap::new();
    loop {
        let burst = lent.realm.context.with(|ctx| -> Result<Burst, JsError> {
            update_stack_top(&ctx);
            let control = control.clone().restore(&ctx).map_err(|e| internal(&ctx, e))?;
            let promise = promise.clone().restore(&ctx).map_err(|e| internal(&ctx, e))?;
            burst(&ctx, app, &control, &shared, &promise)
        })?;
        let new_ops = match burst {
            Burst::Done(result) => {
                *unawaited = lent
                    .realm
                    .context
                    .with(|ctx| {
                        let control = control.clone().restore(&ctx).ok()?;
                        call_control::<Vec<String>>(&ctx, &control, "pendingKinds", ()).ok()
                    })
                    .unwrap_or_default();
                return result;
            }
            Burst::Ops(new_ops) => new_ops,
        };
        for op in new_ops {
            match op {
                NewOp::Syscall { id, op, args } => {
                    let fut = host.async_syscall(op, args);
                    ops.push(Box::pin(async move { (id, Completed::Syscall(fut.await)) }));
                }
                NewOp::StoreBlob { id, args, bytes } => {
                    let fut = host.store_blob(args, bytes);
                    ops.push(Box::pin(async move { (id, Completed::Syscall(fut.await)) }));
                }
                NewOp::GetBlob { id, args } => {
                    let fut = host.get_blob(args);
                    ops.push(Box::pin(async move { (id, Completed::Blob(fut.await)) }));
                }
                NewOp::Fetch { id, request } => {
                    let client = pool.http();
                    let (fut, handle) = abortable(async move {
                        match client {
                            Ok(client) => client.fetch(request, max_body).await,
                            Err(e) => Err(e),
                        }
                    });
                    fetches.insert(id, handle);
                    ops.push(Box::pin(async move {
                        match fut.await {
                            Ok(result) => (id, Completed::Fetch(result)),
                            Err(_) => (id, Completed::Cancelled),
                        }
                    }));
                }
                NewOp::Cancel { id } => {
                    if let Some(handle) = fetches.remove(&id) {
                        handle.abort();
                    }
                }
                NewOp::Timer { id, delay } => timers.arm(id, app.clock.elapsed() + delay),
                NewOp::ClearTimer { id } => timers.clear(id),
            }
        }
        if app.clock.elapsed() >= deadline {
            shared.abort.set(Some(Abort::Timeout));
            return Err(JsError::new(JsErrorKind::Timeout, "timed out"));
        }
        if ops.is_empty() && timers.is_empty() {
            return Err(JsError::new(JsErrorKind::Uncaught, "Returned promise will never resolve"));
        }
        let wake = timers.next_at().map_or(deadline, |at| at.min(deadline));
        let event = tokio::select! {
            Some(done) = ops.next(), if !ops.is_empty() => Some(done),
            _ = tokio::time::sleep(app.clock.recheck_after(wake.saturating_sub(app.clock.elapsed()))) => None,
        };
        if event.is_none() && app.clock.elapsed() >= deadline {
            shared.abort.set(Some(Abort::Timeout));
            return Err(JsError::new(JsErrorKind::Timeout, "timed out"));
        }
        if let Some((id, _)) = &event {
            fetches.remove(id);
        }
        let settled = lent.realm.context.with(|ctx| -> Result<(), JsError> {
            update_stack_top(&ctx);
            let control = control.clone().restore(&ctx).map_err(|e| internal(&ctx, e))?;
            let called = match event {
                Some((id, Completed::Syscall(Ok(text)))) => {
                    call_control::<()>(&ctx, &control, "settleOp", (id as f64, true, text))
                }
                Some((id, Completed::Syscall(Err(e)))) => {
                    let data = e.data.as_ref().map(|d| d.to_string());
                    call_control::<()>(&ctx, &control, "settleOp", (id as f64, false, e.message, data))
                }
                Some((id, Completed::Blob(Ok(blob)))) => settle_blob(&ctx, &control, id, blob),
                Some((id, Completed::Blob(Err(e)))) => {
                    let data = e.data.as_ref().map(|d| d.to_string());
                    call_control::<()>(&ctx, &control, "settleOp", (id as f64, false, e.message, data))
                }
                Some((id, Completed::Fetch(Err(e)))) => {
                    let cause = serde_json::json!({ "code": e.code() }).to_string();
                    call_control::<()>(&ctx, &control, "settleOp", (id as f64, false, e.to_string(), cause))
                }
                Some((id, Completed::Fetch(Ok(r)))) => settle_fetch(&ctx, &control, id, r),
                Some((_, Completed::Cancelled)) => Ok(()),
                None => match timers.pop_due(app.clock.elapsed()) {
                    Some(id) => call_control::<()>(&ctx, &control, "fireTimer", (id as f64,)),
                    None => Ok(()),
                },
            };
            match called {
                Ok(()) => Ok(()),
                Err(rquickjs::Error::Exception) => {
                    let reason = ctx.catch();
                    if aborted(&shared) {
                        return Err(JsError::new(JsErrorKind::Internal, "aborted"));
                    }
                    // A timer callback threw: the action fails with that error.
                    Err(describe_error(&ctx, app, &control, reason))
                }
                Err(e) => Err(internal(&ctx, e)),
            }
        });
        settled?;
    }
}

/// Drains microtasks, then reports the action's end or the operations it started.
fn burst<'js>(
    ctx: &Ctx<'js>,
    app: &App,
    control: &Object<'js>,
    shared: &Shared,
    promise: &Promise<'js>,
) -> Result<Burst, JsError> {
    drain_jobs(ctx, shared);
    if aborted(shared) {
        return Err(JsError::new(JsErrorKind::Internal, "aborted"));
    }
    match promise.state() {
        PromiseState::Resolved => {
            let text = promise
                .result::<String>()
                .expect("promise is settled")
                .map_err(|e| JsError::new(JsErrorKind::Internal, format!("invoke result: {e}")));
            return Ok(Burst::Done(text));
        }
        PromiseState::Rejected => {
            let _ = promise.result::<Value>();
            return Ok(Burst::Done(Err(describe_error(ctx, app, control, ctx.catch()))));
        }
        PromiseState::Pending => {}
    }
    if let Some(reason) = first_unhandled(ctx, shared, promise.as_value()) {
        let reason = reason.map_err(|e| internal(ctx, e))?;
        return Ok(Burst::Done(Err(describe_error(ctx, app, control, reason))));
    }
    let taken: Array = call_control(ctx, control, "takeOps", ()).map_err(|e| internal(ctx, e))?;
    let mut out = Vec::with_capacity(taken.len());
    for item in taken.iter::<Array>() {
        let item = item.map_err(|e| internal(ctx, e))?;
        out.push(parse_op(&item).map_err(|e| internal(ctx, e))?);
    }
    Ok(Burst::Ops(out))
}

fn parse_op(item: &Array<'_>) -> rquickjs::Result<NewOp> {
    let id = item.get::<f64>(0)? as u64;
    let kind: String = item.get(1)?;
    Ok(match kind.as_str() {
        "syscall" => NewOp::Syscall { id, op: item.get(2)?, args: item.get(3)? },
        "storeBlob" => {
            let bytes: ArrayBuffer = item.get(3)?;
            // SAFETY: the buffer belongs to this context and stays attached while it is copied
            // here; no JS runs in between.
            let bytes = unsafe { bytes.as_bytes() }.map(<[u8]>::to_vec).unwrap_or_default();
            NewOp::StoreBlob { id, args: item.get(2)?, bytes }
        }
        "getBlob" => NewOp::GetBlob { id, args: item.get(2)? },
        "fetch" => {
            let headers_json: String = item.get(4)?;
            let headers: Vec<(String, String)> = serde_json::from_str(&headers_json)
                .map_err(|e| rquickjs::Error::new_from_js_message("headers", "pairs", e.to_string()))?;
            let body: Option<ArrayBuffer> = item.get(5)?;
            NewOp::Fetch {
                id,
                request: FetchRequest {
                    method: item.get(2)?,
                    url: item.get(3)?,
                    headers,
                    // SAFETY: the buffer belongs to this context and stays attached while it is
                    // copied here; no JS runs in between.
                    body: body.and_then(|b| unsafe { b.as_bytes() }.map(<[u8]>::to_vec)),
                    redirect: item.get(6)?,
                },
            }
        }
        "timer" => {
            let ms: f64 = item.get(2)?;
            let ms = if ms.is_finite() { ms.clamp(0.0, 1e12) } else { 0.0 };
            NewOp::Timer { id, delay: Duration::from_secs_f64(ms / 1000.0) }
        }
        "clearTimer" => NewOp::ClearTimer { id },
        "cancel" => NewOp::Cancel { id },
        other => {
            return Err(rquickjs::Error::new_from_js_message("op", "NewOp", format!("unknown operation kind {other}")));
        }
    })
}

/// `control.begin("action")` then `control.startHttp(...)`: the promise of the response head.
fn start_http<'js>(
    ctx: &Ctx<'js>,
    app: &App,
    control: &Object<'js>,
    shared: &Shared,
    req: &HttpRequest,
) -> Result<Promise<'js>, JsError> {
    call_control::<()>(ctx, control, "begin", ("action",)).map_err(|e| internal(ctx, e))?;
    let headers = serde_json::to_string(&req.headers).unwrap_or_else(|_| "[]".into());
    let body = match &req.body {
        Some(bytes) => Some(ArrayBuffer::new(ctx.clone(), bytes.clone()).map_err(|e| internal(ctx, e))?),
        None => None,
    };
    let started: rquickjs::Result<Value> =
        call_control(ctx, control, "startHttp", (req.method.as_str(), req.url.as_str(), headers, body));
    started_promise(ctx, app, control, shared, started)
}

/// The body of the response an HTTP action returned.
fn take_http_body<'js>(ctx: &Ctx<'js>, control: &Object<'js>) -> Option<Vec<u8>> {
    let body: Option<ArrayBuffer> = call_control(ctx, control, "takeHttpBody", ()).ok()?;
    // SAFETY: the buffer belongs to this context and stays attached while it is copied here.
    body.and_then(|b| unsafe { b.as_bytes() }.map(<[u8]>::to_vec))
}

/// Settles `storage/getBlob` with the file's bytes (a `Blob` in JS) or null.
fn settle_blob<'js>(
    ctx: &Ctx<'js>,
    control: &Object<'js>,
    id: u64,
    blob: Option<crate::StoredBlob>,
) -> rquickjs::Result<()> {
    let (body, content_type) = match blob {
        Some((bytes, content_type)) => (Some(ArrayBuffer::new(ctx.clone(), bytes)?), content_type),
        None => (None, None),
    };
    call_control::<()>(ctx, control, "settleBlob", (id as f64, body, content_type))
}

fn settle_fetch<'js>(ctx: &Ctx<'js>, control: &Object<'js>, id: u64, r: FetchResponse) -> rquickjs::Result<()> {
    let headers = serde_json::to_string(&r.headers).unwrap_or_else(|_| "[]".into());
    let body = ArrayBuffer::new(ctx.clone(), r.body)?;
    call_control::<()>(
        ctx,
        control,
        "settleFetch",
        (id as f64, r.status, r.status_text, r.url, headers, body, r.redirected),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_earliest_first_and_can_be_cleared() {
        let mut t = Timers::default();
        let now = Duration::from_secs(100);
        t.arm(1, now + Duration::from_millis(20));
        t.arm(2, now + Duration::from_millis(10));
        t.arm(3, now + Duration::from_millis(10));
        t.clear(2);
        assert_eq!(t.next_at(), Some(now + Duration::from_millis(10)));
        assert_eq!(t.pop_due(now), None, "nothing is due yet");
        let later = now + Duration::from_millis(30);
        assert_eq!(t.pop_due(later), Some(3));
        assert_eq!(t.pop_due(later), Some(1));
        assert_eq!(t.pop_due(later), None);
        assert!(t.is_empty());
    }

    #[test]
    fn re_arming_a_timer_replaces_it() {
        let mut t = Timers::default();
        let now = Duration::from_secs(100);
        t.arm(1, now + Duration::from_millis(5));
        t.arm(1, now + Duration::from_millis(50));
        assert_eq!(t.by_time.len(), 1);
        assert_eq!(t.next_at(), Some(now + Duration::from_millis(50)));
    }
}
