//! Canceling an execution: a queued one is canceled at once; a running one (or a workflow,
//! whose conductor cancels its children) is `canceling` until it has stopped.
//!
//! Owns: that status change and the signal to the running task. Must not: kill processes
//! itself (the runner does, when its token is canceled).

use super::{Executor, reach};
use crate::execution::Execution;
use st2d_core::status::ExecutionStatus;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CancelError {
    #[error("execution {0} does not exist")]
    NotFound(String),
    #[error("execution {id} is already {status}")]
    Completed { id: String, status: ExecutionStatus },
    #[error("cannot record the cancellation: {0}")]
    Store(String),
}

impl Executor {
    /// Cancels a queued or running execution: a queued one is canceled at once, a running one
    /// is `canceling` until its process group is gone.
    pub async fn cancel(&self, id: &str) -> Result<Execution, CancelError> {
        let mut execution = self.get(id).ok_or_else(|| CancelError::NotFound(id.to_string()))?;
        if execution.status.is_completed() {
            return Err(CancelError::Completed { id: id.to_string(), status: execution.status });
        }
        match self.cancel_token(id) {
            // A pending inquiry runs nothing: it is canceled at once.
            Some(_) if execution.status == ExecutionStatus::Pending => {
                let _one_answer =
                    self.inner.answering.lock().map_err(|_| CancelError::Store("poisoned lock".into()))?;
                execution = self.get(id).ok_or_else(|| CancelError::NotFound(id.to_string()))?;
                if execution.status.is_completed() {
                    return Err(CancelError::Completed { id: id.to_string(), status: execution.status });
                }
                reach(&mut execution, ExecutionStatus::Canceled);
                self.finish(execution.clone());
            }
            Some(token) => {
                if matches!(
                    execution.status,
                    ExecutionStatus::Running
                        | ExecutionStatus::Pausing
                        | ExecutionStatus::Paused
                        | ExecutionStatus::Resuming
                ) {
                    reach(&mut execution, ExecutionStatus::Canceling);
                    // A canceling execution no longer counts against concurrency policies.
                    self.inner.gate.release(id);
                    let numeric = execution.numeric_id().unwrap_or_default();
                    self.inner
                        .store
                        .put_execution(numeric, &execution.to_record(), true)
                        .map_err(|e| CancelError::Store(e.to_string()))?;
                    self.inner.announce(&execution);
                }
                token.cancel();
            }
            None => {
                reach(&mut execution, ExecutionStatus::Canceled);
                self.finish(execution.clone());
            }
        }
        Ok(execution)
    }
}
