//! The python-script runner (ST2-COMPAT.md 2.5): the action's module runs under the embedded
//! shim (`st2d_shim/action_main.py`) with the pack's virtualenv python when there is one; the
//! shim gets the parameters and the pack config in its `welcome` and reports `run()`'s result
//! over the shim socket (`action.result`), so stdout and stderr stay the action's own and are
//! streamed line by line. The result is `{result, stdout, stderr, exit_code[, error]}`. The
//! process is forked from the interpreter's warm process when that one is up (`crate::warm`),
//! else started cold; both run the same entry point with the same `ProcessSpec`. The runs of a
//! pack named with `--python-preload` are forked from a warm interpreter that has imported the
//! pack's action modules.
//!
//! Owns: that runner. Must not: build processes itself (`crate::process` does) or answer the
//! shim protocol (`crate::shim` does).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::common::timeout_error;
use crate::process::{Ending, ProcessSpec};
use crate::pyenv::Role;
use crate::runner::Job;
use crate::runner::Outcome;
use crate::shim::Registration;
use crate::warm::PackCode;
use st2d_core::status::ExecutionStatus;

/// StackStorm's default `timeout` of python-script actions, in seconds.
pub const DEFAULT_TIMEOUT: u64 = 600;

/// The exit code of a shim whose action returned a status that is not a bool.
const INVALID_STATUS_EXIT_CODE: i32 = 220;

/// Runs a python-script job.
pub async fn run(job: &Job<'_>) -> Outcome {
    let Some(file) = job.entry_point() else {
        return Outcome::failed("entry_point is required by the python-script runner");
    };
    if !file.is_file() {
        return Outcome::failed(format!("entry_point \"{}\" does not exist", file.display()));
    }
    let reported: Arc<Mutex<Option<Value>>> = Arc::new(Mutex::new(None));
    let sink = reported.clone();
    let registration = Registration {
        source: job.action.ref_.clone(),
        welcome: welcome(job, &file),
        on_connect: Arc::new(|| {}),
        events: Arc::new(Mutex::new(None)),
        on_result: Some(Arc::new(move |message| {
            if let Ok(mut slot) = sink.lock() {
                *slot = Some(message);
            }
        })),
    };
    job.context.python_env.base.settled().await;
    let (token, _guard) = job.context.shim.register(registration);
    let spec = process_spec(job, &token);
    let timeout = job.timeout_seconds(DEFAULT_TIMEOUT);
    let on_line = |pipe, text: &str| job.line(pipe, text);
    let limits = job.limits(timeout);
    let warm = &job.context.warm;
    let started = if warm.preloads(&job.action.pack) {
        warm.start_preloaded(&spec, &job.action.pack, &|| pack_code(job, &spec.program)).await
    } else {
        warm.start(&spec).await
    };
    let captured = match started {
        Some(started) => crate::process::supervise(started, limits, job.cancel, &on_line).await,
        None => match crate::process::run(&spec, limits, job.cancel, &on_line).await {
            Ok(captured) => captured,
            Err(error) => {
                return Outcome::failed(format!("cannot start {}{}: {error}", spec.program.display(), spec.as_whom()));
            }
        },
    };
    if captured.truncated {
        tracing::warn!(execution_id = %job.execution.id, action = %job.action.ref_, "output beyond the capture cap was left out of the result");
    }
    let stdout = String::from_utf8_lossy(&captured.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&captured.stderr).into_owned();
    if captured.ending == Ending::Exited && captured.exit_code == Some(INVALID_STATUS_EXIT_CODE) {
        return Outcome::failed(stderr);
    }
    let message = reported.lock().ok().and_then(|mut slot| slot.take());
    let (result, action_status) = match &message {
        Some(message) => (message.get("result").cloned().unwrap_or(Value::Null), message["status"].as_bool()),
        None => (Value::String("None".to_string()), None),
    };
    let mut exit_code = i64::from(captured.exit_code.unwrap_or(-1));
    let mut output = json!({"result": result, "stdout": stdout, "stderr": stderr, "exit_code": exit_code});
    let status = match captured.ending {
        Ending::TimedOut => {
            exit_code = -9;
            output["exit_code"] = json!(exit_code);
            output["error"] = Value::String(timeout_error(timeout));
            ExecutionStatus::Timeout
        }
        Ending::Cancelled => ExecutionStatus::Canceled,
        Ending::Exited => match action_status {
            Some(true) => ExecutionStatus::Succeeded,
            Some(false) => ExecutionStatus::Failed,
            None if exit_code == 0 => ExecutionStatus::Succeeded,
            None => ExecutionStatus::Failed,
        },
    };
    Outcome { status, result: output }
}

/// The `welcome` of the shim protocol for an action process.
fn welcome(job: &Job<'_>, file: &std::path::Path) -> Value {
    let config = job
        .registry
        .pack(&job.action.pack)
        .and_then(|entry| entry.content.as_ref())
        .map(|content| Value::Object(content.config.values.clone()))
        .unwrap_or_else(|| json!({}));
    json!({
        "op": "welcome",
        "kind": "action",
        "pack": job.action.pack,
        "action_ref": job.action.ref_,
        "execution_id": job.execution.id,
        "user": job.execution.user,
        "file": file,
        "config": config,
        "parameters": job.params,
        "log_level": job.runner_text("log_level").unwrap_or_else(|| "DEBUG".to_string()),
    })
}

/// What a warm interpreter preloading the job's pack imports: the entry points of the pack's
/// python-script actions that exist; and watches: the pack's directory and its virtualenv.
fn pack_code(job: &Job<'_>, python: &std::path::Path) -> PackCode {
    let mut files: Vec<PathBuf> = job
        .registry
        .actions(Some(&job.action.pack))
        .filter(|action| action.runner_type == "python-script")
        .filter_map(|action| crate::runner::entry_point(job.registry, action))
        .filter(|file| file.is_file())
        .collect();
    files.sort();
    files.dedup();
    let watch = job.pack_dir().into_iter().chain(crate::pyenv::virtualenv_of(python).map(PathBuf::from)).collect();
    PackCode { files, watch }
}

/// The interpreter (the pack's virtualenv python, else st2d's), the import path
/// (`pyenv::PythonEnv::import_path`; the shim adds the action's directory as it imports the
/// file), the environment (the user's `env` without any `PYTHONPATH`, the ST2_ACTION_*
/// variables, the shim socket and token) and the action user.
fn process_spec(job: &Job<'_>, token: &str) -> ProcessSpec {
    let context = job.context;
    let env = &context.python_env;
    let python = crate::sensor::spec::python_for(&job.action.pack, &context.virtualenvs_dir, &context.python);
    let pack_dir = job.pack_dir().unwrap_or_default();
    let program = ProcessSpec::new(&python, job.cwd()).arg("-u").arg(env.entry_point(Role::Action));
    let spec = job.environment(program, |name| name.eq_ignore_ascii_case("PYTHONPATH"));
    env.apply(spec, Role::Action, &pack_dir, crate::pyenv::virtualenv_of(&python))
        .env("ST2D_SHIM_SOCKET", context.shim.path())
        .env("ST2D_SHIM_TOKEN", token)
        .run_as(context.user.as_ref())
}

#[cfg(test)]
#[path = "python_tests.rs"]
mod tests;
