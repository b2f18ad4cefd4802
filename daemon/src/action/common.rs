//! What the process runners (local shell, python) share beyond the runner contract: the ST2_ACTION_*
//! environment and the user's `env`, the timeout, the captured-output cap, StackStorm's
//! trimming and JSON reading of streams, and exit code → status.
//!
//! Owns: those conventions (ST2-COMPAT.md 2.4, 2.5). Must not: build or start processes
//! (`crate::process` does) or pick a runner (the executor does).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::process::{ProcessSpec, RunLimits};
use crate::runner::Job;
use st2d_core::pyfmt::py_str;
use st2d_core::status::ExecutionStatus;

/// The most bytes of each stream kept for the result. StackStorm keeps everything; st2d stores
/// results in its database and sends them over gRPC (4 MiB per message by default), so each
/// stream is cut at 1 MiB. The live output (`st2 execution tail`) still sees every line.
pub const CAPTURE_CAP: usize = 1024 * 1024;

impl Job<'_> {
    /// The `timeout` runner parameter in seconds, or `default`.
    pub fn timeout_seconds(&self, default: u64) -> f64 {
        match self.runner.get("timeout") {
            Some(Value::Number(number)) => number.as_f64().unwrap_or(default as f64),
            Some(Value::String(text)) => text.trim().parse().unwrap_or(default as f64),
            _ => default as f64,
        }
    }

    /// Limits for a process of this job: the timeout (a non-positive one waits forever) and the
    /// capture cap.
    pub fn limits(&self, timeout_seconds: f64) -> RunLimits {
        let timeout =
            (timeout_seconds > 0.0).then(|| Duration::from_secs_f64(timeout_seconds.min(365.0 * 24.0 * 3600.0)));
        RunLimits { timeout, capture: CAPTURE_CAP, grace: crate::process::KILL_GRACE }
    }

    /// The working directory: the `cwd` runner parameter, else st2d's own.
    pub fn cwd(&self) -> PathBuf {
        self.runner_text("cwd")
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("/"))
    }

    /// Adds the user's `env` runner parameter (values as Python's `str`), skipping names
    /// `skip` refuses, then the ST2_ACTION_* variables StackStorm sets: `ST2_ACTION_API_URL`
    /// (empty without `--http-listen`) and, with it, `ST2_ACTION_AUTH_TOKEN`, a token that acts
    /// as the execution's user while it runs.
    pub fn environment(&self, mut spec: ProcessSpec, skip: impl Fn(&str) -> bool) -> ProcessSpec {
        if let Some(Value::Object(env)) = self.runner.get("env") {
            for (name, value) in env {
                if !skip(name) && !value.is_null() {
                    spec = spec.env(name, py_str(value));
                }
            }
        }
        let api = &self.context.api;
        if let Some(tokens) = api.tokens.as_ref().filter(|_| !api.url.is_empty()) {
            spec = spec.env("ST2_ACTION_AUTH_TOKEN", tokens.token_for(&self.execution.id, &self.execution.user));
        }
        spec.env("ST2_ACTION_PACK_NAME", &self.action.pack)
            .env("ST2_ACTION_EXECUTION_ID", &self.execution.id)
            .env("ST2_ACTION_API_URL", &api.url)
            .env("ST2_ACTION_DEBUG", if self.runner_flag("debug") { "True" } else { "False" })
    }
}

/// StackStorm's `strip_shell_chars`: one trailing `\n`, then one trailing `\r`.
pub fn strip_shell_chars(text: &str) -> &str {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.strip_suffix('\r').unwrap_or(text)
}

/// StackStorm's `jsonify.json_loads` on a stream: its JSON value when it parses, else the text.
pub fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// The local runners' exit code → status: 0 succeeded, -9 timeout, -15 abandoned, else failed.
pub fn status_for_exit_code(code: i64) -> ExecutionStatus {
    match code {
        0 => ExecutionStatus::Succeeded,
        -9 => ExecutionStatus::Timeout,
        -15 => ExecutionStatus::Abandoned,
        _ => ExecutionStatus::Failed,
    }
}

/// StackStorm's error text for a timed-out action.
pub fn timeout_error(seconds: f64) -> String {
    if seconds.fract() == 0.0 {
        format!("Action failed to complete in {} seconds", seconds as i64)
    } else {
        format!("Action failed to complete in {seconds} seconds")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn streams_are_trimmed_once_and_read_as_json() {
        let cases = [
            ("hello\n", json!("hello")),
            ("hello\n\n", json!("hello\n")),
            ("line\r\n", json!("line")),
            ("{\"a\": 1}\n", json!({"a": 1})),
            ("5\n", json!(5)),
            ("true\n", json!(true)),
            ("", json!("")),
            ("not json {", json!("not json {")),
        ];
        for (raw, expected) in cases {
            assert_eq!(json_or_text(strip_shell_chars(raw)), expected, "{raw:?}");
        }
    }

    #[test]
    fn exit_codes_map_to_statuses() {
        let cases = [
            (0, ExecutionStatus::Succeeded),
            (1, ExecutionStatus::Failed),
            (2, ExecutionStatus::Failed),
            (-9, ExecutionStatus::Timeout),
            (-15, ExecutionStatus::Abandoned),
            (-1, ExecutionStatus::Failed),
        ];
        for (code, status) in cases {
            assert_eq!(status_for_exit_code(code), status, "{code}");
        }
        assert_eq!(timeout_error(60.0), "Action failed to complete in 60 seconds");
        assert_eq!(timeout_error(0.5), "Action failed to complete in 0.5 seconds");
    }
}
