//! What happens when an Orquesta task run completes: `retry` (its `when`, `count` and
//! `delay`), then its transitions in order (`when`, `publish` into a copy of the branch's
//! context, `do` with tasks and engine commands), remediation or the failure of the workflow,
//! and staging the next runs (joins wait for their arrivals; `delay` becomes a time).
//!
//! Owns: those rules. Must not: request executions or write the state (the conductor does).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::state::{FlowState, Phase, TaskRun};
use super::{Conductor, FlowError};
use st2d_core::orquesta::expr;
use st2d_core::orquesta::functions::{Current, Scope};
use st2d_core::orquesta::spec::{self, TaskSpec};

/// Retries the `retry` command allows.
const RETRY_COMMAND_COUNT: u32 = 3;

impl Conductor<'_> {
    /// A run whose executions are done: retried if its `retry` says so, else completed and its
    /// transitions followed.
    pub(super) fn run_completed(&self, state: &mut FlowState, index: usize) {
        let task = &self.spec.tasks[&state.runs[index].name];
        let (status, result) = state.runs[index].outcome();
        let current = Current { name: task.name.clone(), status: status.clone(), result: result.clone() };
        let mut scope = self.scope(&state.runs[index].ctx);
        scope.tasks = Arc::new(state.views());
        scope.current = Some(current);
        if !state.canceling
            && let Some(retry) = &task.retry
        {
            match self.retry_due(retry, &scope, state.runs[index].retries) {
                Ok(Some(delay)) => return self.retry(state, index, delay),
                Ok(None) => {}
                Err(error) => {
                    state.failing = true;
                    state.error(Some(&task.name), error.to_string(), None);
                }
            }
        }
        let run = &mut state.runs[index];
        run.phase = Phase::Done;
        run.status = Some(status.clone());
        run.result = result.clone();
        if state.canceling {
            return;
        }
        self.transitions(state, index, task, &scope, &status, result);
    }

    /// The delay before a retry, when `retry` asks for one now.
    fn retry_due(&self, retry: &spec::Retry, scope: &Scope, used: u32) -> Result<Option<f64>, FlowError> {
        let count = expr::evaluate(&retry.count, scope)?.as_u64().unwrap_or(0);
        if u64::from(used) >= count {
            return Ok(None);
        }
        let wanted = match &retry.when {
            Some(when) => truthy(&expr::evaluate(when, scope)?),
            None => scope.call("failed", &[], &Map::new()).and_then(Result::ok) == Some(Value::Bool(true)),
        };
        if !wanted {
            return Ok(None);
        }
        let delay = match &retry.delay {
            Some(delay) => seconds(&expr::evaluate(delay, scope)?).ok_or(FlowError::RetryDelay)?,
            None => 0.0,
        };
        Ok(Some(delay))
    }

    fn retry(&self, state: &mut FlowState, index: usize, delay: f64) {
        let run = &mut state.runs[index];
        run.retries += 1;
        run.phase = Phase::Staged;
        run.slots.clear();
        run.items = None;
        run.not_before = Some(after(delay));
        tracing::info!(execution_id = %self.workflow.id, task = %run.name, retry = run.retries, "retrying a workflow task");
    }

    /// Follows the transitions of a completed run.
    fn transitions(
        &self,
        state: &mut FlowState,
        index: usize,
        task: &TaskSpec,
        scope: &Scope,
        status: &str,
        result: Value,
    ) {
        let first_new = state.runs.len();
        let mut matched = false;
        let mut remediated = false;
        let mut retried = false;
        for transition in &task.next {
            let holds = match &transition.when {
                None => Ok(true),
                Some(when) => expr::evaluate(when, scope).map(|v| truthy(&v)),
            };
            let holds = match holds {
                Ok(holds) => holds,
                Err(error) => {
                    self.fail(state, first_new, Some(&task.name), error.to_string());
                    return;
                }
            };
            if !holds {
                continue;
            }
            matched = true;
            let mut ctx = state.runs[index].ctx.clone();
            for (name, value) in &transition.publish {
                let mut publish_scope = scope.clone();
                publish_scope.ctx = ctx.clone();
                match expr::evaluate(value, &publish_scope) {
                    Ok(value) => {
                        ctx.insert(name.clone(), value);
                    }
                    Err(error) => {
                        self.fail(state, first_new, Some(&task.name), error.to_string());
                        return;
                    }
                }
            }
            let mut led_to_task = false;
            for target in &transition.next {
                match target.as_str() {
                    "continue" => {}
                    "noop" => remediated = true,
                    "fail" => {
                        self.fail(state, first_new, Some(&task.name), "Execution failed by the fail command.".into())
                    }
                    "retry" if state.runs[index].retries < RETRY_COMMAND_COUNT => retried = true,
                    "retry" => {}
                    name => {
                        remediated = true;
                        led_to_task = true;
                        if !state.failing {
                            self.stage(state, Some(&task.name), name, ctx.clone());
                        }
                    }
                }
            }
            if !led_to_task {
                state.terminal.extend(ctx);
            }
        }
        if retried && !state.failing {
            return self.retry(state, index, 0.0);
        }
        if !matched {
            let ctx = state.runs[index].ctx.clone();
            state.terminal.extend(ctx);
        }
        let failed = ["failed", "timeout", "abandoned", "canceled", "expired"].contains(&status);
        if failed && !remediated && !state.failing {
            self.fail(state, first_new, Some(&task.name), "Execution failed. See result for details.".into());
            if let Some(last) = state.errors.last_mut() {
                last["result"] = result;
            }
        }
    }

    /// Fails the workflow: runs staged before `first_new` (earlier transitions) are dropped.
    fn fail(&self, state: &mut FlowState, first_new: usize, task: Option<&str>, message: String) {
        state.failing = true;
        state.error(task, message, None);
        let earlier = first_new.min(state.runs.len());
        for run in state.runs[..earlier].iter_mut() {
            if run.phase == Phase::Staged {
                run.phase = Phase::Skipped;
            }
        }
    }

    /// Stages `name` from `from` with the branch's context; a join waits for its arrivals.
    pub(super) fn stage(&self, state: &mut FlowState, from: Option<&str>, name: &str, ctx: Map<String, Value>) {
        let task = &self.spec.tasks[name];
        let ctx = match self.spec.join_needs(task) {
            Some(needed) => {
                let join = state.joins.entry(name.to_string()).or_default();
                if join.fired {
                    return;
                }
                join.arrived.insert(from.unwrap_or_default().to_string());
                join.ctx.extend(ctx);
                if join.arrived.len() < needed {
                    return;
                }
                join.fired = true;
                join.ctx.clone()
            }
            None => ctx,
        };
        let not_before = match &task.delay {
            Some(delay) => match expr::evaluate(delay, &self.scope(&ctx)).map(|d| seconds(&d)) {
                Ok(Some(delay)) => Some(after(delay)),
                Ok(None) => {
                    state.failing = true;
                    state.error(Some(name), format!("the delay of task \"{name}\" is not a number of seconds"), None);
                    return;
                }
                Err(error) => {
                    state.failing = true;
                    state.error(Some(name), error.to_string(), None);
                    return;
                }
            },
            None => None,
        };
        state.runs.push(TaskRun::new(name, ctx, not_before));
    }
}

/// Python's truthiness.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// A number of seconds (a number, or text holding one).
fn seconds(value: &Value) -> Option<f64> {
    let seconds = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }?;
    (seconds.is_finite() && seconds >= 0.0).then_some(seconds.min(366.0 * 86_400.0))
}

fn after(seconds: f64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::milliseconds((seconds * 1000.0) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn delays_and_truthiness_read_as_orquesta_reads_them() {
        assert_eq!(seconds(&json!(2)), Some(2.0));
        assert_eq!(seconds(&json!("0.5")), Some(0.5));
        assert_eq!(seconds(&json!(-1)), None);
        assert_eq!(seconds(&json!("soon")), None);
        for (value, expected) in [(json!(null), false), (json!(0), false), (json!(""), false), (json!([]), false)] {
            assert_eq!(truthy(&value), expected, "{value}");
        }
        assert!(truthy(&json!({"a": 1})) && truthy(&json!("x")) && truthy(&json!(0.1)));
    }
}
