//! One WebSocket's side of the sync protocol (`spec/sync-protocol.md` §3): its query set and
//! versions, identity, mutation queue, actions, Transitions and heartbeats, in one task.
//!
//! Owns: everything per socket. Sending MutationResponses and computing Transitions in the same
//! task is what orders them (M4): a Transition is only computed while none of the socket's
//! mutations is running, so no Transition can reach a mutation's ts before its response.
//!
//! Invariants:
//! - every Transition starts at the previous one's end (V1) and its versions never decrease
//!   (V2); its results were all correct at its `ts` (V5, G2);
//! - each Mutation gets exactly one MutationResponse, in arrival order, each followed by a
//!   Transition at or after its ts (M1, M2, M5); actions run concurrently;
//! - only malformed messages and a wrong `baseVersion` end in `FatalError`; other protocol
//!   violations close with 1011 `InternalServerError`, so the client reconnects; function
//!   errors are never socket errors;
//! - the socket's holds on shared query entries are released when it ends, however it ends.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use emvex_executor::logs::print_call_logs;
use emvex_executor::{
    CallRequest, CallResponse, ClientInfo, FunctionKind, SessionRequest, UserIdentity, new_request_id,
};
use serde_json::Value as Json;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::SyncService;
use crate::protocol::{
    AuthToken, ClientMessage, QuerySetModification, RequestOutcome, ServerMessage, StateModification, StateVersion,
};
use crate::subscriptions::{EntryId, QueryKey};

/// A frame from the client, as the server hands it over.
#[derive(Debug)]
pub enum Incoming {
    Text(String),
    Binary,
}

/// What the socket writer must do.
#[derive(Debug, PartialEq)]
pub enum Outgoing {
    Text(String),
    /// Close the socket: with a code and reason, or without (the client sees 1005).
    Close(Option<(u16, String)>),
}

/// Where a session's frames go: a channel to the socket writer, with what it holds counted.
/// Transitions wait while [`MAX_UNSENT_TRANSITIONS`] are queued (a slow client gets coalesced
/// updates, not a backlog); past [`MAX_QUEUED_BYTES`] of anything the client is not reading,
/// and the connection is abandoned (nothing queued can reach it, not even a close frame).
#[derive(Clone)]
pub struct Outbox {
    sender: mpsc::UnboundedSender<Queued>,
    counts: Arc<QueueCounts>,
}

/// The receiving side of an [`Outbox`], for the socket writer.
pub struct OutboxReceiver {
    receiver: mpsc::UnboundedReceiver<Queued>,
    counts: Arc<QueueCounts>,
}

/// A frame in the outbox.
struct Queued {
    frame: Outgoing,
    transition: bool,
}

/// What an outbox holds, shared by both ends.
#[derive(Default)]
struct QueueCounts {
    bytes: AtomicUsize,
    transitions: AtomicUsize,
    /// Woken when the writer takes a Transition.
    transition_taken: Notify,
    /// Woken (once, and remembered) when the connection is abandoned.
    abandoned: Notify,
}

impl Outbox {
    pub fn new() -> (Outbox, OutboxReceiver) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let counts = Arc::new(QueueCounts::default());
        (Outbox { sender, counts: counts.clone() }, OutboxReceiver { receiver, counts })
    }

    /// Queues a close frame after what is already queued (the socket's reader uses it for a
    /// message over the size limits).
    pub fn close(&self, code: u16, reason: &str) {
        let close = Outgoing::Close(Some((code, reason.to_string())));
        let _ = self.sender.send(Queued { frame: close, transition: false });
    }

    fn send(&self, frame: Outgoing, transition: bool) -> Result<(), SessionEnd> {
        if let Outgoing::Text(text) = &frame {
            let queued = self.counts.bytes.fetch_add(text.len(), Ordering::SeqCst) + text.len();
            if queued > MAX_QUEUED_BYTES {
                self.counts.abandoned.notify_one();
                return Err(SessionEnd::Abandoned);
            }
        }
        if transition {
            self.counts.transitions.fetch_add(1, Ordering::SeqCst);
        }
        self.sender.send(Queued { frame, transition }).map_err(|_| SessionEnd::Gone)
    }

    /// Whether another Transition may be queued now.
    fn transition_room(&self) -> bool {
        self.counts.transitions.load(Ordering::SeqCst) < MAX_UNSENT_TRANSITIONS
    }

    /// Resolves when the writer has taken a Transition (there may be room again).
    fn transition_taken(&self) -> tokio::sync::futures::Notified<'_> {
        self.counts.transition_taken.notified()
    }
}

impl OutboxReceiver {
    /// The next frame to write.
    pub async fn recv(&mut self) -> Option<Outgoing> {
        let queued = self.receiver.recv().await?;
        Some(self.taken(queued))
    }

    /// The next frame if one is queued already (the writer sends a batch with one flush).
    pub fn try_recv(&mut self) -> Option<Outgoing> {
        let queued = self.receiver.try_recv().ok()?;
        Some(self.taken(queued))
    }

    /// Notified (once, and remembered) when the client has left more than
    /// [`MAX_QUEUED_BYTES`] unread: the writer then drops the connection and what is queued.
    pub fn abandoned(&self) -> impl Future<Output = ()> + Send + 'static {
        let counts = self.counts.clone();
        async move { counts.abandoned.notified().await }
    }

    fn taken(&self, Queued { frame, transition }: Queued) -> Outgoing {
        if let Outgoing::Text(text) = &frame {
            self.counts.bytes.fetch_sub(text.len(), Ordering::SeqCst);
        }
        if transition {
            self.counts.transitions.fetch_sub(1, Ordering::SeqCst);
            self.counts.transition_taken.notify_one();
        }
        frame
    }
}

/// Bytes of messages a client may leave unread before its connection is dropped.
pub const MAX_QUEUED_BYTES: usize = 128 << 20;
/// Transitions queued for the writer before the next one waits (and takes in every change
/// made meanwhile), as Convex's `SYNC_MAX_SEND_TRANSITION_COUNT`.
const MAX_UNSENT_TRANSITIONS: usize = 2;
/// A JSON `Ping` goes out after this long without any message (the client gives up at 60 s).
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// Mutations a socket may have queued, and actions in flight, as on Convex.
const MAX_QUEUED_MUTATIONS: usize = 1000;
const MAX_ACTIONS_IN_FLIGHT: usize = 1000;
/// How long a Transition waits for the commit listener to report a snapshot a query already
/// read (normally microseconds; only another process's commits are never reported).
const FOREIGN_COMMIT_PATIENCE: Duration = Duration::from_millis(100);
/// Mutations answered in a row before a pending Transition goes out (coalescing, G6).
const MUTATIONS_PER_TRANSITION: usize = 16;

/// How a session ended.
#[derive(Debug)]
enum SessionEnd {
    /// The client went away.
    Gone,
    /// The client stopped reading: its connection is dropped without a word.
    Abandoned,
    /// Send this and close.
    Fatal(String),
    Close(Option<(u16, String)>),
}

fn internal_error() -> SessionEnd {
    SessionEnd::Close(Some((1011, "InternalServerError".into())))
}

/// One subscribed query of this socket.
struct SocketQuery {
    udf_path: String,
    args: String,
    component: String,
    journal: Option<String>,
    entry: EntryId,
    /// What the client holds for it (`None`: nothing yet).
    sent: Option<[u8; 32]>,
}

impl SocketQuery {
    /// The shared entry this query reads from, for a socket with admin rights or not and its
    /// signed-in user.
    fn key(&self, admin: bool, identity: Option<&UserIdentity>) -> QueryKey {
        QueryKey {
            identity: identity.cloned(),
            component: self.component.clone(),
            udf_path: self.udf_path.clone(),
            args: self.args.clone(),
            admin,
            journal: self.journal.clone(),
        }
    }
}

/// A finished mutation or action, back on the session task.
struct Finished {
    request_id: u32,
    kind: FunctionKind,
    response: CallResponse,
}

struct Session {
    service: Arc<SyncService>,
    socket: u64,
    outbox: Outbox,
    /// Woken when one of this socket's entries has a new result.
    results_changed: Arc<Notify>,
    session_id: Option<String>,
    client_clock_skew: Option<f64>,
    received_query_set: u32,
    received_identity: u32,
    admin: bool,
    /// The signed-in user of the latest accepted `Authenticate` (a user token's or the identity
    /// an admin acts as).
    identity: Option<UserIdentity>,
    /// When a user token's identity expires (ms since the epoch); checked before each mutation,
    /// action and Transition (`spec/sync-protocol.md` §4.5 b).
    identity_expires_ms: Option<f64>,
    current: StateVersion,
    queries: BTreeMap<u32, SocketQuery>,
    removed: Vec<u32>,
    dirty: bool,
    mutations: VecDeque<(u32, CallRequest)>,
    mutation_running: bool,
    mutations_since_transition: usize,
    /// The ts of the latest mutation answered: the next Transition must reach it.
    answered_ts: u64,
    actions_in_flight: usize,
    finished_tx: mpsc::UnboundedSender<Finished>,
    last_sent: Instant,
    client: ClientInfo,
}

/// Serves one socket until the client leaves or the session ends it; `client` is who connected
/// (for the functions' request metadata).
pub async fn run_session(
    service: Arc<SyncService>,
    mut incoming: mpsc::Receiver<Incoming>,
    outbox: Outbox,
    client: ClientInfo,
) {
    let (finished_tx, mut finished_rx) = mpsc::unbounded_channel();
    let mut session = Session {
        socket: service.next_socket(),
        service,
        outbox,
        results_changed: Arc::new(Notify::new()),
        session_id: None,
        client_clock_skew: None,
        received_query_set: 0,
        received_identity: 0,
        admin: false,
        identity: None,
        identity_expires_ms: None,
        current: StateVersion::default(),
        queries: BTreeMap::new(),
        removed: Vec::new(),
        dirty: false,
        mutations: VecDeque::new(),
        mutation_running: false,
        mutations_since_transition: 0,
        answered_ts: 0,
        actions_in_flight: 0,
        finished_tx,
        last_sent: Instant::now(),
        client,
    };
    let end = session.serve(&mut incoming, &mut finished_rx).await;
    session.release_all();
    match end {
        SessionEnd::Gone | SessionEnd::Abandoned => {}
        SessionEnd::Fatal(error) => {
            let _ = session.outbox.send(Outgoing::Text(ServerMessage::FatalError { error }.to_text()), false);
            let _ = session.outbox.send(Outgoing::Close(None), false);
        }
        SessionEnd::Close(frame) => {
            let _ = session.outbox.send(Outgoing::Close(frame), false);
        }
    }
}

impl Session {
    async fn serve(
        &mut self,
        incoming: &mut mpsc::Receiver<Incoming>,
        finished: &mut mpsc::UnboundedReceiver<Finished>,
    ) -> SessionEnd {
        loop {
            if let Err(end) = self.step().await {
                return end;
            }
            let heartbeat = tokio::time::sleep_until(self.last_sent + HEARTBEAT);
            tokio::select! {
                frame = incoming.recv() => {
                    let Some(frame) = frame else { return SessionEnd::Gone };
                    if let Err(end) = self.handle_frame(frame).await {
                        return end;
                    }
                }
                Some(done) = finished.recv() => {
                    if let Err(end) = self.handle_finished(done) {
                        return end;
                    }
                }
                _ = self.results_changed.notified() => self.dirty = true,
                _ = self.outbox.transition_taken(), if self.dirty => {}
                _ = heartbeat => {
                    if let Err(end) = self.send(ServerMessage::Ping) {
                        return end;
                    }
                }
            }
        }
    }

    /// Starts the next mutation, or sends the pending Transition, when their turn has come.
    async fn step(&mut self) -> Result<(), SessionEnd> {
        let transition_due = self.dirty
            && !self.mutation_running
            && self.outbox.transition_room()
            && (self.mutations.is_empty() || self.mutations_since_transition >= MUTATIONS_PER_TRANSITION);
        if transition_due {
            self.send_transition().await?;
        }
        if !self.mutation_running
            && let Some((request_id, request)) = self.mutations.pop_front()
        {
            self.mutation_running = true;
            self.spawn_call(request_id, FunctionKind::Mutation, request);
        }
        Ok(())
    }

    fn send(&mut self, message: ServerMessage) -> Result<(), SessionEnd> {
        self.last_sent = Instant::now();
        let transition = matches!(message, ServerMessage::Transition { .. });
        self.outbox.send(Outgoing::Text(message.to_text()), transition)
    }

    async fn handle_frame(&mut self, frame: Incoming) -> Result<(), SessionEnd> {
        let text = match frame {
            Incoming::Text(text) => text,
            Incoming::Binary => return Err(internal_error()),
        };
        let message = ClientMessage::parse(&text).map_err(|e| SessionEnd::Fatal(e.message))?;
        match message {
            ClientMessage::Connect { session_id, max_observed_timestamp, client_ts, .. } => {
                self.session_id = Some(session_id);
                let now_ms = self.service.clock.now_ms();
                self.client_clock_skew = client_ts.map(|c| c - now_ms);
                // Commit timestamps are wall-clock nanoseconds, so a client's timestamps from a
                // wiped data directory are soon passed; emvex does not refuse it (§3.7).
                let _ = max_observed_timestamp;
            }
            ClientMessage::ModifyQuerySet { base_version, new_version, modifications } => {
                if base_version != self.received_query_set {
                    return Err(SessionEnd::Fatal(format!(
                        "BaseVersionMismatch: the query set's base version {base_version} is not the current \
                         version {}",
                        self.received_query_set
                    )));
                }
                if new_version <= base_version {
                    return Err(internal_error());
                }
                for modification in modifications {
                    self.modify(modification)?;
                }
                self.received_query_set = new_version;
                self.dirty = true;
            }
            ClientMessage::Mutation { request_id, udf_path, args, component_path } => {
                if self.mutations.len() >= MAX_QUEUED_MUTATIONS {
                    return Err(SessionEnd::Close(Some((1013, "TooManyConcurrentMutations".into()))));
                }
                self.check_identity_valid()?;
                let mut request = self.request(udf_path, args, component_path, FunctionKind::Mutation)?;
                request.session = self.session_id.clone().map(|session_id| SessionRequest { session_id, request_id });
                self.mutations.push_back((request_id, request));
            }
            ClientMessage::Action { request_id, udf_path, args, component_path } => {
                if self.actions_in_flight >= MAX_ACTIONS_IN_FLIGHT {
                    return Err(SessionEnd::Close(Some((1013, "TooManyInflightActionsForSingleClient".into()))));
                }
                self.check_identity_valid()?;
                let request = self.request(udf_path, args, component_path, FunctionKind::Action)?;
                self.actions_in_flight += 1;
                self.spawn_call(request_id, FunctionKind::Action, request);
            }
            ClientMessage::Authenticate { base_version, token } => {
                if base_version != self.received_identity {
                    return Err(internal_error());
                }
                let (admin, identity, expires) = match token {
                    AuthToken::None => (false, None, None),
                    AuthToken::User { token } => match self.service.authenticator.verify(&token).await {
                        Ok(user) => (false, Some(UserIdentity::from_object(&user.identity)), Some(user.expires_at_ms)),
                        Err(e) => return Err(self.auth_error(e.message, true)),
                    },
                    AuthToken::Admin { key, impersonating } => {
                        if !(self.service.check_admin_key)(&key) {
                            return Err(
                                self.auth_error("The provided admin key was invalid for this instance".into(), true)
                            );
                        }
                        match impersonating.map(|i| emvex_auth::acting_identity(&i)).transpose() {
                            Ok(acting) => (true, acting.as_ref().map(UserIdentity::from_object), None),
                            Err(e) => return Err(self.auth_error(e.message, true)),
                        }
                    }
                };
                self.received_identity += 1;
                self.identity_expires_ms = expires;
                if admin != self.admin || identity != self.identity {
                    self.admin = admin;
                    self.identity = identity;
                    self.rekey_all();
                }
                self.dirty = true;
            }
            ClientMessage::Event => {}
        }
        Ok(())
    }

    /// Sends `AuthError` (the last message before the socket closes without a code):
    /// `update_attempted` for a refused `Authenticate`, not for an identity that expired.
    fn auth_error(&mut self, error: String, update_attempted: bool) -> SessionEnd {
        let message = ServerMessage::AuthError {
            error,
            base_version: Some(self.current.identity),
            auth_update_attempted: update_attempted,
        };
        match self.send(message) {
            Ok(()) => SessionEnd::Close(None),
            Err(end) => end,
        }
    }

    /// Fails the socket with `TokenExpired` once the user token's `exp` has passed.
    fn check_identity_valid(&mut self) -> Result<(), SessionEnd> {
        match self.identity_expires_ms {
            Some(expires) if self.service.clock.now_ms() >= expires => {
                Err(self.auth_error("Convex token identity expired".into(), false))
            }
            _ => Ok(()),
        }
    }

    /// A call for this socket's identity; `componentPath` is for admins only.
    fn request(
        &self,
        udf_path: String,
        args: Json,
        component_path: Option<String>,
        kind: FunctionKind,
    ) -> Result<CallRequest, SessionEnd> {
        let component_path = component_path.filter(|c| !c.is_empty());
        if component_path.is_some() && !self.admin {
            return Err(internal_error());
        }
        Ok(CallRequest {
            request_id: new_request_id(),
            path: udf_path,
            args,
            kind: Some(kind),
            admin: self.admin,
            identity: self.identity.clone(),
            component_path,
            client: self.client.clone(),
            ..CallRequest::default()
        })
    }

    fn modify(&mut self, modification: QuerySetModification) -> Result<(), SessionEnd> {
        match modification {
            QuerySetModification::Add { query_id, udf_path, args, journal, component_path } => {
                if self.queries.contains_key(&query_id) {
                    return Err(internal_error());
                }
                let component = component_path.unwrap_or_default();
                if !component.is_empty() && !self.admin {
                    return Err(internal_error());
                }
                let mut query = SocketQuery {
                    udf_path,
                    args: args.to_string(),
                    component,
                    journal: journal.flatten(),
                    entry: 0,
                    sent: None,
                };
                query.entry = self.service.subscriptions.acquire(
                    query.key(self.admin, self.identity.as_ref()),
                    self.socket,
                    self.results_changed.clone(),
                );
                self.queries.insert(query_id, query);
                self.removed.retain(|id| *id != query_id);
            }
            QuerySetModification::Remove { query_id } => {
                let Some(query) = self.queries.remove(&query_id) else { return Err(internal_error()) };
                self.service.subscriptions.release(query.entry, self.socket);
                self.removed.push(query_id);
            }
        }
        Ok(())
    }

    /// Moves every query to the entries of the current identity.
    fn rekey_all(&mut self) {
        for query in self.queries.values_mut() {
            let entry = self.service.subscriptions.acquire(
                query.key(self.admin, self.identity.as_ref()),
                self.socket,
                self.results_changed.clone(),
            );
            self.service.subscriptions.release(query.entry, self.socket);
            query.entry = entry;
        }
    }

    fn release_all(&mut self) {
        for query in std::mem::take(&mut self.queries).into_values() {
            self.service.subscriptions.release(query.entry, self.socket);
        }
    }

    /// Runs a mutation or an action on the executor; its outcome comes back as [`Finished`].
    fn spawn_call(&self, request_id: u32, kind: FunctionKind, request: CallRequest) {
        let executor = self.service.executor.clone();
        let done = self.finished_tx.clone();
        let print_logs = self.service.print_logs;
        tokio::spawn(async move {
            let response = executor.call(request).await;
            if print_logs {
                print_call_logs(&response);
            }
            let _ = done.send(Finished { request_id, kind, response });
        });
    }

    fn handle_finished(&mut self, done: Finished) -> Result<(), SessionEnd> {
        let Finished { request_id, kind, response } = done;
        let log_lines = response.log_lines;
        let outcome = match response.outcome {
            Ok(value) => RequestOutcome::Success(value.to_convex_json()),
            Err(error) => RequestOutcome::Failure {
                message: error.client_message(&response.request_id),
                error_data: error.data_json(),
            },
        };
        if kind == FunctionKind::Mutation {
            self.mutation_running = false;
            self.mutations_since_transition += 1;
            let ts = match (&outcome, response.ts) {
                (RequestOutcome::Success(_), Some(ts)) => Some(ts),
                // Answered without reaching the database: any ts the client has seen covers it.
                (RequestOutcome::Success(_), None) => Some(self.current.ts),
                _ => None,
            };
            self.answered_ts = self.answered_ts.max(ts.unwrap_or(0));
            self.send(ServerMessage::MutationResponse { request_id, outcome, ts, log_lines })?;
        } else {
            self.actions_in_flight -= 1;
            self.send(ServerMessage::ActionResponse { request_id, outcome, log_lines })?;
        }
        self.dirty = true;
        Ok(())
    }

    /// Brings every query up to date at one ts and sends what changed (G2, G5).
    async fn send_transition(&mut self) -> Result<(), SessionEnd> {
        self.check_identity_valid()?;
        self.dirty = false;
        self.mutations_since_transition = 0;
        let subscriptions = self.service.subscriptions.clone();
        // The Transition's ts: not before the last one's nor any answered mutation's (M5), one
        // at which every result is correct (each is from its snapshot until just before the
        // first commit that may have changed it), and the latest such.
        let floor = self.current.ts.max(self.answered_ts);
        // Raised when a commit was waited for in vain: another process's, which no listener
        // here reports; the Transition is then labelled with it as the freshest snapshot there is.
        let mut assumed_seen = 0;
        let (ts, results) = loop {
            let seen = subscriptions.notified_ts().max(assumed_seen);
            let mut results = BTreeMap::new();
            let mut stale = Vec::new();
            let mut lower = floor;
            let mut upper = seen + 1;
            for (query_id, query) in &self.queries {
                match subscriptions.validity(query.entry) {
                    Some(validity) => {
                        lower = lower.max(validity.from);
                        upper = validity.until.map_or(upper, |until| upper.min(until));
                        results.insert(*query_id, (query.entry, validity));
                    }
                    None => stale.push(query.entry),
                }
            }
            if stale.is_empty() && lower > seen {
                // A result or mutation newer than the last commit the index has seen: wait for
                // the listener to report it (normally microseconds).
                if !subscriptions.wait_for_commit(lower, FOREIGN_COMMIT_PATIENCE).await {
                    assumed_seen = lower;
                }
                continue;
            }
            if stale.is_empty() && lower < upper {
                break (upper - 1, results);
            }
            stale
                .extend(results.values().filter(|(_, v)| v.until.is_some_and(|until| until <= lower)).map(|(e, _)| *e));
            for entry in stale {
                if !subscriptions.refresh(entry).await {
                    // The executor has stopped: nothing can be computed any more.
                    return Err(internal_error());
                }
            }
        };
        let results = results.into_iter().map(|(query_id, (_, validity))| (query_id, validity.result));
        let mut modifications: Vec<StateModification> =
            self.removed.drain(..).map(|query_id| StateModification::Removed { query_id }).collect();
        let mut rekeys = Vec::new();
        for (query_id, result) in results {
            let query = self.queries.get_mut(&query_id).expect("a query of this socket");
            if query.sent != Some(result.fingerprint) {
                query.sent = Some(result.fingerprint);
                modifications.push(StateModification::Changed { query_id, state: result.state.clone() });
            }
            if result.journal.is_some() && result.journal != query.journal {
                rekeys.push((query_id, result.journal.clone()));
            }
        }
        for (query_id, journal) in rekeys {
            let query = self.queries.get_mut(&query_id).expect("a query of this socket");
            query.entry = subscriptions.rekey(query.entry, journal.clone(), self.socket, self.results_changed.clone());
            query.journal = journal;
        }
        let end = StateVersion { query_set: self.received_query_set, identity: self.received_identity, ts };
        let start = std::mem::replace(&mut self.current, end);
        let server_ts = self.service.clock.now_ns();
        self.send(ServerMessage::Transition {
            start,
            end,
            modifications,
            client_clock_skew: self.client_clock_skew,
            server_ts: Some(server_ts),
        })
    }
}
