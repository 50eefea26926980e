//! The WebSocket endpoint of the sync protocol: `GET /api/{client_version}/sync` and
//! `/api/sync` upgrade to a socket whose frames go to a session of `emvex-sync`
//! (`spec/sync-protocol.md` §1).
//!
//! Owns: the upgrade (no subprotocol, any `Origin`, frame and message size limits) and pumping
//! frames between the socket and the session. Invariants: the server only ever writes text
//! frames; when the session ends, the socket is closed with the session's close frame; a
//! message over the size limits closes the socket with 1009; when the client goes, the
//! session's input ends and it releases its subscriptions.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use emvex_sync::{Incoming, Outbox, Outgoing, SyncService, run_session};
use tokio::sync::mpsc;

/// Largest message a client may send (Convex accepts 64 MiB) and largest frame (16 MiB).
const MAX_MESSAGE_BYTES: usize = 64 << 20;
const MAX_FRAME_BYTES: usize = 16 << 20;
/// Each socket's read buffer: clients send small messages, and tungstenite zero-fills the whole
/// buffer (128 KiB by default) for reads.
const READ_BUFFER_BYTES: usize = 8 << 10;
/// How long a socket closed for an oversized message stays open for the client to read why.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_millis(500);
/// Client frames buffered ahead of the session.
const INCOMING_FRAMES: usize = 256;

/// `1.49.0`, `1.49.0-alpha.1`: what the client puts in the URL.
fn is_semver(version: &str) -> bool {
    let core = version.split_once(['-', '+']).map_or(version, |(core, _)| core);
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Upgrades a request for the sync endpoint.
pub(crate) fn upgrade(service: Arc<SyncService>, version: &str, ws: WebSocketUpgrade) -> Response {
    if !version.is_empty() && !is_semver(version) {
        return crate::api::http_error(
            StatusCode::BAD_REQUEST,
            "InvalidClientVersion",
            &format!("Invalid client version in the URL: {version}"),
        );
    }
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| serve(service, socket))
        .into_response()
}

async fn serve(service: Arc<SyncService>, mut socket: WebSocket) {
    let (incoming_tx, incoming_rx) = mpsc::channel(INCOMING_FRAMES);
    let (outbox, mut outgoing) = Outbox::new();
    let session = tokio::spawn(run_session(service, incoming_rx, outbox));
    loop {
        tokio::select! {
            message = socket.recv() => {
                let frame = match message {
                    Some(Ok(Message::Text(text))) => Incoming::Text(text.to_string()),
                    Some(Ok(Message::Binary(_))) => Incoming::Binary,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Err(e)) => {
                        if is_too_big(e) {
                            let reason = "MessageTooBig: messages are limited to 64 MiB";
                            let _ = socket.send(Message::Close(Some(CloseFrame { code: 1009, reason: reason.into() }))).await;
                            // The client may still be sending the rest of its message: closing the
                            // connection now would reset it before it reads the close frame.
                            tokio::time::sleep(CLOSE_GRACE).await;
                        }
                        break;
                    }
                    Some(Ok(Message::Close(_))) | None => break,
                };
                if incoming_tx.send(frame).await.is_err() {
                    break;
                }
            }
            frame = outgoing.recv() => match frame {
                Some(Outgoing::Text(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close(frame)) => {
                    let frame = frame.map(|(code, reason)| CloseFrame { code, reason: truncate(reason).into() });
                    let _ = socket.send(Message::Close(frame)).await;
                    break;
                }
                None => break,
            },
        }
    }
    drop(incoming_tx);
    let _ = session.await;
}

/// Whether a read failed because the client's message or frame was over the limits.
fn is_too_big(error: axum::Error) -> bool {
    matches!(error.into_inner().downcast_ref::<tungstenite::Error>(), Some(tungstenite::Error::Capacity(_)))
}

/// Close reasons are at most 123 bytes.
fn truncate(mut reason: String) -> String {
    while reason.len() > 123 {
        reason.pop();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_versions_are_semver() {
        assert!(is_semver("1.49.0") && is_semver("9.9.9") && is_semver("1.49.0-alpha.1"));
        assert!(!is_semver("latest") && !is_semver("1.49") && !is_semver("1..0"));
    }
}
