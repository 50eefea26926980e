//! Calls into the prelude's `control` object, and the marshalling of a call's result.
//!
//! Owns: starting a call (`control.begin` then `control.start*`), the loop of a query or
//! mutation (FIFO async syscalls answered by the `Host`, microtasks drained between them),
//! ending a call (`control.end`, which returns its log lines), and turning what JS threw or
//! rejected with, or what the Rust side aborted, into a [`JsError`].
//! Invariants:
//! - A call's error is decided in this order: an abort decided on the Rust side
//!   ([`abort_error`]: out of memory, timeout, stack overflow, fatal host error) wins over
//!   anything JS did; then the function's own rejection; then the first promise rejected
//!   without a handler.
//! - Async syscalls of a query or mutation are answered strictly in issue order, one at a
//!   time, each after the microtasks queued so far have run.
//! - `control.end` runs even after an abort (it is engine code), with the abort flags restored
//!   after it.

// `JsError` is the crate's public error type; the helpers return it as is, as `invoke` does.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use rquickjs::promise::PromiseState;
use rquickjs::{Ctx, Function, Object, Persistent, Value};

use crate::quickjs_ffi::object_identity;
use crate::shared::{Abort, Shared};
use crate::stack::map_stack;
use crate::{App, HostError, Invocation, JsError, JsErrorKind};

/// Calls `control[name](...args)`: the prelude's entry points for the engine.
pub(crate) fn call_control<'js, R: rquickjs::FromJs<'js>>(
    _ctx: &Ctx<'js>,
    control: &Object<'js>,
    name: &str,
    args: impl rquickjs::function::IntoArgs<'js>,
) -> rquickjs::Result<R> {
    let f: Function = control.get(name)?;
    f.call(args)
}

/// Runs queued jobs until none is left or the execution is aborted.
pub(crate) fn drain_jobs(ctx: &Ctx<'_>, shared: &Shared) {
    while shared.abort.get().is_none() && ctx.execute_pending_job() {}
}

/// Turns a thrown/rejected JS value into a [`JsError`] (message, mapped stack, ConvexError data).
pub(crate) fn describe_error<'js>(ctx: &Ctx<'js>, app: &App, control: &Object<'js>, reason: Value<'js>) -> JsError {
    let info: rquickjs::Result<rquickjs::Array> = call_control(ctx, control, "errorInfo", (reason,));
    let info = info
        .and_then(|a| Ok((a.get::<String>(0)?, a.get::<String>(1)?, a.get::<String>(2)?, a.get::<Option<String>>(3)?)));
    let (kind, message, stack, data) = match info {
        Ok(v) => v,
        Err(_) => {
            let _ = ctx.catch();
            return JsError::new(JsErrorKind::Uncaught, "Uncaught exception (could not be described)");
        }
    };
    let stack = if stack.trim().is_empty() { None } else { Some(map_stack(app, &stack)) };
    if kind == "convex" {
        let text = data.unwrap_or_else(|| "null".into());
        return match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(data) => JsError { kind: JsErrorKind::ConvexError, message, stack, data: Some(data) },
            Err(_) => JsError {
                kind: JsErrorKind::Uncaught,
                message: format!("ConvexError with invalid data: {text}"),
                stack,
                data: None,
            },
        };
    }
    let kind = if message.ends_with("Maximum call stack size exceeded") {
        JsErrorKind::StackOverflow
    } else {
        JsErrorKind::Uncaught
    };
    JsError { kind, message, stack, data: None }
}

/// The body of `invoke`, inside the context.
pub(crate) fn run_invocation<'js>(
    ctx: &Ctx<'js>,
    app: &App,
    control: Persistent<Object<'static>>,
    shared: &Shared,
    inv: &Invocation,
) -> (Result<String, JsError>, Vec<String>) {
    let control = match control.restore(ctx) {
        Ok(c) => c,
        Err(e) => return (Err(JsError::new(JsErrorKind::Internal, e.to_string())), Vec::new()),
    };
    let result = run_loop(ctx, app, &control, shared, inv);
    (result, end_call(ctx, &control, shared))
}

/// Ends a call on the JS side and returns its log lines. Runs even after an abort: `end` is
/// engine code, so it runs unthrottled and the abort/out-of-memory flags are restored after.
pub(crate) fn end_call<'js>(ctx: &Ctx<'js>, control: &Object<'js>, shared: &Shared) -> Vec<String> {
    let saved_abort = shared.abort.take();
    let saved_oom = shared.alloc.oom.replace(false);
    let logs: Vec<String> = call_control(ctx, control, "end", ()).unwrap_or_else(|_| {
        let _ = ctx.catch();
        Vec::new()
    });
    shared.abort.set(saved_abort);
    shared.alloc.oom.set(saved_oom || shared.alloc.oom.get());
    logs
}

/// An unexpected engine failure (the pending exception, if any, is cleared).
pub(crate) fn internal_error(ctx: &Ctx<'_>, e: rquickjs::Error) -> JsError {
    let _ = ctx.catch();
    JsError::new(JsErrorKind::Internal, format!("engine error: {e}"))
}

/// Whether an abort decided on the Rust side (limit hit, fatal host error) ends the call.
pub(crate) fn aborted(shared: &Shared) -> bool {
    shared.abort.get().is_some() || shared.alloc.oom.get()
}

/// The reason of the first promise rejected without a handler, other than `main`'s.
pub(crate) fn first_unhandled<'js>(
    ctx: &Ctx<'js>,
    shared: &Shared,
    main: &Value<'js>,
) -> Option<rquickjs::Result<Value<'js>>> {
    let reason = {
        let list = shared.unhandled.borrow();
        list.iter().find(|(p, _)| *p != object_identity(main)).map(|(_, r)| r.clone())
    };
    reason.map(|r| r.restore(ctx))
}

/// `control.begin(kind)` then `control.start(...)`: the promise of the function's result.
pub(crate) fn start_call<'js>(
    ctx: &Ctx<'js>,
    app: &App,
    control: &Object<'js>,
    shared: &Shared,
    inv: &Invocation,
) -> Result<rquickjs::Promise<'js>, JsError> {
    let internal = |e: rquickjs::Error| internal_error(ctx, e);
    call_control::<()>(ctx, control, "begin", (inv.kind.as_str(),)).map_err(internal)?;
    let started: rquickjs::Result<Value> = call_control(
        ctx,
        control,
        "start",
        (inv.kind.as_str(), inv.module.as_str(), inv.name.as_str(), inv.args_json.as_str()),
    );
    started_promise(ctx, app, control, shared, started)
}

/// The promise a `control.start*` call returned; a string it returned instead is an engine-side
/// refusal (unknown function, wrong kind, ...), a throw is described as the call's error.
pub(crate) fn started_promise<'js>(
    ctx: &Ctx<'js>,
    app: &App,
    control: &Object<'js>,
    shared: &Shared,
    started: rquickjs::Result<Value<'js>>,
) -> Result<rquickjs::Promise<'js>, JsError> {
    let started = match started {
        Ok(v) => v,
        Err(rquickjs::Error::Exception) => {
            let reason = ctx.catch();
            if aborted(shared) {
                return Err(JsError::new(JsErrorKind::Internal, "aborted"));
            }
            return Err(describe_error(ctx, app, control, reason));
        }
        Err(e) => return Err(internal_error(ctx, e)),
    };
    if let Some(text) = started.as_string() {
        let text = text.to_string().unwrap_or_default();
        return Err(JsError::new(JsErrorKind::Internal, text));
    }
    started.into_promise().ok_or_else(|| JsError::new(JsErrorKind::Internal, "invoke did not return a promise"))
}

fn run_loop<'js>(
    ctx: &Ctx<'js>,
    app: &App,
    control: &Object<'js>,
    shared: &Shared,
    inv: &Invocation,
) -> Result<String, JsError> {
    let internal = |e: rquickjs::Error| internal_error(ctx, e);
    let promise = start_call(ctx, app, control, shared, inv)?;
    let next: Function = control.get("next").map_err(internal)?;
    let resolve: Function = control.get("resolveCurrent").map_err(internal)?;
    let reject: Function = control.get("rejectCurrent").map_err(internal)?;
    loop {
        drain_jobs(ctx, shared);
        if aborted(shared) {
            return Err(JsError::new(JsErrorKind::Internal, "aborted"));
        }
        if promise.state() == PromiseState::Rejected {
            let _ = promise.result::<Value>();
            return Err(describe_error(ctx, app, control, ctx.catch()));
        }
        // An unhandled rejection anywhere ends the execution with that error.
        if let Some(reason) = first_unhandled(ctx, shared, promise.as_value()) {
            let reason = reason.map_err(internal)?;
            return Err(describe_error(ctx, app, control, reason));
        }
        let item: Option<(String, String)> = match next.call::<_, Value>(()) {
            Ok(v) if v.is_undefined() => None,
            Ok(v) => {
                let arr = v.into_array().ok_or_else(|| JsError::new(JsErrorKind::Internal, "bad queue item"))?;
                let op: String = arr.get(0).map_err(internal)?;
                let args: String = arr.get(1).map_err(internal)?;
                Some((op, args))
            }
            Err(e) => return Err(internal(e)),
        };
        let Some((op, args)) = item else {
            return match promise.state() {
                PromiseState::Resolved => promise
                    .result::<String>()
                    .expect("promise is settled")
                    .map_err(|e| JsError::new(JsErrorKind::Internal, format!("invoke result: {e}"))),
                PromiseState::Rejected => {
                    let _ = promise.result::<Value>();
                    Err(describe_error(ctx, app, control, ctx.catch()))
                }
                PromiseState::Pending => {
                    Err(JsError::new(JsErrorKind::Uncaught, "Returned promise will never resolve"))
                }
            };
        };
        let answer =
            shared.call_host(|h| h.async_syscall(&op, &args)).unwrap_or_else(|| Err(HostError::internal("no host")));
        let settled = match answer {
            Ok(text) => resolve.call::<_, ()>((text,)),
            Err(e) if e.is_internal() => {
                let message = e.message.clone();
                shared.set_fatal(e);
                return Err(JsError::new(JsErrorKind::HostFatal, message));
            }
            Err(e) => {
                let data = e.data.as_ref().map(|d| d.to_string());
                reject.call::<_, ()>((e.message, data))
            }
        };
        settled.map_err(internal)?;
    }
}

/// The error an abort decided on the Rust side ends the call with (`None`: no abort), and
/// whether the runtime ran out of memory (it must then be rebuilt). Takes the fatal host error.
pub(crate) fn abort_error(app: &App, shared: &Shared, timeout: Duration) -> (bool, Option<JsError>) {
    let oom = shared.alloc.oom.get() || shared.abort.get() == Some(Abort::OutOfMemory);
    let fatal = shared.fatal.borrow_mut().take();
    let error = match (oom, shared.abort.get()) {
        (true, _) => Some(JsError::new(
            JsErrorKind::OutOfMemory,
            format!(
                "JavaScript execution ran out of memory (maximum memory usage: {} MB)",
                app.limits.memory_bytes >> 20
            ),
        )),
        (false, Some(Abort::Timeout)) => Some(JsError::new(
            JsErrorKind::Timeout,
            format!("Function execution timed out (maximum duration: {timeout:?})"),
        )),
        (false, Some(Abort::StackOverflow)) => {
            Some(JsError::new(JsErrorKind::StackOverflow, "Uncaught RangeError: Maximum call stack size exceeded"))
        }
        (false, Some(Abort::Fatal)) => {
            let message = fatal.map(|f| f.message).unwrap_or_else(|| "host error".into());
            Some(JsError::new(JsErrorKind::HostFatal, message))
        }
        // `oom` already covers an out-of-memory abort.
        (false, None | Some(Abort::OutOfMemory)) => None,
    };
    (oom, error)
}
