//! The local-shell-cmd and local-shell-script runners (ST2-COMPAT.md 2.4): the command line
//! (script arguments, sudo), the environment, and the result and status of the run.
//!
//! Owns: what StackStorm's local runner would run and how it reports it. Must not: spawn
//! processes itself (`process::run_captured` does) or change execution records.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::execution::ExecutionStatus;
use crate::process::{Captured, Ending, ProcessSpec};
use crate::pyfmt;

/// StackStorm's default timeout of the local runners, in seconds.
pub const DEFAULT_TIMEOUT: f64 = 60.0;

/// The command line of a local-shell-cmd run: `cmd`, wrapped in sudo when asked.
pub fn cmd_line(runner: &Map<String, Value>) -> Result<String, String> {
    let cmd = match runner.get("cmd") {
        Some(Value::String(cmd)) if !cmd.is_empty() => cmd.clone(),
        Some(Value::Null) | None => return Err("parameter \"cmd\" is required".to_string()),
        Some(Value::String(_)) => return Err("parameter \"cmd\" is empty".to_string()),
        Some(other) => pyfmt::str(other),
    };
    Ok(sudo_wrap(cmd, runner))
}

/// The command line of a local-shell-script run: the quoted script path, the named arguments,
/// then the positional ones, wrapped in sudo when asked.
pub fn script_line(
    script: &Path,
    runner: &Map<String, Value>,
    action_params: &Map<String, Value>,
    schema: &Map<String, Value>,
) -> String {
    let kwarg_op = runner.get("kwarg_op").and_then(Value::as_str).unwrap_or("--");
    let arguments = script_arguments(action_params, schema, kwarg_op);
    let script = pyfmt::shell_quote(&script.to_string_lossy());
    let line = if arguments.is_empty() { script } else { format!("{script} {arguments}") };
    sudo_wrap(line, runner)
}

/// StackStorm's script arguments: every action parameter with a `position` is positional (in
/// position order, serialised by its declared type, an absent one still taking its slot as
/// `""`); every other one is named, `<kwarg_op><name>=<value>`, skipped when None or empty,
/// bare for `true`, omitted for `false`. Named come first; each piece is shell-quoted.
pub fn script_arguments(action_params: &Map<String, Value>, schema: &Map<String, Value>, kwarg_op: &str) -> String {
    let mut positional: Vec<(f64, &str)> = schema
        .iter()
        .filter_map(|(name, spec)| spec.get("position").and_then(Value::as_f64).map(|p| (p, name.as_str())))
        .collect();
    positional.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positional_names: Vec<&str> = positional.iter().map(|(_, name)| *name).collect();
    let mut parts: Vec<String> = Vec::new();
    for (name, value) in action_params {
        if positional_names.contains(&name.as_str()) {
            continue;
        }
        match value {
            Value::Null => {}
            Value::String(text) if text.is_empty() => {}
            Value::Bool(true) => parts.push(format!("{kwarg_op}{name}")),
            Value::Bool(false) => parts.push(String::new()),
            other => parts.push(format!(
                "{}={}",
                pyfmt::shell_quote(&format!("{kwarg_op}{name}")),
                pyfmt::shell_quote(&pyfmt::str(other))
            )),
        }
    }
    let positional: Vec<String> = positional_names
        .iter()
        .map(|name| {
            let declared = schema.get(*name).and_then(|s| s.get("type")).and_then(Value::as_str);
            let value = action_params.get(*name).unwrap_or(&Value::Null);
            pyfmt::shell_quote(&positional_text(declared, value))
        })
        .collect();
    if !positional.is_empty() {
        parts.push(positional.join(" "));
    }
    parts.join(" ")
}

/// A positional argument's text by its declared type, as StackStorm serialises it.
pub fn positional_text(declared: Option<&str>, value: &Value) -> String {
    let truthy = match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    };
    match declared {
        Some("string" | "number" | "float") => match value {
            Value::Null => String::new(),
            other => pyfmt::str(other),
        },
        Some("boolean") => match value {
            Value::Null => String::new(),
            _ => if truthy { "1" } else { "0" }.to_string(),
        },
        Some("array" | "list") => match value {
            Value::Array(items) if truthy => items.iter().map(pyfmt::str).collect::<Vec<_>>().join(","),
            _ => String::new(),
        },
        Some("object") if truthy => value.to_string(),
        Some("object" | "null") => String::new(),
        _ if truthy => pyfmt::str(value),
        _ => String::new(),
    }
}

/// `sudo -E -- bash -c '<line>'` when `sudo` is set (with `-S` when a password is given).
fn sudo_wrap(line: String, runner: &Map<String, Value>) -> String {
    if runner.get("sudo").and_then(Value::as_bool) != Some(true) {
        return line;
    }
    let stdin = if sudo_password(runner).is_some() { "-S " } else { "" };
    format!("sudo {stdin}-E -- bash -c {}", pyfmt::shell_quote(&line))
}

/// The password to feed sudo on stdin, if any.
pub fn sudo_password(runner: &Map<String, Value>) -> Option<String> {
    match (runner.get("sudo").and_then(Value::as_bool), runner.get("sudo_password")) {
        (Some(true), Some(Value::String(password))) if !password.is_empty() => Some(password.clone()),
        _ => None,
    }
}

/// The timeout from the `timeout` runner parameter (StackStorm's default when absent; none when
/// zero or negative).
pub fn timeout(runner: &Map<String, Value>, default: f64) -> Option<Duration> {
    let seconds = match runner.get("timeout") {
        Some(Value::Null) | None => default,
        Some(value) => value.as_f64().or_else(|| value.as_str().and_then(|s| s.parse().ok())).unwrap_or(default),
    };
    (seconds > 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// The process for a command line: bash in `cwd` (the runner parameter, else st2d's own), with
/// the runner's `env` and the ST2_ACTION_* variables.
pub fn process(line: &str, runner: &Map<String, Value>, pack: &str, execution_id: &str) -> ProcessSpec {
    let cwd = match runner.get("cwd").and_then(Value::as_str) {
        Some(cwd) if !cwd.is_empty() => cwd.into(),
        _ => std::env::current_dir().unwrap_or_else(|_| "/".into()),
    };
    let mut spec = ProcessSpec::new("bash", cwd).arg("-c").arg(line);
    spec = with_action_env(spec, runner, pack, execution_id);
    spec
}

/// The runner's `env` object, then the ST2_ACTION_* variables StackStorm sets.
pub fn with_action_env(mut spec: ProcessSpec, runner: &Map<String, Value>, pack: &str, id: &str) -> ProcessSpec {
    if let Some(Value::Object(env)) = runner.get("env") {
        for (key, value) in env {
            spec = spec.env(key, pyfmt::str(value));
        }
    }
    let debug = runner.get("debug").and_then(Value::as_bool) == Some(true);
    spec.env("ST2_ACTION_PACK_NAME", pack)
        .env("ST2_ACTION_EXECUTION_ID", id)
        .env("ST2_ACTION_DEBUG", if debug { "True" } else { "False" })
}

/// The status and result of a finished run (ST2-COMPAT.md 2.4).
pub fn outcome(run: &Captured, timeout: Option<Duration>) -> (ExecutionStatus, Value) {
    let return_code = match run.ending {
        Ending::Exited(code) => code,
        Ending::Signaled(signal) => -signal,
        Ending::TimedOut | Ending::Canceled => -9,
    };
    let status = match run.ending {
        Ending::TimedOut => ExecutionStatus::Timeout,
        Ending::Canceled => ExecutionStatus::Canceled,
        Ending::Exited(0) => ExecutionStatus::Succeeded,
        Ending::Signaled(15) => ExecutionStatus::Abandoned,
        _ => ExecutionStatus::Failed,
    };
    let mut result = json!({
        "failed": return_code != 0,
        "succeeded": return_code == 0,
        "return_code": return_code,
        "stdout": decoded(&run.stdout),
        "stderr": decoded(&run.stderr),
    });
    if run.ending == Ending::TimedOut {
        let seconds = timeout.map(|t| t.as_secs_f64()).unwrap_or_default();
        result["error"] = json!(format!("Action failed to complete in {} seconds", pyfmt::str(&json!(seconds as i64))));
    }
    if run.dropped > 0 {
        result["output_dropped_bytes"] = json!(run.dropped);
    }
    (status, result)
}

/// One trailing `\n`, then one `\r`, stripped; then JSON when the text is JSON.
pub fn decoded(stream: &str) -> Value {
    let text = stream.strip_suffix('\n').unwrap_or(stream);
    let text = text.strip_suffix('\r').unwrap_or(text);
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

#[cfg(test)]
#[path = "shell_tests.rs"]
mod tests;
