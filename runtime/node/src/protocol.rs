//! The messages between emvex and its Node.js host (`host.mjs`): one JSON object per line,
//! requests on the child's stdin, replies and syscalls on its stdout.
//!
//! Invariant: these shapes and the header comment of `host.mjs` describe the same protocol.

use serde::{Deserialize, Serialize};

/// emvex → host.
#[derive(Debug, Serialize)]
#[serde(tag = "t", rename_all = "camelCase")]
pub(crate) enum Request<'a> {
    /// Import `module` and list its Convex functions.
    Analyze { id: u64, module: &'a str },
    /// Run action `name` of `module` with `args` (Convex JSON text of the positional args).
    #[serde(rename_all = "camelCase")]
    Run { id: u64, module: &'a str, name: &'a str, request_id: &'a str, args: &'a str },
    /// The answer to syscall `call`.
    Reply {
        call: u64,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        result: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<ReplyError>,
    },
}

/// A syscall's error as JS sees it (`data`: Convex JSON text of a `ConvexError`'s data).
#[derive(Debug, Serialize)]
pub(crate) struct ReplyError {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// host → emvex. (Each message also carries the `id` of its request; one child serves one
/// request at a time, so it is not needed here.)
#[derive(Debug, Deserialize)]
#[serde(tag = "t", rename_all = "camelCase")]
pub(crate) enum Reply {
    Analyzed { functions: Vec<(String, String, String, String, String)> },
    Failed { error: JsFailure },
    Syscall { call: u64, op: String, args: String },
    Log { line: String },
    Done { ok: bool, result: Option<String>, error: Option<JsFailure> },
}

/// An error thrown in the child.
#[derive(Debug, Clone, Deserialize)]
pub struct JsFailure {
    pub message: String,
    #[serde(default)]
    pub stack: Option<String>,
    /// Convex JSON text of a `ConvexError`'s data.
    #[serde(default)]
    pub data: Option<String>,
}
