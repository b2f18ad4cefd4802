//! The rules engine at work: takes journaled trigger instances in batches (and, at start, those
//! a previous run left unprocessed), matches them against the rule index, hands each batch's
//! matches to the executor (`Executor::enforce` records an enforcement per (instance, rule)
//! with the executions they request in one durable commit, then starts them), and marks the
//! instances processed: the store's processed watermark moves past the batch (a `pending`
//! record below it reads as `processed`, `trigger::from_record`); only the instances of a
//! batch that failed are rewritten, as `processing_failed`.
//!
//! Owns: replay at start and the processed marks. Must not: write an enforcement or an
//! execution, run actions or evaluate operators.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::engine::{RuleIndex, Verdict};
use crate::executor::{Executor, RuleMatch};
use crate::metrics::{METRICS, Metrics};
use crate::reload::Published;
use crate::store::{Store, StoreError};
use crate::trigger::admission::Admission;
use crate::trigger::{PENDING, TriggerInstance, parse_id};
use st2d_core::criteria::matcher::PatternRenderer;

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
    /// The backlog the journal counts up and the reactor down.
    admission: Admission,
}

impl Reactor {
    pub fn new(
        store: Store,
        published: Published,
        executor: Executor,
        renderer: RendererFactory,
        admission: Admission,
    ) -> Self {
        Self { store, published, executor, renderer, index: RuleIndex::default(), admission }
    }

    /// Processes what a previous run left, then every batch the journal sends, until the
    /// journal closes the channel (it does after draining, at shutdown).
    pub async fn run(mut self, mut batches: mpsc::Receiver<Vec<Arc<TriggerInstance>>>, shutdown: CancellationToken) {
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
        let pending = tokio::task::spawn_blocking(move || -> Result<Vec<Arc<TriggerInstance>>, StoreError> {
            let after = store.processed_through()?;
            let records = store.trigger_instances_after(after)?;
            Ok(records
                .into_iter()
                .filter_map(|(_, record)| serde_json::from_slice::<TriggerInstance>(&record).ok())
                .filter(|instance| instance.status == PENDING || instance.status == "processing")
                .map(Arc::new)
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
            self.admission.backlog_moved(pending.len() as i64);
        }
        let mut pending = pending.into_iter().peekable();
        while pending.peek().is_some() {
            let chunk: Vec<Arc<TriggerInstance>> = pending.by_ref().take(REPLAY_CHUNK).collect();
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

    /// One batch: match, hand the matches to the executor (which records the enforcements and
    /// executions and starts them), mark the instances processed.
    pub async fn process(&mut self, batch: Vec<Arc<TriggerInstance>>) {
        let registry = self.refresh_index();
        let renderer = (self.renderer)();
        let now = Utc::now();
        let mut matches = Vec::new();
        for instance in batch.iter().map(Arc::as_ref) {
            for verdict in self.index.evaluate(&instance.trigger, &instance.payload, renderer.as_ref(), now) {
                let (rule, failure) = match verdict {
                    Verdict::Matched(rule) => (rule, None),
                    Verdict::Failed(rule, reason) => (rule, Some(reason.to_string())),
                };
                matches.push(RuleMatch {
                    instance,
                    rule: rule.ref_.clone(),
                    action: rule.action_ref.clone(),
                    parameters: rule.action_parameters.clone(),
                    failure,
                });
            }
        }
        let committed = self.executor.enforce(&registry, matches).await;
        let last = batch.iter().filter_map(|instance| parse_id(&instance.id)).max().unwrap_or(0);
        let mut failed = Vec::new();
        if let Err(error) = &committed {
            tracing::error!(error = %error, count = batch.len(), "cannot record rule enforcements");
            for instance in &batch {
                let mut instance = TriggerInstance::clone(instance);
                instance.status = "processing_failed".to_string();
                if let Some(id) = parse_id(&instance.id) {
                    failed.push((id, serde_json::to_vec(&instance).unwrap_or_default()));
                }
            }
        }
        let rewritten = if failed.is_empty() { Ok(()) } else { self.store.put_trigger_instances(&failed) };
        let marked = rewritten.and_then(|()| {
            if last > self.store.processed_through()? { self.store.set_processed_through(last) } else { Ok(()) }
        });
        if let Err(error) = marked {
            tracing::error!(error = %error, "cannot mark trigger instances processed");
        }
        Metrics::add(&METRICS.trigger_instances_processed, batch.len());
        self.admission.backlog_moved(-(batch.len() as i64));
    }
}
