//! The WebSocket endpoint of the sync protocol: `GET /api/{client_version}/sync` and
//! `/api/sync` upgrade to a socket whose frames go to a session of `emvex-sync`
//! (`spec/sync-protocol.md` §1).
//!
//! Owns: the upgrade (no subprotocol, any `Origin`, frame and message size limits) and pumping
//! frames between the socket and the session (a reader task and a writer). Invariants: the server only ever writes text
//! frames; when the session ends, the socket is closed with the session's close frame; a
//! message over the size limits closes the socket with 1009; when the client goes, the
//! session's input ends and it releases its subscriptions.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use emvex_executor::ClientInfo;
use emvex_sync::{Incoming, Outbox, OutboxReceiver, Outgoing, SyncService, run_session};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::http_error::http_error;

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
pub(crate) fn upgrade(service: Arc<SyncService>, version: &str, client: ClientInfo, ws: WebSocketUpgrade) -> Response {
    if !version.is_empty() && !is_semver(version) {
        return http_error(
            StatusCode::BAD_REQUEST,
            "InvalidClientVersion",
            &format!("Invalid client version in the URL: {version}"),
        );
    }
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| serve(service, socket, client))
        .into_response()
}

/// Serves one socket with three tasks: its session, a reader handing frames to the session,
/// and a writer (this one) sending what the session queued. Reading and writing apart means a
/// write never polls the socket for input, and frames queued together go out in one flush.
async fn serve(service: Arc<SyncService>, socket: WebSocket, client: ClientInfo) {
    let (incoming_tx, incoming_rx) = mpsc::channel(INCOMING_FRAMES);
    let (outbox, outgoing) = Outbox::new();
    let (sink, stream) = socket.split();
    let session = tokio::spawn(run_session(service, incoming_rx, outbox.clone(), client));
    let mut reader = tokio::spawn(read_frames(stream, incoming_tx, outbox));
    let abandoned = outgoing.abandoned();
    tokio::select! {
        _ = write_frames(sink, outgoing) => {}
        // The client has left too much unread: what is queued is dropped, and so is the
        // connection.
        _ = abandoned => {}
    }
    // The client answers a close frame with its own, and one that sent too much may still be
    // sending: the connection stays open until the reader sees the end, for a while at most.
    if tokio::time::timeout(CLOSE_GRACE, &mut reader).await.is_err() {
        reader.abort();
    }
    let _ = session.await;
}

/// Hands the client's frames to the session until the client leaves, the session stops
/// listening, or a message is over the limits (then the writer is told to close with 1009, and
/// the client gets a while to read why before the connection goes).
async fn read_frames(mut stream: SplitStream<WebSocket>, incoming: mpsc::Sender<Incoming>, outbox: Outbox) {
    while let Some(message) = stream.next().await {
        let frame = match message {
            Ok(Message::Text(text)) => Incoming::Text(text.to_string()),
            Ok(Message::Binary(_)) => Incoming::Binary,
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) => return,
            Err(e) => {
                if is_too_big(e) {
                    outbox.close(1009, "MessageTooBig: messages are limited to 64 MiB");
                    drop(incoming);
                    tokio::time::sleep(CLOSE_GRACE).await;
                }
                return;
            }
        };
        if incoming.send(frame).await.is_err() {
            return;
        }
    }
}

/// Sends the session's frames, each batch of queued ones with one flush, until a close frame,
/// a failed write, or the end of the session and the reader.
async fn write_frames(mut sink: SplitSink<WebSocket, Message>, mut outgoing: OutboxReceiver) {
    while let Some(mut frame) = outgoing.recv().await {
        loop {
            match frame {
                Outgoing::Text(text) => {
                    if sink.feed(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Outgoing::Close(close) => {
                    let close = close.map(|(code, reason)| CloseFrame { code, reason: truncate(reason).into() });
                    let _ = sink.send(Message::Close(close)).await;
                    return;
                }
            }
            match outgoing.try_recv() {
                Some(next) => frame = next,
                None => break,
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
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
