//! An Orquesta workflow's runtime state, persisted after every transition: each task run with
//! its branch context, its executions (one per item for with-items tasks), retries, delays
//! and outcome; join barriers; the merged terminal context; errors; pause.
//!
//! Owns: the state's shape and the small questions asked of it (what is active, what a task
//! looks like to `task()`, a run's outcome from its executions). Must not: evaluate
//! expressions or request executions (the conductor does).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Where a task run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Waiting to start (at `not_before`, when set).
    Staged,
    /// Its executions are requested or running.
    Running,
    Done,
    /// Dropped before it started: the workflow failed or was canceled first.
    Skipped,
}

/// One execution of a task run (the only one, or that of one item).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Slot {
    pub execution_id: Option<String>,
    /// Set when the execution has completed (or could not be requested).
    pub status: Option<String>,
    #[serde(default)]
    pub result: Value,
}

/// One run of a task: a task reached by several transitions without a join runs once per
/// arrival, each with the context of its branch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRun {
    pub name: String,
    /// The branch's variables as the task received them.
    pub ctx: Map<String, Value>,
    pub phase: Phase,
    pub not_before: Option<DateTime<Utc>>,
    /// The items of a with-items task, evaluated when it starts.
    pub items: Option<Vec<Value>>,
    pub concurrency: Option<usize>,
    pub slots: Vec<Slot>,
    /// Retries used so far (`retry` or the `retry` command).
    pub retries: u32,
    pub status: Option<String>,
    #[serde(default)]
    pub result: Value,
    pub created_at: DateTime<Utc>,
}

impl TaskRun {
    pub fn new(name: &str, ctx: Map<String, Value>, not_before: Option<DateTime<Utc>>) -> Self {
        Self {
            name: name.to_string(),
            ctx,
            phase: Phase::Staged,
            not_before,
            items: None,
            concurrency: None,
            slots: Vec::new(),
            retries: 0,
            status: None,
            result: Value::Null,
            created_at: Utc::now(),
        }
    }

    /// Executions requested and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.slots.iter().filter(|s| s.execution_id.is_some() && s.status.is_none()).count()
    }

    /// Whether any of its executions was requested (or failed to be).
    pub fn started(&self) -> bool {
        self.slots.iter().any(|s| s.execution_id.is_some() || s.status.is_some())
    }

    /// The next slot to request, within the concurrency.
    pub fn next_slot(&self) -> Option<usize> {
        if self.concurrency.is_some_and(|limit| self.in_flight() >= limit) {
            return None;
        }
        self.slots.iter().position(|s| s.execution_id.is_none() && s.status.is_none())
    }

    /// The status and result of a run whose executions have all completed: one execution's
    /// own, or for items, succeeded only when every item succeeded, with the list of results.
    pub fn outcome(&self) -> (String, Value) {
        if self.items.is_none() {
            let slot = self.slots.first().cloned().unwrap_or_default();
            return (slot.status.unwrap_or_else(|| "succeeded".to_string()), slot.result);
        }
        let statuses: Vec<&str> = self.slots.iter().map(|s| s.status.as_deref().unwrap_or("canceled")).collect();
        let status = if statuses.iter().all(|s| *s == "succeeded") {
            "succeeded"
        } else if statuses.iter().any(|s| ["failed", "timeout", "abandoned"].contains(s)) {
            "failed"
        } else {
            "canceled"
        };
        (status.to_string(), Value::Array(self.slots.iter().map(|s| s.result.clone()).collect()))
    }

    /// What `task(name)` shows of this run.
    pub fn view(&self) -> Value {
        let result = match &self.items {
            Some(_) => {
                json!({"items": self.slots.iter().map(|s| json!({"status": s.status, "result": s.result})).collect::<Vec<_>>()})
            }
            None => self.result.clone(),
        };
        json!({"id": self.name, "route": 0, "status": self.status, "result": result})
    }
}

/// A join barrier: who has arrived, with their contexts merged in arrival order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JoinState {
    pub arrived: BTreeSet<String>,
    pub ctx: Map<String, Value>,
    pub fired: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FlowState {
    /// The variables of branches that ended, merged in the order they ended (the output reads them).
    pub terminal: Map<String, Value>,
    pub runs: Vec<TaskRun>,
    pub joins: BTreeMap<String, JoinState>,
    pub errors: Vec<Value>,
    /// A failure no transition remediated, or a `fail` command: nothing new starts.
    pub failing: bool,
    pub canceling: bool,
    pub paused: bool,
}

impl FlowState {
    /// Whether any run is staged or running.
    pub fn active(&self) -> bool {
        self.runs.iter().any(|run| matches!(run.phase, Phase::Staged | Phase::Running))
    }

    pub fn in_flight(&self) -> usize {
        self.runs.iter().filter(|run| run.phase == Phase::Running).map(TaskRun::in_flight).sum()
    }

    /// The latest completed run of each task, as `task()` sees it.
    pub fn views(&self) -> BTreeMap<String, Value> {
        self.runs.iter().filter(|run| run.phase == Phase::Done).map(|run| (run.name.clone(), run.view())).collect()
    }

    /// Records an error of the workflow (`errors` of its result).
    pub fn error(&mut self, task: Option<&str>, message: impl Into<String>, result: Option<Value>) {
        let mut entry = json!({"type": "error", "message": message.into()});
        if let Some(task) = task {
            entry["task_id"] = Value::String(task.to_string());
            entry["route"] = json!(0);
        }
        if let Some(result) = result {
            entry["result"] = result;
        }
        self.errors.push(entry);
    }

    /// The earliest time a staged run waits for.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        self.runs.iter().filter(|run| run.phase == Phase::Staged).filter_map(|run| run.not_before).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(status: &str, result: Value) -> Slot {
        Slot { execution_id: Some("x".into()), status: Some(status.into()), result }
    }

    #[test]
    fn a_runs_outcome_follows_its_executions() {
        let mut run = TaskRun::new("t", Map::new(), None);
        run.slots = vec![slot("failed", json!({"e": 1}))];
        assert_eq!(run.outcome(), ("failed".to_string(), json!({"e": 1})));
        run.items = Some(vec![json!(1), json!(2)]);
        run.slots = vec![slot("succeeded", json!(1)), slot("succeeded", json!(2))];
        assert_eq!(run.outcome(), ("succeeded".to_string(), json!([1, 2])));
        run.slots[1].status = Some("timeout".into());
        assert_eq!(run.outcome().0, "failed");
        run.status = Some("failed".into());
        assert_eq!(run.view()["result"]["items"][1], json!({"status": "timeout", "result": 2}));
    }

    #[test]
    fn slots_are_handed_out_within_the_concurrency() {
        let mut run = TaskRun::new("t", Map::new(), None);
        run.slots = vec![Slot::default(); 3];
        run.concurrency = Some(2);
        assert_eq!(run.next_slot(), Some(0));
        run.slots[0].execution_id = Some("a".into());
        run.slots[1].execution_id = Some("b".into());
        assert_eq!(run.next_slot(), None);
        run.slots[0].status = Some("succeeded".into());
        assert_eq!(run.next_slot(), Some(2));
    }
}
