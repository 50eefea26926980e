//! Who is calling: the peer's address and `User-Agent`, for `ctx.meta.getRequestMetadata()`.
//!
//! Owns: the [`Client`] extractor. The address is known when the server was started with
//! connection info ([`crate::BoundServer::serve`] is); without it (a router driven directly, as
//! in unit tests) it is absent, never an error.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use emvex_executor::ClientInfo;

/// The client behind a request.
pub(crate) struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string());
        let user_agent = parts.headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
        Ok(Client(ClientInfo { ip, user_agent }))
    }
}
