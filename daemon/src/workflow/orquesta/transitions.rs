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
use st2d_core::pyfmt::truthy;

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
        log_failed_executions(state, index, &task.name);
        if !state.canceling
            && let Some(retry) = &task.retry
        {
            match self.retry_due(retry, &scope, state.runs[index].retries) {
                Ok(Some(delay)) => return self.retry(state, index, delay),
                Ok(None) => {}
                Err(error) => {
                    state.failing = true;
                    state.task_error(&task.name, error.to_string());
                }
            }
        }
        let run = &mut state.runs[index];
        run.phase = Phase::Done;
        run.status = Some(status.clone());
        run.result = result;
        if state.canceling {
            return;
        }
        self.transitions(state, index, task, &scope, &status);
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

    /// Follows the transitions of a completed run. What a transition publishes is evaluated in
    /// order against the run's context and becomes a new context of the workflow; the tasks it
    /// names receive the run's contexts and that one. A transition without `do` leads to
    /// `continue`; each engine command ends a branch.
    fn transitions(&self, state: &mut FlowState, index: usize, task: &TaskSpec, scope: &Scope, status: &str) {
        let first_new = state.runs.len();
        let mut remediated = false;
        let mut retried = false;
        let mut staged_any = false;
        for (n, transition) in task.next.iter().enumerate() {
            let targets: Vec<&str> = match transition.next.as_slice() {
                [] => vec!["continue"],
                names => names.iter().map(String::as_str).collect(),
            };
            let holds = match &transition.when {
                None => Ok(true),
                Some(when) => expr::evaluate(when, scope).map(|v| truthy(&v)),
            };
            let holds = match holds {
                Ok(holds) => holds,
                Err(error) => {
                    for target in &targets {
                        state.transition_error(&task.name, target, n, error.to_string());
                    }
                    self.fail(state, first_new);
                    return;
                }
            };
            if !holds {
                continue;
            }
            let mut publish_scope = scope.clone();
            let mut published = Map::new();
            for (name, value) in &transition.publish {
                match expr::evaluate(value, &publish_scope) {
                    Ok(value) => {
                        publish_scope.ctx.insert(name.clone(), value.clone());
                        published.insert(name.clone(), value);
                    }
                    Err(error) => {
                        for target in &targets {
                            state.transition_error(&task.name, target, n, error.to_string());
                        }
                        self.fail(state, first_new);
                        return;
                    }
                }
            }
            let mut out = state.runs[index].ctx_in.clone();
            if !published.is_empty() {
                out.push(state.add_context(published));
            }
            for target in targets {
                staged_any = true;
                if spec::COMMANDS.contains(&target) {
                    let sequence = state.next_sequence();
                    state.terminate(sequence, out.clone());
                }
                match target {
                    "continue" => {}
                    "noop" => remediated = true,
                    "fail" => {
                        // The fail command is a task of its own that failed (conducting.py logs
                        // it as task "fail", without a result).
                        state.error(Some("fail"), EXECUTION_FAILED, None);
                        self.fail(state, first_new);
                    }
                    "retry" if state.runs[index].retries < RETRY_COMMAND_COUNT => retried = true,
                    "retry" => {}
                    name => {
                        remediated = true;
                        if !state.failing {
                            self.stage(state, Some(&task.name), name, out.clone());
                        }
                    }
                }
            }
        }
        // A task with no transitions ends its branch; one whose transitions all failed their
        // `when` ends the workflow's last branch if nothing else runs after it.
        if task.next.is_empty() {
            let run = &state.runs[index];
            let (sequence, ctx_in) = (run.sequence, run.ctx_in.clone());
            state.terminate(sequence, ctx_in);
        }
        state.closer = (!staged_any).then_some(index);
        if retried && !state.failing {
            return self.retry(state, index, 0.0);
        }
        let failed = ["failed", "timeout", "abandoned", "canceled", "expired"].contains(&status);
        if failed && !remediated && !state.failing {
            self.fail(state, first_new);
        }
    }

    /// Fails the workflow: runs staged before `first_new` (earlier transitions) are dropped.
    fn fail(&self, state: &mut FlowState, first_new: usize) {
        state.failing = true;
        let earlier = first_new.min(state.runs.len());
        for run in state.runs[..earlier].iter_mut() {
            if run.phase == Phase::Staged {
                run.phase = Phase::Skipped;
            }
        }
    }

    /// Stages `name` from `from` with the contexts it receives; a join waits for its arrivals,
    /// taking the first arrival's contexts and each later one's without the initial context.
    pub(super) fn stage(&self, state: &mut FlowState, from: Option<&str>, name: &str, ctx_in: Vec<usize>) {
        let task = &self.spec.tasks[name];
        let ctx_in = match self.spec.join_needs(task) {
            Some(needed) => {
                let join = state.joins.entry(name.to_string()).or_default();
                if join.fired {
                    return;
                }
                if join.arrived.is_empty() {
                    join.ctx_in = ctx_in;
                } else {
                    let mut later = ctx_in;
                    if let Some(initial) = later.iter().position(|index| *index == 0) {
                        later.remove(initial);
                    }
                    join.ctx_in.extend(later);
                }
                join.arrived.insert(from.unwrap_or_default().to_string());
                if join.arrived.len() < needed {
                    return;
                }
                join.fired = true;
                join.ctx_in.clone()
            }
            None => ctx_in,
        };
        let ctx = state.merged(&ctx_in);
        let not_before = match &task.delay {
            Some(delay) => match expr::evaluate(delay, &self.scope(&ctx)).map(|d| seconds(&d)) {
                Ok(Some(delay)) => Some(after(delay)),
                Ok(None) => {
                    state.failing = true;
                    state.task_error(name, "TypeError: The value of task delay is not type of integer.");
                    return;
                }
                Err(error) => {
                    state.failing = true;
                    state.task_error(name, error.to_string());
                    return;
                }
            },
            None => None,
        };
        state.runs.push(TaskRun::new(name, ctx, ctx_in, not_before));
    }
}

/// What Orquesta logs for a task execution that failed.
const EXECUTION_FAILED: &str = "Execution failed. See result for details.";

/// Logs each failed execution of a run with its result, whether or not a transition remediates
/// it (conducting.py logs it as the execution's event arrives; the workflow's result shows
/// it only if the workflow fails). A slot that failed before it had an execution (its task did
/// not render) was logged as that error instead.
fn log_failed_executions(state: &mut FlowState, index: usize, task: &str) {
    let failed: Vec<Value> = state.runs[index]
        .slots
        .iter()
        .filter(|slot| slot.execution_id.is_some() && slot.status.as_deref() == Some("failed"))
        .map(|slot| slot.result.clone())
        .collect();
    for result in failed {
        state.error(Some(task), EXECUTION_FAILED, Some(result));
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
