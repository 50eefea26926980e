//! One Node.js child process running `host.mjs`: spawning it, writing requests, reading
//! replies.
//!
//! Invariant: the child is killed when this value drops (`kill_on_drop`), so a process that
//! failed, hung or was abandoned mid-action never outlives it.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::NodeRuntime;
use crate::protocol::{Reply, Request};

/// What ended a child's conversation.
#[derive(Debug)]
pub(crate) enum ChildGone {
    /// Its stdout closed: it exited (or closed it).
    Exited(String),
    /// It wrote something that is not a message of the protocol.
    Garbled(String),
}

pub(crate) struct NodeProcess {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl NodeProcess {
    pub(crate) fn spawn(runtime: &NodeRuntime) -> std::io::Result<NodeProcess> {
        let mut child = Command::from(runtime.host_command())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        Ok(NodeProcess { child, stdin, lines: BufReader::new(stdout).lines() })
    }

    pub(crate) async fn send(&mut self, request: &Request<'_>) -> Result<(), ChildGone> {
        let mut line = serde_json::to_vec(request).expect("requests serialize");
        line.push(b'\n');
        match self.stdin.write_all(&line).await {
            Ok(()) => Ok(()),
            Err(_) => Err(self.gone().await),
        }
    }

    pub(crate) async fn receive(&mut self) -> Result<Reply, ChildGone> {
        match self.lines.next_line().await {
            Ok(Some(line)) => serde_json::from_str(&line).map_err(|e| ChildGone::Garbled(format!("{e}: {line:.200}"))),
            Ok(None) | Err(_) => Err(self.gone().await),
        }
    }

    /// How the child ended (waiting briefly for its exit status).
    async fn gone(&mut self) -> ChildGone {
        let status = tokio::time::timeout(std::time::Duration::from_secs(2), self.child.wait()).await;
        ChildGone::Exited(match status {
            Ok(Ok(status)) => status.to_string(),
            _ => "no exit status".to_string(),
        })
    }
}
