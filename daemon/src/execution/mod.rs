//! Executions: one run of an action, its status machine (ST2-COMPAT.md 2.8), and the record
//! kept in the store.
//!
//! Owns: the execution record and its status rules. Must not: run processes (the runners do)
//! or decide what to run (the executor and the rules engine do).

pub mod enforcement;
mod request;
pub use request::{ExecutionRequest, ParentLink, RequestError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use st2d_core::status::ExecutionStatus;

/// A status and when it was reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub status: ExecutionStatus,
    pub timestamp: DateTime<Utc>,
}

/// The parameters after resolution, as the runner receives them (kept so an execution
/// requested before a restart runs with exactly what was resolved).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    pub runner: Map<String, Value>,
    pub action: Map<String, Value>,
}

/// One execution, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// 16 hex digits, increasing.
    pub id: String,
    pub action: String,
    pub runner: String,
    pub status: ExecutionStatus,
    /// As given by the caller, or as rendered by the rule.
    pub parameters: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    pub start_timestamp: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<DateTime<Utc>>,
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_tag: Option<String>,
    /// The workflow execution this one is a task of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Its task's name in that workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// StackStorm's execution context: user, pack, rule, trigger_instance, trace_context.
    #[serde(default)]
    pub context: Value,
    #[serde(default)]
    pub log: Vec<LogEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Resolved>,
}

#[cfg(test)]
impl Execution {
    /// A bare execution for unit tests: no parameters, result, parent or log.
    pub fn sample(id: &str, action: &str, runner: &str, status: ExecutionStatus) -> Self {
        Self {
            id: id.to_string(),
            action: action.to_string(),
            runner: runner.to_string(),
            status,
            parameters: Map::new(),
            result: None,
            start_timestamp: Utc::now(),
            end_timestamp: None,
            user: "stanley".to_string(),
            rule: None,
            trigger_instance: None,
            trace_tag: None,
            parent: None,
            task: None,
            context: Value::Null,
            log: Vec::new(),
            resolved: None,
        }
    }
}

impl Execution {
    /// Moves to `status`, logging the change; completing sets the end time.
    pub fn set_status(&mut self, status: ExecutionStatus) {
        let now = Utc::now();
        self.status = status;
        self.log.push(LogEntry { status, timestamp: now });
        if status.is_completed() {
            self.end_timestamp = Some(now);
        }
    }

    /// Seconds from start to end (or to now while it runs).
    pub fn elapsed_seconds(&self) -> f64 {
        let end = self.end_timestamp.unwrap_or_else(Utc::now);
        (end - self.start_timestamp).num_milliseconds().max(0) as f64 / 1000.0
    }

    pub fn numeric_id(&self) -> Option<u64> {
        crate::trigger::parse_id(&self.id)
    }

    pub fn to_record(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_record(record: &[u8]) -> Option<Self> {
        serde_json::from_slice(record).ok()
    }
}

/// The parameters with every value of a `secret: true` parameter replaced by `********`.
pub fn mask_secrets(parameters: &Map<String, Value>, schema: &Value) -> Map<String, Value> {
    parameters
        .iter()
        .map(|(name, value)| {
            let secret = schema.get(name).and_then(|s| s.get("secret")).and_then(Value::as_bool).unwrap_or(false);
            let shown = if secret && !value.is_null() { Value::String("********".to_string()) } else { value.clone() };
            (name.clone(), shown)
        })
        .collect()
}
