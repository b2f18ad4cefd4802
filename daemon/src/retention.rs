//! Retention of history: trigger instances, rule enforcements and executions older than the
//! age limit, or beyond the count limit, are deleted (oldest first) at start and every ten
//! minutes. Executions not yet completed are never deleted.
//!
//! Owns: the retention policy and its task. Must not: delete anything still in use.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::store::{History, Store};

const EVERY: Duration = Duration::from_secs(600);

/// Limits on each kind of history; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub max_age: Option<Duration>,
    pub max_count: Option<usize>,
}

/// The time field that dates a record of each kind.
fn time_field(history: History) -> &'static str {
    match history {
        History::TriggerInstances => "occurrence_time",
        History::Executions => "start_timestamp",
        History::Enforcements => "enforced_at",
    }
}

/// One pass over every kind; returns how many records were deleted.
pub fn prune_once(store: &Store, retention: Retention, now: DateTime<Utc>) -> usize {
    let mut deleted = 0;
    for history in [History::TriggerInstances, History::Enforcements, History::Executions] {
        let field = time_field(history);
        let cutoff = retention.max_age.and_then(|age| chrono::Duration::from_std(age).ok()).map(|age| now - age);
        let expired = |record: &[u8]| -> bool {
            let Some(cutoff) = cutoff else { return false };
            serde_json::from_slice::<Value>(record)
                .ok()
                .and_then(|v| v.get(field).and_then(Value::as_str).map(String::from))
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .is_some_and(|t| t.with_timezone(&Utc) < cutoff)
        };
        match store.prune(history, retention.max_count.unwrap_or(usize::MAX), expired) {
            Ok(count) => deleted += count,
            Err(error) => tracing::error!(error = %error, "cannot prune history"),
        }
    }
    deleted
}

/// Prunes now and every ten minutes until `shutdown`.
pub async fn run(store: Store, retention: Retention, shutdown: CancellationToken) {
    if retention == Retention::default() {
        return;
    }
    loop {
        let pass_store = store.clone();
        let deleted = tokio::task::spawn_blocking(move || prune_once(&pass_store, retention, Utc::now())).await;
        if let Ok(deleted) = deleted
            && deleted > 0
        {
            tracing::info!(deleted, "history pruned");
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = shutdown.cancelled() => return,
        }
    }
}
