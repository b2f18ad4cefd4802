//! Workflows: executions whose runner orchestrates child executions (action-chain, Orquesta)
//! instead of running a process. A workflow takes no execution slot; each of its tasks is an
//! execution of its own, with `parent` and `task` set, that takes a slot like any other.
//!
//! Owns: the choice of conductor by runner, the conductor's persisted state (written in the
//! same flush as each task's request, so a workflow resumes after a restart), and finding a
//! task's execution again after a crash. Must not: run processes or touch execution slots (the
//! executor does).

pub mod chain;
pub mod children;
pub mod orquesta;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::execution::Execution;
use crate::registry::Registry;
use crate::runner::Outcome;
use crate::store::StoreError;
use children::ChildExecutions;
use st2d_core::pack::model::Action;

/// The runners st2d conducts as workflows.
pub const WORKFLOW_RUNNERS: [&str; 2] = ["action-chain", "orquesta"];

pub fn is_workflow(runner: &str) -> bool {
    WORKFLOW_RUNNERS.contains(&runner)
}

/// How conducting a workflow ended.
pub enum Conduct {
    Done(Outcome),
    /// The daemon is stopping: the workflow stays `running` on disk and resumes at the next
    /// start from its persisted state.
    Suspended,
}

/// What a running workflow is told: cancel, pause (true) or resume (false), and that one of
/// its tasks went pending or paused.
pub struct Signals {
    pub cancel: CancellationToken,
    pub pause: watch::Receiver<bool>,
    pub nudge: std::sync::Arc<tokio::sync::Notify>,
}

/// Conducts `execution` to its end; `None` when the daemon stops first.
pub async fn run(
    executor: &dyn ChildExecutions,
    registry: &Registry,
    action: &Action,
    execution: &Execution,
    signals: &Signals,
) -> Option<Outcome> {
    let entry_point = crate::runner::entry_point(registry, action);
    let conducted = match action.runner_type.as_str() {
        "action-chain" => chain::run(executor, registry, action, execution, entry_point, signals).await,
        "orquesta" => orquesta::run(executor, registry, action, execution, entry_point, signals).await,
        other => Conduct::Done(Outcome::failed(format!("runner {other} is not supported"))),
    };
    match conducted {
        Conduct::Done(outcome) => Some(outcome),
        Conduct::Suspended => None,
    }
}

/// A workflow's view of the store: its conductor state and its children.
pub struct Tasks<'a> {
    executor: &'a dyn ChildExecutions,
    workflow: &'a Execution,
    id: u64,
}

impl<'a> Tasks<'a> {
    pub fn new(executor: &'a dyn ChildExecutions, workflow: &'a Execution) -> Self {
        Self { executor, workflow, id: workflow.numeric_id().unwrap_or_default() }
    }

    /// The state persisted by an earlier run of this workflow (before a restart).
    pub fn load<T: DeserializeOwned>(&self) -> Option<T> {
        let record = self.executor.load_state(self.id).ok().flatten()?;
        match serde_json::from_slice(&record) {
            Ok(state) => Some(state),
            Err(error) => {
                tracing::error!(execution_id = %self.workflow.id, error = %error, "the workflow's saved state does not read; starting it again");
                None
            }
        }
    }

    /// Writes the state (flushed with the next request or record).
    pub fn write<T: Serialize>(&self, state: &T) -> Result<(), StoreError> {
        let record = serde_json::to_vec(state).unwrap_or_default();
        self.executor.save_state(self.id, &record)
    }

    /// Writes the state, logging a failure.
    pub fn save<T: Serialize>(&self, state: &T) {
        if let Err(error) = self.write(state) {
            tracing::error!(execution_id = %self.workflow.id, error = %error, "cannot record the workflow's state");
        }
    }

    /// An execution of `task` requested by this workflow but not among `entries` (task result
    /// entries with `execution_id`): one whose request was on disk before a crash, when the
    /// state recording it was not.
    pub fn adopt(&self, task: &str, entries: &[Value]) -> Option<String> {
        let known = |id: &str| entries.iter().any(|entry| entry["execution_id"].as_str() == Some(id));
        self.executor
            .children_of(&self.workflow.id)
            .into_iter()
            .find(|child| child.task.as_deref() == Some(task) && !known(&child.id))
            .map(|child| child.id)
    }
}
