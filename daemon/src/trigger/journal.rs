//! The trigger instance journal: instances are written to the store in batches (group commit)
//! and flushed to disk before the dispatcher is told they are accepted.
//!
//! Owns: the writer task, the hand-over of each written batch to the rules engine, and the
//! broadcast of journaled instances. Must not: validate payloads (the dispatcher does, against
//! the registry) or block the runtime on a flush.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::admission::Admission;
use super::{PENDING, TriggerInstance, format_id};
use crate::metrics::{METRICS, Metrics};
use crate::store::{Store, StoreError};

/// The most instances written in one batch.
const BATCH: usize = 4096;

/// The most rounds of other tasks a batch waits for while they add to it.
const GATHER_ROUNDS: usize = 8;

/// Why an instance was not journaled.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JournalError {
    #[error("the daemon is shutting down")]
    ShuttingDown,
    /// The batch could not be written or flushed (one store error, shared by its instances).
    #[error("{0}")]
    Store(Arc<StoreError>),
    #[error("not journaled")]
    NotJournaled,
    /// The writer went away without answering.
    #[error("the trigger journal stopped")]
    Stopped,
}

/// Called once an instance is durable (`Ok(id)`) or could not be written (`Err(reason)`).
pub type Reply = Box<dyn FnOnce(Result<String, JournalError>) + Send>;

struct Pending {
    trigger: String,
    payload: Value,
    source: Option<String>,
    trace_tag: Option<String>,
    reply: Reply,
}

/// Sends instances to the journal writer; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Pending>,
    journaled: broadcast::Sender<Arc<TriggerInstance>>,
    /// Whether the last batch was written (readiness).
    last_write_ok: Arc<AtomicBool>,
    /// The backlog this journal and the rules engine move, and whether intake is open.
    admission: Admission,
}

impl Journal {
    /// Starts the writer task; it drains what was queued and stops when `shutdown` is cancelled.
    /// Each durable batch goes to `engine` (the rules engine), waiting when it is behind.
    pub fn start(
        store: Store,
        engine: Option<mpsc::Sender<Vec<Arc<TriggerInstance>>>>,
        admission: Admission,
        shutdown: CancellationToken,
        tracker: &tokio_util::task::TaskTracker,
    ) -> Self {
        let (tx, rx) = mpsc::channel(BATCH * 4);
        let (journaled, _) = broadcast::channel(BATCH);
        let last_write_ok = Arc::new(AtomicBool::new(true));
        tracker.spawn(writer(store, rx, journaled.clone(), engine, last_write_ok.clone(), admission.clone(), shutdown));
        Self { tx, journaled, last_write_ok, admission }
    }

    /// Whether intake is open, and the backlog.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Whether the writer runs and its last batch reached the disk.
    pub fn writable(&self) -> bool {
        !self.tx.is_closed() && self.last_write_ok.load(Ordering::Relaxed)
    }

    /// Queues an instance; `reply` is called when it is on disk. Waits when the queue is full.
    pub async fn append(
        &self,
        trigger: String,
        payload: Value,
        source: Option<String>,
        trace_tag: Option<String>,
        reply: Reply,
    ) {
        let pending = Pending { trigger, payload, source, trace_tag, reply };
        self.admission.backlog_moved(1);
        if let Err(mpsc::error::SendError(pending)) = self.tx.send(pending).await {
            self.admission.backlog_moved(-1);
            Metrics::add(&METRICS.trigger_instances_unwritten, 1);
            (pending.reply)(Err(JournalError::ShuttingDown));
        }
    }

    /// Every instance journaled from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<TriggerInstance>> {
        self.journaled.subscribe()
    }
}

async fn writer(
    store: Store,
    mut rx: mpsc::Receiver<Pending>,
    journaled: broadcast::Sender<Arc<TriggerInstance>>,
    engine: Option<mpsc::Sender<Vec<Arc<TriggerInstance>>>>,
    last_write_ok: Arc<AtomicBool>,
    admission: Admission,
    shutdown: CancellationToken,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
    loop {
        let first = tokio::select! {
            pending = rx.recv() => pending,
            () = shutdown.cancelled() => { rx.close(); rx.recv().await }
        };
        let Some(first) = first else { return };
        batch.push(first);
        gather(&mut rx, batch.len()).await;
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let (durable, handed_over) =
            write_batch(&store, &mut batch, &journaled, engine.as_ref(), &last_write_ok, &admission).await;
        if let Some(engine) = &engine
            && !handed_over
            && !durable.is_empty()
            && engine.send(durable).await.is_err()
        {
            tracing::warn!("the rules engine stopped; instances stay pending until the next start");
        }
    }
}

/// Lets the tasks that are ready (connections with a request read, sensors with a dispatch)
/// run and queue theirs before a batch is taken, for as long as each round of them adds to the
/// queue (at most `GATHER_ROUNDS` rounds): one flush then covers them all, where taking the
/// first alone would flush for it and make the others wait for the next flush. A lone
/// dispatch waits one round.
async fn gather(rx: &mut mpsc::Receiver<Pending>, taken: usize) {
    let mut queued = rx.len();
    for _ in 0..GATHER_ROUNDS {
        tokio::task::yield_now().await;
        let now = rx.len();
        if now <= queued || taken + now >= BATCH {
            return;
        }
        queued = now;
    }
}

/// Writes and flushes one batch, answers each dispatcher, and returns the durable instances
/// and whether they already went to the rules engine.
///
/// When the engine has room, the batch goes to it as soon as it is written, before the flush:
/// the engine matches while the flush runs, and the engine's own flush (before any action
/// starts) makes these writes durable too, since the store's log is flushed in order.
async fn write_batch(
    store: &Store,
    batch: &mut Vec<Pending>,
    journaled: &broadcast::Sender<Arc<TriggerInstance>>,
    engine: Option<&mpsc::Sender<Vec<Arc<TriggerInstance>>>>,
    last_write_ok: &AtomicBool,
    admission: &Admission,
) -> (Vec<Arc<TriggerInstance>>, bool) {
    let now = Utc::now();
    let mut instances = Vec::with_capacity(batch.len());
    let mut records = Vec::with_capacity(batch.len());
    let mut failure = None;
    for pending in batch.iter_mut() {
        let id = match store.next_id() {
            Ok(id) => id,
            Err(error) => {
                failure = Some(error);
                break;
            }
        };
        let instance = TriggerInstance {
            id: format_id(id),
            trigger: std::mem::take(&mut pending.trigger),
            payload: std::mem::take(&mut pending.payload),
            occurrence_time: now,
            status: PENDING.to_string(),
            source: pending.source.take(),
            trace_tag: pending.trace_tag.take(),
        };
        records.push((id, serde_json::to_vec(&instance).unwrap_or_default()));
        instances.push(Arc::new(instance));
    }
    let mut handed_over = false;
    let written = match failure {
        Some(error) => Err(error),
        None => match store.put_trigger_instances(&records) {
            Ok(()) => {
                handed_over = engine.is_some_and(|engine| engine.try_send(instances.clone()).is_ok());
                store.flush_async().await
            }
            Err(error) => Err(error),
        },
    }
    .map_err(|error| JournalError::Store(Arc::new(error)));
    last_write_ok.store(written.is_ok(), Ordering::Relaxed);
    match &written {
        Ok(()) => {
            Metrics::add(&METRICS.trigger_instances_received, instances.len());
            let unwritten = batch.len() - instances.len();
            Metrics::add(&METRICS.trigger_instances_unwritten, unwritten);
            // Without a rules engine nothing else takes the written instances off the depth.
            let taken = if engine.is_some() { unwritten } else { batch.len() };
            admission.backlog_moved(-(taken as i64));
        }
        Err(error) => {
            tracing::error!(error = %error, count = batch.len(), "cannot journal trigger instances");
            Metrics::add(&METRICS.trigger_instances_unwritten, batch.len());
            admission.backlog_moved(-(batch.len() as i64));
        }
    }
    let watched = journaled.receiver_count() > 0;
    let mut durable = Vec::with_capacity(instances.len());
    for (pending, instance) in
        batch.drain(..).zip(instances.into_iter().map(Some).chain(std::iter::repeat_with(|| None)))
    {
        match (&written, instance) {
            (Ok(()), Some(instance)) => {
                if watched {
                    // Nobody listening is fine.
                    let _ = journaled.send(instance.clone());
                }
                (pending.reply)(Ok(instance.id.clone()));
                durable.push(instance);
            }
            (Err(error), _) => (pending.reply)(Err(error.clone())),
            (Ok(()), None) => (pending.reply)(Err(JournalError::NotJournaled)),
        }
    }
    (durable, handed_over)
}
