//! Runs one execution with its action's runner and maps what happened to a status and a
//! result (ST2-COMPAT.md 2.3-2.6).
//!
//! Owns: the choice of runner by `runner_type` and the runner context. Must not: touch the
//! store or the execution's status history (the executor does).

use std::path::PathBuf;

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::output::{LiveOutput, Stream};
use super::{Execution, ExecutionStatus, Resolved};
use crate::action::shell;
use crate::pack::model::Action;
use crate::process::{Limits, Pipe, run_captured};
use crate::registry::Registry;
use crate::shim::ShimServer;
use crate::trigger::journal::Journal;

/// What runners need from the daemon.
#[derive(Clone)]
pub struct RunContext {
    /// The interpreter for packs without a virtualenv.
    pub python: PathBuf,
    pub virtualenvs_dir: PathBuf,
    /// The embedded shim, written out at start.
    pub python_dir: PathBuf,
    pub pycache_dir: PathBuf,
    pub shim: ShimServer,
    pub journal: Journal,
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

/// The most bytes of each output stream kept in a result.
pub const MAX_OUTPUT: usize = 1024 * 1024;

/// Runs `execution` of `action`; `cancel` stops it (its process group is killed).
pub async fn run(
    context: &RunContext,
    registry: &Registry,
    action: &Action,
    execution: &Execution,
    output: &LiveOutput,
    cancel: &CancellationToken,
) -> Outcome {
    let resolved = execution.resolved.clone().unwrap_or_default();
    match action.runner_type.as_str() {
        "noop" => Outcome {
            status: ExecutionStatus::Succeeded,
            result: json!({"failed": false, "succeeded": true, "return_code": 0}),
        },
        "local-shell-cmd" => match shell::cmd_line(&resolved.runner) {
            Ok(line) => run_shell(&line, &resolved.runner, action, execution, output, cancel).await,
            Err(error) => Outcome::failed(error),
        },
        "local-shell-script" => match script_path(registry, action) {
            Ok(script) => {
                let schema = action_schema(action, &resolved);
                let line = shell::script_line(&script, &resolved.runner, &resolved.action, &schema);
                if let Err(error) = make_executable(&script) {
                    return Outcome::failed(error);
                }
                run_shell(&line, &resolved.runner, action, execution, output, cancel).await
            }
            Err(error) => Outcome::failed(error),
        },
        other => {
            let _ = context;
            Outcome::failed(format!("runner {other} is not supported"))
        }
    }
}

/// The schema of the action's own parameters (the runner's are not script arguments).
fn action_schema(action: &Action, resolved: &Resolved) -> Map<String, Value> {
    match action.parameters.parse() {
        Value::Object(schema) => schema.into_iter().filter(|(name, _)| !resolved.runner.contains_key(name)).collect(),
        _ => Map::new(),
    }
}

/// `<pack>/actions/<entry_point>`, or an absolute entry point inside the pack.
pub fn script_path(registry: &Registry, action: &Action) -> Result<PathBuf, String> {
    let pack = registry.pack(&action.pack).ok_or_else(|| format!("pack \"{}\" is not loaded", action.pack))?;
    if action.entry_point.is_empty() {
        return Err(format!("action {} has no entry_point", action.ref_));
    }
    let path = pack.dir.join("actions").join(&action.entry_point);
    if !path.starts_with(&pack.dir) || action.entry_point.split('/').any(|part| part == "..") {
        return Err(format!("entry_point \"{}\" is outside pack {}", action.entry_point, action.pack));
    }
    if !path.is_file() {
        return Err(format!("entry_point file {} does not exist", path.display()));
    }
    Ok(path)
}

/// StackStorm runs `chmod +x` on the script before each run; so does st2d, when needed.
fn make_executable(script: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(script).map_err(|e| format!("cannot read {}: {e}", script.display()))?;
    let mode = metadata.permissions().mode();
    if mode & 0o111 == 0o111 {
        return Ok(());
    }
    let mut permissions = metadata.permissions();
    permissions.set_mode(mode | 0o111);
    // A read-only pack directory keeps its modes; bash then reports the script not executable.
    let _ = std::fs::set_permissions(script, permissions);
    Ok(())
}

async fn run_shell(
    line: &str,
    runner: &Map<String, Value>,
    action: &Action,
    execution: &Execution,
    output: &LiveOutput,
    cancel: &CancellationToken,
) -> Outcome {
    let spec = shell::process(line, runner, &action.pack, &execution.id);
    let timeout = shell::timeout(runner, shell::DEFAULT_TIMEOUT);
    let stdin = shell::sudo_password(runner).map(|password| format!("{password}\n").into_bytes());
    let limits = Limits { timeout, max_output: MAX_OUTPUT };
    match run_captured(&spec, stdin, limits, cancel, |pipe, line| output.push(stream(pipe), line)).await {
        Ok(run) => {
            let (status, result) = shell::outcome(&run, timeout);
            Outcome { status, result }
        }
        Err(error) => Outcome::failed(format!("cannot start bash: {error}")),
    }
}

fn stream(pipe: Pipe) -> Stream {
    match pipe {
        Pipe::Stdout => Stream::Stdout,
        Pipe::Stderr => Stream::Stderr,
    }
}
