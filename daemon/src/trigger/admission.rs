//! Whether the daemon takes new trigger instances from outside (webhooks, sensors' dispatches,
//! the FireTrigger and re-emit calls) and new executions asked through the API: refused, with
//! the reason and when to try again, while the rules engine is too far behind (the backlog of
//! journaled instances it has not processed), too many executions wait for a slot, or the data
//! directory's filesystem is short of space (below the reserve kept for what is already under
//! way: completions, enforcements, status changes).
//!
//! Owns: the backlog count (moved by the journal and the rules engine, read by `/metrics`), the
//! count of executions waiting for a slot (moved by the executor), the free-space check and the
//! refusal. Must not: refuse what the daemon produces itself
//! (completions, timers, datastore changes, injected triggers): only the doors and the shim ask
//! it, and what is refused was never acknowledged.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::metrics::{METRICS, Metrics};

/// How long a free-space reading is trusted (a `statvfs` per webhook would be cheap, but a
/// reading per burst is enough).
const DISK_READING_TTL: Duration = Duration::from_millis(200);

/// How often a held dispatch looks again when nothing woke it (the disk frees without telling).
const RECHECK: Duration = Duration::from_millis(250);

/// The limits in force.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Journaled instances not yet processed by the rules engine beyond which intake is refused
    /// (`--max-trigger-backlog`).
    pub max_backlog: usize,
    /// Executions waiting for a slot beyond which intake is refused (`--max-queued-executions`).
    pub max_queued: usize,
    /// The data directory and the free bytes its filesystem must keep (`--disk-reserve-mb`);
    /// `None`: no check.
    pub disk: Option<(PathBuf, u64)>,
}

/// Why intake is refused now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "the rules engine is behind: {depth} trigger instances wait to be processed (limit {limit}, \
         --max-trigger-backlog); try again shortly"
    )]
    Backlog { depth: usize, limit: usize },
    #[error(
        "{queued} executions wait for a slot (limit {limit}, --max-queued-executions); try again \
         shortly"
    )]
    Queue { queued: usize, limit: usize },
    #[error(
        "the data directory's filesystem ({path}) has {free_mb} MiB free, below the reserve of \
         {reserve_mb} MiB (--disk-reserve-mb); new work is refused until space is freed"
    )]
    DiskLow { path: String, free_mb: u64, reserve_mb: u64 },
}

impl Refusal {
    /// The seconds a client should wait before trying again (`Retry-After`).
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            Refusal::Backlog { .. } | Refusal::Queue { .. } => 1,
            Refusal::DiskLow { .. } => 10,
        }
    }
}

struct Inner {
    limits: Limits,
    backlog: AtomicI64,
    queued: AtomicI64,
    /// Woken when the backlog or the queue falls below its limit.
    relieved: Notify,
    started: Instant,
    /// When the last free-space reading was taken (milliseconds since `started`, plus one; 0:
    /// never) and what it read.
    disk_read_at: AtomicU64,
    disk_free: AtomicU64,
}

/// The admission check; cheap to clone.
#[derive(Clone)]
pub struct Admission {
    inner: Arc<Inner>,
}

impl Admission {
    pub fn new(limits: Limits) -> Self {
        Self {
            inner: Arc::new(Inner {
                limits,
                backlog: AtomicI64::new(0),
                queued: AtomicI64::new(0),
                relieved: Notify::new(),
                started: Instant::now(),
                disk_read_at: AtomicU64::new(0),
                disk_free: AtomicU64::new(u64::MAX),
            }),
        }
    }

    /// No limits (tests, tools).
    pub fn unlimited() -> Self {
        Self::new(Limits { max_backlog: usize::MAX, max_queued: usize::MAX, disk: None })
    }

    /// Admits a new trigger instance from outside, or says why not (counted on `/metrics`).
    pub fn admit(&self) -> Result<(), Refusal> {
        counted(self.refusal())
    }

    /// Admits a new execution asked through the API: refused only for want of disk space (an
    /// execution a user asks for is not held back by the rules engine's backlog).
    pub fn admit_execution(&self) -> Result<(), Refusal> {
        counted(self.disk_refusal())
    }

    /// Why new intake is refused now, if it is.
    pub fn refusal(&self) -> Option<Refusal> {
        self.disk_refusal().or_else(|| self.backlog_refusal()).or_else(|| self.queue_refusal())
    }

    /// Why intake is refused for want of disk space, if it is.
    pub fn disk_refusal(&self) -> Option<Refusal> {
        let (path, reserve) = self.inner.limits.disk.as_ref()?;
        let free = self.free_bytes(path);
        (free < *reserve).then(|| Refusal::DiskLow {
            path: path.display().to_string(),
            free_mb: free >> 20,
            reserve_mb: reserve >> 20,
        })
    }

    fn backlog_refusal(&self) -> Option<Refusal> {
        let depth = self.backlog();
        let limit = self.inner.limits.max_backlog;
        (depth >= limit).then_some(Refusal::Backlog { depth, limit })
    }

    fn queue_refusal(&self) -> Option<Refusal> {
        let queued = self.queued();
        let limit = self.inner.limits.max_queued;
        (queued >= limit).then_some(Refusal::Queue { queued, limit })
    }

    /// Waits until intake is open again (a sensor's dispatch is held, not refused: its ack
    /// waits, and the shim holds the sensor back once too many are unacknowledged).
    pub async fn open(&self) {
        loop {
            let relieved = self.inner.relieved.notified();
            if self.refusal().is_none() {
                return;
            }
            // Woken by the backlog falling, or looking again for the disk.
            let _ = tokio::time::timeout(RECHECK, relieved).await;
        }
    }

    /// Journaled instances the rules engine has not processed yet (also queued for the
    /// journal's writer).
    pub fn backlog(&self) -> usize {
        self.inner.backlog.load(Ordering::Relaxed).max(0) as usize
    }

    /// Moves the backlog: + queued for the journal or replayed at start, - unwritten or
    /// processed.
    pub fn backlog_moved(&self, delta: i64) {
        let before = self.inner.backlog.fetch_add(delta, Ordering::Relaxed);
        self.relieve_if_fell(before, delta, self.inner.limits.max_backlog);
    }

    /// Executions waiting for a slot.
    pub fn queued(&self) -> usize {
        self.inner.queued.load(Ordering::Relaxed).max(0) as usize
    }

    /// Moves the count of executions waiting for a slot.
    pub fn queue_moved(&self, delta: i64) {
        let before = self.inner.queued.fetch_add(delta, Ordering::Relaxed);
        self.relieve_if_fell(before, delta, self.inner.limits.max_queued);
    }

    /// Wakes the held dispatches when a count falls below its limit.
    fn relieve_if_fell(&self, before: i64, delta: i64, limit: usize) {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        if delta < 0 && before >= limit && before + delta < limit {
            self.inner.relieved.notify_waiters();
        }
    }

    fn free_bytes(&self, path: &Path) -> u64 {
        let now = self.inner.started.elapsed().as_millis() as u64 + 1;
        let read_at = self.inner.disk_read_at.load(Ordering::Relaxed);
        if read_at != 0 && now.saturating_sub(read_at) < DISK_READING_TTL.as_millis() as u64 {
            return self.inner.disk_free.load(Ordering::Relaxed);
        }
        let free = match rustix::fs::statvfs(path) {
            Ok(stat) => stat.f_bavail.saturating_mul(stat.f_frsize),
            Err(error) => {
                // A data directory that cannot be read is for the store to report; intake is
                // not refused on a guess.
                tracing::debug!(path = %path.display(), error = %error, "cannot read the free space");
                u64::MAX
            }
        };
        self.inner.disk_free.store(free, Ordering::Relaxed);
        self.inner.disk_read_at.store(now, Ordering::Relaxed);
        free
    }
}

fn counted(refusal: Option<Refusal>) -> Result<(), Refusal> {
    match refusal {
        None => Ok(()),
        Some(refusal) => {
            Metrics::add(&METRICS.intake_refused, 1);
            Err(refusal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_refuses_at_its_limit_and_opens_below_it() {
        let admission = Admission::new(Limits { max_backlog: 3, max_queued: usize::MAX, disk: None });
        admission.backlog_moved(2);
        assert_eq!(admission.refusal(), None);
        admission.backlog_moved(1);
        let refusal = admission.refusal().expect("refused at the limit");
        assert_eq!(refusal, Refusal::Backlog { depth: 3, limit: 3 });
        assert!(refusal.to_string().contains("--max-trigger-backlog"), "{refusal}");
        assert_eq!(refusal.retry_after_secs(), 1);
        // An API execution is not held back by the backlog.
        assert_eq!(admission.disk_refusal(), None);
        admission.backlog_moved(-1);
        assert_eq!(admission.refusal(), None);
    }

    #[test]
    fn a_reserve_larger_than_the_filesystem_refuses_naming_the_directory() {
        let dir = std::env::temp_dir();
        let limits =
            |reserve| Limits { max_backlog: usize::MAX, max_queued: usize::MAX, disk: Some((dir.clone(), reserve)) };
        let admission = Admission::new(limits(u64::MAX));
        match admission.refusal() {
            Some(Refusal::DiskLow { path, .. }) => assert_eq!(path, dir.display().to_string()),
            other => panic!("expected a disk refusal, got {other:?}"),
        }
        let roomy = Admission::new(limits(1));
        assert_eq!(roomy.refusal(), None);
    }

    #[test]
    fn a_full_queue_refuses_until_one_gets_a_slot() {
        let admission = Admission::new(Limits { max_backlog: usize::MAX, max_queued: 2, disk: None });
        admission.queue_moved(2);
        assert_eq!(admission.refusal(), Some(Refusal::Queue { queued: 2, limit: 2 }));
        admission.queue_moved(-1);
        assert_eq!(admission.refusal(), None);
    }

    #[tokio::test]
    async fn a_held_dispatch_goes_on_when_the_backlog_falls() {
        let admission = Admission::new(Limits { max_backlog: 1, max_queued: usize::MAX, disk: None });
        admission.backlog_moved(1);
        let waiting = tokio::spawn({
            let admission = admission.clone();
            async move { admission.open().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        admission.backlog_moved(-1);
        waiting.await.expect("opened");
    }
}
