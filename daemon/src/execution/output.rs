//! The live output of a running execution: its stdout and stderr lines as they come, kept for
//! late watchers (up to a cap) and broadcast to current ones (`st2 execution tail`).
//!
//! Owns: the per-execution line buffer and broadcast. Must not: decide what the result is (the
//! runner keeps its own capped copy of each stream for the result).

use std::sync::Mutex;

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
#[derive(Debug)]
pub struct LiveOutput {
    kept: Mutex<Vec<OutputLine>>,
    tx: broadcast::Sender<OutputLine>,
}

impl Default for LiveOutput {
    fn default() -> Self {
        Self { kept: Mutex::new(Vec::new()), tx: broadcast::channel(1024).0 }
    }
}

impl LiveOutput {
    pub fn push(&self, stream: Stream, line: &str) {
        let line = OutputLine { stream, line: line.to_string() };
        if let Ok(mut kept) = self.kept.lock()
            && kept.len() < KEPT_LINES
        {
            kept.push(line.clone());
        }
        // Nobody watching is fine.
        let _ = self.tx.send(line);
    }

    /// The lines so far and a receiver for the next ones, taken together so none is missed or
    /// seen twice.
    pub fn subscribe(&self) -> (Vec<OutputLine>, broadcast::Receiver<OutputLine>) {
        match self.kept.lock() {
            Ok(kept) => (kept.clone(), self.tx.subscribe()),
            Err(_) => (Vec::new(), self.tx.subscribe()),
        }
    }
}
