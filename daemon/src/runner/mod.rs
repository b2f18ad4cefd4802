//! The runner contract: what every runner shares with the executor that calls it and the
//! workflow conductors beside it. The daemon's context for runners (`RunContext`), one
//! execution as a runner sees it (`Job`), how a run ended (`Outcome`) and its live output
//! (`output`).
//!
//! Owns: those types. Must not: pick a runner, run one or record anything (the executor picks
//! and records, the runners in `action` and `packmgmt::actions` run).

pub mod output;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::execution::Execution;
use crate::process::Pipe;
use crate::pyenv::PythonEnv;
use crate::registry::Registry;
use crate::shim::ShimServer;
use crate::trigger::journal::Journal;
use output::{LiveOutput, Stream};
use st2d_core::pack::model::Action;
use st2d_core::pyfmt::py_str;
use st2d_core::status::ExecutionStatus;

/// What runners need from the daemon.
#[derive(Clone)]
pub struct RunContext {
    /// The interpreter for packs without a virtualenv.
    pub python: PathBuf,
    pub virtualenvs_dir: PathBuf,
    /// The import path and variables of pack processes.
    pub python_env: PythonEnv,
    pub shim: ShimServer,
    pub journal: Journal,
    /// The remote runners' SSH defaults and limits (`--ssh-*`).
    pub ssh: SshSettings,
    /// Where python-script runs are forked from, when warm.
    pub warm: crate::warm::WarmPool,
    /// How actions reach the REST API (`ST2_ACTION_API_URL`, `ST2_ACTION_AUTH_TOKEN`).
    pub api: ApiAccess,
    /// Where the `announcement` runner publishes.
    pub announcer: crate::announce::Announcer,
    /// The account local and python actions run as (`action_user`); `None`: st2d's own.
    pub user: Option<crate::process::RunAs>,
}

/// How an action reaches st2d's REST API, as StackStorm gives it to actions: the API's URL and
/// a token for each execution, acting as the execution's user, that lives while it runs.
#[derive(Clone, Default)]
pub struct ApiAccess {
    /// `http://host:port/api/v1`; empty without `--http-listen`.
    pub url: String,
    pub tokens: Option<std::sync::Arc<dyn ExecutionTokens>>,
}

/// Tokens that live as long as an execution runs.
pub trait ExecutionTokens: Send + Sync {
    /// Execution `execution_id`'s token, acting as `user` (made at the first call).
    fn token_for(&self, execution_id: &str, user: &str) -> String;
    /// Ends execution `execution_id`'s token.
    fn forget(&self, execution_id: &str);
}

/// What the remote runners take from the daemon's `--ssh-*` flags: StackStorm's `[system_user]`
/// and `[ssh_runner]` settings, and how OpenSSH's connections are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSettings {
    /// The login when an action gives no `username` and the ssh configuration names none.
    pub user: String,
    /// The key when an action gives no `private_key` nor `password`; `None`: `.ssh/stanley_rsa`
    /// in `user`'s home directory, when it exists.
    pub key_file: Option<PathBuf>,
    /// The operator's client configuration, read before `/etc/ssh/ssh_config`; `None`: the
    /// daemon user's `~/.ssh/config`.
    pub config_file: Option<PathBuf>,
    pub host_keys: HostKeyCheck,
    /// Hosts of one `parallel` execution that run at once.
    pub max_parallel: usize,
    pub connect_timeout: Duration,
    /// How long a connection stays open for the next command to its host after its last
    /// command ended; zero opens one connection per command.
    pub keep_connections: Duration,
    /// Where control sockets and the files given to ssh live; short enough for a socket name.
    pub state_dir: PathBuf,
}

/// How host keys are checked against `known_hosts` (OpenSSH's `StrictHostKeyChecking`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// Only hosts whose key is known.
    Yes,
    /// Unknown hosts are added; a known host with another key is refused.
    AcceptNew,
    /// No check at all.
    No,
}

impl SshSettings {
    /// StackStorm's `[system_user] user`.
    pub const DEFAULT_USER: &str = "stanley";
    /// StackStorm's `[ssh_runner] max_parallel_actions`.
    pub const DEFAULT_MAX_PARALLEL: usize = 50;
    /// StackStorm's `[ssh_runner] ssh_connect_timeout`, in seconds.
    pub const DEFAULT_CONNECT_TIMEOUT: u64 = 60;
    /// Seconds an idle connection is kept.
    pub const DEFAULT_KEEP_CONNECTIONS: u64 = 300;

    /// The defaults of the `--ssh-*` flags, with files under `state_dir`.
    pub fn new(state_dir: PathBuf) -> Self {
        Self {
            user: Self::DEFAULT_USER.to_string(),
            key_file: None,
            config_file: None,
            host_keys: HostKeyCheck::AcceptNew,
            max_parallel: Self::DEFAULT_MAX_PARALLEL,
            connect_timeout: Duration::from_secs(Self::DEFAULT_CONNECT_TIMEOUT),
            keep_connections: Duration::from_secs(Self::DEFAULT_KEEP_CONNECTIONS),
            state_dir,
        }
    }
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext").field("python", &self.python).finish_non_exhaustive()
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: ExecutionStatus,
    pub result: Value,
}

impl Outcome {
    pub fn failed(error: impl Into<String>) -> Self {
        Self { status: ExecutionStatus::Failed, result: json!({"error": error.into()}) }
    }
}

/// One execution as a runner sees it.
pub struct Job<'a> {
    pub context: &'a RunContext,
    pub registry: &'a Registry,
    pub action: &'a Action,
    pub execution: &'a Execution,
    pub output: &'a LiveOutput,
    pub cancel: &'a CancellationToken,
    /// Runner parameters, resolved.
    pub runner: Map<String, Value>,
    /// Action parameters, resolved, in the order the pipeline gives them.
    pub params: Map<String, Value>,
}

/// The directory of `action`'s pack.
pub fn pack_dir(registry: &Registry, action: &Action) -> Option<PathBuf> {
    let entry = registry.pack(&action.pack)?;
    Some(entry.content.as_ref().map_or_else(|| entry.dir.clone(), |content| content.dir.clone()))
}

/// `action`'s entry point: relative to `<pack>/actions/`, or absolute (inside the pack).
pub fn entry_point(registry: &Registry, action: &Action) -> Option<PathBuf> {
    let entry_point = action.entry_point.trim();
    if entry_point.is_empty() {
        return None;
    }
    let path = PathBuf::from(entry_point);
    if path.is_absolute() { Some(path) } else { pack_dir(registry, action).map(|dir| dir.join("actions").join(path)) }
}

impl<'a> Job<'a> {
    pub fn new(
        context: &'a RunContext,
        registry: &'a Registry,
        action: &'a Action,
        execution: &'a Execution,
        output: &'a LiveOutput,
        cancel: &'a CancellationToken,
    ) -> Self {
        let resolved = execution.resolved.clone().unwrap_or_default();
        Self { context, registry, action, execution, output, cancel, runner: resolved.runner, params: resolved.action }
    }

    /// The directory of the action's pack.
    pub fn pack_dir(&self) -> Option<PathBuf> {
        pack_dir(self.registry, self.action)
    }

    /// The entry point: relative to `<pack>/actions/`, or absolute (inside the pack).
    pub fn entry_point(&self) -> Option<PathBuf> {
        entry_point(self.registry, self.action)
    }

    /// A runner parameter as text (`None` when absent, null or empty).
    pub fn runner_text(&self, name: &str) -> Option<String> {
        match self.runner.get(name) {
            None | Some(Value::Null) => None,
            Some(value) => Some(py_str(value)).filter(|text| !text.is_empty()),
        }
    }

    pub fn runner_flag(&self, name: &str) -> bool {
        match self.runner.get(name) {
            Some(Value::Bool(flag)) => *flag,
            Some(Value::String(text)) => matches!(text.to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
            Some(Value::Number(number)) => number.as_f64().is_some_and(|n| n != 0.0),
            _ => false,
        }
    }

    /// Pushes an output line to the live output.
    pub fn line(&self, pipe: Pipe, line: &str) {
        let stream = match pipe {
            Pipe::Stdout => Stream::Stdout,
            Pipe::Stderr => Stream::Stderr,
        };
        self.output.push(stream, line);
    }
}
