//! The HTTP-actions server (`convex/http.ts`), served on its own port as Convex's local backend
//! serves the deployment's `.site` URL. Every request goes to the app's router; the handler's
//! `Response` comes back as is. A handler that throws answers 500 with the error text.
//! An `Authorization: Bearer <JWT>` header is verified against the app's auth providers: the
//! request runs either way, and `ctx.auth.getUserIdentity()` answers the identity, `null`
//! without a header, or throws why the header was refused (as Convex does).

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use std::sync::Arc;

use emvex_auth::Authenticator;
use emvex_executor::{Executor, HttpIdentity, HttpRequest, UserIdentity};

/// Largest request body an HTTP action accepts.
const MAX_BODY_BYTES: usize = 20 << 20;

pub fn site_router(executor: Executor) -> Router {
    let authenticator = Authenticator::new(executor.auth_config_json(), executor.database().clock().clone());
    Router::new().fallback(handle).layer(DefaultBodyLimit::disable()).with_state(Site { executor, authenticator })
}

#[derive(Clone)]
struct Site {
    executor: Executor,
    authenticator: Arc<Authenticator>,
}

/// The identity of a request's `Authorization` header (`Ok(None)` without one).
async fn identity(headers: &axum::http::HeaderMap, authenticator: &Authenticator) -> HttpIdentity {
    let Some(header) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let header = header.to_str().unwrap_or("");
    if header.len() <= 7 || !header[..7].eq_ignore_ascii_case("bearer ") {
        return Err("Header must begin with `bearer `".into());
    }
    match authenticator.verify(header[7..].trim()).await {
        Ok(user) => Ok(Some(UserIdentity::from_object(&user.identity))),
        Err(e) => Err(e.message),
    }
}

/// Serves HTTP actions on `listener` until the process ends.
pub async fn serve_site(listener: tokio::net::TcpListener, executor: Executor) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, site_router(executor)).await
}

async fn handle(State(site): State<Site>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let identity = identity(&parts.headers, &site.authenticator).await;
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, format!("The request body could not be read: {e}")).into_response();
        }
    };
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let request = HttpRequest {
        method: parts.method.to_string(),
        url: format!("http://{host}{path}"),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: (!body.is_empty()).then(|| body.to_vec()),
    };
    let outcome = site.executor.http_action(request, identity).await;
    match outcome.result {
        Ok(response) => {
            let mut builder = Response::builder()
                .status(StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
            for (name, value) in &response.headers {
                if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
                    builder = builder.header(name, value);
                }
            }
            builder.body(Body::from(response.body)).unwrap_or_else(|e| {
                (StatusCode::INTERNAL_SERVER_ERROR, format!("invalid response from the HTTP action: {e}"))
                    .into_response()
            })
        }
        Err(message) => (StatusCode::INTERNAL_SERVER_ERROR, message).into_response(),
    }
}
