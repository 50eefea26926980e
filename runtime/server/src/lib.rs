//! The HTTP server: Convex's function API (`spec/client-protocol.md` §1) over axum.
//!
//! Owns request parsing, the file storage endpoints (`storage`), admin authentication, response envelopes and CORS; every function call
//! goes to the executor. The WebSocket sync endpoint hands its frames to `emvex-sync`. Invariants: no input makes a handler panic; malformed requests get a
//! 4xx `{code, message}` body; function outcomes are HTTP 200 with `{status: …}`; internal
//! functions are only reachable with the admin key.

#![forbid(unsafe_code)]

mod api;
mod auth;
mod client;
mod http_error;
mod site;
mod storage;
mod sync_socket;

pub use site::{serve_site, site_router};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::serve::ListenerExt;
use emvex_auth::Authenticator;
use emvex_executor::Executor;
use emvex_sync::{AdminKeyCheck, SyncService};
use tokio::net::TcpListener;

/// Server settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The key `Authorization: Convex <key>` must carry for admin calls.
    pub admin_key: String,
    /// Print each function's console lines to stdout, as `npx convex dev` does.
    pub print_logs: bool,
}

pub(crate) struct AppState {
    pub executor: Executor,
    pub config: ServerConfig,
    /// The WebSocket sync protocol's sessions and live queries.
    pub sync: Arc<SyncService>,
    /// Verifies user JWTs against the app's `auth.config.ts` providers.
    pub authenticator: Arc<Authenticator>,
}

/// Builds the router for a running executor (from now on, its commits update live queries).
pub fn router(executor: Executor, config: ServerConfig) -> Router {
    let admin_key = config.admin_key.clone();
    let check_admin_key: AdminKeyCheck = Arc::new(move |presented| auth::is_admin_key(presented, &admin_key));
    let authenticator = Authenticator::new(executor.auth_config_json(), executor.database().clock().clone());
    if let Err(e) = authenticator.providers() {
        eprintln!("warning: auth is unusable, every user token will be refused: {e}");
    }
    let sync = SyncService::start(executor.clone(), check_admin_key, authenticator.clone(), config.print_logs);
    api::routes(Arc::new(AppState { executor, config, sync, authenticator }))
}

/// A bound listener, ready to serve.
pub struct BoundServer {
    listener: TcpListener,
    router: Router,
}

impl BoundServer {
    /// Binds `127.0.0.1:port` (0 picks a free port).
    pub async fn bind(port: u16, executor: Executor, config: ServerConfig) -> std::io::Result<BoundServer> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        Ok(BoundServer::new(listener, executor, config))
    }

    /// Serves on a listener bound by the caller.
    pub fn new(listener: TcpListener, executor: Executor, config: ServerConfig) -> BoundServer {
        BoundServer { listener, router: router(executor, config) }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        // Small frames (Transitions, responses) go out at once, not after a delayed ACK.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        // With connection info: functions learn the caller's address (`getRequestMetadata`).
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service).with_graceful_shutdown(shutdown).await
    }
}
