//! Warm Python interpreters: one pre-started `st2d_shim/warm_main.py` per interpreter (a pack's
//! virtualenv python, or `--python`), which has imported the shim and forks a child for each
//! python-script run instead of a new interpreter starting and importing it all again.
//!
//! The child is what a cold start would be (its own process group, working directory,
//! environment and import path from the same `ProcessSpec`, stdout and stderr on pipes st2d
//! made); it imports the pack's code itself, so an edited action is what runs. The warm process
//! imports no pack code and starts no thread. An interpreter comes up on its first use (that
//! run and those until it is ready start cold); one that dies is started again on a later use
//! after a backoff (1 s doubling to 1 min), its runs in flight killed and failed; while it is
//! down, runs start cold.
//!
//! Owns: the warm processes, their sockets and the fork requests. Must not: decide what a run
//! is (the runner builds its `ProcessSpec`) or supervise the forked child beyond its start and
//! exit (`process::supervise` does).

mod interpreter;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::METRICS;
use crate::process::{ProcessSpec, Started};
use interpreter::Interpreter;

/// Where warm interpreters live and how they are found.
#[derive(Clone)]
pub struct WarmPool {
    inner: Arc<Pool>,
}

struct Pool {
    /// `warm_main.py`; `None`: warm starts are off and every run starts cold.
    entry: Option<PathBuf>,
    /// For sensors: the warm process imports eventlet and monkey-patches as sensors run.
    green: bool,
    run_dir: PathBuf,
    interpreters: Mutex<HashMap<PathBuf, Arc<Interpreter>>>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// What `st2ctl status` shows of one warm interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmStatus {
    pub python: PathBuf,
    /// `actions`, or `sensors` (green).
    pub kind: &'static str,
    /// `up`, `starting`, `down` (waiting out its backoff) or `idle` (not started yet).
    pub state: &'static str,
    pub pid: u32,
    pub forks: u64,
    pub restarts: u64,
}

impl std::fmt::Debug for WarmPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmPool").field("entry", &self.inner.entry).finish_non_exhaustive()
    }
}

impl WarmPool {
    /// Warm interpreters for python-script actions, running `entry`, with their sockets in
    /// `run_dir`; they stop with `shutdown`.
    pub fn new(entry: PathBuf, run_dir: PathBuf, shutdown: CancellationToken, tracker: TaskTracker) -> Self {
        Self::build(Some(entry), false, run_dir, shutdown, tracker)
    }

    /// Warm interpreters for sensors: green (eventlet's monkey-patching done before they fork,
    /// with the import path a sensor of the interpreter has, less its pack's directories).
    pub fn green(entry: PathBuf, run_dir: PathBuf, shutdown: CancellationToken, tracker: TaskTracker) -> Self {
        Self::build(Some(entry), true, run_dir, shutdown, tracker)
    }

    /// No warm interpreter: every run starts cold.
    pub fn off() -> Self {
        Self::build(None, false, PathBuf::new(), CancellationToken::new(), TaskTracker::new())
    }

    fn build(
        entry: Option<PathBuf>,
        green: bool,
        run_dir: PathBuf,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> Self {
        let pool = Pool { entry, green, run_dir, interpreters: Mutex::new(HashMap::new()), shutdown, tracker };
        Self { inner: Arc::new(pool) }
    }

    /// Starts `spec` (a python-script run: `<python> -u <entry point> ...`) forked from the warm
    /// interpreter of its program; `None` when that one is not up (the caller starts it cold).
    pub async fn start(&self, spec: &ProcessSpec) -> Option<Started> {
        let started = self.try_start(spec).await;
        METRICS.python_start(started.is_some());
        started
    }

    async fn try_start(&self, spec: &ProcessSpec) -> Option<Started> {
        let entry = self.inner.entry.as_ref()?;
        let python = interpreter_key(&spec.program);
        let mut env = Vec::new();
        let mut key = python.as_os_str().to_os_string();
        if self.inner.green {
            let path = shared_import_path(spec);
            key.push("\0green\0");
            key.push(&path);
            env = vec![("ST2D_WARM_GREEN".to_string(), "1".into()), ("PYTHONPATH".to_string(), path)];
        }
        let key = PathBuf::from(key);
        let interpreter = {
            let mut interpreters = self.inner.interpreters.lock().ok()?;
            interpreters
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Interpreter::new(python.clone(), spec.program.clone(), env)))
                .clone()
        };
        let socket = self.inner.run_dir.join(format!("warm-{}.sock", digest(&key)));
        interpreter.start(spec, entry, &socket, &self.inner.shutdown, &self.inner.tracker).await
    }

    /// The warm interpreters, by interpreter.
    pub fn interpreters(&self) -> Vec<WarmStatus> {
        let Ok(interpreters) = self.inner.interpreters.lock() else { return Vec::new() };
        let kind = if self.inner.green { "sensors" } else { "actions" };
        let mut list: Vec<WarmStatus> = interpreters.values().map(|i| WarmStatus { kind, ..i.status() }).collect();
        list.sort_by(|a, b| a.python.cmp(&b.python));
        list
    }
}

/// The interpreter a program names: its directory with every link resolved (a virtualenv
/// rebuilt beside the old one is another interpreter), its file name as given (a virtualenv's
/// `bin/python` is a link to the system's, but is not the same interpreter).
fn interpreter_key(program: &Path) -> PathBuf {
    match (program.parent().filter(|p| !p.as_os_str().is_empty()), program.file_name()) {
        (Some(dir), Some(name)) => {
            std::fs::canonicalize(dir).map(|dir| dir.join(name)).unwrap_or(program.to_path_buf())
        }
        _ => program.to_path_buf(),
    }
}

/// The run's `PYTHONPATH` without the entries under a packs directory (`ST2D_PACKS_PATHS`):
/// what every sensor of that interpreter shares (the shim, a virtualenv's, the base libraries),
/// so that eventlet is found as the sensor would find it.
fn shared_import_path(spec: &ProcessSpec) -> std::ffi::OsString {
    let packs: Vec<PathBuf> =
        spec.env.get("ST2D_PACKS_PATHS").map(|p| std::env::split_paths(p).collect()).unwrap_or_default();
    let path: Vec<PathBuf> = spec
        .env
        .get("PYTHONPATH")
        .map(|p| std::env::split_paths(p).filter(|entry| !packs.iter().any(|dir| entry.starts_with(dir))).collect())
        .unwrap_or_default();
    std::env::join_paths(path).unwrap_or_default()
}

/// A short stable name for an interpreter's socket.
fn digest(python: &Path) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, python.as_os_str().as_encoded_bytes());
    digest.as_ref()[..8].iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
#[path = "warm_tests.rs"]
mod tests;
