//! The stages of a native `packs.install` recorded as child executions of it, named as
//! StackStorm's install workflow names its tasks (`download_pack`, `install_pack_requirements`,
//! `register_pack`, ...), so `st2 pack install`, which prints the stages of the install's
//! children from the stream, and the web UI show its progress. Each stage goes `scheduled`
//! (announced as created), `running` (recorded), then `succeeded` or `failed` with the error,
//! and is the work of the built-in action it names; it is not dispatched (the install does that
//! work). A stage left `running` by a crash is `abandoned` at the next start, as any is.
//!
//! Owns: those records and their announcements. Must not: run anything, or hold a slot.

use std::sync::Mutex;

use chrono::Utc;
use serde_json::{Map, json};
use st2d_core::status::ExecutionStatus;

use super::{Executor, reach};
use crate::execution::Execution;
use crate::packmgmt::Stages;

/// The open stage of one execution's work.
pub struct StageRecorder {
    executor: Executor,
    parent: Execution,
    open: Mutex<Option<Execution>>,
}

impl StageRecorder {
    pub fn new(executor: &Executor, parent: &Execution) -> Self {
        Self { executor: executor.clone(), parent: parent.clone(), open: Mutex::new(None) }
    }

    fn write(&self, stage: &Execution, created: bool) {
        let inner = &self.executor.inner;
        let Some(id) = stage.numeric_id() else { return };
        if let Err(error) = inner.store.put_execution(id, &stage.to_record(), !stage.status.is_completed()) {
            tracing::warn!(execution_id = %stage.id, error = %error, "cannot record an install stage");
            return;
        }
        inner.announce_as(stage, created);
    }

    fn close(&self, open: &mut Option<Execution>, error: Option<&str>) {
        let Some(mut stage) = open.take() else { return };
        match error {
            Some(error) => {
                reach(&mut stage, ExecutionStatus::Failed);
                stage.result = Some(json!({"error": error}));
            }
            None => {
                reach(&mut stage, ExecutionStatus::Succeeded);
                stage.result = Some(json!({}));
            }
        }
        self.write(&stage, false);
    }

    fn opened(&self, task: &str, action: &str) -> Option<Execution> {
        let inner = &self.executor.inner;
        let parent_id = self.parent.numeric_id()?;
        let id = inner.store.next_id().ok()?;
        let registry = inner.published.registry();
        let runner = registry.action(action).map_or_else(|| "python-script".to_string(), |a| a.runner_type.clone());
        let mut stage = Execution {
            id: crate::trigger::format_id(id),
            action: action.to_string(),
            runner,
            status: ExecutionStatus::Requested,
            parameters: Map::new(),
            result: None,
            start_timestamp: Utc::now(),
            end_timestamp: None,
            user: self.parent.user.clone(),
            rule: None,
            trigger_instance: None,
            trace_tag: None,
            parent: Some(self.parent.id.clone()),
            task: Some(task.to_string()),
            context: json!({
                "user": self.parent.user,
                "pack": crate::packmgmt::actions::PACK,
                "parent": {"execution_id": self.parent.id, "user": self.parent.user},
                "chain": {"name": task},
            }),
            log: Vec::new(),
            resolved: None,
        };
        reach(&mut stage, ExecutionStatus::Requested);
        if let Err(error) = inner.store.put_child(parent_id, id) {
            tracing::warn!(execution_id = %self.parent.id, error = %error, "cannot link an install stage");
            return None;
        }
        // Announced as created `scheduled` (what the CLI adds a stage on), but stored only once
        // `running`, so a restart never finds a stage waiting to be run.
        reach(&mut stage, ExecutionStatus::Scheduled);
        inner.announce_as(&stage, true);
        reach(&mut stage, ExecutionStatus::Running);
        self.write(&stage, false);
        Some(stage)
    }
}

impl Stages for StageRecorder {
    fn begin(&self, task: &str, action: &str) {
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.close(&mut open, None);
        *open = self.opened(task, action);
    }

    fn end(&self, error: Option<&str>) {
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.close(&mut open, error);
    }
}
