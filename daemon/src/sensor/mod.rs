//! The sensor container: every enabled sensor of the registry runs as a supervised Python
//! process (DESIGN.md 3.5), restarted with backoff when it crashes and restarted alone when its
//! files or config change.
//!
//! Owns: sensor processes and their visible state. Must not: validate or journal dispatches
//! (the shim socket does) or read pack metadata from disk (the registry has it).

pub mod spec;
pub mod supervisor;
pub mod task;
pub mod timer;

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

/// Lines of a sensor's output kept for `st2ctl sensor get`.
pub const TAIL_LINES: usize = 50;

/// Where a sensor is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorState {
    Starting,
    Running,
    /// Crashed; waiting to start again.
    Backoff,
    /// Could not be started at all (interpreter or file missing); retried with backoff.
    Failed,
    /// Exited with status 0, or stopped on request.
    Stopped,
    Disabled,
}

impl SensorState {
    pub fn as_str(self) -> &'static str {
        match self {
            SensorState::Starting => "starting",
            SensorState::Running => "running",
            SensorState::Backoff => "backoff",
            SensorState::Failed => "failed",
            SensorState::Stopped => "stopped",
            SensorState::Disabled => "disabled",
        }
    }
}

/// A sensor's visible state.
#[derive(Debug, Clone)]
pub struct SensorStatus {
    pub state: SensorState,
    pub pid: Option<u32>,
    /// Starts after the first one (crash restarts and requested restarts).
    pub restarts: u32,
    /// `exit 1`, `signal 9`, or why it could not start.
    pub last_exit: Option<String>,
    pub started: Option<Instant>,
    pub started_at: Option<SystemTime>,
    /// When the next start is due, in backoff.
    pub next_start: Option<Instant>,
    /// The last lines the process wrote to stdout or stderr.
    pub tail: VecDeque<String>,
}

impl SensorStatus {
    pub fn new(state: SensorState) -> Self {
        Self {
            state,
            pid: None,
            restarts: 0,
            last_exit: None,
            started: None,
            started_at: None,
            next_start: None,
            tail: VecDeque::new(),
        }
    }

    pub fn push_line(&mut self, line: String) {
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }
}

/// Where a sensor of the registry stands.
#[derive(Debug, Clone)]
pub struct Standing {
    /// Its task's status, while one is supervised.
    pub status: Option<SensorStatus>,
    /// Whether its pack registers sensors.
    pub registered: bool,
    /// Its toggle, else its file's `enabled`.
    pub enabled: bool,
    /// False when another sensor was picked to run alone (`--sensor-ref`).
    pub selected: bool,
}

impl Standing {
    /// The state shown: the task's while one is supervised; otherwise `disabled` (not enabled,
    /// or not registered), `starting` (about to be started) or `stopped` (not selected).
    pub fn state(&self) -> &'static str {
        match &self.status {
            Some(status) => status.state.as_str(),
            None if !self.enabled || !self.registered => SensorState::Disabled.as_str(),
            None if self.selected => SensorState::Starting.as_str(),
            None => SensorState::Stopped.as_str(),
        }
    }
}
