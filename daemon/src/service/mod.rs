//! The service layer: every query, command, validation and permission check the daemon's doors
//! offer (the gRPC control plane in `api`, StackStorm's REST API in `rest`), written once.
//!
//! Owns: what a request means (defaults, filters, required fields, who may act) and the kind of
//! each refusal (`ServiceError`). Must not: see proto or HTTP types, hold state of its own, or
//! block the runtime on store scans of size (callers run those on blocking threads).

pub mod actions;
pub mod aliases;
pub mod backup;
pub mod catalog;
pub mod enforcements;
mod error;
pub mod executions;
pub mod inquiries;
pub mod keys;
pub mod packs;
pub mod rules;
pub mod sensors;
pub mod trigger_instances;

pub use error::ServiceError;

use std::sync::Arc;

use crate::reload::{Published, ReloadHandle};

/// The running parts the doors report on and steer.
pub struct Runtime {
    pub sensors: crate::sensor::supervisor::Supervisor,
    pub shim: crate::shim::ShimServer,
    pub store: crate::store::Store,
    pub journal: crate::trigger::journal::Journal,
    pub executor: crate::executor::Executor,
    pub datastore: crate::datastore::Datastore,
    pub packs: crate::packmgmt::PackManager,
    /// The tokens of running executions (`ST2_ACTION_AUTH_TOKEN`).
    pub action_tokens: Arc<crate::auth::ActionTokens>,
}

/// What every service function reads and steers: the published registry, the reload actor
/// and the runtime.
#[derive(Clone)]
pub struct Services {
    pub published: Published,
    pub reload: ReloadHandle,
    pub runtime: Arc<Runtime>,
}

impl Services {
    pub fn new(published: Published, reload: ReloadHandle, runtime: Runtime) -> Self {
        Self { published, reload, runtime: Arc::new(runtime) }
    }
}

/// A page of a longer list: the items asked for and how many there are in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: usize,
}

/// Which part of a list is asked for (`offset`, then at most `limit`; no limit is all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub offset: usize,
    pub limit: Option<usize>,
}

impl Window {
    /// The window's part of `items`, with the count of all of them.
    pub fn cut<T>(&self, items: Vec<T>) -> Page<T> {
        let total = items.len();
        let items = items.into_iter().skip(self.offset).take(self.limit.unwrap_or(usize::MAX)).collect();
        Page { items, total }
    }
}

/// The user a request acts as when its door names none (StackStorm's `system_user`).
pub fn acting_user(user: &str) -> &str {
    if user.trim().is_empty() { st2d_core::template::SYSTEM_USER } else { user }
}

/// A time a filter names (`enforced_at_gt`, `timestamp_lt`...), as StackStorm's `isotime.parse`
/// reads it: ISO 8601 with or without a zone (none is UTC), `T` or a space between date and
/// time; empty is no time. The error names the filter.
pub fn parse_time(field: &str, text: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ServiceError> {
    use chrono::{DateTime, NaiveDateTime, Utc};
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    let naive = text.trim_end_matches('Z').replacen(' ', "T", 1);
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(&naive, format).ok())
        .or_else(|| chrono::NaiveDate::parse_from_str(&naive, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
        .map(|at| Some(at.and_utc()))
        .ok_or_else(|| {
            ServiceError::invalid(format!(
                "{field}: \"{text}\" is not a time (use ISO 8601, such as 2000-01-01T12:00:00.000Z)"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_times_read_as_stackstorm_reads_them() {
        let at = |text: &str| parse_time("f", text).expect("a time").expect("some").to_rfc3339();
        assert_eq!(at("2000-01-01T12:00:00.000Z"), "2000-01-01T12:00:00+00:00");
        assert_eq!(at("2000-01-01T12:00:00+02:00"), "2000-01-01T10:00:00+00:00");
        assert_eq!(at("2000-01-01 12:00:00"), "2000-01-01T12:00:00+00:00");
        assert_eq!(at("2000-01-01"), "2000-01-01T00:00:00+00:00");
        assert_eq!(parse_time("f", "").expect("empty"), None);
        let refused = parse_time("enforced_at_gt", "yesterday").expect_err("not a time");
        assert!(refused.to_string().starts_with("enforced_at_gt:"), "{refused}");
    }
}
