//! The deployment's live queries: one shared entry per distinct `(instance, function, args,
//! admin, journal)`, its latest result, the read set it was computed with, and when a commit
//! made it stale (`spec/sync-protocol.md` §5).
//!
//! Owns: computing an entry once however many sockets subscribe to it, the invalidation index
//! over the read sets of all current results, and recomputing an entry when a commit overlaps
//! its read set, then waking the sockets that hold it if its result changed.
//!
//! Invariants:
//! - `notified_ts` is the ts of the last commit the index has seen; commits are seen in ts
//!   order (the database calls [`Subscriptions::on_commit`] on the single writer, after COMMIT).
//! - An entry's result, computed at snapshot `computed_at`, is correct at every ts in
//!   `[computed_at, invalidated_at)`, `invalidated_at` being the first later commit that may
//!   have changed it: each commit after `computed_at` is checked against its read set, either by
//!   the index (commits seen after the entry was registered) or by the database's commit log
//!   (commits between its snapshot and its registration). If the log no longer covers that
//!   span, the result counts as correct at its snapshot only: conservative, never missed (G1,
//!   G4).
//! - A stale entry is recomputed by the refresher until it is current, and each new result is
//!   offered to its sockets (even one already stale again: it was correct at its snapshot), so
//!   a stream of commits faster than the query still moves its subscribers forward.
//! - An entry lives while a socket holds it; the last release removes it and its index
//!   entries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use emvex_database::{Database, ReadSet, SubscriptionIndex, WriteSet};
use emvex_executor::{CallError, CallRequest, Executor, FunctionKind, UserIdentity, new_request_id};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::protocol::QueryState;

/// What makes two subscriptions the same computation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueryKey {
    /// The instance path (`""` for the app).
    pub component: String,
    pub udf_path: String,
    /// The arguments' JSON text (`[argsObject]`), as sent.
    pub args: String,
    pub admin: bool,
    /// The signed-in user the query runs for: results are shared only by sockets of one user.
    pub identity: Option<UserIdentity>,
    pub journal: Option<String>,
}

/// A query's outcome as Transitions carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// Printed once for every socket that receives it.
    pub state: Arc<QueryState>,
    /// The journal the query left (its single `paginate()`'s end cursor), for the client.
    pub journal: Option<String>,
    /// Identifies the result's content (value or error text without request id, log lines,
    /// journal): a socket sends a result only when this changed (G5).
    pub fingerprint: [u8; 32],
}

/// Identifies an entry.
pub type EntryId = u64;

struct Entry {
    key: QueryKey,
    result: Option<Arc<QueryResult>>,
    /// The snapshot ts of `result`.
    computed_at: u64,
    /// The first commit after `computed_at` that may have changed the result.
    invalidated_at: Option<u64>,
    /// What `result` read.
    reads: Arc<ReadSet>,
    /// Holds on the entry by socket: how many of its queries use it (a socket may hold it for
    /// two), and what wakes the socket when the entry has a new result.
    holders: HashMap<u64, (usize, Arc<Notify>)>,
    /// A computation is running; others wait on `computed` instead of starting their own.
    computing: bool,
    computed: Arc<Notify>,
    /// A recompute loop of the refresher owns the entry (it is stale, or about to be checked).
    refreshing: bool,
}

impl Entry {
    /// Hands a stale entry to the refresher unless a loop there already owns it.
    fn claim_refresh(&mut self, id: EntryId) -> Option<StaleEntry> {
        if self.refreshing {
            return None;
        }
        self.refreshing = true;
        Some((id, self.result.as_ref().map_or([0; 32], |r| r.fingerprint)))
    }
}

struct State {
    entries: HashMap<EntryId, Entry>,
    by_key: HashMap<QueryKey, EntryId>,
    index: SubscriptionIndex<EntryId>,
    next_id: EntryId,
    notified_ts: u64,
}

impl State {
    /// Gives entry `id` a result correct from `computed_at` until `invalidated_at`. A current
    /// one is registered in the index; a stale one is claimed for the refresher (no commit will
    /// report it again), and returned to be sent there.
    fn set_result(
        &mut self,
        id: EntryId,
        result: Option<Arc<QueryResult>>,
        computed_at: u64,
        invalidated_at: Option<u64>,
        reads: Arc<ReadSet>,
    ) -> Option<StaleEntry> {
        let entry = self.entries.get_mut(&id)?;
        entry.result = result;
        entry.computed_at = computed_at;
        entry.invalidated_at = invalidated_at;
        entry.reads = reads.clone();
        let stale = if invalidated_at.is_some() { entry.claim_refresh(id) } else { None };
        self.index.remove(id);
        if invalidated_at.is_none() {
            self.index.insert(id, &reads);
        }
        stale
    }
}

/// The shared live queries of one deployment.
pub struct Subscriptions {
    state: Mutex<State>,
    executor: Executor,
    db: Database,
    /// Woken after every commit the index has seen (sockets waiting for `notified_ts` to reach a
    /// snapshot).
    commit_seen: Notify,
    refresher: Refresher,
}

/// An entry a commit made stale, with the fingerprint of the result its sockets were offered.
type StaleEntry = (EntryId, [u8; 32]);

/// Recomputes stale entries, then wakes the sockets whose result changed: a socket is woken
/// once, when there is something new to send (not once to learn of the commit and again when a
/// shared result is ready). The commit listener runs on the writer's thread, outside the async
/// runtime, so it only hands each commit's stale entries to this task (one cross-thread
/// wake-up per commit, not one per socket). At most one recompute loop runs per entry
/// (`Entry::refreshing`).
struct Refresher {
    sender: tokio::sync::mpsc::UnboundedSender<Vec<StaleEntry>>,
}

impl Refresher {
    /// A refresher on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    fn start(subscriptions: std::sync::Weak<Subscriptions>) -> Refresher {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Vec<StaleEntry>>();
        tokio::runtime::Handle::current().spawn(async move {
            while let Some(batch) = receiver.recv().await {
                let Some(subscriptions) = subscriptions.upgrade() else { return };
                for (id, before) in batch {
                    tokio::spawn(subscriptions.clone().refresh_and_wake(id, before));
                }
            }
        });
        Refresher { sender }
    }

    fn send(&self, stale: Vec<StaleEntry>) {
        if !stale.is_empty() {
            // Fails only while the runtime shuts down, when nothing is served any more.
            let _ = self.sender.send(stale);
        }
    }
}

/// An entry's current result and the span of timestamps it is correct at.
#[derive(Debug, Clone, PartialEq)]
pub struct Validity {
    pub result: Arc<QueryResult>,
    /// The snapshot it was computed at: correct from here…
    pub from: u64,
    /// …until just before this commit (the first one that may have changed it); `None`: no
    /// such commit up to the last one the index has seen.
    pub until: Option<u64>,
}

impl Subscriptions {
    /// Live queries over `executor`'s database, hooked to its commits; their recomputing runs
    /// on the current tokio runtime (this panics outside one).
    pub fn start(executor: Executor) -> Arc<Subscriptions> {
        let db = executor.database().clone();
        let subscriptions = Arc::new_cyclic(|weak| Subscriptions {
            state: Mutex::new(State {
                entries: HashMap::new(),
                by_key: HashMap::new(),
                index: SubscriptionIndex::default(),
                next_id: 1,
                notified_ts: db.latest_commit_ts(),
            }),
            executor,
            db: db.clone(),
            commit_seen: Notify::new(),
            refresher: Refresher::start(weak.clone()),
        });
        let weak = Arc::downgrade(&subscriptions);
        db.on_commit(Box::new(move |ts, writes| {
            if let Some(subscriptions) = weak.upgrade() {
                subscriptions.on_commit(ts, writes);
            }
        }));
        subscriptions
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The ts of the last commit the index has seen: the label of the next Transition.
    pub fn notified_ts(&self) -> u64 {
        self.lock().notified_ts
    }

    /// Marks the entries `writes` may change as stale at `ts` and has them recomputed.
    fn on_commit(&self, ts: u64, writes: &Arc<WriteSet>) {
        let mut stale = Vec::new();
        {
            let mut state = self.lock();
            let state = &mut *state;
            for id in state.index.affected(writes) {
                // A result computed at or after this commit already reflects it.
                if let Some(entry) = state.entries.get_mut(&id)
                    && entry.invalidated_at.is_none()
                    && ts > entry.computed_at
                {
                    state.index.remove(id);
                    entry.invalidated_at = Some(ts);
                    stale.extend(entry.claim_refresh(id));
                }
            }
            state.notified_ts = state.notified_ts.max(ts);
        }
        self.commit_seen.notify_waiters();
        self.refresher.send(stale);
    }

    /// Recomputes a stale entry until it is current, waking its sockets each time its result
    /// differs from the one they were last offered (`before`), or could not be computed (they
    /// find out why). A result that commits made stale while it was computed is still offered:
    /// it is correct at its snapshot.
    async fn refresh_and_wake(self: Arc<Self>, id: EntryId, mut before: [u8; 32]) {
        loop {
            let computed = self.refresh(id).await;
            let (woken, again) = {
                let mut state = self.lock();
                let notified_ts = state.notified_ts;
                let Some(entry) = state.entries.get_mut(&id) else { return };
                let after = entry.result.as_ref().map(|r| r.fingerprint);
                let woken: Vec<Arc<Notify>> = if !computed || after != Some(before) {
                    entry.holders.values().map(|(_, wake)| wake.clone()).collect()
                } else {
                    Vec::new()
                };
                let current = entry.invalidated_at.is_none_or(|at| at > notified_ts);
                let again = match after {
                    Some(after) if computed && !current => Some(after),
                    _ => None,
                };
                if again.is_none() {
                    entry.refreshing = false;
                }
                (woken, again)
            };
            for notify in woken {
                notify.notify_one();
            }
            match again {
                Some(after) => before = after,
                None => return,
            }
        }
    }

    /// Waits until the index has seen commit `ts` (a query ran at a snapshot the commit
    /// listener has not reported yet: the instant between COMMIT and the listener). `false`
    /// when it has not within `patience`: the commit was made by another process on the same
    /// file (`emvex run` beside `emvex dev`), which no listener here ever reports.
    pub async fn wait_for_commit(&self, ts: u64, patience: std::time::Duration) -> bool {
        let wait = async {
            loop {
                let seen = self.commit_seen.notified();
                if self.notified_ts() >= ts {
                    return;
                }
                seen.await;
            }
        };
        tokio::time::timeout(patience, wait).await.is_ok()
    }

    /// Takes a hold on the entry for `key` (created without a result if new); `watcher` is
    /// woken when the entry has a new result.
    pub fn acquire(&self, key: QueryKey, socket: u64, watcher: Arc<Notify>) -> EntryId {
        let mut state = self.lock();
        let id = match state.by_key.get(&key) {
            Some(id) => *id,
            None => {
                let id = state.next_id;
                state.next_id += 1;
                state.by_key.insert(key.clone(), id);
                state.entries.insert(
                    id,
                    Entry {
                        key,
                        result: None,
                        computed_at: 0,
                        invalidated_at: None,
                        reads: Arc::new(ReadSet::default()),
                        holders: HashMap::new(),
                        computing: false,
                        computed: Arc::new(Notify::new()),
                        refreshing: false,
                    },
                );
                id
            }
        };
        let entry = state.entries.get_mut(&id).expect("entry exists");
        entry.holders.entry(socket).or_insert_with(|| (0, watcher)).0 += 1;
        id
    }

    /// Releases one hold of `socket`; the last hold removes the entry.
    pub fn release(&self, id: EntryId, socket: u64) {
        let mut state = self.lock();
        let Some(entry) = state.entries.get_mut(&id) else { return };
        if let Some((count, _)) = entry.holders.get_mut(&socket) {
            *count -= 1;
            if *count == 0 {
                entry.holders.remove(&socket);
            }
        }
        if !entry.holders.is_empty() {
            return;
        }
        let key = entry.key.clone();
        state.entries.remove(&id);
        state.by_key.remove(&key);
        state.index.remove(id);
    }

    /// Moves a hold from `id` to the entry of the same query with journal `journal` (a page
    /// whose end is now fixed), carrying the result over when that entry has none: running the
    /// query with the journal it just produced gives the same result.
    pub fn rekey(&self, id: EntryId, journal: Option<String>, socket: u64, watcher: Arc<Notify>) -> EntryId {
        let (key, carried) = {
            let state = self.lock();
            let Some(entry) = state.entries.get(&id) else { return id };
            if entry.key.journal == journal {
                return id;
            }
            let key = QueryKey { journal, ..entry.key.clone() };
            (key, (entry.result.clone(), entry.computed_at, entry.invalidated_at, entry.reads.clone()))
        };
        let new_id = self.acquire(key, socket, watcher);
        {
            let mut state = self.lock();
            let new_entry = state.entries.get(&new_id).expect("just acquired");
            if new_entry.result.is_none() && !new_entry.computing {
                let (result, computed_at, invalidated_at, reads) = carried;
                let stale = state.set_result(new_id, result, computed_at, invalidated_at, reads);
                drop(state);
                self.refresher.send(stale.into_iter().collect());
            }
        }
        self.release(id, socket);
        new_id
    }

    /// Entry `id`'s result and when it is correct; `None` while it has none.
    pub fn validity(&self, id: EntryId) -> Option<Validity> {
        let state = self.lock();
        let entry = state.entries.get(&id)?;
        let result = entry.result.clone()?;
        Some(Validity { result, from: entry.computed_at, until: entry.invalidated_at })
    }

    /// Brings entry `id` up to date: runs its query unless another socket already is (then
    /// waits for that run), or its result is correct at the last commit seen. `false` when the
    /// executor has stopped.
    pub async fn refresh(&self, id: EntryId) -> bool {
        enum Next {
            Done,
            Wait(Arc<Notify>),
            Run(QueryKey, Arc<Notify>),
        }
        let next = {
            let mut state = self.lock();
            let notified_ts = state.notified_ts;
            match state.entries.get_mut(&id) {
                None => Next::Done,
                Some(entry) if entry.result.is_some() && entry.invalidated_at.is_none_or(|at| at > notified_ts) => {
                    Next::Done
                }
                Some(entry) if entry.computing => Next::Wait(entry.computed.clone()),
                Some(entry) => {
                    entry.computing = true;
                    Next::Run(entry.key.clone(), entry.computed.clone())
                }
            }
        };
        let (key, computed) = match next {
            Next::Done => return true,
            Next::Wait(computed) => {
                let wait = computed.notified();
                // The computation may have ended between the check and `notified()`.
                let still_computing = self.lock().entries.get(&id).is_some_and(|e| e.computing);
                if still_computing {
                    wait.await;
                }
                return true;
            }
            Next::Run(key, computed) => (key, computed),
        };
        let run = self.run(&key).await;
        let ran = run.is_some();
        if let Some((result, ts, reads)) = run {
            self.store(id, result, ts, reads);
        }
        let mut state = self.lock();
        if let Some(entry) = state.entries.get_mut(&id) {
            entry.computing = false;
        }
        drop(state);
        computed.notify_waiters();
        ran
    }

    /// Stores a result computed at snapshot `ts` and registers its read set. Commits between the
    /// snapshot and the registration were not seen by the index: they are checked in the
    /// database's commit log (outside this lock: the commit listener takes it while the log is
    /// being appended to), until no commit slipped in meanwhile. The first of them that may
    /// have changed the result ends its validity; when the log no longer covers the span, the
    /// result counts as correct at its snapshot only.
    fn store(&self, id: EntryId, result: QueryResult, ts: u64, reads: ReadSet) {
        let reads = Arc::new(reads);
        let result = Arc::new(result);
        let mut checked_up_to = ts;
        let mut invalidated_at = None;
        loop {
            let notified_ts = self.notified_ts();
            if invalidated_at.is_none() && notified_ts > checked_up_to {
                invalidated_at = match self.db.commit_log().first_overlap_between(&reads, checked_up_to, notified_ts) {
                    Some(first) => first,
                    None => Some(ts + 1),
                };
                checked_up_to = notified_ts;
            }
            let mut state = self.lock();
            if invalidated_at.is_none() && state.notified_ts > checked_up_to {
                continue;
            }
            let stale = state.set_result(id, Some(result), ts, invalidated_at, reads);
            drop(state);
            self.refresher.send(stale.into_iter().collect());
            return;
        }
    }

    /// Runs the query of `key` once: its result, snapshot ts and read set.
    async fn run(&self, key: &QueryKey) -> Option<(QueryResult, u64, ReadSet)> {
        let args: Json = serde_json::from_str(&key.args).unwrap_or(Json::Null);
        let request = CallRequest {
            request_id: new_request_id(),
            path: key.udf_path.clone(),
            args,
            kind: Some(FunctionKind::Query),
            admin: key.admin,
            identity: key.identity.clone(),
            component_path: Some(key.component.clone()).filter(|c| !c.is_empty()),
            session: None,
            journal: key.journal.clone(),
            track_reads: true,
            ..CallRequest::default()
        };
        let response = self.executor.call(request).await;
        let ts = match response.ts {
            Some(ts) => ts,
            // The query never reached the database (unknown function, bad arguments, …): its
            // outcome holds until the code changes, at the latest commit seen.
            None => self.notified_ts(),
        };
        let reads = response.reads.map(|r| (*r).clone()).unwrap_or_default();
        let journal = response.journal.as_deref();
        let (state, fingerprint) = match response.outcome {
            Ok(value) => {
                let state = QueryState::updated(&value.to_convex_json(), &response.log_lines, journal);
                let fingerprint = Sha256::digest(state.fields().as_bytes()).into();
                (state, fingerprint)
            }
            // The executor has stopped (`worker_gone`): there is no outcome to keep.
            Err(CallError::Internal { .. }) if response.ts.is_none() && response.log_lines.is_empty() => {
                return None;
            }
            Err(error) => {
                let data = error.data_json();
                let message = error.client_message(&response.request_id);
                let fingerprint = error_fingerprint(&message, data.as_ref(), &response.log_lines, journal);
                (QueryState::failed(&message, &response.log_lines, journal, data.as_ref()), fingerprint)
            }
        };
        Some((QueryResult { state: Arc::new(state), journal: response.journal, fingerprint }, ts, reads))
    }

    /// The number of live entries (for tests and the benchmark).
    pub fn entry_count(&self) -> usize {
        self.lock().entries.len()
    }
}

/// The content of a failed query's result: its error text without the `[Request ID: …]` line
/// (which differs on every run), error data, log lines and journal.
fn error_fingerprint(message: &str, data: Option<&Json>, log_lines: &[String], journal: Option<&str>) -> [u8; 32] {
    let text = message.split_once('\n').map_or(message, |(_, rest)| rest);
    let without_request_id = QueryState::failed(text, log_lines, journal, data);
    let mut hash = Sha256::new();
    hash.update(b"err\0");
    hash.update(without_request_id.fields().as_bytes());
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_fingerprints_ignore_the_request_id_but_not_the_content() {
        let err = |id: &str, text: &str, logs: &[String]| {
            error_fingerprint(&format!("[Request ID: {id}] Server Error\n{text}"), None, logs, None)
        };
        assert_eq!(err("a", "boom", &[]), err("b", "boom", &[]));
        assert_ne!(err("a", "boom", &[]), err("a", "bang", &[]));
        assert_ne!(err("a", "boom", &[]), err("a", "boom", &["[LOG] 'x'".into()]));
        let with_data = error_fingerprint("[Request ID: a] Server Error\nboom", Some(&json!({"c": 1})), &[], None);
        assert_ne!(err("a", "boom", &[]), with_data);
    }
}
