//! The answer to a request that went wrong outside user code: `{"code", "message"}` with an
//! HTTP status (`client-protocol.md` §0.5), as every route of the server words it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// `{"code", "message"}` with `status`.
pub(crate) fn http_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "code": code, "message": message }))).into_response()
}
