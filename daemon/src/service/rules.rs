//! Rules as the doors change them: enabling and disabling a rule (kept in the store, over its
//! file's `enabled`), applied by a registry refresh so the rules engine sees it at once.
//!
//! Owns: what a toggle request means. Must not: write a rule file or publish a registry
//! itself (the reload actor does).

use std::sync::Arc;

use st2d_core::pack::model::Rule;

use super::{ServiceError, Services};

pub async fn set_enabled(services: &Services, ref_: &str, enabled: bool) -> Result<Arc<Rule>, ServiceError> {
    let ref_ = ref_.trim();
    if ref_.is_empty() {
        return Err(ServiceError::invalid("ref is required"));
    }
    let missing = || ServiceError::not_found(format!("rule \"{ref_}\" not found"));
    if services.published.registry().rule(ref_).is_none() {
        return Err(missing());
    }
    services.runtime.store.set_rule_toggle(ref_, enabled).map_err(ServiceError::internal)?;
    services.reload.refresh().await.map_err(ServiceError::unavailable)?;
    services.published.registry().rule(ref_).cloned().ok_or_else(missing)
}
