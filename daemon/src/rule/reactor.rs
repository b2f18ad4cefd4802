//! The rules engine at work: takes journaled trigger instances in batches (and, at start, those
//! a previous run left unprocessed), matches them against the rule index, records one
//! enforcement per (instance, rule) together with the executions it requests in one durable
//! commit, marks the instances processed, then hands the executions to the executor.
//!
//! Owns: the order "enforcement on disk, then execution started", which makes a replay after a
//! crash fire each (instance, rule) exactly once. Must not: run actions or evaluate operators.

use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::enforcement::Enforcement;
use super::engine::{RuleIndex, Verdict};
use crate::execution::Execution;
use crate::execution::ExecutionRequest;
use crate::executor::{Executor, Slot};
use crate::metrics::{METRICS, Metrics};
use crate::reload::Published;
use crate::store::{EnforcementBatch, Store};
use crate::trigger::{TriggerInstance, format_id, parse_id};
use st2d_core::criteria::matcher::PatternRenderer;
use st2d_core::template::SYSTEM_USER;

/// Instances replayed at start are processed in chunks of this size.
const REPLAY_CHUNK: usize = 1024;

/// Builds the renderer for criteria patterns (it reads the datastore at render time).
pub type RendererFactory = Arc<dyn Fn() -> Box<dyn PatternRenderer + Send> + Send + Sync>;

pub struct Reactor {
    store: Store,
    published: Published,
    executor: Executor,
    renderer: RendererFactory,
    index: RuleIndex,
}

impl Reactor {
    pub fn new(store: Store, published: Published, executor: Executor, renderer: RendererFactory) -> Self {
        Self { store, published, executor, renderer, index: RuleIndex::default() }
    }

    /// Processes what a previous run left, then every batch the journal sends, until the
    /// journal closes the channel (it does after draining, at shutdown).
    pub async fn run(mut self, mut batches: mpsc::Receiver<Vec<TriggerInstance>>, shutdown: CancellationToken) {
        self.replay().await;
        loop {
            let batch = tokio::select! {
                batch = batches.recv() => batch,
                () = shutdown.cancelled() => batches.recv().await,
            };
            let Some(batch) = batch else { return };
            self.process(batch).await;
        }
    }

    async fn replay(&mut self) {
        let store = self.store.clone();
        let pending = tokio::task::spawn_blocking(move || -> Result<Vec<TriggerInstance>, String> {
            let after = store.processed_through().map_err(|e| e.to_string())?;
            let records = store.trigger_instances_after(after).map_err(|e| e.to_string())?;
            Ok(records
                .into_iter()
                .filter_map(|(_, record)| serde_json::from_slice::<TriggerInstance>(&record).ok())
                .filter(|instance| instance.status == "pending" || instance.status == "processing")
                .collect())
        })
        .await;
        let pending = match pending {
            Ok(Ok(pending)) => pending,
            Ok(Err(error)) => {
                tracing::error!(error = %error, "cannot read unprocessed trigger instances");
                return;
            }
            Err(error) => {
                tracing::error!(error = %error, "reading unprocessed trigger instances failed");
                return;
            }
        };
        if !pending.is_empty() {
            tracing::info!(count = pending.len(), "processing trigger instances journaled before the restart");
            METRICS.journal_depth_moved(pending.len() as i64);
        }
        let mut pending = pending.into_iter().peekable();
        while pending.peek().is_some() {
            let chunk: Vec<TriggerInstance> = pending.by_ref().take(REPLAY_CHUNK).collect();
            self.process(chunk).await;
        }
    }

    fn refresh_index(&mut self) -> Arc<crate::registry::Registry> {
        let registry = self.published.registry();
        if registry.generation != self.index.generation || self.index.generation == 0 {
            self.index = RuleIndex::build(&registry);
        }
        registry
    }

    /// One batch: match, commit enforcements and executions, mark processed, start executions.
    pub async fn process(&mut self, mut batch: Vec<TriggerInstance>) {
        let registry = self.refresh_index();
        let renderer = (self.renderer)();
        let now = Utc::now();
        let mut commit = EnforcementBatch::default();
        let mut executions: Vec<(Execution, Option<Slot>)> = Vec::new();
        for instance in &batch {
            let verdicts = self.index.evaluate(&instance.trigger, &instance.payload, renderer.as_ref(), now);
            if verdicts.is_empty() {
                continue;
            }
            let Some(instance_id) = parse_id(&instance.id) else { continue };
            for verdict in verdicts {
                let (rule, failure) = match verdict {
                    Verdict::Matched(rule) => (rule, None),
                    Verdict::Failed(rule, reason) => (rule, Some(reason)),
                };
                match self.store.enforced(instance_id, &rule.ref_) {
                    Ok(false) => {}
                    Ok(true) => continue,
                    Err(error) => {
                        tracing::error!(trigger_instance = %instance.id, rule = %rule.ref_, error = %error, "cannot check the enforcement");
                        continue;
                    }
                }
                let mut enforcement = Enforcement {
                    id: format_id(self.store.next_id().unwrap_or(instance_id)),
                    rule: rule.ref_.clone(),
                    trigger_instance: instance.id.clone(),
                    execution: None,
                    status: "failed".to_string(),
                    failure_reason: failure.clone(),
                    enforced_at: Utc::now(),
                };
                if failure.is_none() {
                    let request = ExecutionRequest {
                        action: rule.action_ref.clone(),
                        parameters: rule.action_parameters.clone(),
                        user: SYSTEM_USER.to_string(),
                        rule: Some(rule.ref_.clone()),
                        trigger_instance: Some(instance.clone()),
                        trace_tag: instance.trace_tag.clone(),
                        parent: None,
                    };
                    match self.executor.prepare(&registry, request) {
                        Ok(mut execution) => {
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
                            // With a free slot it is recorded running in this commit and its
                            // process starts right after, without another flush.
                            let slot =
                                if execution.status.is_completed() { None } else { self.executor.reserve(&execution) };
                            if slot.is_some() {
                                Executor::mark_running(&mut execution);
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
                    tracing::warn!(rule = %rule.ref_, trigger_instance = %instance.id, error = %reason, "rule enforcement failed");
                }
                commit.enforcements.push((instance_id, rule.ref_.clone(), enforcement.to_record()));
            }
        }
        let committed = if commit.enforcements.is_empty() {
            Ok(())
        } else {
            self.store.commit_enforcements(&commit).await.map_err(|e| e.to_string())
        };
        let status = match &committed {
            Ok(()) => "processed",
            Err(error) => {
                tracing::error!(error = %error, count = batch.len(), "cannot record rule enforcements");
                "processing_failed"
            }
        };
        let mut records = Vec::with_capacity(batch.len());
        let mut last = 0;
        for instance in &mut batch {
            instance.status = status.to_string();
            if let Some(id) = parse_id(&instance.id) {
                last = last.max(id);
                records.push((id, serde_json::to_vec(&*instance).unwrap_or_default()));
            }
        }
        let marked = self.store.put_trigger_instances(&records).and_then(|()| {
            if last > self.store.processed_through()? { self.store.set_processed_through(last) } else { Ok(()) }
        });
        if let Err(error) = marked {
            tracing::error!(error = %error, "cannot mark trigger instances processed");
        }
        Metrics::add(&METRICS.trigger_instances_processed, batch.len());
        METRICS.journal_depth_moved(-(batch.len() as i64));
        if committed.is_ok() {
            for (execution, slot) in executions {
                self.executor.start(execution, slot);
            }
        }
    }
}
