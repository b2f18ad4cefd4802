//! Rule enforcements: the record that a rule fired (or failed to) for a trigger instance
//! (ST2-COMPAT.md 5.4). At most one exists per (trigger instance, rule), which is what makes a
//! replay after a crash fire nothing twice.
//!
//! Owns: the enforcement record. Must not: decide matches or create executions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enforcement {
    pub id: String,
    pub rule: String,
    pub trigger_instance: String,
    /// The execution created, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    /// `succeeded` when an execution was created (whatever its outcome), else `failed`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub enforced_at: DateTime<Utc>,
}

impl Enforcement {
    pub fn to_record(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_record(record: &[u8]) -> Option<Self> {
        serde_json::from_slice(record).ok()
    }
}
