//! Test support for the runners: a temporary home with the built-in packs and a `demo` pack
//! made of the given files, the registry loaded from it, and a `RunContext` with a live shim
//! socket and journal.
//!
//! Owns: nothing outside tests. Must not: be used by non-test code.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::execution::{Execution, Resolved};
use crate::executor::dispatch;
use crate::registry::Registry;
use crate::registry::build::{Dirty, Scanner};
use crate::reload::{Cause, Reloader};
use crate::runner::output::{LiveOutput, OutputLine};
use crate::runner::{Outcome, RunContext};
use crate::shim::ShimServer;
use crate::store::Store;
use crate::trigger::journal::Journal;
use st2d_core::status::ExecutionStatus;

pub struct Kit {
    pub home: tempfile::TempDir,
    pub registry: Arc<Registry>,
    pub context: RunContext,
    pub datastore: crate::datastore::Datastore,
    shutdown: CancellationToken,
}

impl Drop for Kit {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Kit {
    /// `files` are (path under the home, content); `packs/demo/pack.yaml` is written for you.
    pub async fn new(files: &[(&str, &str)]) -> Self {
        let home = tempfile::tempdir().expect("a temp dir");
        let write = |path: &str, text: &str| {
            let target = home.path().join(path);
            std::fs::create_dir_all(target.parent().expect("a file has a parent")).expect("mkdir");
            std::fs::write(target, text).expect("write");
        };
        write("packs/demo/pack.yaml", "---\nref: demo\nname: demo\ndescription: d\nversion: 1.0.0\nauthor: t\n");
        for (path, text) in files {
            write(path, text);
        }
        let builtin = crate::pack::builtin::write_out(&home.path().join("builtin")).expect("builtin packs");
        crate::embedded::write_tree(&home.path().join("python"), crate::embedded::PYTHON_SHIM_FILES).expect("shim");
        let store = Store::open(&home.path().join("store")).expect("store");
        let scanner = Scanner::new(builtin, vec![home.path().join("packs")], home.path().join("configs"));
        let mut reloader = Reloader::new(scanner, store.clone(), true);
        reloader.reload_blocking(Cause::Start, &Dirty::All, &[]);
        let published = reloader.published();
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let journal = Journal::start(
            store.clone(),
            None,
            crate::trigger::admission::Admission::unlimited(),
            shutdown.clone(),
            &tracker,
        );
        let socket = home.path().join("run").join("shim.sock");
        let datastore = crate::datastore::Datastore::open(store.clone(), &home.path().join("keys/datastore.key"))
            .expect("datastore");
        let shim = ShimServer::start(
            &socket,
            journal.clone(),
            published.clone(),
            datastore.clone(),
            shutdown.clone(),
            &tracker,
        )
        .expect("shim socket");
        let context = RunContext {
            python: crate::sensor::spec::resolve_interpreter(Path::new("python3"), None).await,
            virtualenvs_dir: home.path().join("virtualenvs"),
            python_env: crate::pyenv::PythonEnv {
                shim_dir: home.path().join("python"),
                pycache_dir: home.path().join("pycache"),
                packs_dirs: vec![home.path().join("packs")],
                common_libs: true,
                base: crate::pyenv::BaseLibraries::ready_at(None),
            },
            shim,
            journal,
            ssh: crate::runner::SshSettings::new(home.path().join("ssh")),
            warm: crate::warm::WarmPool::off(),
            api: Default::default(),
            announcer: Default::default(),
            user: None,
        };
        Self { registry: published.registry(), home, context, datastore, shutdown }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.home.path().join(relative)
    }

    /// Runs `action` with resolved `runner` and `action` parameters.
    pub async fn run(&self, action: &str, runner: Value, params: Value) -> (Outcome, Vec<OutputLine>) {
        self.run_cancelled(action, runner, params, &CancellationToken::new()).await
    }

    pub async fn run_cancelled(
        &self,
        action: &str,
        runner: Value,
        params: Value,
        cancel: &CancellationToken,
    ) -> (Outcome, Vec<OutputLine>) {
        let found = self.registry.action(action).unwrap_or_else(|| panic!("{action} is not loaded"));
        let resolved = Resolved { runner: object(runner), action: object(params) };
        let execution = Execution {
            resolved: Some(resolved),
            ..Execution::sample("00000000000000aa", action, &found.runner_type, ExecutionStatus::Running)
        };
        let output = LiveOutput::default();
        let outcome =
            dispatch::run(&self.context, Default::default(), &self.registry, found, &execution, &output, cancel).await;
        (outcome, output.subscribe().0)
    }
}
