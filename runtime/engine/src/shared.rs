//! The state of one runtime's current execution, shared by its native bindings, its interrupt
//! handler, the call loop and the realm that resets it.
//!
//! Owns: [`Shared`] (the host of the running call, the frozen or real clock, the seeded
//! generator, the deadline, the abort decision, the fatal host error, the unhandled
//! rejections) and [`Abort`], the reasons the Rust side ends an execution.
//! Invariants:
//! - The raw `Host` pointer is only set while `Isolate::invoke` runs on this thread (the
//!   [`HostGuard`] clears it even on a panic); an action's `ActionHost` only while that action
//!   runs on the runtime lent to it.
//! - Time spent in the host does not count against the user's time budget (`pause`).
//! - The first fatal host error of an execution is kept; later ones only re-set the abort.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use emvex_clock::Clock;

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use rquickjs::{Persistent, Value};

use crate::alloc::AllocState;
use crate::{ActionHost, Host, HostError};

/// Why the Rust side ended an execution (decided outside JS, so JS cannot swallow it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abort {
    Timeout,
    OutOfMemory,
    Fatal,
    StackOverflow,
}

/// State shared by the native bindings, the interrupt handler and the call loop.
pub(crate) struct Shared {
    pub(crate) alloc: Rc<AllocState>,
    host: Cell<Option<*mut (dyn Host + 'static)>>,
    /// The host of the action running on this runtime, if any.
    pub(crate) action_host: RefCell<Option<Rc<dyn ActionHost>>>,
    /// Set while an action runs (its start): `Date`/`performance` then read the real clock.
    pub(crate) real_clock: Cell<Option<Duration>>,
    /// Set while an action runs: dynamic `import()` of the app's modules is allowed.
    pub(crate) dynamic_import: Rc<Cell<bool>>,
    pub(crate) rng: RefCell<ChaCha12Rng>,
    /// The frozen `Date.now()` of a query or mutation.
    pub(crate) now_ms: Cell<f64>,
    /// `performance.now()` of a query or mutation, advanced by `perf_step` at each read.
    pub(crate) perf_now: Cell<f64>,
    pub(crate) perf_step: Cell<f64>,
    /// When the running code must stop, on [`Shared::clock`]'s elapsed reading.
    pub(crate) deadline: Cell<Option<Duration>>,
    /// The app's clock: frozen and real `Date.now()`, deadlines.
    pub(crate) clock: Clock,
    pub(crate) abort: Cell<Option<Abort>>,
    pub(crate) fatal: RefCell<Option<HostError>>,
    /// Promises rejected with no handler attached (identity, reason), in rejection order.
    pub(crate) unhandled: RefCell<Vec<(usize, Persistent<Value<'static>>)>>,
}

impl Shared {
    /// The state of a runtime about to evaluate its modules: no host, generator seeded with
    /// `seed`, clock frozen at `now_ms`, top-level code allowed to run until `deadline`.
    pub(crate) fn new(
        alloc: Rc<AllocState>,
        dynamic_import: Rc<Cell<bool>>,
        seed: [u8; 32],
        now_ms: f64,
        deadline: Duration,
        clock: Clock,
    ) -> Shared {
        Shared {
            dynamic_import,
            alloc,
            host: Cell::new(None),
            action_host: RefCell::new(None),
            real_clock: Cell::new(None),
            rng: RefCell::new(ChaCha12Rng::from_seed(seed)),
            now_ms: Cell::new(now_ms),
            perf_now: Cell::new(0.0),
            perf_step: Cell::new(0.0),
            deadline: Cell::new(Some(deadline)),
            clock,
            abort: Cell::new(None),
            fatal: RefCell::new(None),
            unhandled: RefCell::new(Vec::new()),
        }
    }

    /// Sets the host the syscalls of the running query or mutation go to.
    ///
    /// # Safety
    /// `host` must stay valid, and be used by nothing else, until [`Shared::clear_host`] runs
    /// (a [`HostGuard`] runs it on drop); it is only dereferenced on this thread.
    pub(crate) unsafe fn set_host(&self, host: *mut (dyn Host + 'static)) {
        self.host.set(Some(host));
    }

    /// Forgets the host of the last query or mutation.
    pub(crate) fn clear_host(&self) {
        self.host.set(None);
    }

    /// Host time does not count against the user's time budget.
    fn pause(&self, spent: Duration) {
        if let Some(d) = self.deadline.get() {
            self.deadline.set(Some(d + spent));
        }
    }

    /// Records a fatal host error (the first one is kept) and aborts the execution.
    pub(crate) fn set_fatal(&self, e: HostError) {
        let mut fatal = self.fatal.borrow_mut();
        if fatal.is_none() {
            *fatal = Some(e);
        }
        self.abort.set(Some(Abort::Fatal));
    }

    /// Calls the host of the running query or mutation (`None`: no host is set), without
    /// counting the time against the user's budget.
    pub(crate) fn call_host<R>(&self, f: impl FnOnce(&mut dyn Host) -> R) -> Option<R> {
        let host = self.host.get()?;
        let t0 = self.clock.elapsed();
        // SAFETY: `host` is set by `Isolate::invoke` from a `&mut dyn Host` that outlives the
        // call, only for its duration, on this thread; it is cleared before `invoke` returns
        // (see `set_host`). The host never re-enters the isolate, so there is no aliasing `&mut`.
        let r = f(unsafe { &mut *host });
        self.pause(self.clock.elapsed().saturating_sub(t0));
        Some(r)
    }
}

/// Clears the per-call host pointer, deadline and memory limit when dropped.
pub(crate) struct HostGuard(pub(crate) Rc<Shared>);

impl Drop for HostGuard {
    fn drop(&mut self) {
        self.0.clear_host();
        self.0.deadline.set(None);
        self.0.alloc.limit.set(usize::MAX);
    }
}
