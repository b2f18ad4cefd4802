//! One host of a remote execution: the script uploaded (remote-shell-script), the command run
//! with each output line passed on live under the host's name, its process group ended on the
//! host too when a timeout or a cancel ends the local ssh, the upload removed; and the host's
//! result entry as StackStorm shapes it (`{succeeded, failed, return_code, stdout, stderr}`,
//! with `timeout` and `error` when it did not run to its end).
//!
//! Owns: the order of those steps and what each ending means for the entry. Must not: build
//! ssh's options (`ssh`) or the remote lines (`line`), or decide the execution's status.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::hosts::Target;
use super::line::{self, RemoteShell};
use super::ssh::Ssh;
use crate::action::common::{json_or_text, strip_shell_chars, timeout_error};
use crate::action::shell::wrong_sudo_password;
use crate::process::{Captured, Ending, KILL_GRACE, Pipe, RunLimits};
use crate::runner::Job;

/// The most bytes kept of what sftp and the stop and removal lines print.
const HOUSEKEEPING_CAPTURE: usize = 64 * 1024;

/// How much longer than the connect timeout the stop line may take, beyond the grace it gives.
const STOP_MARGIN: Duration = Duration::from_secs(5);

/// What runs on every host.
#[derive(Debug, Clone)]
pub enum Task {
    /// A remote-shell-cmd's `cmd`.
    Command(String),
    /// A remote-shell-script's script, uploaded with its `lib` directory into a directory of
    /// its own under `dir`, and run with `arguments`.
    Script { local: PathBuf, libs: Option<PathBuf>, arguments: String, dir: String },
}

/// How one host's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostEnding {
    Succeeded,
    Failed,
    TimedOut,
    /// Canceled while it ran, or before its turn.
    Canceled,
}

/// How one host's run went.
#[derive(Debug, Clone, PartialEq)]
pub struct HostOutcome {
    /// The host's result entry.
    pub entry: Value,
    pub ending: HostEnding,
}

impl HostOutcome {
    /// A host left out because the execution was canceled before its turn.
    pub fn not_run() -> Self {
        Self { ending: HostEnding::Canceled, ..Self::error(-15, "not run: the execution was canceled first", "") }
    }

    fn error(return_code: i64, error: impl Into<String>, stderr: &str) -> Self {
        let entry = json!({
            "failed": true,
            "succeeded": false,
            "timeout": false,
            "return_code": return_code,
            "stdout": "",
            "stderr": stderr,
            "error": error.into(),
        });
        Self { entry, ending: HostEnding::Failed }
    }
}

/// What every host's run shares.
pub struct HostRun<'a> {
    pub job: &'a Job<'a>,
    pub ssh: &'a Ssh,
    pub shell: &'a RemoteShell,
    pub task: &'a Task,
    /// The action's timeout, in seconds (non-positive: none).
    pub timeout: f64,
    /// Fed to sudo on stdin.
    pub sudo_password: Option<&'a str>,
}

impl HostRun<'_> {
    /// Runs the task on `target`, the `index`th host, whose entry and output lines are `key`'s.
    pub async fn on(&self, target: &Target, key: &str, index: usize) -> HostOutcome {
        let (line, upload) = match self.task {
            Task::Command(cmd) => (self.shell.command(cmd), None),
            Task::Script { local, libs, arguments, dir } => {
                let upload = format!("{}/{}-{index}", dir.trim_end_matches('/'), self.job.execution.id);
                let name = local.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if let Some(failed) = self.upload(target, key, local, libs.as_deref(), &upload, &name).await {
                    return failed;
                }
                (self.shell.script(&format!("{upload}/{name}"), arguments), Some(upload))
            }
        };
        let mut spec = self.ssh.command(target, &line);
        if let Some(password) = self.sudo_password {
            spec = spec.stdin(format!("{password}\n"));
        }
        let group = AtomicU32::new(0);
        let on_line = |pipe: Pipe, text: &str| {
            if pipe == Pipe::Stderr
                && group.load(Ordering::Relaxed) == 0
                && let Some(pid) = line::announced_pid(text)
            {
                group.store(pid, Ordering::Relaxed);
                return;
            }
            self.job.line(pipe, &format!("{key}: {text}"));
        };
        let captured = match crate::process::run(&spec, self.job.limits(self.timeout), self.job.cancel, &on_line).await
        {
            Ok(captured) => captured,
            Err(error) => return HostOutcome::error(255, format!("cannot start ssh: {error}"), ""),
        };
        if captured.truncated {
            tracing::warn!(execution_id = %self.job.execution.id, host = key, "output beyond the capture cap was left out of the result");
        }
        let group = group.into_inner();
        if captured.ending != Ending::Exited && group != 0 {
            let stop = self.shell.stop(group, upload.as_deref());
            self.housekeeping(target, key, &stop, true).await;
        } else if let Some(upload) = &upload {
            self.housekeeping(target, key, &line::remove(upload), false).await;
        }
        if self.sudo_password.is_some()
            && captured.ending == Ending::Exited
            && let Some(user) = wrong_sudo_password(&String::from_utf8_lossy(&captured.stderr))
        {
            return wrong_password(key, self.task, &user);
        }
        shape(&captured, key, self.timeout)
    }

    /// Uploads the script (and its `lib`) into `dir`; the failed host's outcome when it fails.
    async fn upload(
        &self,
        target: &Target,
        key: &str,
        local: &std::path::Path,
        libs: Option<&std::path::Path>,
        dir: &str,
        name: &str,
    ) -> Option<HostOutcome> {
        let spec = self.ssh.sftp(target, line::upload_batch(local, dir, name, libs));
        let limits = RunLimits { capture: HOUSEKEEPING_CAPTURE, ..self.job.limits(self.timeout) };
        let captured = match crate::process::run(&spec, limits, self.job.cancel, &|_, _| {}).await {
            Ok(captured) => captured,
            Err(error) => return Some(HostOutcome::error(255, format!("cannot start sftp: {error}"), "")),
        };
        let stderr = String::from_utf8_lossy(&captured.stderr).trim().to_string();
        match (captured.ending, captured.exit_code) {
            (Ending::Exited, Some(0)) => None,
            (Ending::Exited, Some(255)) => Some(unreachable(key, &stderr)),
            (Ending::Exited, _) => {
                self.housekeeping(target, key, &line::remove(dir), false).await;
                let why = last_line(&stderr).unwrap_or("sftp failed");
                Some(HostOutcome::error(255, format!("Failed copying the script to host {key}: {why}"), &stderr))
            }
            // Timed out or canceled: sftp's own output is not the command's.
            _ => Some(shape(&Captured { stdout: Vec::new(), stderr: Vec::new(), ..captured }, key, self.timeout)),
        }
    }

    /// Runs a line of st2d's own on the host (ending a command, removing an upload), whatever
    /// happened to the execution; a failure is logged, not the host's result.
    async fn housekeeping(&self, target: &Target, key: &str, line: &str, under_sudo: bool) {
        let mut spec = self.ssh.command(target, line);
        if under_sudo && let Some(password) = self.sudo_password {
            spec = spec.stdin(format!("{password}\n"));
        }
        let limits = RunLimits {
            timeout: Some(self.ssh.connect_timeout() + KILL_GRACE + STOP_MARGIN),
            capture: HOUSEKEEPING_CAPTURE,
            grace: KILL_GRACE,
        };
        let done = crate::process::run(&spec, limits, &CancellationToken::new(), &|_, _| {}).await;
        let failure = match done {
            Ok(captured) if captured.ending == Ending::Exited && captured.exit_code == Some(0) => return,
            Ok(captured) => String::from_utf8_lossy(&captured.stderr).trim().to_string(),
            Err(error) => error.to_string(),
        };
        tracing::warn!(execution_id = %self.job.execution.id, host = key, error = %failure, "cannot clean up on the remote host after the action");
    }
}

/// The entry of a host ssh could not reach (or log in to): which host, and ssh's reason.
fn unreachable(key: &str, ssh_said: &str) -> HostOutcome {
    let why = last_line(ssh_said).unwrap_or("ssh exited with status 255");
    HostOutcome::error(255, format!("Failed connecting to host {key}: {why}"), ssh_said)
}

/// The last line that says something: sftp ends with its own "Connection closed" after the
/// line of its ssh that tells why.
fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|line| !line.is_empty() && *line != "Connection closed")
}

/// The host's entry when sudo refused the action's `sudo_password` (StackStorm's
/// `ParallelSSHClient._handle_command_result`, whose error `_run_command` prefixes with the
/// command and host).
fn wrong_password(key: &str, task: &Task, user: &str) -> HostOutcome {
    let command = match task {
        Task::Command(cmd) => cmd.clone(),
        Task::Script { local, .. } => local.display().to_string(),
    };
    HostOutcome::error(
        255,
        format!(
            "Failed executing command \"{command}\" on host \"{key}\" Invalid sudo password provided or sudo is not configured for this user ({user})"
        ),
        "",
    )
}

/// The host's entry from how its ssh ended.
fn shape(captured: &Captured, key: &str, timeout: f64) -> HostOutcome {
    let (ssh_said, command_stderr) = line::split_at_announcement(&captured.stderr);
    let text = |bytes: &[u8]| json_or_text(strip_shell_chars(&String::from_utf8_lossy(bytes)));
    if captured.ending == Ending::Exited && command_stderr.is_none() && captured.exit_code == Some(255) {
        return unreachable(key, String::from_utf8_lossy(ssh_said).trim());
    }
    let stderr = command_stderr.unwrap_or(ssh_said);
    let (code, error, ending) = match captured.ending {
        Ending::Exited => {
            let code = captured.exit_code.map_or(-1, i64::from);
            (code, None, if code == 0 { HostEnding::Succeeded } else { HostEnding::Failed })
        }
        Ending::TimedOut => (-9, Some(timeout_error(timeout)), HostEnding::TimedOut),
        Ending::Cancelled => (-15, Some("the execution was canceled".to_string()), HostEnding::Canceled),
    };
    let succeeded = ending == HostEnding::Succeeded;
    let mut entry = json!({
        "failed": !succeeded,
        "succeeded": succeeded,
        "return_code": code,
        "stdout": text(&captured.stdout),
        "stderr": text(stderr),
    });
    if let Some(error) = error {
        entry["timeout"] = Value::Bool(ending == HostEnding::TimedOut);
        entry["error"] = Value::String(error);
    }
    HostOutcome { entry, ending }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured(ending: Ending, exit_code: Option<i32>, stdout: &str, stderr: &str) -> Captured {
        Captured { ending, exit_code, stdout: stdout.into(), stderr: stderr.into(), truncated: false }
    }

    #[test]
    fn entries_are_shaped_as_stackstorm_shapes_them() {
        let ok = shape(&captured(Ending::Exited, Some(0), "{\"a\": 1}\n", "st2d-remote-pid=9\nnote\n"), "h", 60.0);
        assert_eq!(
            ok.entry,
            json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": {"a": 1}, "stderr": "note"})
        );
        assert_eq!(ok.ending, HostEnding::Succeeded);

        let failed = shape(&captured(Ending::Exited, Some(3), "", "Warning: added\nst2d-remote-pid=9\n"), "h", 60.0);
        assert_eq!(
            failed.entry,
            json!({"failed": true, "succeeded": false, "return_code": 3, "stdout": "", "stderr": ""})
        );

        let slow = shape(&captured(Ending::TimedOut, None, "partial\n", "st2d-remote-pid=9\n"), "h", 2.0);
        assert_eq!(
            slow.entry,
            json!({"failed": true, "succeeded": false, "return_code": -9, "stdout": "partial", "stderr": "",
                   "timeout": true, "error": "Action failed to complete in 2 seconds"})
        );
        assert_eq!(slow.ending, HostEnding::TimedOut);

        let canceled = shape(&captured(Ending::Cancelled, Some(-15), "", ""), "h", 2.0);
        assert_eq!(canceled.entry["return_code"], -15);
        assert_eq!(canceled.entry["timeout"], false);
        assert_eq!(canceled.ending, HostEnding::Canceled);
    }

    #[test]
    fn a_host_ssh_cannot_reach_is_its_own_error() {
        let refused = "ssh: connect to host 127.0.0.9 port 2222: Connection refused\n";
        let outcome = shape(&captured(Ending::Exited, Some(255), "", refused), "127.0.0.9", 60.0);
        assert_eq!(
            outcome.entry,
            json!({"failed": true, "succeeded": false, "timeout": false, "return_code": 255, "stdout": "",
                   "stderr": refused.trim(),
                   "error": "Failed connecting to host 127.0.0.9: ssh: connect to host 127.0.0.9 port 2222: Connection refused"})
        );
        let after_start = shape(&captured(Ending::Exited, Some(255), "", "st2d-remote-pid=4\n"), "h", 60.0);
        assert_eq!(after_start.entry["return_code"], 255);
        assert!(after_start.entry.get("error").is_none(), "a command that ran and exited 255 is the command's status");
    }

    #[test]
    fn a_refused_sudo_password_is_said_as_stackstorm_says_it() {
        // st2actions/tests/unit/test_parallel_ssh.py: test_run_sudo_password_user_friendly_error
        let outcome = wrong_password("127.0.0.1", &Task::Command("stuff".to_string()), "bar");
        assert_eq!(outcome.entry["succeeded"], false);
        assert_eq!(outcome.entry["return_code"], 255);
        assert_eq!(
            outcome.entry["error"],
            "Failed executing command \"stuff\" on host \"127.0.0.1\" Invalid sudo password provided or sudo is not configured for this user (bar)"
        );
    }
}
