//! The local-shell-cmd and local-shell-script runners (ST2-COMPAT.md 2.4): the command line
//! (the `cmd`, or the script with its arguments, optionally under sudo) run through `bash -c`
//! in its own process group, with the user's env and the ST2_ACTION_* variables; the result
//! `{failed, succeeded, return_code, stdout, stderr[, error]}` as StackStorm shapes it.
//!
//! StackStorm runs the line with `/bin/sh -c`; st2d uses `bash -c`, which accepts what a POSIX
//! sh does and also the bash-isms of packs written on systems whose sh is bash. Commands run
//! as the action user (`--action-user`, StackStorm's `[system_user]`), which st2d switches to
//! itself rather than through `sudo -u`. `sudo: true` runs the line as root: started as root
//! when st2d is root (StackStorm's root action runner gets there through `sudo -E`), else
//! wrapped in `sudo -E` (`-S` with `sudo_password` fed on stdin) from st2d's own user.
//!
//! Owns: those two runners. Must not: build processes itself (`crate::process` does).

pub mod args;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::common::{json_or_text, status_for_exit_code, strip_shell_chars, timeout_error};
use crate::process::{Captured, Ending, ProcessSpec};
use crate::runner::Job;
use crate::runner::Outcome;
use st2d_core::status::ExecutionStatus;

/// StackStorm's default `timeout` of the local runners, in seconds.
pub const DEFAULT_TIMEOUT: u64 = 60;

/// Why the shell line cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    #[error("runner parameter \"cmd\" is missing")]
    NoCmd,
    #[error("entry_point is required by the local-shell-script runner")]
    NoEntryPoint,
    #[error("entry_point \"{}\" does not exist", .0.display())]
    NoScript(PathBuf),
}

/// Runs a local-shell-cmd or local-shell-script job.
pub async fn run(job: &Job<'_>) -> Outcome {
    let sudo = job.runner_flag("sudo");
    // As root, root is what sudo would give: no sudo, nor its password.
    let root = sudo && rustix::process::geteuid().is_root();
    let password = job.runner_text("sudo_password").filter(|_| !root);
    let line = match command_line(job, sudo && !root, password.is_some()) {
        Ok(line) => line,
        Err(error) => return Outcome::failed(error.to_string()),
    };
    let timeout = job.timeout_seconds(DEFAULT_TIMEOUT);
    let user = if sudo { None } else { job.context.user.as_ref() };
    let mut spec = job.environment(ProcessSpec::new("bash", job.cwd()), |_| false).arg("-c").arg(&line).run_as(user);
    if let Some(password) = &password {
        spec = spec.stdin(format!("{password}\n"));
    }
    let on_line = |pipe, text: &str| job.line(pipe, text);
    match crate::process::run(&spec, job.limits(timeout), job.cancel, &on_line).await {
        Ok(captured) => {
            if captured.truncated {
                tracing::warn!(execution_id = %job.execution.id, action = %job.action.ref_, "output beyond the capture cap was left out of the result");
            }
            shape(&captured, timeout, password.is_some())
        }
        Err(error) => {
            Outcome::failed(format!("cannot start bash in {}{}: {error}", spec.cwd.display(), spec.as_whom()))
        }
    }
}

/// The shell line: `cmd`, or the script with its arguments; both optionally under sudo.
fn command_line(job: &Job<'_>, sudo: bool, with_password: bool) -> Result<String, ShellError> {
    if job.action.runner_type != "local-shell-script" {
        let cmd = job.runner_text("cmd").ok_or(ShellError::NoCmd)?;
        return Ok(args::wrap_sudo(&cmd, sudo, with_password));
    }
    let script = job.entry_point().ok_or(ShellError::NoEntryPoint)?;
    if !script.is_file() {
        return Err(ShellError::NoScript(script));
    }
    make_executable(&script);
    let schema = match job.action.parameters.parse() {
        Value::Object(schema) => schema,
        _ => serde_json::Map::new(),
    };
    let kwarg_op = match job.runner.get("kwarg_op") {
        Some(Value::String(op)) => op.clone(),
        _ => "--".to_string(),
    };
    let arguments = args::script_arguments(&schema, &job.params, &kwarg_op);
    Ok(args::script_line(&script.to_string_lossy(), &arguments, sudo, with_password))
}

/// `chmod +x` (execute wherever read is allowed), as StackStorm does before each run; a
/// read-only file system leaves the file as it is.
fn make_executable(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        let wanted = mode | ((mode & 0o444) >> 2);
        if wanted != mode {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted));
        }
    }
}

/// StackStorm's result and status for a finished (or killed) local command.
fn shape(captured: &Captured, timeout: f64, with_password: bool) -> Outcome {
    let stdout = String::from_utf8_lossy(&captured.stdout);
    let stderr = String::from_utf8_lossy(&captured.stderr);
    let mut code = i64::from(captured.exit_code.unwrap_or(-1));
    let mut error = None;
    if captured.ending == Ending::TimedOut {
        error = Some(timeout_error(timeout));
        code = -9;
    }
    if with_password && let Some(user) = wrong_sudo_password(&stderr) {
        error = Some(format!("Invalid sudo password provided or sudo is not configured for this user ({user})"));
        code = -1;
    }
    let succeeded = code == 0;
    let mut result = json!({
        "failed": !succeeded,
        "succeeded": succeeded,
        "return_code": code,
        "stdout": json_or_text(strip_shell_chars(&stdout)),
        "stderr": json_or_text(strip_shell_chars(&stderr)),
    });
    if let Some(error) = error {
        result["error"] = Value::String(error);
    }
    let status = match captured.ending {
        Ending::Cancelled => ExecutionStatus::Canceled,
        Ending::TimedOut => ExecutionStatus::Timeout,
        Ending::Exited => status_for_exit_code(code),
    };
    Outcome { status, result }
}

/// The user sudo asked a password for, when sudo reports wrong password attempts.
pub(crate) fn wrong_sudo_password(stderr: &str) -> Option<String> {
    // StackStorm's pattern asks the plural; sudo 1.9 says "1 incorrect password attempt" when
    // stdin ends after one wrong password, as it does when st2d feeds it.
    let attempts = regex::Regex::new(r"sudo: \d+ incorrect password attempts?").ok()?;
    if !attempts.is_match(stderr) {
        return None;
    }
    let user = regex::Regex::new(r"\[sudo\] password for (.+?):")
        .ok()
        .and_then(|re| re.captures(stderr).and_then(|c| c.get(1)).map(|m| m.as_str().to_string()));
    Some(user.unwrap_or_else(|| "unknown".to_string()))
}

#[cfg(test)]
#[path = "shell_tests.rs"]
mod tests;
