//! Rule enforcements as the doors offer them (StackStorm's
//! st2api/controllers/v1/rule_enforcements.py): listed newest first with StackStorm's filters
//! (`rule_ref`, `rule_id`, `execution`, `trigger_instance`, `enforced_at_gt`/`_lt`) and read
//! by id.
//!
//! Owns: what an enforcement request means (filters, defaults). Must not: write an enforcement
//! (only the executor does) or block the runtime with a scan (callers run these on a blocking
//! thread).

use super::{Page, Runtime, ServiceError, Window, catalog, parse_time};
use crate::execution::enforcement::Enforcement;
use crate::trigger::parse_id;

/// Enforcements listed when a request names no limit.
pub const DEFAULT_LIMIT: usize = 50;

/// Which enforcements a list asks for; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct EnforcementFilter {
    pub rule_ref: String,
    pub rule_id: String,
    pub execution: String,
    pub trigger_instance: String,
    /// `enforced_at_gt` and `enforced_at_lt`, as given.
    pub after: String,
    pub before: String,
}

/// The newest enforcements that pass `filter`, newest first, in `window` (a window without a
/// limit gets `DEFAULT_LIMIT`); `total` counts those up to the window's end and one more when
/// more exist.
pub fn list(runtime: &Runtime, filter: &EnforcementFilter, window: Window) -> Result<Page<Enforcement>, ServiceError> {
    let after = parse_time("enforced_at_gt", &filter.after)?;
    let before = parse_time("enforced_at_lt", &filter.before)?;
    let keep = |e: &Enforcement| {
        (filter.rule_ref.is_empty() || e.rule == filter.rule_ref)
            && (filter.rule_id.is_empty() || catalog::rule_id_of(&e.rule) == filter.rule_id)
            && (filter.execution.is_empty() || e.execution.as_deref() == Some(filter.execution.as_str()))
            && (filter.trigger_instance.is_empty() || e.trigger_instance == filter.trigger_instance)
            && after.is_none_or(|a| e.enforced_at > a)
            && before.is_none_or(|b| e.enforced_at < b)
    };
    let limit = window.limit.unwrap_or(DEFAULT_LIMIT);
    let wanted = window.offset.saturating_add(limit).saturating_add(1);
    let store = &runtime.store;
    // An instance's enforcements are found by its key; the others by a scan from the newest.
    let records = match parse_id(&filter.trigger_instance).filter(|_| !filter.trigger_instance.is_empty()) {
        Some(instance) => store.enforcements_of(instance),
        None => store.recent_enforcements(wanted, |record| Enforcement::from_record(record).is_some_and(|e| keep(&e))),
    }
    .map_err(ServiceError::internal)?;
    let mut enforcements: Vec<Enforcement> =
        records.iter().filter_map(|r| Enforcement::from_record(r)).filter(|e| keep(e)).collect();
    enforcements.sort_by(|a, b| b.enforced_at.cmp(&a.enforced_at).then_with(|| a.rule.cmp(&b.rule)));
    Ok(Window { offset: window.offset, limit: Some(limit) }.cut(enforcements))
}

/// The enforcement with this id.
pub fn get(runtime: &Runtime, id: &str) -> Result<Enforcement, ServiceError> {
    let wanted = id.trim();
    let found = runtime
        .store
        .recent_enforcements(1, |record| Enforcement::from_record(record).is_some_and(|e| e.id == wanted))
        .map_err(ServiceError::internal)?;
    found
        .first()
        .and_then(|record| Enforcement::from_record(record))
        .ok_or_else(|| ServiceError::not_found(format!("rule enforcement \"{wanted}\" not found")))
}
