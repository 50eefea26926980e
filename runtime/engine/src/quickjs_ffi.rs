//! Direct calls into QuickJS's C API for what rquickjs does not wrap.
//!
//! Owns: the QuickJS version string, the native stack top of a runtime, the identity of a JS
//! object, and the "uncatchable" flag of an error.
//! Invariants: every function here takes live rquickjs handles (so the pointers it passes are
//! valid for the call), keeps no pointer past the call, and carries its own `SAFETY` note; no
//! other module calls `rquickjs::qjs` functions.

use rquickjs::{Ctx, Exception, Value};

/// The version of QuickJS compiled in (part of the bytecode cache key).
pub(crate) fn quickjs_version() -> String {
    // SAFETY: `JS_GetVersion` returns a pointer to a static NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(rquickjs::qjs::JS_GetVersion()) };
    v.to_string_lossy().into_owned()
}

/// Records the current native stack position as the top of `ctx`'s runtime, so the stack
/// limit is measured from here (call it on entering a context from a new stack depth).
pub(crate) fn update_stack_top(ctx: &Ctx<'_>) {
    // SAFETY: `ctx` is a live context; `JS_UpdateStackTop` only records the current native
    // stack position of its runtime so the stack limit is measured from here.
    unsafe { rquickjs::qjs::JS_UpdateStackTop(rquickjs::qjs::JS_GetRuntime(ctx.as_raw().as_ptr())) };
}

/// Identity of a JS object value (its heap pointer).
pub(crate) fn object_identity(v: &Value<'_>) -> usize {
    // SAFETY: reading the pointer bits of a live value; it is only compared, never dereferenced.
    unsafe { rquickjs::qjs::JS_VALUE_GET_PTR(v.as_raw()) as usize }
}

/// Marks `err` so that no JS `catch` can intercept it once thrown.
pub(crate) fn make_uncatchable(ctx: &Ctx<'_>, err: &Exception<'_>) {
    // SAFETY: `err` is a live Error object of this context; the call only sets its
    // "uncatchable" flag.
    unsafe { rquickjs::qjs::JS_SetUncatchableError(ctx.as_raw().as_ptr(), err.as_raw()) };
}
