//! Re-running an execution (StackStorm's `POST /executions/<id>/re_run`): a new execution of
//! the same action with the original's parameters and the given ones over them, its context
//! naming the original (`re-run: {ref, tasks, reset}`); for an Orquesta workflow with `tasks`,
//! the conductor then resumes the original run's state from those tasks.
//!
//! Owns: what a re-run request may ask and the new execution's request. Must not: change the
//! original execution, or decide how a workflow resumes (the conductor does).

use serde_json::{Map, Value, json};

use super::Executor;
use crate::execution::{Execution, ExecutionRequest, RequestError};

/// What to run again, and how.
#[derive(Debug, Clone, Default)]
pub struct ReRun {
    /// Over the original's parameters.
    pub parameters: Map<String, Value>,
    /// Orquesta workflows only: the tasks of the original run to run again.
    pub tasks: Vec<String>,
    /// Of `tasks`, with-items tasks whose every item runs again.
    pub reset: Vec<String>,
    pub user: String,
}

/// Why a re-run was refused; the messages are StackStorm's (st2api's `ActionExecutionReRunController`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReRunError {
    #[error("execution {0} does not exist")]
    NotFound(String),
    #[error("Parameters override is not supported when re-running task(s) for a workflow.")]
    ParametersWithTasks,
    #[error("List of tasks to reset does not match the tasks to rerun.")]
    ResetNotInTasks,
    #[error("Task option is only supported for Orquesta workflows.")]
    TasksNeedOrquesta,
    #[error(transparent)]
    Request(#[from] RequestError),
}

impl Executor {
    /// Requests the execution `id` again, as `re_run` says.
    pub async fn re_run(&self, id: &str, re_run: ReRun) -> Result<Execution, ReRunError> {
        if !re_run.tasks.is_empty() && !re_run.parameters.is_empty() {
            return Err(ReRunError::ParametersWithTasks);
        }
        if re_run.reset.iter().any(|task| !re_run.tasks.contains(task)) {
            return Err(ReRunError::ResetNotInTasks);
        }
        let original = self.get(id).ok_or_else(|| ReRunError::NotFound(id.to_string()))?;
        if !re_run.tasks.is_empty() && original.runner != "orquesta" {
            return Err(ReRunError::TasksNeedOrquesta);
        }
        let mut parameters = original.parameters.clone();
        parameters.extend(re_run.parameters);
        let mut marker = json!({"ref": original.id});
        if !re_run.tasks.is_empty() {
            marker["tasks"] = json!(re_run.tasks);
        }
        if !re_run.reset.is_empty() {
            marker["reset"] = json!(re_run.reset);
        }
        let request = ExecutionRequest {
            action: original.action.clone(),
            parameters,
            user: re_run.user,
            trace_tag: original.trace_tag.clone(),
            context: Map::from_iter([("re-run".to_string(), marker)]),
            ..ExecutionRequest::default()
        };
        Ok(self.request(request).await?)
    }
}
