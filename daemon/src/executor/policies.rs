//! The executor's side of action policies (`policy`), applied when StackStorm applies them
//! (`st2common/st2common/services/policies.py`): before an execution takes its slot, the
//! concurrency gate admits it, holds it `delayed` until a place of its action frees (or the
//! policies change), or cancels it; after an execution ran and failed or timed out, a retry
//! policy requests its next attempt.
//!
//! Owns: the gate's ledger (the executions past the gate and not completed, by action: what
//! StackStorm counts as `scheduled` or `running`), the waits of delayed executions, and the
//! requests of retries. Must not: interpret a policy (`policy` does) or read one from anywhere
//! but the published registry at the moment of the decision.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::Utc;
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Executor, reach};
use crate::execution::{Execution, ExecutionRequest};
use crate::policy::{self, concurrency::Verdict, retry};
use crate::registry::Registry;
use crate::trigger::TriggerInstance;
use st2d_core::status::ExecutionStatus;

/// The executions past the concurrency gate and not completed, by action.
#[derive(Default)]
pub(super) struct Gate {
    ledger: Mutex<Ledger>,
}

#[derive(Default)]
struct Ledger {
    actions: HashMap<String, Holders>,
    /// Execution id → its action, to release by id.
    action_of: HashMap<String, String>,
}

#[derive(Default)]
struct Holders {
    /// Execution id → its parameters (`action.concurrency.attr` counts by their values).
    executions: HashMap<String, Map<String, Value>>,
    /// Told when one of them leaves; delayed executions of the action wait on it.
    freed: Option<watch::Sender<()>>,
}

impl Holders {
    fn unused(&self) -> bool {
        self.executions.is_empty() && self.freed.as_ref().is_none_or(|freed| freed.receiver_count() == 0)
    }
}

impl Ledger {
    fn hold(&mut self, execution: &Execution) {
        self.action_of.insert(execution.id.clone(), execution.action.clone());
        let holders = self.actions.entry(execution.action.clone()).or_default();
        holders.executions.insert(execution.id.clone(), execution.parameters.clone());
    }
}

impl Gate {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts `execution` as past the gate (it runs, or was admitted before the policies were
    /// asked: a policy added later counts it).
    pub(super) fn hold(&self, execution: &Execution) {
        self.ledger().hold(execution);
    }

    /// `id` no longer counts (it completed, is canceling or pausing, or st2d stops); the
    /// delayed executions of its action look again.
    pub(super) fn release(&self, id: &str) {
        let mut ledger = self.ledger();
        let Some(action) = ledger.action_of.remove(id) else { return };
        let Some(holders) = ledger.actions.get_mut(&action) else { return };
        holders.executions.remove(id);
        if let Some(freed) = &holders.freed {
            freed.send_replace(());
        }
        if holders.unused() {
            ledger.actions.remove(&action);
        }
    }

    /// The verdict of `policies` on `execution`, in one lock: admitted, it is counted (two
    /// executions never take the last place together); delayed, the receiver changes when an
    /// execution of its action leaves the gate (a place freed after the verdict is not missed).
    fn judge(&self, policies: &[policy::Concurrency], execution: &Execution) -> (Verdict, Option<watch::Receiver<()>>) {
        let mut ledger = self.ledger();
        let holders = ledger.actions.entry(execution.action.clone()).or_default();
        let others: Vec<&Map<String, Value>> = holders
            .executions
            .iter()
            .filter(|(id, _)| **id != execution.id)
            .map(|(_, parameters)| parameters)
            .collect();
        let verdict = policy::concurrency::judge(policies, &execution.parameters, &others);
        match verdict {
            Verdict::Admit => {
                ledger.hold(execution);
                (verdict, None)
            }
            Verdict::Delay(_) => {
                let freed = holders.freed.get_or_insert_with(|| watch::channel(()).0).subscribe();
                (verdict, Some(freed))
            }
            Verdict::Cancel(_) => {
                if holders.unused() {
                    ledger.actions.remove(&execution.action);
                }
                (verdict, None)
            }
        }
    }
}

/// How an execution came through the policies before taking its slot.
pub(super) enum Passage {
    /// Admitted: it takes a slot and runs.
    Admitted,
    /// Canceled by a user, or the daemon stops (it stays as recorded and is looked at again
    /// after the next start).
    Stopped,
    /// Canceled by a concurrency policy; already recorded and announced.
    Refused,
}

impl Executor {
    /// Whether a concurrency policy governs `action` now: its executions then take no slot when
    /// they are requested, and pass the gate first.
    pub(super) fn governed(&self, registry: &Registry, action: &str) -> bool {
        !policy::concurrency_of(registry, action).is_empty()
    }

    /// Brings `execution` through the policies before it takes a slot: a retry waits out its
    /// delay, then the concurrency gate admits it, or holds it `delayed` until a place of its
    /// action frees or the registry changes (StackStorm's scheduler looks again every 2.5 s,
    /// `st2actions/st2actions/scheduler/handler.py`), or cancels it.
    pub(super) async fn pass_policies(&self, execution: &mut Execution, cancel: &CancellationToken) -> Passage {
        let inner = &self.inner;
        if let Some(until) = retry::delayed_until(execution)
            && let Ok(wait) = (until - Utc::now()).to_std()
        {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cancel.cancelled() => return Passage::Stopped,
                () = inner.draining.cancelled() => return Passage::Stopped,
            }
        }
        if !matches!(execution.status, ExecutionStatus::Requested | ExecutionStatus::Delayed) {
            // Policies apply to what waits to be scheduled (concurrency.py `apply_before`); a
            // workflow recovered paused or canceling goes on, and counts.
            inner.gate.hold(execution);
            return Passage::Admitted;
        }
        let mut generations = inner.published.subscribe();
        loop {
            let policies = policy::concurrency_of(&inner.published.registry(), &execution.action);
            let (verdict, freed) = inner.gate.judge(&policies, execution);
            match verdict {
                Verdict::Admit => {
                    if execution.status == ExecutionStatus::Delayed {
                        // StackStorm's log: requested, delayed, requested, scheduled, running.
                        reach(execution, ExecutionStatus::Requested);
                        self.record(execution);
                    }
                    return Passage::Admitted;
                }
                Verdict::Delay(held) => {
                    let why = held.context(&execution.action);
                    if execution.status != ExecutionStatus::Delayed
                        || execution.context.pointer("/policies/concurrency/applied_policy")
                            != Some(&why["applied_policy"])
                    {
                        tracing::info!(execution_id = %execution.id, action = %execution.action, policy = %held.policy, "execution delayed by a concurrency policy");
                        set_policy_context(execution, "concurrency", why);
                        if execution.status != ExecutionStatus::Delayed {
                            reach(execution, ExecutionStatus::Delayed);
                        }
                        self.record(execution);
                    }
                    let Some(mut freed) = freed else { continue };
                    tokio::select! {
                        Ok(()) = freed.changed() => {}
                        Ok(()) = generations.changed() => {}
                        () = cancel.cancelled() => return Passage::Stopped,
                        () = inner.draining.cancelled() => return Passage::Stopped,
                    }
                }
                Verdict::Cancel(held) => {
                    tracing::info!(execution_id = %execution.id, action = %execution.action, policy = %held.policy, "execution canceled by a concurrency policy");
                    execution.result = Some(json!({"error": held.reason(&execution.action)}));
                    set_policy_context(execution, "concurrency", held.context(&execution.action));
                    // StackStorm's log: requested, canceling, canceled (test_concurrency.py).
                    reach(execution, ExecutionStatus::Canceling);
                    reach(execution, ExecutionStatus::Canceled);
                    self.finish(execution.clone());
                    return Passage::Refused;
                }
            }
        }
    }

    /// Writes a change of an active execution and announces it.
    fn record(&self, execution: &Execution) {
        if let Err(error) = self.record_active(execution) {
            tracing::error!(execution_id = %execution.id, error = %error, "cannot record the execution");
        }
    }

    /// After `execution` completed: the next attempt a retry policy asks for, recorded (before
    /// the caller records the completion, so the store's ordered log never keeps the
    /// completion without its retry) and ready to start; `delayed` when the policy has a
    /// delay. Parameters are resolved again, as StackStorm renders them when the new execution
    /// runs.
    pub(super) fn retry_after(&self, execution: &Execution) -> Option<Execution> {
        if !matches!(execution.status, ExecutionStatus::Failed | ExecutionStatus::Timeout) {
            return None;
        }
        let registry = self.inner.published.registry();
        let now = Utc::now();
        let attempt = policy::retries_of(&registry, &execution.action)
            .iter()
            .find_map(|retry| retry.next_attempt(execution, now))?;
        let request = ExecutionRequest {
            action: execution.action.clone(),
            parameters: execution.parameters.clone(),
            user: execution.user.clone(),
            rule: execution.rule.clone(),
            trigger_instance: self.trigger_instance_of(execution),
            trace_tag: execution.trace_tag.clone(),
            parent: None,
            context: attempt.context,
            typed: false,
        };
        let mut next = match self.prepare(&registry, request) {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(execution_id = %execution.id, action = %execution.action, error = %error, "cannot retry the execution");
                return None;
            }
        };
        if !attempt.delay.is_zero() && !next.status.is_completed() {
            reach(&mut next, ExecutionStatus::Delayed);
        }
        let id = next.numeric_id().unwrap_or_default();
        if let Err(error) = self.inner.store.put_execution(id, &next.to_record(), !next.status.is_completed()) {
            tracing::error!(execution_id = %execution.id, error = %error, "cannot record the retry");
            return None;
        }
        tracing::info!(execution_id = %next.id, retried = %execution.id, retry_count = attempt.retry_count, delay_seconds = attempt.delay.as_secs_f64(), "retrying an execution");
        Some(next)
    }

    /// The trigger instance a rule-driven execution came from (its payload is `trigger` when
    /// parameters resolve), if the store still has it.
    fn trigger_instance_of(&self, execution: &Execution) -> Option<TriggerInstance> {
        let id = crate::trigger::parse_id(execution.trigger_instance.as_deref()?)?;
        let record = self.inner.store.trigger_instance(id).ok().flatten()?;
        serde_json::from_slice(&record).ok()
    }
}

/// Sets `context.policies.<kind>`.
fn set_policy_context(execution: &mut Execution, kind: &str, value: Value) {
    if !execution.context.is_object() {
        execution.context = json!({});
    }
    let context = &mut execution.context["policies"];
    if !context.is_object() {
        *context = json!({});
    }
    context[kind] = value;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::concurrency::{Concurrency, OverThreshold};

    fn execution(id: &str, host: &str) -> Execution {
        let record = json!({
            "id": id, "action": "demo.act", "runner": "noop", "status": "requested",
            "parameters": {"host": host}, "start_timestamp": Utc::now(), "user": "stanley",
        });
        Execution::from_record(record.to_string().as_bytes()).expect("an execution")
    }

    #[tokio::test]
    async fn the_gate_counts_what_it_admits_and_wakes_the_delayed_when_a_place_frees() {
        let gate = Gate::default();
        let limit = Concurrency {
            policy: "demo.limit".to_string(),
            policy_type: policy::CONCURRENCY,
            threshold: 2,
            over_threshold: OverThreshold::Delay,
            attributes: None,
        };
        let policies = [limit];
        gate.hold(&execution("01", "a"));
        assert_eq!(gate.judge(&policies, &execution("02", "b")).0, Verdict::Admit);
        let third = execution("03", "c");
        let (verdict, freed) = gate.judge(&policies, &third);
        assert!(matches!(verdict, Verdict::Delay(held) if held.count == 2));
        let mut freed = freed.expect("a delayed execution waits for a place");
        gate.release("01");
        tokio::time::timeout(std::time::Duration::from_secs(5), freed.changed())
            .await
            .expect("told at once")
            .expect("the sender lives while someone waits");
        assert_eq!(gate.judge(&policies, &third).0, Verdict::Admit);
        // Released by id, whatever the action; unknown ids are nothing.
        gate.release("02");
        gate.release("03");
        gate.release("99");
        drop(freed);
        assert!(gate.ledger().action_of.is_empty());
        assert_eq!(gate.judge(&[], &execution("04", "d")).0, Verdict::Admit, "no policy admits");
    }
}
