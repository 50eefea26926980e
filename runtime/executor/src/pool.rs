//! Pools of idle JS isolates on the worker thread, one pool per component instance.
//!
//! A running function holds an isolate exclusively; a nested `ctx.runQuery`/`ctx.runMutation`
//! needs a second one (an isolate cannot be re-entered), so a pool hands out one isolate per
//! nesting level and creates more on demand. Isolates are returned after each call and reused;
//! a pool never holds more than the deepest nesting seen so far. (Actions run in the JS
//! threads' own isolates, see `actions.rs`.)
//!
//! Invariant: every isolate of a pool runs the pool's [`Scope`] — one instance's modules with
//! that instance's env — so module state is never shared between instances.

use std::sync::Arc;

use emvex_engine::{App, Isolate, LoadError, Scope};

pub(crate) struct IsolatePool {
    app: Arc<App>,
    scope: Scope,
    idle: Vec<Isolate>,
}

impl IsolatePool {
    pub(crate) fn new(app: Arc<App>, first: Isolate) -> IsolatePool {
        let scope = first.scope().clone();
        IsolatePool { app, scope, idle: vec![first] }
    }

    /// A pool whose first isolate is created on first use.
    pub(crate) fn lazy(app: Arc<App>, scope: Scope) -> IsolatePool {
        IsolatePool { app, scope, idle: Vec::new() }
    }

    /// An idle isolate, or a new one when all are in use.
    pub(crate) fn take(&mut self) -> Result<Isolate, LoadError> {
        match self.idle.pop() {
            Some(isolate) => Ok(isolate),
            None => Isolate::for_scope(self.app.clone(), self.scope.clone()),
        }
    }

    /// Returns an isolate after a call.
    pub(crate) fn put(&mut self, isolate: Isolate) {
        self.idle.push(isolate);
    }

    /// Replaces every idle isolate (after a panic left one in an unknown state).
    pub(crate) fn reset(&mut self) {
        self.idle.clear();
    }
}
