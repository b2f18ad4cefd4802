//! Inquiries in the executor: an execution its runner leaves `pending` gives back its slot and
//! waits, recorded, for a response, its TTL, or a cancel; its workflow pauses around it
//! (inquirer_runner.py's `post_run`: an action-chain's root is asked to pause; an Orquesta
//! workflow pauses itself when nothing else of it runs). A response or the TTL completes it and
//! resumes the workflow it paused (st2common/services/inquiry.py `respond`,
//! st2common/garbage_collection/inquiries.py `purge_inquiries`). A pending inquiry survives a
//! restart.
//!
//! Owns: those status changes. Must not: check a response itself (`action::inquiry` does) or
//! decide how a workflow pauses (its conductor does).

use chrono::Utc;
use serde_json::Value;

use super::{Executor, Running, reach};
use crate::action::inquiry::{self, InquiryError};
use crate::execution::Execution;
use st2d_core::status::ExecutionStatus;

impl Executor {
    /// Records an execution its runner left pending; its slot is freed by the caller.
    pub(super) async fn hold_pending(&self, mut execution: Execution, result: Value) {
        execution.result = Some(result);
        reach(&mut execution, ExecutionStatus::Pending);
        self.inner.gate.release(&execution.id);
        let recorded = self.record_active(&execution).map_err(|e| e.to_string());
        let flushed = match recorded {
            Ok(()) => self.inner.store.flush_async().await.map_err(|e| e.to_string()),
            Err(error) => Err(error),
        };
        if let Err(error) = flushed {
            tracing::error!(execution_id = %execution.id, error = %error, "cannot record the inquiry as pending");
        }
        tracing::info!(execution_id = %execution.id, action = %execution.action, "inquiry pending");
        self.nudge_parent(&execution);
        if self.parent_runner(&execution).is_some_and(|runner| runner != "orquesta") {
            // An action-chain (or any workflow but Orquesta) pauses as a whole: its root.
            let root = self.root_of(&execution);
            if let Err(error) = self.pause(&root) {
                tracing::debug!(execution_id = %root, error = %error, "the workflow of an inquiry did not pause");
            }
        }
        self.expire_later(&execution);
    }

    /// At start: a pending inquiry waits again, as before the restart.
    pub(super) fn hold_recovered(&self, execution: Execution) {
        if let Ok(mut running) = self.inner.running.lock() {
            running.insert(execution.id.clone(), Running::idle(&self.inner.shutdown));
        }
        tracing::info!(execution_id = %execution.id, "an inquiry pending before the restart waits again");
        self.expire_later(&execution);
    }

    /// Pending inquiries, newest first, at most `limit` (0: all).
    pub fn inquiries(&self, limit: usize) -> Vec<Execution> {
        let active = self.inner.store.active_executions().unwrap_or_else(|error| {
            tracing::error!(error = %error, "cannot read unfinished executions");
            Vec::new()
        });
        let mut found: Vec<Execution> = active
            .iter()
            .filter_map(|(_, record)| Execution::from_record(record))
            .filter(|execution| inquiry::is_inquiry(execution) && execution.status == ExecutionStatus::Pending)
            .collect();
        found.reverse();
        if limit > 0 {
            found.truncate(limit);
        }
        found
    }

    /// An inquiry, pending or not; an execution that is not one is refused.
    pub fn inquiry(&self, id: &str) -> Result<Execution, InquiryError> {
        let execution = self.get(id).ok_or_else(|| InquiryError::NotFound(id.to_string()))?;
        if !inquiry::is_inquiry(&execution) {
            return Err(InquiryError::NotAnInquiry(id.to_string()));
        }
        Ok(execution)
    }

    /// Answers a pending inquiry as `user`: checked, recorded `succeeded` with the response
    /// (defaults of the schema applied), then the workflow it paused resumes.
    pub async fn respond(&self, id: &str, mut response: Value, user: &str) -> Result<Execution, InquiryError> {
        let execution = {
            let _one_answer = self.inner.answering.lock().map_err(|_| InquiryError::Store("poisoned lock".into()))?;
            let mut execution = self.inquiry(id)?;
            inquiry::check_open(&execution)?;
            inquiry::check_permission(&execution, user)?;
            inquiry::validate(&execution, &mut response)?;
            let mut result = execution.result.clone().unwrap_or_else(|| Value::Object(Default::default()));
            result["response"] = response;
            execution.result = Some(result);
            reach(&mut execution, ExecutionStatus::Succeeded);
            self.finish(execution.clone());
            execution
        };
        self.inner.store.flush_async().await.map_err(|e| InquiryError::Store(e.to_string()))?;
        tracing::info!(execution_id = %id, user, "inquiry answered");
        self.resume_after_inquiry(&execution);
        Ok(execution)
    }

    /// Times the inquiry out at its deadline if it is still pending then. When the daemon
    /// stops first, whoever waits for it is let go (a workflow then suspends, to wait again
    /// after the next start).
    fn expire_later(&self, execution: &Execution) {
        let deadline = inquiry::deadline(execution);
        let (executor, id) = (self.clone(), execution.id.clone());
        let draining = self.inner.draining.clone();
        self.inner.tracker.spawn(async move {
            let wait = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep((deadline - Utc::now()).to_std().unwrap_or_default()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = wait => executor.expire(&id).await,
                () = draining.cancelled() => drop(executor.forget(&id)),
            }
        });
    }

    async fn expire(&self, id: &str) {
        let execution = {
            let Ok(_one_answer) = self.inner.answering.lock() else { return };
            let Some(mut execution) = self.get(id).filter(|e| e.status == ExecutionStatus::Pending) else { return };
            reach(&mut execution, ExecutionStatus::Timeout);
            self.finish(execution.clone());
            execution
        };
        if let Err(error) = self.inner.store.flush_async().await {
            tracing::error!(execution_id = %id, error = %error, "cannot record the inquiry as timed out");
        }
        tracing::info!(execution_id = %id, "inquiry timed out: its TTL passed without a response");
        self.resume_after_inquiry(&execution);
    }

    /// Resumes what an inquiry paused: its Orquesta workflow (whose parents resume with it), or
    /// the root of any other workflow.
    fn resume_after_inquiry(&self, execution: &Execution) {
        let Some(parent) = execution.parent.clone() else { return };
        let target =
            if self.parent_runner(execution).as_deref() == Some("orquesta") { parent } else { self.root_of(execution) };
        if self.get(&target).is_some_and(|t| matches!(t.status, ExecutionStatus::Pausing | ExecutionStatus::Paused))
            && let Err(error) = self.resume(&target)
        {
            tracing::warn!(execution_id = %target, error = %error, "the workflow of an inquiry did not resume");
        }
    }

    /// The runner of the workflow `execution` is a task of.
    fn parent_runner(&self, execution: &Execution) -> Option<String> {
        execution.parent.as_deref().and_then(|parent| self.get(parent)).map(|parent| parent.runner)
    }

    /// The outermost workflow above `execution` (itself when it has no parent).
    pub(super) fn root_of(&self, execution: &Execution) -> String {
        let mut root = execution.clone();
        while let Some(parent) = root.parent.as_deref().and_then(|id| self.get(id)) {
            root = parent;
        }
        root.id
    }
}
