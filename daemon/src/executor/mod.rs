//! The executor: turns requests into execution records, queues them under a concurrency
//! limit, runs them through the runners, and records every status change; cancels; recovers
//! what a previous run of st2d left unfinished.
//!
//! Owns: the lifecycle of each execution (requested → scheduled → running → completed) and the
//! `core.st2.generic.actiontrigger` on completion. Must not: spawn processes itself (runners do,
//! through `process`) or match rules.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::metrics::METRICS;
use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore, broadcast, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::execution::{Execution, ExecutionRequest, RequestError, mask_secrets};
use crate::packmgmt::PackManager;
use crate::registry::Registry;
use crate::reload::Published;
use crate::runner::output::LiveOutput;
use crate::runner::{Outcome, RunContext};
use crate::store::Store;
use crate::trigger::admission::Admission;
use crate::trigger::journal::Journal;
use crate::workflow::Signals;
use st2d_core::status::ExecutionStatus;
use st2d_core::template::KeyValueSource;

mod cancel;
mod children;
pub mod dispatch;
mod enforce;
mod inquiries;
pub mod parameters;
mod pause;
mod policies;
mod recover;
mod rerun;
mod stages;

pub use cancel::CancelError;
pub use enforce::RuleMatch;
pub use pause::PauseError;
pub use rerun::{ReRun, ReRunError};

use st2d_core::template::SYSTEM_USER;

/// How the executor is set up.
#[derive(Clone)]
pub struct ExecutorConfig {
    /// Executions running at once; the rest wait in `requested`.
    pub concurrency: usize,
    pub run: RunContext,
    /// Runs the built-in `packs` pack's actions; `None` where packs cannot be managed.
    pub packs: Option<PackManager>,
    /// Where `st2kv` in parameter templates reads.
    pub kv: Arc<dyn KeyValueSource>,
}

impl std::fmt::Debug for ExecutorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorConfig")
            .field("concurrency", &self.concurrency)
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

struct Running {
    cancel: CancellationToken,
    output: Arc<LiveOutput>,
    /// Told the completed execution (workflows waiting for a task). Dropped unanswered when
    /// the daemon stops with the execution unfinished.
    waiters: Vec<oneshot::Sender<Execution>>,
    /// Pause (true) or resume (false), for a workflow.
    pause: watch::Sender<bool>,
    /// Told when one of its tasks goes pending or paused, for a workflow.
    nudge: Arc<Notify>,
}

impl Running {
    /// The entry of an execution no task drives (a pending inquiry after a restart).
    fn idle(shutdown: &CancellationToken) -> Self {
        Running {
            cancel: shutdown.child_token(),
            output: Arc::new(LiveOutput::default()),
            waiters: Vec::new(),
            pause: watch::channel(false).0,
            nudge: Arc::new(Notify::new()),
        }
    }
}

struct Inner {
    store: Store,
    published: Published,
    journal: Journal,
    context: RunContext,
    packs: Option<PackManager>,
    kv: Arc<dyn KeyValueSource>,
    permits: Arc<Semaphore>,
    running: Mutex<HashMap<String, Running>>,
    /// Held while an inquiry is answered or timed out, so only one of them completes it.
    answering: Mutex<()>,
    /// The concurrency policies' count of executions past their gate.
    gate: policies::Gate,
    updates: broadcast::Sender<Arc<Announcement>>,
    /// Completed executions whose context asks for a notification (`notify.on_complete`).
    notifications: broadcast::Sender<Arc<Execution>>,
    /// Cancelled when the daemon starts to stop: queued executions stop waiting (they stay
    /// `requested` and run after the next start).
    draining: CancellationToken,
    /// Cancelled when the grace period is over: running executions are killed and `abandoned`.
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// How many status changes a slow watcher may fall behind by before it is told it lagged.
const UPDATES_BUFFERED: usize = 4096;

/// What the executor tells watchers: an execution as it now is, and whether it was just
/// created (its first announcement) or changed.
#[derive(Debug)]
pub struct Announcement {
    pub execution: Execution,
    pub created: bool,
}

impl Inner {
    /// Tells watchers of a status change; with none, nothing is copied.
    fn announce(&self, execution: &Execution) {
        self.announce_as(execution, false);
    }

    fn announce_as(&self, execution: &Execution, created: bool) {
        if self.updates.receiver_count() > 0 {
            let _ = self.updates.send(Arc::new(Announcement { execution: execution.clone(), created }));
        }
    }
}

/// Moves `execution` to `status` and counts it (`st2d_executions_total`); every status change
/// the executor makes goes through here.
fn reach(execution: &mut Execution, status: ExecutionStatus) {
    execution.set_status(status);
    METRICS.execution_reached(status);
}

/// An execution's place in the queue, given up when it gets a slot or stops waiting.
struct Dequeue<'a>(&'a Admission);

impl Drop for Dequeue<'_> {
    fn drop(&mut self) {
        self.0.queue_moved(-1);
    }
}

/// A reserved execution slot (one of `--action-concurrency`); workflows take none, since they
/// only wait for their tasks, which take slots of their own.
pub struct Slot(Option<tokio::sync::OwnedSemaphorePermit>);

/// A cheap handle to the executor.
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

impl Executor {
    pub fn new(
        config: ExecutorConfig,
        store: Store,
        published: Published,
        journal: Journal,
        draining: CancellationToken,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> Self {
        let inner = Inner {
            store,
            published,
            journal,
            context: config.run,
            packs: config.packs,
            kv: config.kv,
            permits: Arc::new(Semaphore::new(config.concurrency.max(1))),
            running: Mutex::new(HashMap::new()),
            answering: Mutex::new(()),
            gate: policies::Gate::default(),
            updates: broadcast::channel(UPDATES_BUFFERED).0,
            notifications: broadcast::channel(UPDATES_BUFFERED).0,
            draining,
            shutdown,
            tracker,
        };
        Self { inner: Arc::new(inner) }
    }

    /// Builds the execution record for `request`: `requested` with resolved parameters, or
    /// `failed` when a template did not render (StackStorm still creates that execution). An
    /// unknown or disabled action, or parameters that fail validation, create nothing.
    fn prepare(&self, registry: &Registry, request: ExecutionRequest) -> Result<Execution, RequestError> {
        let action =
            registry.action(&request.action).ok_or_else(|| RequestError::ActionNotFound(request.action.clone()))?;
        if !action.enabled {
            return Err(RequestError::Disabled(action.ref_.clone()));
        }
        let id = self.inner.store.next_id().map_err(|e| RequestError::Store(e.to_string()))?;
        let user = if request.user.is_empty() { SYSTEM_USER.to_string() } else { request.user.clone() };
        let mut context = json!({"user": user, "pack": action.pack});
        if let Some(rule) = &request.rule {
            context["rule"] = json!({"ref": rule, "name": rule.split_once('.').map(|(_, n)| n).unwrap_or(rule)});
        }
        if let Some(instance) = &request.trigger_instance {
            context["trigger_instance"] = json!({"id": instance.id, "ref": instance.trigger});
        }
        if let Some(tag) = &request.trace_tag {
            context["trace_context"] = json!({"trace_tag": tag});
        }
        if let Some(link) = &request.parent {
            context["parent"] = link.parent_context.clone();
            for (key, value) in &link.context {
                context[key.as_str()] = value.clone();
            }
        }
        for (key, value) in &request.context {
            context[key.as_str()] = value.clone();
        }
        if action.runner_type == "orquesta" {
            // orquesta_runner.py's `_construct_context`: the workflow execution's id, which in
            // st2d is the execution's own.
            context["workflow_execution"] = Value::String(crate::trigger::format_id(id));
        }
        let mut execution = Execution {
            id: crate::trigger::format_id(id),
            action: action.ref_.clone(),
            runner: action.runner_type.clone(),
            status: ExecutionStatus::Requested,
            parameters: request.parameters.clone(),
            result: None,
            start_timestamp: Utc::now(),
            end_timestamp: None,
            user,
            rule: request.rule.clone(),
            trigger_instance: request.trigger_instance.as_ref().map(|i| i.id.clone()),
            trace_tag: request.trace_tag.clone(),
            parent: request.parent.as_ref().map(|link| link.execution_id.clone()),
            task: request.parent.as_ref().map(|link| link.task.clone()),
            context,
            log: Vec::new(),
            resolved: None,
        };
        reach(&mut execution, ExecutionStatus::Requested);
        let kv = self.inner.kv.clone();
        match parameters::resolve(registry, action, &execution, request.trigger_instance.as_ref(), kv, request.typed) {
            Ok(resolved) => execution.resolved = Some(resolved),
            Err(parameters::Failure::Invalid(message)) => return Err(RequestError::Invalid(message)),
            Err(parameters::Failure::Render(message)) => {
                execution.result = Some(json!({"error": message, "traceback": ""}));
                reach(&mut execution, ExecutionStatus::Failed);
            }
        }
        Ok(execution)
    }

    /// Prepares, records durably and schedules one execution (the API's path).
    pub async fn request(&self, request: ExecutionRequest) -> Result<Execution, RequestError> {
        self.request_with(request, |_| Ok(())).await
    }

    /// As `request`, with `also` written in the same flush as the new record (a workflow
    /// records which execution runs its task, so a restart finds it).
    pub async fn request_with(
        &self,
        request: ExecutionRequest,
        also: impl FnOnce(&Execution) -> Result<(), crate::store::StoreError>,
    ) -> Result<Execution, RequestError> {
        let registry = self.inner.published.registry();
        let (execution, slot) = self.admit(&registry, request)?;
        let id = execution.numeric_id().unwrap_or_default();
        let store = &self.inner.store;
        store
            .put_execution(id, &execution.to_record(), !execution.status.is_completed())
            .map_err(|e| RequestError::Store(e.to_string()))?;
        if let Some(parent) = execution.parent.as_deref().and_then(crate::trigger::parse_id) {
            store.put_child(parent, id).map_err(|e| RequestError::Store(e.to_string()))?;
        }
        also(&execution).map_err(|e| RequestError::Store(e.to_string()))?;
        store.flush_async().await.map_err(|e| RequestError::Store(e.to_string()))?;
        self.start(execution.clone(), slot);
        Ok(execution)
    }

    /// Prepares `request` and takes a free slot for it at once, if there is one: it is then
    /// recorded `running` in the same write as the rest, and its process starts without another
    /// flush.
    fn admit(&self, registry: &Registry, request: ExecutionRequest) -> Result<(Execution, Option<Slot>), RequestError> {
        let mut execution = self.prepare(registry, request)?;
        // An action under a concurrency policy passes the gate first, in `drive`.
        let slot = if execution.status.is_completed() || self.governed(registry, &execution.action) {
            None
        } else {
            self.reserve(&execution)
        };
        if slot.is_some() {
            Self::mark_running(&mut execution);
        }
        Ok((execution, slot))
    }

    /// Takes a free slot at once, if there is one.
    fn reserve(&self, execution: &Execution) -> Option<Slot> {
        if self.inner.draining.is_cancelled() {
            return None;
        }
        if dispatch::is_conducted(execution) {
            return Some(Slot(None));
        }
        self.inner.permits.clone().try_acquire_owned().ok().map(|permit| Slot(Some(permit)))
    }

    /// Moves a requested execution through `scheduled` to `running`, for recording with a slot.
    fn mark_running(execution: &mut Execution) {
        reach(execution, ExecutionStatus::Scheduled);
        reach(execution, ExecutionStatus::Running);
    }

    /// Starts the life of a recorded execution: a completed one (failed at preparation) only
    /// announces itself; a requested one waits for a slot and runs.
    fn schedule(&self, execution: Execution) {
        self.start(execution, None);
    }

    /// Starts a recorded execution: with a slot, one already recorded `running` runs at once.
    fn start(&self, execution: Execution, slot: Option<Slot>) {
        if execution.status.is_completed() {
            let retry = self.retry_after(&execution);
            self.completed(&execution);
            if let Some(retry) = retry {
                self.schedule(retry);
            }
            return;
        }
        if execution.status == ExecutionStatus::Running {
            // Admitted with its slot at request time, or a workflow resumed after a restart.
            self.inner.gate.hold(&execution);
        }
        let cancel = self.inner.shutdown.child_token();
        let output = Arc::new(LiveOutput::default());
        let paused = matches!(execution.status, ExecutionStatus::Pausing | ExecutionStatus::Paused);
        let (pause, pause_signal) = watch::channel(paused);
        let nudge = Arc::new(Notify::new());
        if let Ok(mut running) = self.inner.running.lock() {
            running.insert(
                execution.id.clone(),
                Running {
                    cancel: cancel.clone(),
                    output: output.clone(),
                    waiters: Vec::new(),
                    pause,
                    nudge: nudge.clone(),
                },
            );
        }
        self.inner.announce_as(&execution, true);
        let executor = self.clone();
        let signals = Signals { cancel, pause: pause_signal, nudge };
        self.inner.tracker.spawn(async move { executor.drive(execution, slot, signals, output).await });
    }

    async fn drive(self, mut execution: Execution, slot: Option<Slot>, signals: Signals, output: Arc<LiveOutput>) {
        let cancel = &signals.cancel;
        let inner = &self.inner;
        // Admitted with its slot, or a workflow going on after a restart as it was (paused
        // stays paused).
        if let Some(Slot(permit)) = slot
            && matches!(
                execution.status,
                ExecutionStatus::Running
                    | ExecutionStatus::Pausing
                    | ExecutionStatus::Paused
                    | ExecutionStatus::Resuming
                    | ExecutionStatus::Canceling
            )
        {
            inner.announce(&execution);
            return self.run_recorded(execution, permit, &signals, output).await;
        }
        let permit = match self.pass_policies(&mut execution, cancel).await {
            policies::Passage::Refused => return,
            policies::Passage::Stopped => None,
            policies::Passage::Admitted => tokio::select! {
                permit = self.acquire(&execution) => permit,
                () = cancel.cancelled() => None,
                () = inner.draining.cancelled() => None,
            },
        };
        let Some(Slot(permit)) = permit else {
            // Cancelled by a user while queued, or the daemon is stopping (then it stays
            // requested and runs after the next start).
            if !inner.draining.is_cancelled() {
                reach(&mut execution, ExecutionStatus::Canceled);
                self.finish(execution);
            } else {
                drop(self.forget(&execution.id));
            }
            return;
        };
        reach(&mut execution, ExecutionStatus::Scheduled);
        reach(&mut execution, ExecutionStatus::Running);
        // On disk before the process starts: a crash from here on leaves it `abandoned`, never
        // run twice.
        let id = execution.numeric_id().unwrap_or_default();
        let durable = match inner.store.put_execution(id, &execution.to_record(), true) {
            Ok(()) => inner.store.flush_async().await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = durable {
            tracing::error!(execution_id = %execution.id, error = %error, "cannot record the execution as running");
        }
        inner.announce(&execution);
        self.run_recorded(execution, permit, &signals, output).await;
    }

    /// Waits for a slot (a workflow needs none), counted in the queue while it waits.
    async fn acquire(&self, execution: &Execution) -> Option<Slot> {
        if dispatch::is_conducted(execution) {
            return Some(Slot(None));
        }
        let inner = &self.inner;
        if let Ok(permit) = inner.permits.clone().try_acquire_owned() {
            return Some(Slot(Some(permit)));
        }
        // Counted where intake is decided: a queue beyond `--max-queued-executions` refuses new
        // trigger instances from outside, so a flood of matches cannot grow it without bound.
        let admission = inner.journal.admission();
        admission.queue_moved(1);
        let _place = Dequeue(admission);
        inner.permits.clone().acquire_owned().await.ok().map(|permit| Slot(Some(permit)))
    }

    /// Runs an execution recorded `running`, holding its slot until it completes. A workflow
    /// that stops because the daemon does stays `running` on disk and resumes at the next start.
    async fn run_recorded(
        &self,
        mut execution: Execution,
        _permit: Option<tokio::sync::OwnedSemaphorePermit>,
        signals: &Signals,
        output: Arc<LiveOutput>,
    ) {
        let inner = &self.inner;
        let cancel = &signals.cancel;
        let registry = inner.published.registry();
        let started = std::time::Instant::now();
        let outcome = match registry.action(&execution.action) {
            Some(action) if dispatch::is_conducted(&execution) => {
                let conducted = crate::workflow::run(self, &registry, action, &execution, signals).await;
                // Pause and resume changed the record on disk meanwhile.
                if let Some(stored) = self.get(&execution.id) {
                    execution.status = stored.status;
                    execution.log = stored.log;
                }
                match conducted {
                    Some(outcome) => outcome,
                    None => {
                        tracing::info!(execution_id = %execution.id, action = %execution.action, "workflow suspended until the next start");
                        drop(self.forget(&execution.id));
                        return;
                    }
                }
            }
            Some(action) => {
                // Only pack management records stages, so only its executions are copied for them.
                let stages = (action.pack == crate::packmgmt::actions::PACK)
                    .then(|| stages::StageRecorder::new(self, &execution));
                let packs = dispatch::PackWork {
                    manager: inner.packs.as_ref(),
                    stages: stages.as_ref().map(|s| s as &dyn crate::packmgmt::Stages),
                };
                let outcome =
                    dispatch::run(&inner.context, packs, &registry, action, &execution, &output, cancel).await;
                if let Some(tokens) = &inner.context.api.tokens {
                    tokens.forget(&execution.id);
                }
                outcome
            }
            None => Outcome::failed(format!("action \"{}\" no longer exists", execution.action)),
        };
        METRICS.action_duration.observe(started.elapsed());
        if outcome.status == ExecutionStatus::Pending && !cancel.is_cancelled() {
            return self.hold_pending(execution, outcome.result).await;
        }
        let status = if cancel.is_cancelled() && !outcome.status.is_completed() {
            ExecutionStatus::Canceled
        } else {
            outcome.status
        };
        let status = match status {
            ExecutionStatus::Canceled if inner.shutdown.is_cancelled() => ExecutionStatus::Abandoned,
            other => other,
        };
        execution.result = Some(outcome.result);
        reach(&mut execution, status);
        let retry = self.retry_after(&execution);
        self.finish(execution);
        if let Some(retry) = retry {
            self.schedule(retry);
        }
    }

    /// Records a completed execution and announces it.
    fn finish(&self, execution: Execution) {
        let id = execution.numeric_id().unwrap_or_default();
        if let Err(error) = self.inner.store.put_execution(id, &execution.to_record(), false) {
            tracing::error!(execution_id = %execution.id, error = %error, "cannot record the execution's result");
        }
        for waiter in self.forget(&execution.id) {
            let _ = waiter.send(execution.clone());
        }
        self.completed(&execution);
    }

    /// Drops a running execution from the map; returns who waits for it.
    fn forget(&self, id: &str) -> Vec<oneshot::Sender<Execution>> {
        self.inner.gate.release(id);
        self.inner
            .running
            .lock()
            .ok()
            .and_then(|mut running| running.remove(id))
            .map(|running| running.waiters)
            .unwrap_or_default()
    }

    /// The execution once it has completed; `None` when the daemon stops first (or there is no
    /// such execution).
    pub async fn completion(&self, id: &str) -> Option<Execution> {
        let waiting = self.inner.running.lock().ok().and_then(|mut running| {
            running.get_mut(id).map(|entry| {
                let (sender, receiver) = oneshot::channel();
                entry.waiters.push(sender);
                receiver
            })
        });
        match waiting {
            Some(receiver) => receiver.await.ok(),
            // Not running: completed already (it is written before it leaves the map).
            None => self.get(id).filter(|execution| execution.status.is_completed()),
        }
    }

    /// A workflow's task executions, in the order they were requested.
    pub fn children(&self, id: &str) -> Vec<Execution> {
        let Some(numeric) = crate::trigger::parse_id(id) else { return Vec::new() };
        let children = self.inner.store.children(numeric).unwrap_or_else(|error| {
            tracing::error!(execution_id = %id, error = %error, "cannot read a workflow's children");
            Vec::new()
        });
        children.into_iter().filter_map(|child| self.get(&crate::trigger::format_id(child))).collect()
    }

    /// The warm Python interpreters python-script runs are forked from.
    pub fn warm_interpreters(&self) -> Vec<crate::warm::WarmStatus> {
        self.inner.context.warm.interpreters()
    }

    /// Where templates read the datastore from.
    pub fn kv(&self) -> Arc<dyn KeyValueSource> {
        self.inner.kv.clone()
    }

    /// The REST API's URL as actions reach it; empty without `--http-listen`.
    pub fn api_url(&self) -> &str {
        &self.inner.context.api.url
    }

    /// Whether the daemon has begun to stop (workflows then start no new task).
    pub fn draining(&self) -> bool {
        self.inner.draining.is_cancelled()
    }

    /// Announces a completed execution to watchers and as `core.st2.generic.actiontrigger`,
    /// and to `notifications` subscribers when its context asks for a notification.
    fn completed(&self, execution: &Execution) {
        tracing::info!(execution_id = %execution.id, action = %execution.action, status = %execution.status, "execution completed");
        self.inner.announce(execution);
        let notify = execution.context.get("notify").and_then(|notify| notify.get("on_complete"));
        if notify.is_some() && self.inner.notifications.receiver_count() > 0 {
            let _ = self.inner.notifications.send(Arc::new(execution.clone()));
        }
        let registry = self.inner.published.registry();
        let schema = registry.action(&execution.action).map(|a| a.parameters.parse()).unwrap_or(Value::Null);
        let payload = json!({
            "execution_id": execution.id,
            "status": execution.status.as_str(),
            "start_timestamp": execution.start_timestamp.to_rfc3339(),
            "action_name": execution.action.split_once('.').map(|(_, n)| n).unwrap_or(&execution.action),
            "action_ref": execution.action,
            "runner_ref": execution.runner,
            "parameters": mask_secrets(&execution.parameters, &schema),
            "result": execution.result.clone().unwrap_or(Value::Null),
        });
        let journal = self.inner.journal.clone();
        tokio::spawn(async move {
            journal.append("core.st2.generic.actiontrigger".to_string(), payload, None, None, Box::new(|_| {})).await;
        });
    }

    pub fn get(&self, id: &str) -> Option<Execution> {
        let numeric = crate::trigger::parse_id(id)?;
        self.inner.store.execution(numeric).ok().flatten().and_then(|record| Execution::from_record(&record))
    }

    /// The live output of a running execution, if it is running.
    pub fn output(&self, id: &str) -> Option<Arc<LiveOutput>> {
        self.inner.running.lock().ok().and_then(|r| r.get(id).map(|r| r.output.clone()))
    }

    /// Where announcements are published (the `announcement` runner, ChatOps results).
    pub fn announcer(&self) -> &crate::announce::Announcer {
        &self.inner.context.announcer
    }

    /// From now on, each completed execution whose context has `notify.on_complete` (an alias
    /// execution's ChatOps result, StackStorm's notify).
    pub fn notifications(&self) -> broadcast::Receiver<Arc<Execution>> {
        self.inner.notifications.subscribe()
    }

    /// Every status change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Announcement>> {
        self.inner.updates.subscribe()
    }

    /// Resolves when the daemon begins to stop.
    pub async fn drained(&self) {
        self.inner.draining.cancelled().await;
    }

    /// Wakes the conductor of the workflow `execution` is a task of: the task went pending or
    /// paused.
    fn nudge_parent(&self, execution: &Execution) {
        let Some(parent) = execution.parent.as_deref() else { return };
        if let Some(nudge) = self.inner.running.lock().ok().and_then(|r| r.get(parent).map(|r| r.nudge.clone())) {
            nudge.notify_one();
        }
    }

    fn cancel_token(&self, id: &str) -> Option<CancellationToken> {
        self.inner.running.lock().ok().and_then(|r| r.get(id).map(|r| r.cancel.clone()))
    }

    /// How many executions are queued or running.
    pub fn in_flight(&self) -> usize {
        self.inner.running.lock().map(|r| r.len()).unwrap_or(0)
    }
}
