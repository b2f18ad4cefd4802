//! The remote-shell-cmd and remote-shell-script runners (ST2-COMPAT.md 2.3, 2.7): the action's
//! command, or its script uploaded with its arguments, run on every host of `hosts` through
//! the system's OpenSSH client; one result entry per host, the execution `succeeded` only when
//! every host succeeded (`timeout` when every host timed out), a host that cannot be reached
//! being that host's entry.
//!
//! OpenSSH rather than an SSH library: the operator's `~/.ssh/config` and
//! `/etc/ssh/ssh_config` (aliases, `ProxyJump`, `ProxyCommand`, `IdentityFile`, `Match`...),
//! the agent and `known_hosts` then apply as they do in the operator's own shell, and
//! ControlMaster keeps each host's connection for the next command (`ssh`).
//!
//! Owns: reading the runner parameters, running the hosts (in order, or `parallel` up to
//! `--ssh-max-parallel` at once) and the execution's status. Must not: build ssh's options
//! (`ssh`), write remote lines (`line`) or start processes (`crate::process` does).

mod host;
pub mod hosts;
pub mod line;
pub mod ssh;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::shell::args;
use crate::process::ProcessSpec;
use crate::runner::{Job, Outcome};
use host::{HostEnding, HostOutcome, HostRun, Task};
use hosts::{HostsError, Target};
use line::RemoteShell;
use ssh::{Login, Ssh, SshError};
use st2d_core::status::ExecutionStatus;

/// StackStorm's default `timeout` of the remote runners, in seconds.
pub const DEFAULT_TIMEOUT: u64 = 60;

/// ssh's own port: a `port` of 22 leaves the port to the ssh configuration.
const SSH_PORT: u16 = 22;

/// Why a remote action cannot start on any host.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(transparent)]
    Hosts(#[from] HostsError),
    #[error("runner parameter \"port\": \"{0}\" is not a TCP port")]
    BadPort(String),
    #[error("runner parameter \"cmd\" is missing")]
    NoCmd,
    #[error("action {0} has an entry_point, which the remote-shell-cmd runner does not run (remote-shell-script does)")]
    EntryPointOfCmd(String),
    #[error("entry_point is required by the remote-shell-script runner")]
    NoEntryPoint,
    #[error("entry_point \"{}\" does not exist", .0.display())]
    NoScript(PathBuf),
    #[error(transparent)]
    Ssh(#[from] SshError),
}

/// Runs a remote-shell-cmd or remote-shell-script job.
pub async fn run(job: &Job<'_>) -> Outcome {
    let plan = match Plan::read(job) {
        Ok(plan) => plan,
        Err(error) => return Outcome::failed(error.to_string()),
    };
    let ssh = match Ssh::open(&job.context.ssh, plan.login.clone(), plan.timeout) {
        Ok(ssh) => ssh,
        Err(error) => return Outcome::failed(RemoteError::from(error).to_string()),
    };
    let keys = hosts::result_keys(&plan.targets);
    let host_run = HostRun {
        job,
        ssh: &ssh,
        shell: &plan.shell,
        task: &plan.task,
        timeout: plan.timeout,
        sudo_password: plan.sudo_password.as_deref(),
    };
    // Collected first: a stream over a closure's futures is not `Send` for every lifetime.
    let runs: Vec<_> = plan
        .targets
        .iter()
        .zip(&keys)
        .enumerate()
        .map(|(index, (target, key))| host_run.on(target, key, index))
        .collect();
    let outcomes: Vec<HostOutcome> = if plan.parallel {
        futures_util::stream::iter(runs).buffered(job.context.ssh.max_parallel).collect().await
    } else {
        let mut outcomes = Vec::with_capacity(keys.len());
        for run in runs {
            outcomes.push(if job.cancel.is_cancelled() { HostOutcome::not_run() } else { run.await });
        }
        outcomes
    };
    overall(keys, outcomes)
}

/// The execution's status and result from its hosts' (StackStorm's `_get_result_status`
/// without `allow_partial_failure`; a host canceled cancels the execution).
fn overall(keys: Vec<String>, outcomes: Vec<HostOutcome>) -> Outcome {
    let all = |ending: HostEnding| outcomes.iter().all(|outcome| outcome.ending == ending);
    let status = if outcomes.iter().any(|outcome| outcome.ending == HostEnding::Canceled) {
        ExecutionStatus::Canceled
    } else if all(HostEnding::Succeeded) {
        ExecutionStatus::Succeeded
    } else if all(HostEnding::TimedOut) {
        ExecutionStatus::Timeout
    } else {
        ExecutionStatus::Failed
    };
    let result: Map<String, Value> = keys.into_iter().zip(outcomes.into_iter().map(|outcome| outcome.entry)).collect();
    Outcome { status, result: Value::Object(result) }
}

/// What the runner parameters ask for.
struct Plan {
    targets: Vec<Target>,
    login: Login,
    parallel: bool,
    timeout: f64,
    shell: RemoteShell,
    sudo_password: Option<String>,
    task: Task,
}

impl Plan {
    fn read(job: &Job<'_>) -> Result<Self, RemoteError> {
        let targets = hosts::parse_list(&job.runner_text("hosts").unwrap_or_default())?;
        let bastion = job.runner_text("bastion_host").map(|bastion| hosts::parse_one(&bastion)).transpose()?;
        let login = Login {
            username: job.runner_text("username"),
            password: job.runner_text("password"),
            private_key: job.runner_text("private_key"),
            passphrase: job.runner_text("passphrase"),
            port: port(job)?,
            bastion,
        };
        let sudo_password = job.runner_text("sudo_password");
        let shell = RemoteShell::new(
            &environment(job),
            job.runner_text("cwd").as_deref(),
            job.runner_flag("sudo"),
            sudo_password.is_some(),
        );
        Ok(Self {
            targets,
            login,
            parallel: job.runner_flag("parallel"),
            timeout: job.timeout_seconds(DEFAULT_TIMEOUT),
            shell,
            sudo_password,
            task: task(job)?,
        })
    }
}

/// The `port` parameter, unless it is ssh's default.
fn port(job: &Job<'_>) -> Result<Option<u16>, RemoteError> {
    let Some(text) = job.runner_text("port") else { return Ok(None) };
    let port = text.trim().parse::<u16>().ok().filter(|port| *port > 0).ok_or(RemoteError::BadPort(text))?;
    Ok((port != SSH_PORT).then_some(port))
}

/// The command, or the script with its arguments as the local script runner builds them.
fn task(job: &Job<'_>) -> Result<Task, RemoteError> {
    if job.action.runner_type != "remote-shell-script" {
        if !job.action.entry_point.trim().is_empty() {
            return Err(RemoteError::EntryPointOfCmd(job.action.ref_.clone()));
        }
        return job.runner_text("cmd").map(Task::Command).ok_or(RemoteError::NoCmd);
    }
    let script = job.entry_point().ok_or(RemoteError::NoEntryPoint)?;
    if !script.is_file() {
        return Err(RemoteError::NoScript(script));
    }
    let schema = match job.action.parameters.parse() {
        Value::Object(schema) => schema,
        _ => Map::new(),
    };
    let kwarg_op = match job.runner.get("kwarg_op") {
        Some(Value::String(op)) => op.clone(),
        _ => "--".to_string(),
    };
    let arguments = args::script_arguments(&schema, &job.params, &kwarg_op);
    let libs = script.parent().map(|dir| dir.join("lib")).filter(|libs| libs.is_dir());
    let dir = job.runner_text("dir").unwrap_or_else(|| "/tmp".to_string());
    Ok(Task::Script { local: script, libs, arguments, dir })
}

/// The action's environment as the local runners build it (`Job::environment`: its `env` and
/// the ST2_ACTION_* variables), without st2d's own variables.
fn environment(job: &Job<'_>) -> BTreeMap<String, OsString> {
    let mut blank = ProcessSpec::new("ssh", "/");
    blank.env.clear();
    job.environment(blank, |_| false).env
}

#[cfg(test)]
#[path = "remote_tests.rs"]
mod tests;
