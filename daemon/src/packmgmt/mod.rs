//! Pack management: the built-in `packs` pack's actions (install, download, load, unload,
//! delete, uninstall, setup_virtualenv, restart_component, get, list), done natively as
//! executions (DESIGN.md 3.10).
//!
//! Owns: the pack manager (paths, the index, per-pack locks) and the progress of its jobs.
//! Must not: write the registry or registration policy itself (it asks the reload actor), or
//! run git, copies or loads on an async runtime thread.

pub mod actions;
pub mod config;
pub mod files;
pub mod git;
pub mod index;
pub mod install;
pub mod register;
pub mod remove;
pub mod rule_files;
pub mod source;
pub mod stage;
pub mod swap;
pub mod venv;
pub mod versions;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::reload::{Published, ReloadHandle};
use crate::runner::output::{LiveOutput, Stream};
use crate::sensor::supervisor::Supervisor;
use crate::store::Store;

/// The staging directory inside the first packs directory, used when the data directory is on
/// another filesystem (hidden, so discovery and the watcher pass it by).
pub const STAGING_DIR: &str = ".st2d-staging";

/// Where packs are staged: `<data-dir>/staging` when it shares a filesystem with the install
/// root (a staged pack then moves in with a rename, and the thousands of files a download
/// writes stay out of the watched packs directory), else `<install root>/.st2d-staging`.
pub fn staging_root(data_dir: &Path, install_root: &Path) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let device = |path: &Path| std::fs::metadata(path).map(|m| m.dev()).ok();
    match (device(data_dir), device(install_root)) {
        (Some(data), Some(packs)) if data == packs => data_dir.join("staging"),
        _ => install_root.join(STAGING_DIR),
    }
}

/// Paths and switches of pack management.
#[derive(Debug, Clone)]
pub struct PackPaths {
    /// Where packs are installed: the first packs directory.
    pub install_root: PathBuf,
    /// Where downloads are staged (see `staging_root`).
    pub staging_root: PathBuf,
    /// Every packs directory, in precedence order.
    pub packs_dirs: Vec<PathBuf>,
    pub config_dir: PathBuf,
    pub virtualenvs_dir: PathBuf,
    /// The interpreter virtualenvs are made with.
    pub python: PathBuf,
    /// `--index FILE`s, first wins.
    pub index_files: Vec<PathBuf>,
}

/// Runs pack management jobs; cheap to clone.
#[derive(Clone)]
pub struct PackManager {
    inner: Arc<Inner>,
}

struct Inner {
    paths: PackPaths,
    reload: ReloadHandle,
    published: Published,
    store: Store,
    sensors: Supervisor,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for PackManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackManager").field("paths", &self.inner.paths).finish_non_exhaustive()
    }
}

impl PackManager {
    /// Clears what an earlier run left half-done: the staging directory and virtualenvs that
    /// were never published.
    pub fn new(
        paths: PackPaths,
        reload: ReloadHandle,
        published: Published,
        store: Store,
        sensors: Supervisor,
    ) -> Self {
        for staging in [&paths.staging_root, &paths.install_root.join(STAGING_DIR)] {
            if let Err(error) = std::fs::remove_dir_all(staging)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %staging.display(), error = %error, "cannot clear the staging directory");
            }
        }
        venv::sweep_unpublished(&paths.virtualenvs_dir);
        Self { inner: Arc::new(Inner { paths, reload, published, store, sensors, locks: Mutex::new(HashMap::new()) }) }
    }

    pub fn paths(&self) -> &PackPaths {
        &self.inner.paths
    }

    pub fn staging_root(&self) -> PathBuf {
        self.inner.paths.staging_root.clone()
    }

    /// Locks the packs (in sorted order, so two jobs never wait on each other in a circle);
    /// two jobs on one pack run one after the other.
    pub async fn lock(&self, packs: impl IntoIterator<Item = String>) -> Vec<OwnedMutexGuard<()>> {
        let packs: BTreeSet<String> = packs.into_iter().collect();
        let mut guards = Vec::with_capacity(packs.len());
        for pack in packs {
            let lock = match self.inner.locks.lock() {
                Ok(mut locks) => locks.entry(pack).or_default().clone(),
                Err(poisoned) => poisoned.into_inner().entry(pack).or_default().clone(),
            };
            guards.push(lock.lock_owned().await);
        }
        guards
    }

    fn reload(&self) -> &ReloadHandle {
        &self.inner.reload
    }

    fn published(&self) -> &Published {
        &self.inner.published
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    fn sensors(&self) -> &Supervisor {
        &self.inner.sensors
    }
}

/// A job's progress: each line goes to the execution's live output (`st2 execution tail`) and
/// is kept for the result.
pub struct Progress<'a> {
    output: &'a LiveOutput,
    lines: Mutex<Vec<String>>,
    stages: Option<&'a dyn Stages>,
}

/// Where an install's stages are recorded (the executor records each as a child execution of
/// the install, named as StackStorm's install workflow names its tasks, so `st2 pack install`
/// and the web UI show them as they go).
pub trait Stages: Send + Sync {
    /// Ends the open stage (succeeded) and opens `task`, the work of built-in action `action`.
    fn begin(&self, task: &str, action: &str);
    /// Ends the open stage, if any: failed with `error`, or succeeded.
    fn end(&self, error: Option<&str>);
}

impl<'a> Progress<'a> {
    pub fn new(output: &'a LiveOutput) -> Self {
        Self { output, lines: Mutex::new(Vec::new()), stages: None }
    }

    /// Progress whose stages are recorded by `stages`.
    pub fn with_stages(output: &'a LiveOutput, stages: Option<&'a dyn Stages>) -> Self {
        Self { output, lines: Mutex::new(Vec::new()), stages }
    }

    /// A new stage of the work begins (the open one succeeded).
    pub fn stage(&self, task: &str, action: &str) {
        if let Some(stages) = self.stages {
            stages.begin(task, action);
        }
    }

    /// The work ended: the open stage with it (failed with `error`, or succeeded).
    pub fn end_stages(&self, error: Option<&str>) {
        if let Some(stages) = self.stages {
            stages.end(error);
        }
    }

    pub fn line(&self, text: &str) {
        self.output.push(Stream::Stdout, text);
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(text.to_string());
        }
    }

    /// Every line so far, newline-separated.
    pub fn text(&self) -> String {
        self.lines.lock().map(|lines| lines.join("\n")).unwrap_or_default()
    }
}

/// A blocking job that did not finish (it panicked or was cancelled).
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("a pack management task failed: {0}")]
    Join(#[source] tokio::task::JoinError),
}

/// Runs blocking `work` on the blocking pool while its progress lines reach `progress` as they
/// come.
pub async fn blocking<T: Send + 'static>(
    progress: &Progress<'_>,
    work: impl FnOnce(&mut dyn FnMut(String)) -> T + Send + 'static,
) -> Result<T, TaskError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let handle = tokio::task::spawn_blocking(move || {
        let mut send = |line: String| {
            // The receiver lives until the work is done.
            let _ = tx.send(line);
        };
        work(&mut send)
    });
    while let Some(line) = rx.recv().await {
        progress.line(&line);
    }
    handle.await.map_err(TaskError::Join)
}

/// Whether `dir` sits directly in one of `roots`.
fn directly_under(dir: &Path, roots: &[PathBuf]) -> bool {
    dir.parent().is_some_and(|parent| roots.iter().any(|root| root == parent))
}
