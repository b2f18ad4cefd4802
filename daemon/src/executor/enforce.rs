//! Rule enforcements as the executor records them: for each rule a trigger instance matched,
//! one enforcement and the execution it requests, all of a batch in one durable commit, then
//! the executions start.
//!
//! Owns: the order "enforcement and execution on disk, then the execution starts", which makes
//! a replay after a crash fire each (instance, rule) exactly once. Must not: match rules (the
//! reactor does and hands the matches over).

use chrono::Utc;
use serde_json::Value;

use super::{Executor, Slot};
use crate::execution::enforcement::Enforcement;
use crate::execution::{Execution, ExecutionRequest};
use crate::metrics::{METRICS, Metrics};
use crate::registry::Registry;
use crate::store::{EnforcementBatch, StoreError};
use crate::trigger::{TriggerInstance, format_id, parse_id};
use st2d_core::template::SYSTEM_USER;

/// A rule that matched a trigger instance, or whose criteria could not be evaluated.
pub struct RuleMatch<'a> {
    pub instance: &'a TriggerInstance,
    pub rule: String,
    pub action: String,
    pub parameters: serde_json::Map<String, Value>,
    /// Why the criteria could not be evaluated: the enforcement is recorded failed.
    pub failure: Option<String>,
}

impl Executor {
    /// Records an enforcement per match (an (instance, rule) already enforced is skipped) with
    /// the executions they request, in one durable commit, and starts those executions. With
    /// a free slot an execution is recorded `running` in that commit and its process starts
    /// without another flush. An error means nothing of the batch was recorded or started.
    pub async fn enforce(&self, registry: &Registry, matches: Vec<RuleMatch<'_>>) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let mut commit = EnforcementBatch::default();
        let mut executions: Vec<(Execution, Option<Slot>)> = Vec::new();
        for matched in matches {
            let instance = matched.instance;
            let Some(instance_id) = parse_id(&instance.id) else { continue };
            match store.enforced(instance_id, &matched.rule) {
                Ok(false) => {}
                Ok(true) => continue,
                Err(error) => {
                    tracing::error!(trigger_instance = %instance.id, rule = %matched.rule, error = %error, "cannot check the enforcement");
                    continue;
                }
            }
            let mut enforcement = Enforcement {
                id: format_id(store.next_id().unwrap_or(instance_id)),
                rule: matched.rule.clone(),
                trigger_instance: instance.id.clone(),
                execution: None,
                status: "failed".to_string(),
                failure_reason: matched.failure.clone(),
                enforced_at: Utc::now(),
            };
            if matched.failure.is_none() {
                let request = ExecutionRequest {
                    action: matched.action,
                    parameters: matched.parameters,
                    user: SYSTEM_USER.to_string(),
                    rule: Some(matched.rule.clone()),
                    trigger_instance: Some(instance.clone()),
                    trace_tag: instance.trace_tag.clone(),
                    parent: None,
                    context: Default::default(),
                    typed: false,
                };
                match self.admit(registry, request) {
                    Ok((execution, slot)) => {
                        enforcement.execution = Some(execution.id.clone());
                        if execution.status.is_completed() {
                            enforcement.failure_reason = execution
                                .result
                                .as_ref()
                                .and_then(|r| r.get("error"))
                                .and_then(Value::as_str)
                                .map(String::from);
                        } else {
                            enforcement.status = "succeeded".to_string();
                        }
                        let id = execution.numeric_id().unwrap_or_default();
                        commit.executions.push((id, execution.to_record()));
                        executions.push((execution, slot));
                    }
                    Err(error) => enforcement.failure_reason = Some(error.to_string()),
                }
            }
            Metrics::add(&METRICS.rules_matched, 1);
            if let Some(reason) = &enforcement.failure_reason {
                Metrics::add(&METRICS.enforcements_failed, 1);
                tracing::warn!(rule = %matched.rule, trigger_instance = %instance.id, error = %reason, "rule enforcement failed");
            }
            commit.enforcements.push((instance_id, matched.rule, enforcement.to_record()));
        }
        if commit.enforcements.is_empty() {
            return Ok(());
        }
        store.commit_enforcements(&commit).await?;
        for (execution, slot) in executions {
            self.start(execution, slot);
        }
        Ok(())
    }
}
