//! The server side of Convex's WebSocket sync protocol (`spec/sync-protocol.md`): what makes
//! `ConvexClient`, `ConvexReactClient`, `useQuery` and `usePaginatedQuery` work against emvex.
//!
//! Owns: the protocol's messages (`protocol`), the deployment's live queries and their
//! invalidation by commits (`subscriptions`), and one task per socket (`session`). The HTTP
//! server owns the socket itself (upgrade, frames) and hands frames over as [`Incoming`] and
//! [`Outgoing`]; this crate knows nothing of HTTP.
//!
//! Layering: above the executor (calls) and the database (read sets, commit log), below the
//! server.

#![forbid(unsafe_code)]

mod protocol;
mod session;
mod subscriptions;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use emvex_auth::Authenticator;
use emvex_clock::Clock;
use emvex_executor::Executor;

pub use protocol::{ClientMessage, ProtocolError, ServerMessage, decode_ts, encode_ts};
pub use session::{HEARTBEAT, Incoming, MAX_QUEUED_BYTES, Outbox, OutboxReceiver, Outgoing, run_session};
pub use subscriptions::Subscriptions;

/// Tells whether a presented admin key is this deployment's (the server owns admin keys).
pub type AdminKeyCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Everything the sockets of one deployment share.
pub struct SyncService {
    executor: Executor,
    subscriptions: Arc<Subscriptions>,
    check_admin_key: AdminKeyCheck,
    /// Verifies the user JWTs of `Authenticate` messages.
    authenticator: Arc<Authenticator>,
    print_logs: bool,
    clock: Clock,
    next_socket: AtomicU64,
}

impl SyncService {
    /// The sync service of a running executor; from now on its commits invalidate live queries.
    pub fn start(
        executor: Executor,
        check_admin_key: AdminKeyCheck,
        authenticator: Arc<Authenticator>,
        print_logs: bool,
    ) -> Arc<SyncService> {
        let clock = executor.database().clock().clone();
        Arc::new(SyncService {
            subscriptions: Subscriptions::start(executor.clone()),
            executor,
            check_admin_key,
            authenticator,
            print_logs,
            clock,
            next_socket: AtomicU64::new(1),
        })
    }

    /// The live queries (for tests and the benchmark).
    pub fn subscriptions(&self) -> &Arc<Subscriptions> {
        &self.subscriptions
    }

    fn next_socket(&self) -> u64 {
        self.next_socket.fetch_add(1, Ordering::Relaxed)
    }
}
