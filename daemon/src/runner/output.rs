//! The live output of a running execution: its stdout and stderr lines as they come, kept for
//! late watchers (up to a cap) and broadcast to current ones (`st2 execution tail`).
//!
//! Owns: the per-execution line buffer and broadcast. Must not: decide what the result is (the
//! runner keeps its own capped copy of each stream for the result).

use std::sync::{Mutex, PoisonError};

use tokio::sync::broadcast;

/// The most lines kept for watchers that arrive late.
const KEPT_LINES: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputLine {
    pub stream: Stream,
    pub line: String,
}

/// One execution's output so far; shared by the runner (writer) and watchers.
#[derive(Debug, Default)]
pub struct LiveOutput {
    shared: Mutex<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    kept: Vec<OutputLine>,
    /// Made by the first watcher: most executions are never watched live.
    watchers: Option<broadcast::Sender<OutputLine>>,
}

/// How many lines a slow watcher may fall behind by.
const WATCHER_BUFFER: usize = 1024;

impl LiveOutput {
    pub fn push(&self, stream: Stream, line: &str) {
        let line = OutputLine { stream, line: line.to_string() };
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(watchers) = &shared.watchers {
            // Nobody watching any more is fine.
            let _ = watchers.send(line.clone());
        }
        if shared.kept.len() < KEPT_LINES {
            shared.kept.push(line);
        }
    }

    /// The lines so far and a receiver for the next ones, taken together so none is missed or
    /// seen twice.
    pub fn subscribe(&self) -> (Vec<OutputLine>, broadcast::Receiver<OutputLine>) {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let receiver = shared.watchers.get_or_insert_with(|| broadcast::channel(WATCHER_BUFFER).0).subscribe();
        (shared.kept.clone(), receiver)
    }
}
