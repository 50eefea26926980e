//! The file storage endpoints (spec `convex-runtime.md` §3.12): `POST /api/storage/upload?token=…`
//! (the URLs `ctx.storage.generateUploadUrl()` returns) and `GET /api/storage/<key or id>`
//! (the URLs `ctx.storage.getUrl()` returns, `?component=<path>` for a component's files).
//!
//! Invariants: an upload's body is streamed to a temporary file chunk by chunk (never held
//! whole in memory) and recorded only once complete; a refused token answers 401 with
//! Convex's code and text before any byte is stored; a download serves the bytes of a file
//! whose `_storage` document exists, with its content type, and one `Range` (206, or 416).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use emvex_executor::{CallError, FileReader};
use futures_util::StreamExt;
use serde_json::json;

use crate::AppState;
use crate::http_error::http_error;

/// Chunk size of downloads.
const CHUNK: usize = 4 << 20;

/// Storage GETs are immutable: browsers may cache them for 30 days (as Convex).
const CACHE_CONTROL: &str = "private, max-age=2592000";

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/storage/upload", post(upload).layer(DefaultBodyLimit::disable()))
        .route("/api/storage/{id}", get(download))
}

async fn upload(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(token) = params.get("token") else {
        return http_error(StatusCode::BAD_REQUEST, "BadQueryParams", "Missing query parameter `token`");
    };
    let executor = &state.executor;
    let component = match executor.check_upload_token(token) {
        Ok(component) => component,
        Err(e) => return http_error(StatusCode::UNAUTHORIZED, e.code, e.message),
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let expected_sha256 = match digest_header(&headers) {
        Ok(d) => d,
        Err(response) => return *response,
    };
    let mut writer = match executor.file_writer() {
        Ok(w) => w,
        Err(e) => return storage_failure(e),
    };
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return http_error(StatusCode::BAD_REQUEST, "BadRequest", &format!("Error parsing body: {e}")),
        };
        if let Err(e) = writer.write_bytes(chunk) {
            return storage_failure(e);
        }
    }
    let staged = match tokio::task::spawn_blocking(move || writer.finish()).await {
        Ok(Ok(staged)) => staged,
        Ok(Err(e)) => return storage_failure(e),
        Err(e) => return storage_failure(std::io::Error::other(e.to_string())),
    };
    if let Some(expected) = expected_sha256 {
        use base64::Engine;
        let actual = base64::engine::general_purpose::STANDARD.encode(staged.sha256);
        if actual != expected {
            return http_error(
                StatusCode::BAD_REQUEST,
                "Sha256Mismatch",
                &format!("Sha256 mismatch: the request said {expected}, the uploaded bytes hash to {actual}"),
            );
        }
    }
    match executor.store_upload(&component, staged, content_type.as_deref()).await {
        Ok(id) => axum::Json(json!({ "storageId": id })).into_response(),
        Err(
            CallError::Internal { message }
            | CallError::Developer { message, .. }
            | CallError::BadRequest { message, .. },
        ) => http_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", &message),
    }
}

/// The SHA-256 a `Digest: sha-256=<base64>` header asks the body to have.
fn digest_header(headers: &HeaderMap) -> Result<Option<String>, Box<Response>> {
    let Some(value) = headers.get("digest") else { return Ok(None) };
    let text = value.to_str().unwrap_or_default();
    match text.split_once('=') {
        Some((algo, digest)) if algo.eq_ignore_ascii_case("sha-256") => Ok(Some(digest.to_string())),
        _ => Err(Box::new(http_error(
            StatusCode::BAD_REQUEST,
            "BadHeader",
            &format!("Bad header for Digest: expected `sha-256=<base64>`, got {text:?}"),
        ))),
    }
}

fn storage_failure(e: std::io::Error) -> Response {
    http_error(StatusCode::INTERNAL_SERVER_ERROR, "StorageError", &format!("file storage I/O error: {e}"))
}

async fn download(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let component = params.get("component").cloned().unwrap_or_default();
    let executor = state.executor.clone();
    let lookup_id = id.clone();
    let opened = tokio::task::spawn_blocking(move || executor.open_file(&component, &lookup_id)).await;
    let (file, mut reader) = match opened {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) if !looks_like_storage_id(&id) => {
            return http_error(
                StatusCode::BAD_REQUEST,
                "InvalidStoragePath",
                &format!(
                    "Invalid storage path: \"{id}\". Please use `storage.getUrl()` to generate a valid URL to retrieve files. See https://docs.convex.dev/file-storage/serve-files for more details"
                ),
            );
        }
        Ok(Ok(None)) => return http_error(StatusCode::NOT_FOUND, "FileNotFound", "File not found"),
        Ok(Err(message)) => return http_error(StatusCode::INTERNAL_SERVER_ERROR, "StorageError", &message),
        Err(e) => return http_error(StatusCode::INTERNAL_SERVER_ERROR, "StorageError", &e.to_string()),
    };
    let len = reader.len();
    let mut response_headers = HeaderMap::new();
    if let Some(ct) = file.content_type.as_deref().and_then(|ct| HeaderValue::from_str(ct).ok()) {
        response_headers.insert(header::CONTENT_TYPE, ct);
    }
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    let range = match headers.get(header::RANGE).map(|v| parse_range(v.to_str().unwrap_or_default(), len)) {
        None => None,
        Some(Some(range)) => Some(range),
        Some(None) => {
            let unsatisfiable = HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii");
            response_headers.insert(header::CONTENT_RANGE, unsatisfiable);
            return (StatusCode::RANGE_NOT_SATISFIABLE, response_headers).into_response();
        }
    };
    let (status, start, count) = match range {
        Some((start, end)) => {
            let value = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")).expect("ascii");
            response_headers.insert(header::CONTENT_RANGE, value);
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        None => {
            if let Ok(v) = HeaderValue::from_str(&format!("sha-256={}", file.sha256_base64)) {
                response_headers.insert("digest", v);
            }
            (StatusCode::OK, 0, len)
        }
    };
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    if start > 0
        && let Err(e) = reader.seek(SeekFrom::Start(start))
    {
        return http_error(StatusCode::INTERNAL_SERVER_ERROR, "StorageError", &e.to_string());
    }
    (status, response_headers, Body::from_stream(chunks(reader, count))).into_response()
}

/// The next `remaining` bytes of `reader`, in chunks read on the blocking pool, one chunk
/// ahead: the next read starts as soon as a chunk is handed to the connection, so reading the
/// disk and sending overlap. No thread waits for a slow client (a finished read's chunk waits
/// in its task's result).
fn chunks(
    reader: FileReader,
    remaining: u64,
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> + Send + 'static {
    let first = read_chunk(reader, remaining);
    futures_util::stream::unfold(first, |next| async move {
        let ahead = next?;
        match ahead.await {
            Ok((reader, remaining, Ok(buf))) => {
                let following = read_chunk(reader, remaining);
                Some((Ok(axum::body::Bytes::from(buf)), following))
            }
            Ok((_, _, Err(e))) => Some((Err(e), None)),
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
        }
    })
}

type ChunkRead = tokio::task::JoinHandle<(FileReader, u64, std::io::Result<Vec<u8>>)>;

/// Starts reading the next chunk of `reader` (of the `remaining` bytes to serve); `None` at the end.
fn read_chunk(reader: FileReader, remaining: u64) -> Option<ChunkRead> {
    if remaining == 0 {
        return None;
    }
    let want = remaining.min(CHUNK as u64);
    Some(tokio::task::spawn_blocking(move || {
        let mut buf = Vec::with_capacity(want as usize);
        let mut reader = reader;
        let result = match (&mut reader).take(want).read_to_end(&mut buf) {
            Ok(n) if n as u64 == want => Ok(buf),
            Ok(n) => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the stored file ended {} bytes early", want - n as u64),
            )),
            Err(e) => Err(e),
        };
        (reader, remaining - want, result)
    }))
}

/// A storage id or file key has only these characters; anything else is not a storage path.
fn looks_like_storage_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// One `bytes=` range of a file of `len` bytes as inclusive `(start, end)`; `None` when it is
/// not satisfiable (or asks for several ranges, which Convex does not serve either).
fn parse_range(header: &str, len: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.trim().split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            if n == 0 || len == 0 {
                return None;
            }
            (len.saturating_sub(n), len - 1)
        }
        (start, "") => (start.parse().ok()?, len.checked_sub(1)?),
        (start, end) => {
            let end: u64 = end.parse().ok()?;
            (start.parse().ok()?, end.min(len.checked_sub(1)?))
        }
    };
    (start <= end && start < len).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=95-200", 100), Some((95, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_range("bytes=0-0", 0), None);
    }
}
