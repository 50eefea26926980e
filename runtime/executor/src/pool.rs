//! A pool of idle JS isolates on the worker thread.
//!
//! A running function holds an isolate exclusively; a nested `ctx.runQuery`/`ctx.runMutation`
//! needs a second one (an isolate cannot be re-entered), so the pool hands out one isolate per
//! nesting level and creates more on demand. Isolates are returned after each call and reused;
//! the pool never holds more than the deepest nesting seen so far.

use std::sync::Arc;

use emvex_engine::{App, Isolate, LoadError};

pub struct IsolatePool {
    app: Arc<App>,
    idle: Vec<Isolate>,
}

impl IsolatePool {
    pub fn new(app: Arc<App>, first: Isolate) -> IsolatePool {
        IsolatePool { app, idle: vec![first] }
    }

    /// An idle isolate, or a new one when all are in use.
    pub fn take(&mut self) -> Result<Isolate, LoadError> {
        match self.idle.pop() {
            Some(isolate) => Ok(isolate),
            None => Isolate::new(self.app.clone()),
        }
    }

    /// Returns an isolate after a call.
    pub fn put(&mut self, isolate: Isolate) {
        self.idle.push(isolate);
    }

    /// Replaces every idle isolate (after a panic left one in an unknown state).
    pub fn reset(&mut self) {
        self.idle.clear();
    }
}
