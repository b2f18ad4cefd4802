//! Trigger instances: the type, payload validation against a trigger type, and the journal that
//! makes each instance durable before it is acknowledged (DESIGN.md 3.6).
//!
//! Owns: what a trigger instance is. Must not: match rules (the rules engine consumes the
//! journal).

pub mod admission;
pub mod journal;
pub mod payload;
pub mod triggers;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One occurrence of a trigger, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerInstance {
    /// 16 hex digits, increasing.
    pub id: String,
    /// The trigger type ref (or trigger ref) it was dispatched to.
    pub trigger: String,
    pub payload: Value,
    pub occurrence_time: DateTime<Utc>,
    /// `pending`, `processing`, `processed` or `processing_failed`.
    pub status: String,
    /// The sensor that dispatched it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_tag: Option<String>,
}

/// The text form of an instance id.
pub fn format_id(id: u64) -> String {
    format!("{id:016x}")
}

/// The status a stored instance had when the rules engine took it, and the status it shows
/// once processed. The rules engine does not rewrite a processed instance: it moves the
/// store's processed watermark past it, and rewrites only the instances it failed to process.
pub const PENDING: &str = "pending";
pub const PROCESSED: &str = "processed";

/// Reads a stored instance record, its status as of the processed watermark `processed_through`
/// (`Store::processed_through`): a `pending` instance at or below it was processed.
pub fn from_record(record: &[u8], processed_through: u64) -> Result<TriggerInstance, serde_json::Error> {
    let mut instance: TriggerInstance = serde_json::from_slice(record)?;
    if instance.status == PENDING && parse_id(&instance.id).is_some_and(|id| id <= processed_through) {
        instance.status = PROCESSED.to_string();
    }
    Ok(instance)
}

/// Parses an instance id (16 hex digits, or fewer).
pub fn parse_id(text: &str) -> Option<u64> {
    u64::from_str_radix(text.trim(), 16).ok()
}

/// Why a dispatch is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    #[error("trigger \"{0}\" does not exist")]
    UnknownTrigger(String),
    #[error(transparent)]
    Payload(#[from] payload::PayloadError),
}

/// Checks a dispatch as StackStorm does: `trigger` must be a trigger type ref or the ref of an
/// active trigger with parameters, and `payload` must fit the type's `payload_schema` (defaults
/// are filled in). The error says which; a refused dispatch is counted as dropped.
pub fn validate_dispatch(
    registry: &crate::registry::Registry,
    trigger: &str,
    payload: &mut Value,
) -> Result<(), DispatchError> {
    let trigger_type = registry
        .trigger_type(trigger)
        .cloned()
        .or_else(|| triggers::find(registry, trigger).and_then(|t| registry.trigger_type(&t.type_ref).cloned()));
    let checked = match trigger_type {
        None => Err(DispatchError::UnknownTrigger(trigger.to_string())),
        Some(trigger_type) => payload::validate(payload, &trigger_type.payload_schema).map_err(DispatchError::from),
    };
    if checked.is_err() {
        crate::metrics::Metrics::add(&crate::metrics::METRICS.trigger_instances_invalid, 1);
    }
    checked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_record_at_or_below_the_watermark_reads_as_processed() {
        let record = |id: u64, status: &str| {
            let instance = TriggerInstance {
                id: format_id(id),
                trigger: "core.st2.webhook".to_string(),
                payload: serde_json::json!({}),
                occurrence_time: Utc::now(),
                status: status.to_string(),
                source: None,
                trace_tag: None,
            };
            serde_json::to_vec(&instance).expect("serialisable")
        };
        let status = |id: u64, stored: &str, watermark: u64| {
            from_record(&record(id, stored), watermark).expect("a record").status
        };
        assert_eq!(status(7, PENDING, 7), PROCESSED);
        assert_eq!(status(7, PENDING, 9), PROCESSED);
        assert_eq!(status(8, PENDING, 7), PENDING);
        assert_eq!(status(7, "processing_failed", 9), "processing_failed");
        assert!(from_record(b"{", 0).is_err());
    }
}
