//! The steps of [`App::load`], in order.
//!
//! Owns: the sequence that turns an app directory into a loaded [`App`]: build the module graph
//! (`app.rs`), evaluate the app's function realm once in a scratch isolate, evaluate the
//! definitions (`definition_realm.rs`), then add the components' function modules to the
//! graph.
//! Invariants:
//! - A failed load never yields a half-loaded app: every step's error is returned as is, and
//!   the app is handed out only after the last step.
//! - Every module the app's realm evaluates has bytecode when `load` returns (the scratch
//!   isolate compiled it), and an exception of top-level code is reported here.
//! - No other reference to the app survives the evaluations, so the graph can still grow
//!   (`EngineError` otherwise).

use std::sync::Arc;

use crate::definitions::OpaqueDefinition;
use crate::isolate::Isolate;
use crate::{App, EngineOptions, LoadError, definition_realm};

impl App {
    /// Loads, transpiles, resolves and compiles the app, then evaluates it once in a scratch
    /// isolate so that an exception at import time is reported here; then evaluates the
    /// definitions and adds the components' function modules to the graph (transpiled and
    /// resolved, not evaluated: see [`crate::Isolate::for_scope`]).
    pub fn load(options: EngineOptions) -> Result<Arc<App>, LoadError> {
        App::load_with_opaque(options, &[])
    }

    /// [`App::load`], with component definitions that a native implementation replaces: their
    /// `convex.config.*` is neither loaded nor evaluated (see [`App::definitions`]).
    pub fn load_with_opaque(options: EngineOptions, opaque: &[OpaqueDefinition]) -> Result<Arc<App>, LoadError> {
        let (mut app, root_config, mut graph) = App::build_graph(options, opaque)?;
        // Compile every module to bytecode and run the module graph once: import-time errors
        // surface here, never as a half-loaded app.
        let scratch = Isolate::new(app.clone())?;
        drop(scratch);
        let definitions = definition_realm::load(&app, root_config.as_deref(), opaque)?;
        // Every component's function modules join the one graph.
        let Some(loaded) = Arc::get_mut(&mut app) else {
            return Err(LoadError::new(
                "EngineError",
                "the app is still referenced after its definitions were evaluated",
            ));
        };
        loaded.add_definitions(&mut graph, definitions)?;
        Ok(app)
    }
}
