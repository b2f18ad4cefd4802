//! Recovery at start: what a previous run of st2d left unfinished is abandoned, run, delayed
//! again or resumed.
//!
//! Owns: the decision per unfinished execution. Must not: resume a workflow's tasks itself
//! (its conductor does, from the recorded state).

use serde_json::json;

use super::{Executor, Slot, dispatch, reach};
use crate::execution::Execution;
use st2d_core::status::ExecutionStatus;

impl Executor {
    /// At start: executions that were running when st2d stopped are `abandoned`; those that
    /// never started run now (a `delayed` one once its policies admit it); workflows that were
    /// running resume from their last recorded transition (children before parents, so a
    /// parent finds each child running or done).
    pub fn recover(&self) {
        let active = match self.inner.store.active_executions() {
            Ok(active) => active,
            Err(error) => {
                tracing::error!(error = %error, "cannot read unfinished executions");
                return;
            }
        };
        let mut workflows = Vec::new();
        for (_, record) in active {
            let Some(mut execution) = Execution::from_record(&record) else { continue };
            if dispatch::is_conducted(&execution)
                && matches!(
                    execution.status,
                    ExecutionStatus::Running
                        | ExecutionStatus::Canceling
                        | ExecutionStatus::Pausing
                        | ExecutionStatus::Paused
                        | ExecutionStatus::Resuming
                )
            {
                workflows.push(execution);
                continue;
            }
            match execution.status {
                ExecutionStatus::Requested | ExecutionStatus::Scheduled => {
                    tracing::info!(execution_id = %execution.id, action = %execution.action, "running an execution requested before the restart");
                    execution.status = ExecutionStatus::Requested;
                    self.schedule(execution);
                }
                ExecutionStatus::Pending => self.hold_recovered(execution),
                ExecutionStatus::Delayed => {
                    // Held by a concurrency policy or waiting out a retry's delay: it passes
                    // the policies again, as they are now.
                    tracing::info!(execution_id = %execution.id, action = %execution.action, "an execution delayed before the restart waits again");
                    self.schedule(execution);
                }
                status if !status.is_completed() => {
                    execution.result = Some(json!({"error": "st2d stopped while the execution was running"}));
                    reach(&mut execution, ExecutionStatus::Abandoned);
                    tracing::warn!(execution_id = %execution.id, action = %execution.action, "execution abandoned: st2d stopped while it ran");
                    self.finish(execution);
                }
                _ => self.finish(execution),
            }
        }
        for execution in workflows.into_iter().rev() {
            tracing::info!(execution_id = %execution.id, action = %execution.action, "resuming a workflow that was running before the restart");
            let canceling = execution.status == ExecutionStatus::Canceling;
            let id = execution.id.clone();
            self.start(execution, Some(Slot(None)));
            if canceling && let Some(token) = self.cancel_token(&id) {
                token.cancel();
            }
        }
    }
}
