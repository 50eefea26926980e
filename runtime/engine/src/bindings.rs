//! The native bindings: the Rust functions the prelude builds the JS globals on.
//!
//! Owns: the `native` object handed to the prelude — the syscall bridge (`syscall`, to the
//! query/mutation `Host` or the action's `ActionHost`), `checkCaught` (makes an engine-fatal
//! condition caught by user code uncatchable), `crypto.subtle` hashing (`digest`, `hmac`),
//! seeded randomness (`random`, `randomBytes`), the clocks (`now`, `wallNow`, `perfNow`) and
//! `mapStack`.
//! Invariants:
//! - Bindings read and write only the runtime's [`Shared`] state; they never hold a host
//!   across calls.
//! - A syscall made after an abort throws; a fatal host error aborts the execution (it is
//!   thrown as an internal error so that JS cannot handle it); in actions every syscall error
//!   is catchable.
//! - `now` is the frozen time of a query or mutation, the real clock while an action runs;
//!   `wallNow` is always real (for `console.time` only).
//! - Buffers read here are fresh copies made by the prelude; no JS runs while they are read.

use std::rc::Rc;
use std::sync::Arc;

use rand::Rng;
use rquickjs::{ArrayBuffer, Ctx, Exception, Function, Object};

use crate::App;
use crate::quickjs_ffi::make_uncatchable;
use crate::shared::{Abort, Shared};
use crate::stack::map_stack;

/// The native bindings the prelude builds the globals on.
pub(crate) fn install_native<'js>(ctx: &Ctx<'js>, shared: Rc<Shared>, app: Arc<App>) -> rquickjs::Result<Object<'js>> {
    let native = Object::new(ctx.clone())?;
    native.set("mapStack", Function::new(ctx.clone(), move |stack: String| -> String { map_stack(&app, &stack) })?)?;
    let s = shared.clone();
    native.set(
        "syscall",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, op: String, args: String| -> rquickjs::Result<String> {
            if s.abort.get().is_some() {
                return Err(Exception::throw_internal(&ctx, "execution aborted"));
            }
            let action_host = s.action_host.borrow().clone();
            if let Some(host) = action_host {
                // In actions every syscall error is catchable (the action's clock runs on).
                return host.syscall(&op, &args).map_err(|e| Exception::throw_message(&ctx, &e.message));
            }
            match s.call_host(|h| h.syscall(&op, &args)) {
                None => Err(Exception::throw_message(
                    &ctx,
                    "Convex syscalls are only available while a Convex function runs",
                )),
                Some(Ok(text)) => Ok(text),
                Some(Err(e)) if e.is_internal() => {
                    let msg = e.message.clone();
                    s.set_fatal(e);
                    Err(Exception::throw_internal(&ctx, &msg))
                }
                Some(Err(e)) => Err(Exception::throw_message(&ctx, &e.message)),
            }
        })?,
    )?;
    let s = shared.clone();
    native.set(
        "checkCaught",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, stack_overflow: bool| -> rquickjs::Result<()> {
            if stack_overflow && s.abort.get().is_none() {
                s.abort.set(Some(Abort::StackOverflow));
            }
            if s.abort.get().is_none() && !s.alloc.oom.get() {
                return Ok(());
            }
            // An engine-fatal condition was caught by user code: rethrow it uncatchably.
            let err = Exception::from_message(ctx.clone(), "execution aborted")?;
            make_uncatchable(&ctx, &err);
            Err(err.throw())
        })?,
    )?;
    // `crypto.subtle`: the prelude validates names and arguments; errors here are TypeErrors.
    native.set(
        "digest",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, name: String, data: ArrayBuffer<'js>| -> rquickjs::Result<ArrayBuffer<'js>> {
                let hash = crate::subtle::Hash::parse(&name)
                    .ok_or_else(|| Exception::throw_type(&ctx, &format!("unsupported hash {name}")))?;
                // SAFETY: the buffer is a fresh copy made by the prelude; no JS runs while it is read.
                let bytes = unsafe { data.as_bytes() }.unwrap_or(&[]).to_vec();
                ArrayBuffer::new(ctx, hash.digest(&[&bytes]))
            },
        )?,
    )?;
    native.set(
        "hmac",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             name: String,
             key: ArrayBuffer<'js>,
             data: ArrayBuffer<'js>|
             -> rquickjs::Result<ArrayBuffer<'js>> {
                let hash = crate::subtle::Hash::parse(&name)
                    .ok_or_else(|| Exception::throw_type(&ctx, &format!("unsupported hash {name}")))?;
                // SAFETY: both buffers are fresh copies made by the prelude; no JS runs meanwhile.
                let (key, data) =
                    unsafe { (key.as_bytes().unwrap_or(&[]).to_vec(), data.as_bytes().unwrap_or(&[]).to_vec()) };
                ArrayBuffer::new(ctx, hash.hmac(&key, &data))
            },
        )?,
    )?;
    let s = shared.clone();
    native.set("random", Function::new(ctx.clone(), move || -> f64 { s.rng.borrow_mut().random::<f64>() })?)?;
    let s = shared.clone();
    native.set(
        "randomBytes",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, n: usize| -> rquickjs::Result<ArrayBuffer<'js>> {
            let mut bytes = vec![0u8; n.min(65536)];
            s.rng.borrow_mut().fill(&mut bytes[..]);
            ArrayBuffer::new(ctx, bytes)
        })?,
    )?;
    let s = shared.clone();
    native.set(
        "now",
        Function::new(ctx.clone(), move || -> f64 {
            if s.real_clock.get().is_some() { s.clock.now_whole_ms() } else { s.now_ms.get() }
        })?,
    )?;
    // Real time, for console.time durations only (as Convex does).
    let clock = shared.clock.clone();
    native.set("wallNow", Function::new(ctx.clone(), move || -> f64 { clock.now_whole_ms() })?)?;
    let s = shared;
    native.set(
        "perfNow",
        Function::new(ctx.clone(), move || -> f64 {
            if let Some(start) = s.real_clock.get() {
                return s.clock.elapsed().saturating_sub(start).as_secs_f64() * 1000.0;
            }
            let v = s.perf_now.get() + s.perf_step.get();
            s.perf_now.set(v);
            v
        })?,
    )?;
    Ok(native)
}
