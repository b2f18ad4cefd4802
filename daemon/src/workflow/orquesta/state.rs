//! An Orquesta workflow's runtime state, persisted after every transition: the workflow's
//! contexts (the initial one, then what each transition published), each task run with the
//! contexts it received, its executions (one per item for with-items tasks), retries, delays
//! and outcome; join barriers; the runs and engine commands that ended a branch; errors; pause.
//!
//! Contexts are kept as Orquesta keeps them (`orquesta/conducting.py`): a task receives a list
//! of context indexes, merged in order; a transition that publishes adds one context holding
//! only what it published; a join adds each later arrival's indexes but the initial one, so a
//! branch's published value is not overwritten by the initial value another branch carries.
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
    /// The branch's variables as the task received them (`ctx_in` merged).
    pub ctx: Map<String, Value>,
    /// The workflow's contexts this run received, merged in this order (Orquesta's `ctxs.in`).
    #[serde(default)]
    pub ctx_in: Vec<usize>,
    /// Its place in the order runs began (Orquesta's task sequence).
    #[serde(default)]
    pub sequence: u64,
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
    pub fn new(name: &str, ctx: Map<String, Value>, ctx_in: Vec<usize>, not_before: Option<DateTime<Utc>>) -> Self {
        Self {
            name: name.to_string(),
            ctx,
            ctx_in,
            sequence: 0,
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

/// A join barrier: who has arrived, and the contexts the join task will receive: the first
/// arrival's, then each later arrival's without the initial context.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JoinState {
    pub arrived: BTreeSet<String>,
    #[serde(default)]
    pub ctx_in: Vec<usize>,
    pub fired: bool,
}

/// A run or engine command that ended a branch: the workflow's output reads the contexts it
/// received (Orquesta's terminal tasks).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Terminal {
    pub sequence: u64,
    pub ctx_in: Vec<usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FlowState {
    /// The initial context (input, vars, `st2`), then the variables each transition published.
    #[serde(default)]
    pub contexts: Vec<Map<String, Value>>,
    /// Branch ends, in the order they were recorded.
    #[serde(default)]
    pub terminals: Vec<Terminal>,
    /// The last place given in the task sequence.
    #[serde(default)]
    pub sequence: u64,
    /// The run whose completion staged nothing, most recently: when it is the last, it ended
    /// the workflow and counts as a branch end.
    #[serde(default)]
    pub closer: Option<usize>,
    /// The merged context of a state saved before contexts were kept by index.
    #[serde(default, rename = "terminal", skip_serializing)]
    legacy_terminal: Map<String, Value>,
    pub runs: Vec<TaskRun>,
    pub joins: BTreeMap<String, JoinState>,
    pub errors: Vec<Value>,
    /// A failure no transition remediated, or a `fail` command: nothing new starts.
    pub failing: bool,
    pub canceling: bool,
    pub paused: bool,
}

impl FlowState {
    /// A state whose initial context is `ctx`.
    pub fn starting_with(ctx: Map<String, Value>) -> Self {
        Self { contexts: vec![ctx], ..Self::default() }
    }

    /// Brings a state saved before contexts were kept by index to the current shape: the
    /// merged context it kept becomes the initial one, each run's and join's context its own.
    pub fn upgrade(&mut self) {
        if !self.contexts.is_empty() {
            return;
        }
        self.contexts.push(std::mem::take(&mut self.legacy_terminal));
        self.terminals.push(Terminal { sequence: 0, ctx_in: vec![0] });
        for run in self.runs.iter_mut().filter(|run| run.ctx_in.is_empty()) {
            self.contexts.push(run.ctx.clone());
            run.ctx_in = vec![0, self.contexts.len() - 1];
        }
        for join in self.joins.values_mut().filter(|join| join.ctx_in.is_empty()) {
            join.ctx_in = vec![0];
        }
    }

    /// Adds a context (what one transition published); its index.
    pub fn add_context(&mut self, published: Map<String, Value>) -> usize {
        self.contexts.push(published);
        self.contexts.len() - 1
    }

    /// The contexts at `indexes` merged in order, nested mappings merged key by key
    /// (Orquesta's `merge_dicts` with overwrite).
    pub fn merged(&self, indexes: &[usize]) -> Map<String, Value> {
        let mut ctx = Map::new();
        for context in indexes.iter().filter_map(|index| self.contexts.get(*index)) {
            merge_into(&mut ctx, context);
        }
        ctx
    }

    /// The next place in the task sequence.
    pub fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    /// Records a branch end.
    pub fn terminate(&mut self, sequence: u64, ctx_in: Vec<usize>) {
        if !self.terminals.iter().any(|terminal| terminal.sequence == sequence && terminal.ctx_in == ctx_in) {
            self.terminals.push(Terminal { sequence, ctx_in });
        }
    }

    /// What the output is rendered from: the first branch end's contexts, then the others'
    /// without the initial one, in sequence order (`get_workflow_terminal_context`).
    pub fn terminal_context(&self) -> Map<String, Value> {
        let mut ends: Vec<&Terminal> = self.terminals.iter().collect();
        ends.sort_by_key(|end| end.sequence);
        let mut ctx = Map::new();
        for (position, end) in ends.into_iter().enumerate() {
            let mut indexes = end.ctx_in.clone();
            if position > 0
                && let Some(initial) = indexes.iter().position(|index| *index == 0)
            {
                indexes.remove(initial);
            }
            merge_into(&mut ctx, &self.merged(&indexes));
        }
        ctx
    }

    /// Whether any run is staged or running.
    pub fn active(&self) -> bool {
        self.runs.iter().any(|run| matches!(run.phase, Phase::Staged | Phase::Running))
    }

    /// The executions requested and not yet completed.
    pub fn in_flight_executions(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter(|run| run.phase == Phase::Running)
            .flat_map(|run| run.slots.iter())
            .filter(|slot| slot.status.is_none())
            .filter_map(|slot| slot.execution_id.clone())
            .collect()
    }

    pub fn in_flight(&self) -> usize {
        self.runs.iter().filter(|run| run.phase == Phase::Running).map(TaskRun::in_flight).sum()
    }

    /// The latest completed run of each task, as `task()` sees it.
    pub fn views(&self) -> BTreeMap<String, Value> {
        self.runs.iter().filter(|run| run.phase == Phase::Done).map(|run| (run.name.clone(), run.view())).collect()
    }

    /// Records an error of the workflow (`errors` of its result), with the task it is about
    /// and the result that caused it where there is one; an entry equal to one already there
    /// is not added again (Orquesta's `log_entry`).
    pub fn error(&mut self, task: Option<&str>, message: impl Into<String>, result: Option<Value>) {
        let mut entry = json!({"type": "error", "message": message.into()});
        if let Some(task) = task {
            entry["task_id"] = Value::String(task.to_string());
        }
        if let Some(result) = result {
            entry["result"] = result;
        }
        self.log(entry);
    }

    /// Records an error in rendering a task (its action, input, items or delay), with its route.
    pub fn task_error(&mut self, task: &str, message: impl Into<String>) {
        self.log(json!({"type": "error", "message": message.into(), "task_id": task, "route": 0}));
    }

    /// Records an error in evaluating a transition of `task` toward `target` (the `n`th of its
    /// `next`): Orquesta names the transition `<target>__t<n>`.
    pub fn transition_error(&mut self, task: &str, target: &str, n: usize, message: impl Into<String>) {
        self.log(json!({
            "type": "error",
            "message": message.into(),
            "task_id": task,
            "route": 0,
            "task_transition_id": format!("{target}__t{n}"),
        }));
    }

    fn log(&mut self, entry: Value) {
        if !self.errors.contains(&entry) {
            self.errors.push(entry);
        }
    }

    /// The earliest time a staged run waits for.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        self.runs.iter().filter(|run| run.phase == Phase::Staged).filter_map(|run| run.not_before).min()
    }
}

/// Merges `right` into `left`: a key in both whose values are both mappings is merged
/// likewise; otherwise `right`'s value wins.
fn merge_into(left: &mut Map<String, Value>, right: &Map<String, Value>) {
    for (key, value) in right {
        match (left.get_mut(key), value) {
            (Some(Value::Object(inner)), Value::Object(other)) => merge_into(inner, other),
            _ => {
                left.insert(key.clone(), value.clone());
            }
        }
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
        let mut run = TaskRun::new("t", Map::new(), vec![0], None);
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
        let mut run = TaskRun::new("t", Map::new(), vec![0], None);
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
