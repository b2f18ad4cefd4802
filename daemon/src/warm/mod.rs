//! Warm Python interpreters: one pre-started `st2d_shim/warm_main.py` per interpreter (a pack's
//! virtualenv python, or `--python`), which has imported the shim and forks a child for each
//! python-script run instead of a new interpreter starting and importing it all again.
//!
//! The child is what a cold start would be (its own process group, working directory,
//! environment and import path from the same `ProcessSpec`, stdout and stderr on pipes st2d
//! made; its user, as the warm process runs as the user of the runs it forks, and its socket is
//! that user's); it imports the pack's code itself, so an edited action is what runs. The warm process
//! imports no pack code and starts no thread. An interpreter comes up on its first use (that
//! run and those until it is ready start cold); one that dies is started again on a later use
//! after a backoff (1 s doubling to 1 min), its runs in flight killed and failed; while it is
//! down, runs start cold.
//!
//! A pack the operator names with `--python-preload` gets a warm interpreter of its own, which
//! imports the pack's python-script action modules before it forks (`PackCode`), so a child
//! skips their import. That interpreter refuses a fork once a file or directory it imported
//! from has changed (the run starts cold) and is then retired: it serves no new run, ends when
//! its children have, and a new one, importing the files as they are now, starts at once.
//!
//! Owns: the warm processes, their sockets and the fork requests. Must not: decide what a run
//! is (the runner builds its `ProcessSpec`) or supervise the forked child beyond its start and
//! exit (`process::supervise` does).

mod interpreter;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Packs whose actions are imported by a warm interpreter of their own (`--python-preload`).
    preload: HashSet<String>,
    run_dir: PathBuf,
    /// Interpreters made so far: each has a socket name of its own.
    made: AtomicU64,
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
    /// The pack whose actions it preloads (`--python-preload`); empty when none.
    pub pack: String,
    /// Action modules it imported before forking.
    pub preloaded: u32,
}

/// A pack's python code, for a warm interpreter that preloads it: its python-script action
/// files, and the directories whose files it may import (the pack's, its virtualenv's), which
/// it watches for changes.
#[derive(Debug, Clone, Default)]
pub struct PackCode {
    pub files: Vec<PathBuf>,
    pub watch: Vec<PathBuf>,
}

impl std::fmt::Debug for WarmPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmPool").field("entry", &self.inner.entry).finish_non_exhaustive()
    }
}

impl WarmPool {
    /// Warm interpreters for python-script actions, running `entry`, with their sockets in
    /// `run_dir`; they stop with `shutdown`. The actions of the packs in `preload` are imported
    /// before forking, in a warm interpreter per pack.
    pub fn new(
        entry: PathBuf,
        run_dir: PathBuf,
        preload: impl IntoIterator<Item = String>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> Self {
        Self::build(Some(entry), false, preload.into_iter().collect(), run_dir, shutdown, tracker)
    }

    /// Warm interpreters for sensors: green (eventlet's monkey-patching done before they fork,
    /// with the import path a sensor of the interpreter has, less its pack's directories).
    pub fn green(entry: PathBuf, run_dir: PathBuf, shutdown: CancellationToken, tracker: TaskTracker) -> Self {
        Self::build(Some(entry), true, HashSet::new(), run_dir, shutdown, tracker)
    }

    /// No warm interpreter: every run starts cold.
    pub fn off() -> Self {
        Self::build(None, false, HashSet::new(), PathBuf::new(), CancellationToken::new(), TaskTracker::new())
    }

    fn build(
        entry: Option<PathBuf>,
        green: bool,
        preload: HashSet<String>,
        run_dir: PathBuf,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> Self {
        let interpreters = Mutex::new(HashMap::new());
        let made = AtomicU64::new(0);
        let pool = Pool { entry, green, preload, run_dir, made, interpreters, shutdown, tracker };
        Self { inner: Arc::new(pool) }
    }

    /// Whether `pack`'s actions are preloaded (`--python-preload`), when warm starts are on.
    pub fn preloads(&self, pack: &str) -> bool {
        self.inner.entry.is_some() && self.inner.preload.contains(pack)
    }

    /// Starts `spec` (a python-script run: `<python> -u <entry point> ...`) forked from the warm
    /// interpreter of its program; `None` when that one is not up (the caller starts it cold).
    pub async fn start(&self, spec: &ProcessSpec) -> Option<Started> {
        let started = self.try_start(spec, None).await;
        METRICS.python_start(started.is_some());
        started
    }

    /// Starts a run of `pack` (which `preloads`) forked from the warm interpreter that has
    /// imported its actions; `code` says what to import when that interpreter is (re)made.
    pub async fn start_preloaded(&self, spec: &ProcessSpec, pack: &str, code: &CodeOf<'_>) -> Option<Started> {
        let started = self.try_start(spec, Some((pack, code))).await;
        METRICS.python_start(started.is_some());
        started
    }

    async fn try_start(&self, spec: &ProcessSpec, preload: Option<(&str, &CodeOf<'_>)>) -> Option<Started> {
        let entry = self.inner.entry.as_ref()?;
        let (key, setup) = self.setup(spec, preload.map(|(pack, _)| pack));
        let code = preload.map(|(_, code)| code);
        let interpreter = self.interpreter(&key, setup, code)?;
        let started = interpreter.start(spec, entry, &self.inner.shutdown, &self.inner.tracker).await;
        if started.is_none() && interpreter.retired() {
            // Its pack changed on disk: the next runs go to a new one, which starts now.
            let removed = self
                .inner
                .interpreters
                .lock()
                .ok()
                .filter(|map| map.get(&key).is_some_and(|current| Arc::ptr_eq(current, &interpreter)))
                .and_then(|mut map| map.remove(&key));
            if removed.is_some() {
                let (_, setup) = self.setup(spec, preload.map(|(pack, _)| pack));
                if let Some(next) = self.interpreter(&key, setup, code) {
                    next.launch(entry, &self.inner.shutdown, &self.inner.tracker);
                }
            }
        }
        started
    }

    /// The key and the setup of the warm interpreter `spec` is forked from: by interpreter,
    /// and for sensors by shared import path, for a preloaded pack by pack and import path.
    fn setup(&self, spec: &ProcessSpec, pack: Option<&str>) -> (PathBuf, Setup) {
        let python = interpreter_key(&spec.program);
        let mut setup = Setup {
            python: python.clone(),
            program: spec.program.clone(),
            env: Vec::new(),
            cwd: PathBuf::from("/"),
            pack: String::new(),
            socket: PathBuf::new(),
            user: spec.user.clone(),
        };
        let mut key = python.into_os_string();
        if let Some(user) = &spec.user {
            key.push(format!("\0uid {}", user.account().uid));
        }
        if self.inner.green {
            let path = shared_import_path(spec);
            key.push("\0green\0");
            key.push(&path);
            setup.env = vec![("ST2D_WARM_GREEN".to_string(), "1".into()), ("PYTHONPATH".to_string(), path)];
        } else if let Some(pack) = pack {
            let path = spec.env.get("PYTHONPATH").cloned().unwrap_or_default();
            key.push("\0preload\0");
            key.push(pack);
            key.push("\0");
            key.push(&path);
            setup.env = ["PYTHONPATH", "PYTHONPYCACHEPREFIX", "ST2D_PACKS_PATHS"]
                .into_iter()
                .filter_map(|name| spec.env.get(name).map(|value| (name.to_string(), value.clone())))
                .collect();
            // Where a run without a `cwd` parameter runs, so that import-time code sees it too.
            setup.cwd = std::env::current_dir().unwrap_or(setup.cwd);
            setup.pack = pack.to_string();
        }
        (PathBuf::from(key), setup)
    }

    /// The interpreter of `key`, made with `setup` (and `code` to preload) when there is none;
    /// made for a pack, it retires the pack's others (another virtualenv or import path).
    fn interpreter(&self, key: &Path, mut setup: Setup, code: Option<&CodeOf<'_>>) -> Option<Arc<Interpreter>> {
        if let Some(found) = self.inner.interpreters.lock().ok()?.get(key) {
            return Some(found.clone());
        }
        let code = code.map(|code| code()).unwrap_or_default();
        let mut interpreters = self.inner.interpreters.lock().ok()?;
        if let Some(found) = interpreters.get(key) {
            return Some(found.clone());
        }
        let made = self.inner.made.fetch_add(1, Ordering::Relaxed);
        setup.socket = self.inner.run_dir.join(format!("warm-{}-{made}.sock", digest(key)));
        if !setup.pack.is_empty() {
            interpreters.retain(|other, interpreter| {
                let keep = interpreter.pack != setup.pack;
                if !keep {
                    tracing::debug!(pack = %setup.pack, python = %other.display(), "another warm interpreter preloads the pack now");
                    interpreter.retire();
                }
                keep
            });
            setup.env.push(("ST2D_WARM_PRELOAD".to_string(), paths_json(&code.files)));
            setup.env.push(("ST2D_WARM_WATCH".to_string(), paths_json(&code.watch)));
        }
        let interpreter = Arc::new(Interpreter::new(setup));
        interpreters.insert(key.to_path_buf(), interpreter.clone());
        Some(interpreter)
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

/// What a preloading interpreter imports, asked for only when one is made.
pub type CodeOf<'a> = dyn Fn() -> PackCode + Sync + 'a;

/// How one warm interpreter is started.
pub(super) struct Setup {
    python: PathBuf,
    /// The program as the runs give it (what is started).
    program: PathBuf,
    /// Variables of the warm process beyond the basics.
    env: Vec<(String, std::ffi::OsString)>,
    cwd: PathBuf,
    /// The pack it preloads; empty when none.
    pack: String,
    socket: PathBuf,
    /// The account it runs as, the runs' own; `None`: st2d's.
    user: Option<crate::process::RunAs>,
}

/// Paths as a JSON list of strings (the paths st2d names are text).
fn paths_json(paths: &[PathBuf]) -> std::ffi::OsString {
    let list: Vec<String> = paths.iter().map(|path| path.to_string_lossy().into_owned()).collect();
    serde_json::Value::from(list).to_string().into()
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
