//! StackStorm's execution statuses (ST2-COMPAT.md 2.8): their names, which are final, and their
//! text in records, APIs and workflow expressions.
//!
//! Owns: the status vocabulary. Must not: decide which change is allowed (the daemon's executor
//! does).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// StackStorm's execution statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionStatus {
    Requested,
    Scheduled,
    /// Held back by a concurrency policy, or a retry waiting out its delay.
    Delayed,
    Running,
    /// An inquiry waiting for its response.
    Pending,
    Succeeded,
    Failed,
    Timeout,
    Abandoned,
    Canceling,
    Canceled,
    /// A workflow asked to pause, waiting for its running tasks.
    Pausing,
    Paused,
    Resuming,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 14] = [
        ExecutionStatus::Requested,
        ExecutionStatus::Scheduled,
        ExecutionStatus::Delayed,
        ExecutionStatus::Running,
        ExecutionStatus::Pending,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::Timeout,
        ExecutionStatus::Abandoned,
        ExecutionStatus::Canceling,
        ExecutionStatus::Canceled,
        ExecutionStatus::Pausing,
        ExecutionStatus::Paused,
        ExecutionStatus::Resuming,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Requested => "requested",
            ExecutionStatus::Scheduled => "scheduled",
            ExecutionStatus::Delayed => "delayed",
            ExecutionStatus::Running => "running",
            ExecutionStatus::Pending => "pending",
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Timeout => "timeout",
            ExecutionStatus::Abandoned => "abandoned",
            ExecutionStatus::Canceling => "canceling",
            ExecutionStatus::Canceled => "canceled",
            ExecutionStatus::Pausing => "pausing",
            ExecutionStatus::Paused => "paused",
            ExecutionStatus::Resuming => "resuming",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(Value::String(text.to_ascii_lowercase())).ok()
    }

    /// succeeded, failed, timeout, abandoned, canceled: nothing changes afterwards.
    pub fn is_completed(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Succeeded
                | ExecutionStatus::Failed
                | ExecutionStatus::Timeout
                | ExecutionStatus::Abandoned
                | ExecutionStatus::Canceled
        )
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
