//! Pausing and resuming workflows (Orquesta and action-chain): the executor writes `pausing` and tells the
//! conductor (a `watch` channel per conducted execution); the conductor reports when none of
//! its tasks runs any more, and the executor writes `paused` (and wakes the workflow above,
//! which may pause in turn); resuming writes `resuming` and `running`, tells the conductor to
//! go on, and resumes the paused Orquesta workflow above.
//!
//! Owns: those status changes. Must not: decide what a paused workflow runs (its conductor does).

use super::{Executor, dispatch, reach};
use crate::execution::Execution;
use crate::store::StoreError;
use st2d_core::status::ExecutionStatus;

/// Why a workflow cannot be paused or resumed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PauseError {
    #[error("execution {0} does not exist")]
    NotFound(String),
    #[error("execution {id} is a {runner} execution; only workflows (orquesta, action-chain) pause")]
    NotPausable { id: String, runner: String },
    #[error("execution {id} is {status}; it must be {expected}")]
    Status { id: String, status: ExecutionStatus, expected: &'static str },
    #[error("cannot record the change: {0}")]
    Store(String),
}

impl Executor {
    /// Asks a running workflow to pause: it is `pausing` until its running tasks have finished
    /// (or, being workflows, paused), then `paused`; it starts nothing new until resumed.
    pub fn pause(&self, id: &str) -> Result<Execution, PauseError> {
        self.pause_or_resume(id, true)
    }

    /// Resumes a paused (or pausing) workflow; the Orquesta workflow it is a task of resumes
    /// with it when paused (orquesta runner's `handle_action_execution_resume`).
    pub fn resume(&self, id: &str) -> Result<Execution, PauseError> {
        let execution = self.pause_or_resume(id, false)?;
        if let Some(parent) = execution.parent.as_deref().and_then(|parent| self.get(parent))
            && parent.runner == "orquesta"
            && matches!(parent.status, ExecutionStatus::Pausing | ExecutionStatus::Paused)
        {
            let _ = self.resume(&parent.id);
        }
        Ok(execution)
    }

    fn pause_or_resume(&self, id: &str, pause: bool) -> Result<Execution, PauseError> {
        let mut execution = self.get(id).ok_or_else(|| PauseError::NotFound(id.to_string()))?;
        if !dispatch::is_conducted(&execution) {
            return Err(PauseError::NotPausable { id: id.to_string(), runner: execution.runner.clone() });
        }
        let (allowed, expected): (&[ExecutionStatus], _) = if pause {
            (&[ExecutionStatus::Running, ExecutionStatus::Resuming], "running")
        } else {
            (&[ExecutionStatus::Paused, ExecutionStatus::Pausing], "paused or pausing")
        };
        let sender = self.inner.running.lock().ok().and_then(|r| r.get(id).map(|r| r.pause.clone()));
        let (true, Some(sender)) = (allowed.contains(&execution.status), sender) else {
            return Err(PauseError::Status { id: id.to_string(), status: execution.status, expected });
        };
        if pause {
            reach(&mut execution, ExecutionStatus::Pausing);
            // Counted against concurrency policies only while running, as StackStorm does.
            self.inner.gate.release(id);
        } else {
            reach(&mut execution, ExecutionStatus::Resuming);
            reach(&mut execution, ExecutionStatus::Running);
            self.inner.gate.hold(&execution);
        }
        self.record_active(&execution).map_err(|e| PauseError::Store(e.to_string()))?;
        let _ = sender.send(pause);
        Ok(execution)
    }

    /// Told by a pausing workflow's conductor that none of its tasks runs any more.
    pub fn workflow_paused(&self, id: &str) {
        let Some(mut execution) = self.get(id) else { return };
        if execution.status != ExecutionStatus::Pausing {
            return;
        }
        reach(&mut execution, ExecutionStatus::Paused);
        if let Err(error) = self.record_active(&execution) {
            tracing::error!(execution_id = %id, error = %error, "cannot record the workflow as paused");
        }
        self.nudge_parent(&execution);
    }

    /// Writes an execution that is still active and announces the change.
    pub(super) fn record_active(&self, execution: &Execution) -> Result<(), StoreError> {
        let numeric = execution.numeric_id().unwrap_or_default();
        self.inner.store.put_execution(numeric, &execution.to_record(), true)?;
        self.inner.announce(execution);
        Ok(())
    }
}
