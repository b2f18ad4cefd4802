//! Retry policies: `action.retry` (StackStorm's `st2actions/st2actions/policies/retry.py`). An
//! execution that `failed` (`retry_on: failure`) or timed out (`retry_on: timeout`) is run again
//! as a new execution with the same parameters, up to `max_retry_count` times, `delay` seconds
//! later; the new one's `context.policies.retry` says which attempt it is and what it retries.
//!
//! Owns: the parameters and the next attempt. Must not: request the execution (the executor
//! does) or apply to a workflow's task (StackStorm leaves those to the workflow's own retry).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use st2d_core::pack::model::Policy;
use st2d_core::status::ExecutionStatus;

use super::{Parameters, PolicyError};
use crate::execution::Execution;

/// Which ending is retried (`retry_on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOn {
    /// `failure`: an execution that ended `failed`.
    Failure,
    /// `timeout`: an execution that ended `timeout`.
    Timeout,
}

/// One retry policy, its parameters checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub policy: String,
    pub retry_on: RetryOn,
    pub max_retry_count: i64,
    pub delay: Duration,
}

/// The next attempt of an execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// 1 for the first retry.
    pub retry_count: i64,
    pub delay: Duration,
    /// The new execution's context: the retried one's, with `policies` replaced by
    /// `{retry: {applied_policy, retry_count, retried_liveaction_id}}` (and, after a delay,
    /// `delayed_until`).
    pub context: Map<String, Value>,
}

impl Retry {
    /// Reads `retry_on` (required, `failure` or `timeout`), `max_retry_count` (1 to 5, default
    /// 2) and `delay` (0 to 120 seconds, default 0) (`st2common/st2common/policies/meta/retry.yaml`).
    pub fn parse(policy: &Policy) -> Result<Self, PolicyError> {
        let parameters = Parameters::of(policy);
        let retry_on = match parameters.required(
            "retry_on",
            parameters.choice("retry_on", &["failure", "timeout"], "\"failure\" or \"timeout\"")?,
        )? {
            "timeout" => RetryOn::Timeout,
            _ => RetryOn::Failure,
        };
        let max_retry_count = match parameters.integer("max_retry_count")? {
            None => 2,
            Some(count) if (1..=5).contains(&count) => count,
            Some(count) => return Err(parameters.invalid("max_retry_count", "an integer from 1 to 5", &json!(count))),
        };
        let delay = parameters.number("delay", 0.0, 120.0, "a number of seconds from 0 to 120")?.unwrap_or(0.0);
        Ok(Self { policy: policy.ref_.clone(), retry_on, max_retry_count, delay: Duration::from_secs_f64(delay) })
    }

    /// The attempt after `execution` completed, if this policy asks for one: it ended as
    /// `retry_on` says, is not a workflow's task, and has had fewer than `max_retry_count`
    /// retries.
    pub fn next_attempt(&self, execution: &Execution, now: DateTime<Utc>) -> Option<Attempt> {
        let retried = match execution.status {
            ExecutionStatus::Failed => self.retry_on == RetryOn::Failure,
            ExecutionStatus::Timeout => self.retry_on == RetryOn::Timeout,
            _ => false,
        };
        if !retried {
            return None;
        }
        if is_workflow_task(execution) {
            tracing::warn!(execution_id = %execution.id, policy = %self.policy, "a retry policy does not apply to a workflow's task; use the workflow's own retry");
            return None;
        }
        let retry_count = retry_count(execution) + 1;
        if retry_count > self.max_retry_count {
            tracing::info!(execution_id = %execution.id, policy = %self.policy, "maximum retry count reached, not retrying");
            return None;
        }
        let mut retry = json!({
            "applied_policy": self.policy,
            "retry_count": retry_count,
            "retried_liveaction_id": execution.id,
        });
        if !self.delay.is_zero() {
            let delay = chrono::Duration::from_std(self.delay).unwrap_or_default();
            retry["delayed_until"] = json!((now + delay).to_rfc3339());
        }
        let mut context = execution.context.as_object().cloned().unwrap_or_default();
        context.insert("policies".to_string(), json!({"retry": retry}));
        Some(Attempt { retry_count, delay: self.delay, context })
    }
}

/// How many retries came before `execution` (`context.policies.retry.retry_count`).
pub fn retry_count(execution: &Execution) -> i64 {
    execution.context.pointer("/policies/retry/retry_count").and_then(Value::as_i64).unwrap_or(0)
}

/// Until when a retry waits out its policy's delay, if it does.
pub fn delayed_until(execution: &Execution) -> Option<DateTime<Utc>> {
    let text = execution.context.pointer("/policies/retry/delayed_until")?.as_str()?;
    DateTime::parse_from_rfc3339(text).ok().map(|at| at.with_timezone(&Utc))
}

/// A task of a workflow: its context names a parent (retry.py
/// `_is_live_action_part_of_workflow_action`).
fn is_workflow_task(execution: &Execution) -> bool {
    match execution.context.get("parent") {
        None | Some(Value::Null) => false,
        Some(Value::Object(parent)) => !parent.is_empty(),
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{RETRY, policy};

    fn execution(status: ExecutionStatus, context: Value) -> Execution {
        Execution { context, ..Execution::sample("000000000000000a", "demo.act", "local-shell-cmd", status) }
    }

    #[test]
    fn parameters_take_stackstorms_defaults_and_limits() {
        // st2common/st2common/policies/meta/retry.yaml: retry_on required (failure, timeout),
        // max_retry_count 1..5 default 2, delay 0..120.
        let retry = Retry::parse(&policy("demo.again", RETRY, json!({"retry_on": "timeout"}))).expect("valid");
        assert_eq!((retry.retry_on, retry.max_retry_count, retry.delay), (RetryOn::Timeout, 2, Duration::ZERO));
        let refused = [
            json!({}),
            json!({"retry_on": "success"}),
            json!({"retry_on": "failure", "max_retry_count": 0}),
            json!({"retry_on": "failure", "max_retry_count": 6}),
            json!({"retry_on": "failure", "delay": 121}),
            json!({"retry_on": "failure", "delay": -1}),
        ];
        for parameters in refused {
            assert!(Retry::parse(&policy("demo.again", RETRY, parameters.clone())).is_err(), "{parameters}");
        }
        let delayed = Retry::parse(&policy("demo.again", RETRY, json!({"retry_on": "failure", "delay": 0.5})));
        assert_eq!(delayed.map(|r| r.delay), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn attempts_follow_stackstorms_retry_tests() {
        let on_timeout =
            Retry::parse(&policy("demo.again", RETRY, json!({"retry_on": "timeout", "max_retry_count": 2})))
                .expect("valid");
        let now = Utc::now();
        let context = json!({"user": "stanley", "pack": "demo"});
        // st2actions/tests/unit/policies/test_retry_policy.py
        // test_retry_on_timeout_no_retry_since_no_timeout_reached and
        // test_no_retry_on_non_applicable_statuses: only the status retry_on names is retried.
        for status in [
            ExecutionStatus::Succeeded,
            ExecutionStatus::Failed,
            ExecutionStatus::Canceled,
            ExecutionStatus::Abandoned,
            ExecutionStatus::Delayed,
            ExecutionStatus::Requested,
        ] {
            assert_eq!(on_timeout.next_attempt(&execution(status, context.clone()), now), None, "{status}");
        }
        // test_retry_on_timeout_first_retry_is_successful: retry_count 1, applied_policy,
        // retried_liveaction_id; the rest of the context is kept.
        let first =
            on_timeout.next_attempt(&execution(ExecutionStatus::Timeout, context.clone()), now).expect("a retry");
        assert_eq!(first.retry_count, 1);
        assert_eq!(
            Value::Object(first.context.clone()),
            json!({"user": "stanley", "pack": "demo", "policies": {"retry": {
                "applied_policy": "demo.again", "retry_count": 1, "retried_liveaction_id": "000000000000000a"}}})
        );
        // test_retry_on_timeout_policy_is_retried_twice, then
        // test_retry_on_timeout_max_retries_reached: retry_count 2 is the last.
        let second = on_timeout
            .next_attempt(&execution(ExecutionStatus::Timeout, Value::Object(first.context)), now)
            .expect("a second retry");
        assert_eq!(second.retry_count, 2);
        assert_eq!(
            on_timeout.next_attempt(&execution(ExecutionStatus::Timeout, Value::Object(second.context)), now),
            None
        );
        // test_no_retry_on_workflow_task.
        let task = json!({"user": "stanley", "parent": {"execution_id": "abcde"}});
        assert_eq!(on_timeout.next_attempt(&execution(ExecutionStatus::Timeout, task), now), None);
        // A delay is kept on the new execution, so it survives a restart.
        let later =
            Retry::parse(&policy("demo.later", RETRY, json!({"retry_on": "failure", "delay": 3}))).expect("valid");
        let attempt = later.next_attempt(&execution(ExecutionStatus::Failed, context), now).expect("a retry");
        let retry = execution(ExecutionStatus::Delayed, Value::Object(attempt.context));
        assert_eq!(delayed_until(&retry), Some(now + chrono::Duration::seconds(3)));
        assert_eq!(retry_count(&retry), 1);
    }
}
