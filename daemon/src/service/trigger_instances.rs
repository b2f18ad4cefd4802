//! Trigger instances as the doors offer them (StackStorm's st2api/controllers/v1/triggers.py,
//! `TriggerInstanceController` and `TriggerInstanceResendController`): listed newest first
//! with StackStorm's filters, read by id, and re-emitted: the same payload dispatched again to
//! the same trigger through the journal, with `__context.original_id` naming the first one.
//!
//! Owns: what a trigger instance request means (filters, defaults, the re-emitted payload).
//! Must not: write the journal's records itself (the journal does) or block the runtime with
//! a scan (callers of `list` run it on a blocking thread).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use super::{Page, Runtime, ServiceError, Window, parse_time};
use crate::registry::Registry;
use crate::trigger::{TriggerInstance, from_record, parse_id};

/// Instances listed when a request names no limit.
pub const DEFAULT_LIMIT: usize = 50;

/// Which instances a list asks for; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct InstanceFilter {
    /// Trigger refs (any of them).
    pub triggers: Vec<String>,
    /// A trigger type: the instances of its triggers.
    pub trigger_type: String,
    pub status: String,
    /// `timestamp_gt` and `timestamp_lt`, as given.
    pub after: String,
    pub before: String,
}

/// The newest instances that pass `filter`, newest first, in `window` (a window without a
/// limit gets `DEFAULT_LIMIT`); `total` counts those up to the window's end and one more when
/// more exist.
pub fn list(
    runtime: &Runtime,
    registry: &Registry,
    filter: &InstanceFilter,
    window: Window,
) -> Result<Page<TriggerInstance>, ServiceError> {
    let after = parse_time("timestamp_gt", &filter.after)?;
    let before = parse_time("timestamp_lt", &filter.before)?;
    let mut triggers: HashSet<String> = filter.triggers.iter().cloned().collect();
    if !filter.trigger_type.is_empty() {
        let of_type: HashSet<String> = crate::trigger::triggers::all(registry)
            .into_iter()
            .filter(|t| t.type_ref == filter.trigger_type)
            .map(|t| t.ref_)
            .chain(std::iter::once(filter.trigger_type.clone()))
            .collect();
        triggers = if triggers.is_empty() { of_type } else { triggers.intersection(&of_type).cloned().collect() };
        if triggers.is_empty() {
            return Ok(Page { items: Vec::new(), total: 0 });
        }
    }
    let in_time = |at: &DateTime<Utc>| after.is_none_or(|a| *at > a) && before.is_none_or(|b| *at < b);
    let processed_through = runtime.store.processed_through().map_err(ServiceError::internal)?;
    let keep = |i: &TriggerInstance| {
        (triggers.is_empty() || triggers.contains(&i.trigger))
            && (filter.status.is_empty() || i.status == filter.status)
            && in_time(&i.occurrence_time)
    };
    let limit = window.limit.unwrap_or(DEFAULT_LIMIT);
    let wanted = window.offset.saturating_add(limit).saturating_add(1);
    let records = runtime
        .store
        .recent_trigger_instances(wanted, |record| from_record(record, processed_through).is_ok_and(|i| keep(&i)))
        .map_err(ServiceError::internal)?;
    let instances = records.iter().filter_map(|r| from_record(r, processed_through).ok()).collect();
    Ok(Window { offset: window.offset, limit: Some(limit) }.cut(instances))
}

/// The instance with this id.
pub fn get(runtime: &Runtime, id: &str) -> Result<TriggerInstance, ServiceError> {
    let text = id.trim();
    let missing = || ServiceError::not_found(format!("trigger instance \"{text}\" not found"));
    let numeric = parse_id(text).ok_or_else(missing)?;
    let store = &runtime.store;
    let processed_through = store.processed_through().map_err(ServiceError::internal)?;
    let record = store.trigger_instance(numeric).map_err(ServiceError::internal)?.ok_or_else(missing)?;
    from_record(&record, processed_through)
        .map_err(|e| ServiceError::internal(format!("corrupt trigger instance {text}: {e}")))
}

/// What a re-emit dispatched.
#[derive(Debug, Clone, PartialEq)]
pub struct ReEmitted {
    /// The new instance's id.
    pub id: String,
    pub payload: Value,
}

/// Dispatches the payload of instance `id` again to its trigger, journaled like a sensor's
/// dispatch, with `__context: {original_id}` added as StackStorm does. The payload was checked
/// when it was first dispatched, so it is not checked again (`__context` is StackStorm's own).
pub async fn re_emit(runtime: &Runtime, id: &str) -> Result<ReEmitted, ServiceError> {
    let original = get(runtime, id)?;
    runtime.journal.admission().admit()?;
    let mut payload = match original.payload {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => {
            return Err(ServiceError::conflict(format!("trigger instance {id}: its payload {other} is not an object")));
        }
    };
    payload.insert("__context".to_string(), json!({"original_id": original.id}));
    let payload = Value::Object(payload);
    let (tx, rx) = oneshot::channel();
    let reply = Box::new(move |result| {
        // The requester may have gone away; the instance is journaled all the same.
        let _ = tx.send(result);
    });
    runtime.journal.append(original.trigger, payload.clone(), Some("api".to_string()), None, reply).await;
    let new_id = rx
        .await
        .map_err(|_| ServiceError::unavailable("the daemon is shutting down"))?
        .map_err(ServiceError::unavailable)?;
    Ok(ReEmitted { id: new_id, payload })
}
