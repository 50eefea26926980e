//! [`VectorIndexes`]: where a database keeps its loaded vector indexes, one slot per
//! (component, table, index), each behind its own lock.
//!
//! Invariant: a slot is empty until a search loads it; dropping every slot of a component
//! (its schema changed) makes the next search load afresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::matrix::VectorMatrix;
use crate::schema::VectorIndexDefinition;

/// The in-memory vector indexes of a database, by (component, table, index).
#[derive(Default)]
pub(crate) struct VectorIndexes {
    entries: Mutex<HashMap<(String, String, String), IndexSlot>>,
}

/// One index's place in memory: empty until the first search loads it. Its lock is held
/// while a search brings it up to date and scans it.
pub(super) type IndexSlot = Arc<Mutex<Option<LoadedIndex>>>;

impl VectorIndexes {
    /// Forgets every index of `component` (its schema changed).
    pub(crate) fn forget_component(&self, component: &str) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).retain(|(c, _, _), _| c != component);
    }

    pub(super) fn entry(&self, component: &str, table: &str, index: &str) -> IndexSlot {
        let key = (component.to_string(), table.to_string(), index.to_string());
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default().clone()
    }
}

/// One index in memory, as of a commit timestamp.
pub(super) struct LoadedIndex {
    pub def: VectorIndexDefinition,
    pub tid: i64,
    pub as_of_ts: u64,
    pub matrix: VectorMatrix,
}
