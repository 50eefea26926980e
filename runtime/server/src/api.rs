//! Routes of the HTTP function API and their envelopes (`client-protocol.md` §1, §0.5, §0.6).
//!
//! Request-parsing helpers return `Result<_, Response>`: the error is the finished HTTP answer,
//! returned to the client at once, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use emvex_executor::{CallError, CallRequest, CallResponse, FunctionKind, new_request_id};
use emvex_value::Value;
use serde_json::{Value as Json, json};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::AppState;
use crate::auth::{Caller, CallerError, caller};
use crate::client::Client;
use crate::http_error::http_error;
use emvex_executor::logs::print_call_logs;

/// Largest request body accepted: function arguments may be up to 16 MiB, plus the envelope.
const MAX_REQUEST_BYTES: usize = 17 << 20;

pub fn routes(state: Arc<AppState>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS, Method::PATCH, Method::DELETE, Method::PUT])
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(Duration::from_secs(86400));
    Router::new()
        .route("/api/query", post(post_query).get(get_query))
        .route("/api/mutation", post(post_mutation))
        .route("/api/action", post(post_action))
        .route("/api/function", post(post_function))
        .route("/api/run/{*path}", post(post_run))
        .route("/api/{version}/sync", get(sync_versioned))
        .route("//api/{version}/sync", get(sync_versioned))
        .route("/api/sync", get(sync_unversioned))
        .route("/instance_name", get(|| async { "emvex" }))
        .route("/instance_version", get(|| async { env!("CARGO_PKG_VERSION") }))
        .route("/", get(|| async { "This Convex deployment is running. See https://docs.convex.dev/." }))
        .route("/echo", post(|body: Bytes| async move { body }))
        .merge(crate::storage::routes())
        .fallback(|method: Method, uri: axum::http::Uri| async move {
            http_error(StatusCode::NOT_FOUND, "NotFound", &format!("No route for {method} {}", uri.path()))
        })
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .layer(cors)
        .with_state(state)
}

async fn sync_versioned(
    State(state): State<Arc<AppState>>,
    Path(version): Path<String>,
    Client(client): Client,
    ws: WebSocketUpgrade,
) -> Response {
    crate::sync_socket::upgrade(state.sync.clone(), &version, client, ws)
}

async fn sync_unversioned(
    State(state): State<Arc<AppState>>,
    Client(client): Client,
    ws: WebSocketUpgrade,
) -> Response {
    crate::sync_socket::upgrade(state.sync.clone(), "", client, ws)
}

/// How values are written in the response (`format` field).
#[derive(Clone, Copy)]
enum Format {
    ConvexJson,
    CleanJson,
}

fn parse_format(format: Option<&Json>, default: Format) -> Result<Format, Response> {
    match format {
        None | Some(Json::Null) => Ok(default),
        Some(Json::String(s)) => match s.as_str() {
            "convex_encoded_json" | "convex_json" => Ok(Format::ConvexJson),
            "json" | "convex_clean_json" => Ok(Format::CleanJson),
            other => Err(http_error(StatusCode::BAD_REQUEST, "BadFormat", &format!("Invalid format: {other}"))),
        },
        Some(other) => Err(http_error(StatusCode::BAD_REQUEST, "BadFormat", &format!("Invalid format: {other}"))),
    }
}

fn encode(value: &Value, format: Format) -> Json {
    match format {
        Format::ConvexJson => value.to_convex_json(),
        Format::CleanJson => value.to_clean_json(),
    }
}

fn parse_body(body: &Bytes) -> Result<serde_json::Map<String, Json>, Response> {
    match serde_json::from_slice::<Json>(body) {
        Ok(Json::Object(map)) => Ok(map),
        Ok(_) => Err(http_error(StatusCode::BAD_REQUEST, "BadJsonBody", "The request body must be a JSON object.")),
        Err(e) => Err(http_error(
            StatusCode::BAD_REQUEST,
            "BadJsonBody",
            &format!("Failed to deserialize the request body as JSON: {e}"),
        )),
    }
}

/// A function-call body `{path, args, format, …}`: the fields, the path and the format.
fn parse_call_body(body: &Bytes) -> Result<(serde_json::Map<String, Json>, String, Format), Response> {
    let body = parse_body(body)?;
    let path = path_field(&body)?;
    let format = parse_format(body.get("format"), Format::CleanJson)?;
    Ok((body, path, format))
}

fn path_field(body: &serde_json::Map<String, Json>) -> Result<String, Response> {
    match body.get("path") {
        Some(Json::String(p)) => Ok(p.clone()),
        Some(_) => Err(http_error(StatusCode::BAD_REQUEST, "BadJsonBody", "`path` must be a string.")),
        None => Err(http_error(StatusCode::BAD_REQUEST, "BadJsonBody", "Missing field `path`.")),
    }
}

async fn authenticate(state: &AppState, headers: &HeaderMap, query_key: Option<&str>) -> Result<Caller, Response> {
    caller(headers, query_key, &state.config.admin_key, &state.authenticator).await.map_err(|e| match e {
        CallerError::BadAdminKey => {
            http_error(StatusCode::FORBIDDEN, "BadAdminKey", "The provided admin key was invalid for this instance")
        }
        CallerError::Auth(e) => {
            http_error(StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::UNAUTHORIZED), e.code, &e.message)
        }
    })
}

async fn run_call(state: &AppState, request: CallRequest, format: Format) -> Response {
    let response = state.executor.call(request).await;
    if state.config.print_logs {
        print_call_logs(&response);
    }
    envelope(response, format)
}

/// The §1.1 body for a function outcome, or an HTTP error for requests that never ran.
fn envelope(response: CallResponse, format: Format) -> Response {
    let mut body = serde_json::Map::new();
    match response.outcome {
        Ok(value) => {
            body.insert("status".into(), json!("success"));
            body.insert("value".into(), encode(&value, format));
        }
        Err(error @ CallError::Developer { .. }) => {
            body.insert("status".into(), json!("error"));
            body.insert("errorMessage".into(), json!(error.client_message(&response.request_id)));
            if let CallError::Developer { data: Some(data), .. } = error {
                body.insert("errorData".into(), encode(&data, format));
            }
        }
        Err(CallError::BadRequest { code, message }) => {
            return http_error(StatusCode::BAD_REQUEST, code, &message);
        }
        Err(CallError::Internal { message }) => {
            return http_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", &message);
        }
    }
    if !response.log_lines.is_empty() {
        body.insert("logLines".into(), json!(response.log_lines));
    }
    (StatusCode::OK, axum::Json(Json::Object(body))).into_response()
}

/// `POST /api/query|mutation|action` with `{path, args, format}`.
async fn typed_post(
    state: Arc<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
    kind: FunctionKind,
) -> Response {
    let caller = match authenticate(&state, &headers, None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (body, path, format) = match parse_call_body(&body) {
        Ok(parts) => parts,
        Err(r) => return r,
    };
    let request = CallRequest {
        request_id: new_request_id(),
        path,
        args: body.get("args").cloned().unwrap_or(Json::Null),
        kind: Some(kind),
        admin: caller.admin,
        identity: caller.identity,
        component_path: None,
        client,
        ..CallRequest::default()
    };
    run_call(&state, request, format).await
}

async fn post_query(State(state): State<Arc<AppState>>, client: Client, headers: HeaderMap, body: Bytes) -> Response {
    typed_post(state, client, headers, body, FunctionKind::Query).await
}

async fn post_mutation(
    State(state): State<Arc<AppState>>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    typed_post(state, client, headers, body, FunctionKind::Mutation).await
}

async fn post_action(State(state): State<Arc<AppState>>, client: Client, headers: HeaderMap, body: Bytes) -> Response {
    typed_post(state, client, headers, body, FunctionKind::Action).await
}

#[derive(serde::Deserialize)]
struct GetQueryParams {
    path: Option<String>,
    args: Option<String>,
    format: Option<String>,
    #[serde(rename = "adminKey")]
    admin_key: Option<String>,
}

/// `GET /api/query?path=…&args=<json>&format=…`.
async fn get_query(
    State(state): State<Arc<AppState>>,
    Client(client): Client,
    headers: HeaderMap,
    params: Result<Query<GetQueryParams>, QueryRejection>,
) -> Response {
    let params = match params {
        Ok(Query(p)) => p,
        Err(e) => {
            return http_error(StatusCode::BAD_REQUEST, "BadQueryParams", &format!("Invalid query parameters: {e}"));
        }
    };
    let caller = match authenticate(&state, &headers, params.admin_key.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(path) = params.path else {
        return http_error(StatusCode::BAD_REQUEST, "BadQueryParams", "Missing query parameter `path`.");
    };
    let args = match params.args.as_deref().map(serde_json::from_str::<Json>) {
        None => Json::Null,
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            return http_error(StatusCode::BAD_REQUEST, "BadJsonBody", &format!("`args` is not valid JSON: {e}"));
        }
    };
    let format = match parse_format(params.format.map(Json::String).as_ref(), Format::CleanJson) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let request = CallRequest {
        request_id: new_request_id(),
        path,
        args,
        kind: Some(FunctionKind::Query),
        admin: caller.admin,
        identity: caller.identity,
        component_path: None,
        client,
        ..CallRequest::default()
    };
    run_call(&state, request, format).await
}

/// `POST /api/function` (admin only): `{componentPath?, path, format, args}`; any kind.
async fn post_function(
    State(state): State<Arc<AppState>>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let identity = match authenticate(&state, &headers, None).await {
        Ok(Caller { admin: true, identity }) => identity,
        Ok(_) => {
            return http_error(
                StatusCode::FORBIDDEN,
                "BadDeployKey",
                "This endpoint requires an admin key: send `Authorization: Convex <admin key>`.",
            );
        }
        Err(r) => return r,
    };
    let (body, path, format) = match parse_call_body(&body) {
        Ok(parts) => parts,
        Err(r) => return r,
    };
    let component_path = match body.get("componentPath") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(_) => return http_error(StatusCode::BAD_REQUEST, "BadJsonBody", "`componentPath` must be a string."),
    };
    let request = CallRequest {
        request_id: new_request_id(),
        path,
        args: body.get("args").cloned().unwrap_or(Json::Null),
        kind: None,
        admin: true,
        identity,
        component_path,
        client,
        ..CallRequest::default()
    };
    run_call(&state, request, format).await
}

/// `POST /api/run/{module path segments}/{export}` with `{args, format?}`; root component only.
async fn post_run(
    State(state): State<Arc<AppState>>,
    Path(path): Path<String>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match authenticate(&state, &headers, None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some((name, module)) = segments.split_last().filter(|(_, m)| !m.is_empty()) else {
        return http_error(
            StatusCode::BAD_REQUEST,
            "MissingIdentifier",
            "Function path must have at least two segments, e.g. /api/run/messages/list",
        );
    };
    let body = if body.is_empty() {
        serde_json::Map::new()
    } else {
        match parse_body(&body) {
            Ok(b) => b,
            Err(r) => return r,
        }
    };
    let format = match parse_format(body.get("format"), Format::CleanJson) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let request = CallRequest {
        request_id: new_request_id(),
        path: format!("{}:{}", module.join("/"), name),
        args: body.get("args").cloned().unwrap_or(Json::Null),
        kind: None,
        admin: caller.admin,
        identity: caller.identity,
        component_path: None,
        client,
        ..CallRequest::default()
    };
    run_call(&state, request, format).await
}
