//! The reload actor (DESIGN.md 3.3): the one task that rescans packs, applies registration
//! policy, builds a new registry snapshot, publishes it and reports what changed.
//!
//! Owns: the scanner's cache, writes of registration policy, the published `Arc<Registry>` and
//! the last reload report. Must not: run two reloads at once (requests queue and merge), or
//! scan on a runtime thread (scans run under `spawn_blocking`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::metrics::{METRICS, Metrics};
use crate::registry::build::{Dirty, Scanner};
use crate::registry::diff::{RegistryDiff, diff};
use crate::registry::{Counts, PackEntry, PackInstall, Registry};
use crate::store::Store;
use st2d_core::pack::model::ContentKind;

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Start,
    Watch,
    Sighup,
    Rpc,
    /// A `packs.*` action (install, load, unload...).
    Packs,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::Start => "start",
            Cause::Watch => "watch",
            Cause::Sighup => "sighup",
            Cause::Rpc => "rpc",
            Cause::Packs => "packs",
        })
    }
}

/// A change to the registration policy of some packs (all packs when `packs` is empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    pub kinds: BTreeSet<ContentKind>,
    pub packs: Vec<String>,
    pub mode: RegistrationMode,
}

/// What a `Registration` does to the policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RegistrationMode {
    /// Adds `kinds`, as `st2ctl reload --register-rules` or `packs.load register=rules` ask.
    #[default]
    Add,
    /// Registers nothing of the packs (`packs.unload`): their content leaves the registry and
    /// their sensors stop until a `packs.load` registers them again.
    Unload,
    /// Forgets the packs' policy (after `packs.delete`): a pack of that ref installed later
    /// starts from the default set.
    Forget,
}

impl Registration {
    fn applies_to(&self, pack: &str) -> bool {
        self.packs.is_empty() || self.packs.iter().any(|p| p == pack)
    }
}

/// The outcome of one reload.
#[derive(Debug, Clone)]
pub struct ReloadReport {
    pub generation: u64,
    pub finished_at: DateTime<Utc>,
    pub duration: Duration,
    pub cause: Cause,
    pub counts: Counts,
    pub diff: RegistryDiff,
    /// Every problem of the new snapshot, one line each (`pack: file:line: message`).
    pub problems: Vec<String>,
}

/// The published state: the current registry and the last reload report.
#[derive(Clone)]
pub struct Published {
    registry: Arc<ArcSwap<Registry>>,
    last_report: Arc<ArcSwapOption<ReloadReport>>,
    /// The generation of the latest snapshot, for tasks that react to new snapshots.
    generation: tokio::sync::watch::Sender<u64>,
}

impl Published {
    fn new() -> Self {
        Self {
            registry: Arc::new(ArcSwap::from_pointee(Registry::default())),
            last_report: Arc::new(ArcSwapOption::empty()),
            generation: tokio::sync::watch::Sender::new(0),
        }
    }

    /// The current snapshot; hold it as long as needed, it never changes.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.load_full()
    }

    pub fn last_report(&self) -> Option<Arc<ReloadReport>> {
        self.last_report.load_full()
    }

    /// Changes whenever a new snapshot is published.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }
}

/// Rescans and publishes; owned by the actor task once the daemon runs.
pub struct Reloader {
    scanner: Scanner,
    store: Store,
    rules_by_default: bool,
    published: Published,
}

impl Reloader {
    pub fn new(scanner: Scanner, store: Store, rules_by_default: bool) -> Self {
        Self { scanner, store, rules_by_default, published: Published::new() }
    }

    pub fn published(&self) -> Published {
        self.published.clone()
    }

    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }

    /// One reload, on the calling thread (which must be allowed to block).
    pub fn reload_blocking(&mut self, cause: Cause, dirty: &Dirty, registrations: &[Registration]) -> ReloadReport {
        let started = Instant::now();
        let scan = self.scanner.scan(dirty);
        let mut problems = scan.problems;
        let mut store_changed = false;
        for registration in registrations.iter().filter(|r| r.mode == RegistrationMode::Forget) {
            for pack in &registration.packs {
                match self.store.remove_registration(pack) {
                    Ok(()) => store_changed = true,
                    Err(error) => problems.push(format!("{pack}: {error}")),
                }
            }
        }
        let mut packs = BTreeMap::new();
        for scanned in scan.packs {
            let install = if scanned.builtin { None } else { self.install_of(&scanned.ref_, &mut problems) };
            let registered = if scanned.builtin {
                ContentKind::ALL.into_iter().collect()
            } else {
                let (kinds, changed) = self.registration_of(&scanned.ref_, registrations, &mut problems);
                store_changed |= changed;
                kinds
            };
            packs.insert(
                scanned.ref_.clone(),
                PackEntry {
                    ref_: scanned.ref_,
                    dir: scanned.dir,
                    builtin: scanned.builtin,
                    content: scanned.content,
                    pack_error: scanned.pack_error,
                    registered,
                    notes: scanned.notes,
                    install,
                },
            );
        }
        if store_changed && let Err(error) = self.store.flush() {
            tracing::error!(error = %error, "cannot write registration choices to the store");
            problems.push(error.to_string());
        }
        let old = self.published.registry();
        let toggles = self.store.rule_toggles().unwrap_or_else(|error| {
            tracing::error!(error = %error, "cannot read rule toggles from the store");
            problems.push(error.to_string());
            Default::default()
        });
        let registry = Registry::new(old.generation + 1, packs).with_rule_toggles(toggles);
        for entry in registry.packs() {
            problems.extend(entry.errors().iter().map(|error| format!("{}: {error}", entry.ref_)));
        }
        let report = ReloadReport {
            generation: registry.generation,
            finished_at: Utc::now(),
            duration: started.elapsed(),
            cause,
            counts: registry.counts(),
            diff: diff(&old, &registry),
            problems,
        };
        let generation = registry.generation;
        self.published.registry.store(Arc::new(registry));
        self.published.generation.send_replace(generation);
        let previous = self.published.last_report();
        log_report(&report, previous.as_deref());
        let outcome = if report.problems.is_empty() { &METRICS.reloads_clean } else { &METRICS.reloads_with_problems };
        Metrics::add(outcome, 1);
        METRICS.reload_duration.observe(report.duration);
        self.published.last_report.store(Some(Arc::new(report.clone())));
        report
    }

    /// The report of a reload that failed inside: nothing new is published.
    fn failed_report(&self, cause: Cause, message: String) -> ReloadReport {
        tracing::error!(error = %message, "internal error during reload; the previous registry stays live");
        Metrics::add(&METRICS.reloads_failed, 1);
        let registry = self.published.registry();
        ReloadReport {
            generation: registry.generation,
            finished_at: Utc::now(),
            duration: Duration::ZERO,
            cause,
            counts: registry.counts(),
            diff: RegistryDiff::default(),
            problems: vec![format!("internal error during reload (the previous registry stays live): {message}")],
        }
    }

    /// The pack's registration policy, widened by any registration request that applies;
    /// returns whether the store was written.
    fn registration_of(
        &self,
        pack: &str,
        registrations: &[Registration],
        problems: &mut Vec<String>,
    ) -> (BTreeSet<ContentKind>, bool) {
        let stored = self.store.registration(pack).unwrap_or_else(|error| {
            tracing::error!(pack, error = %error, "cannot read the registration policy; using the default");
            problems.push(format!("{pack}: {error}"));
            None
        });
        let mut kinds = stored.clone().unwrap_or_else(|| ContentKind::default_set(self.rules_by_default));
        for registration in registrations.iter().filter(|r| r.applies_to(pack)) {
            match registration.mode {
                RegistrationMode::Add => kinds.extend(registration.kinds.iter().copied()),
                RegistrationMode::Unload => kinds.clear(),
                RegistrationMode::Forget => {}
            }
        }
        if stored.as_ref() == Some(&kinds) {
            return (kinds, false);
        }
        if let Err(error) = self.store.set_registration(pack, &kinds) {
            tracing::error!(pack, error = %error, "cannot store the registration policy");
            problems.push(format!("{pack}: {error}"));
            return (kinds, false);
        }
        (kinds, true)
    }
}

impl Reloader {
    /// How the pack was installed, when `packs.install` or `packs.download` placed it.
    fn install_of(&self, pack: &str, problems: &mut Vec<String>) -> Option<PackInstall> {
        match self.store.pack_install(pack) {
            Ok(record) => record.and_then(|bytes| serde_json::from_slice(&bytes).ok()),
            Err(error) => {
                problems.push(format!("{pack}: {error}"));
                None
            }
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// Logs the reload, and each problem the previous reload did not already have.
fn log_report(report: &ReloadReport, previous: Option<&ReloadReport>) {
    for problem in &report.problems {
        if previous.is_none_or(|p| !p.problems.contains(problem)) {
            tracing::warn!("{problem}");
        }
    }
    let diff = &report.diff;
    if report.cause == Cause::Start || !diff.is_empty() {
        tracing::info!(
            generation = report.generation,
            cause = %report.cause,
            duration_ms = report.duration.as_secs_f64() * 1000.0,
            packs = report.counts.packs,
            actions = report.counts.actions,
            rules = report.counts.rules,
            sensors = report.counts.sensors,
            added = ?diff.packs_added,
            removed = ?diff.packs_removed,
            changed = ?diff.packs_changed,
            problems = report.problems.len(),
            "registry reloaded"
        );
    }
}

struct Request {
    cause: Cause,
    dirty: Dirty,
    registration: Option<Registration>,
    reply: Option<oneshot::Sender<Arc<ReloadReport>>>,
}

/// The actor has stopped (the daemon is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the daemon is shutting down")]
pub struct ReloadStopped;

/// Sends requests to the running reload actor.
#[derive(Clone)]
pub struct ReloadHandle {
    tx: mpsc::UnboundedSender<Request>,
}

impl ReloadHandle {
    /// A full rescan, optionally registering more kinds first; waits for its report.
    pub async fn reload(
        &self,
        cause: Cause,
        registration: Option<Registration>,
    ) -> Result<Arc<ReloadReport>, ReloadStopped> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { cause, dirty: Dirty::All, registration, reply: Some(reply) })
            .map_err(|_| ReloadStopped)?;
        answer.await.map_err(|_| ReloadStopped)
    }

    /// Rescans one pack directory (and any new directory), optionally registering more kinds
    /// first; waits for its report.
    pub async fn rescan(
        &self,
        cause: Cause,
        dir: std::path::PathBuf,
        registration: Option<Registration>,
    ) -> Result<Arc<ReloadReport>, ReloadStopped> {
        let (reply, answer) = oneshot::channel();
        let dirty = Dirty::Dirs([dir].into_iter().collect());
        self.tx.send(Request { cause, dirty, registration, reply: Some(reply) }).map_err(|_| ReloadStopped)?;
        answer.await.map_err(|_| ReloadStopped)
    }

    /// Publishes a new snapshot without rescanning any directory (after a change that lives in
    /// the store, such as a rule toggle); waits for its report.
    pub async fn refresh(&self) -> Result<Arc<ReloadReport>, ReloadStopped> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { cause: Cause::Rpc, dirty: Dirty::none(), registration: None, reply: Some(reply) })
            .map_err(|_| ReloadStopped)?;
        answer.await.map_err(|_| ReloadStopped)
    }

    /// A hint from the file watcher: rescan these directories soon; nobody waits.
    pub fn hint(&self, dirty: Dirty) {
        // A send error means the actor stopped during shutdown; the hint no longer matters.
        let _ = self.tx.send(Request { cause: Cause::Watch, dirty, registration: None, reply: None });
    }
}

/// Starts the actor; it stops when `shutdown` is cancelled.
pub fn spawn(
    mut reloader: Reloader,
    shutdown: CancellationToken,
    tracker: &tokio_util::task::TaskTracker,
) -> ReloadHandle {
    let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
    tracker.spawn(async move {
        loop {
            let first = tokio::select! {
                request = rx.recv() => match request { Some(r) => r, None => break },
                () = shutdown.cancelled() => break,
            };
            let mut batch = vec![first];
            while let Ok(request) = rx.try_recv() {
                batch.push(request);
            }
            let cause = batch.iter().map(|r| r.cause).find(|c| *c != Cause::Watch).unwrap_or(Cause::Watch);
            let mut dirty = Dirty::none();
            let mut registrations = Vec::new();
            let mut replies = Vec::new();
            for request in batch {
                dirty.merge(request.dirty);
                registrations.extend(request.registration);
                replies.extend(request.reply);
            }
            let joined = tokio::task::spawn_blocking(move || {
                // A bug in loading must not end reloads: the panic becomes a reported problem
                // and the last published snapshot stays live.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    reloader.reload_blocking(cause, &dirty, &registrations)
                }));
                let report = outcome.unwrap_or_else(|panic| reloader.failed_report(cause, panic_message(&*panic)));
                (reloader, report)
            })
            .await;
            let report = match joined {
                Ok((returned, report)) => {
                    reloader = returned;
                    Arc::new(report)
                }
                Err(error) => {
                    tracing::error!(error = %error, "the reload task was lost; reloads have stopped");
                    break;
                }
            };
            for reply in replies {
                // The requester may have gone away (a cancelled RPC); nothing to do then.
                let _ = reply.send(report.clone());
            }
        }
    });
    ReloadHandle { tx }
}
