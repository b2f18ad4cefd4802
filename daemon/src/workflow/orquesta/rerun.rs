//! Resuming a completed Orquesta run from some of its tasks (`st2 execution re-run ID --tasks
//! t1,t2 [--no-reset t1]`): the new execution takes the original run's state, and each named
//! task runs again with the contexts it first received; a with-items task runs again only its
//! items that did not succeed, or every item when it is reset (Orquesta's
//! `request_workflow_rerun` and `_request_task_rerun` in orquesta/conducting.py;
//! `request_rerun` in st2common/services/workflows.py for the messages).
//!
//! Owns: reading the re-run request from the execution's context and changing the copied
//! state. Must not: request executions or touch the original execution.

use serde_json::Value;

use super::state::{FlowState, Phase, Slot, TaskRun};

/// A request, in a new execution's `re-run` context, to resume another run from some tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskReRun {
    /// The execution whose run resumes.
    pub original: String,
    pub tasks: Vec<String>,
    /// Of `tasks`, the with-items tasks whose every item runs again.
    pub reset: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReRunError {
    #[error("Unable to rerun workflow execution \"{0}\" because it does not exist.")]
    NotFound(String),
    #[error("Unable to rerun workflow execution \"{0}\" because it is not in a completed state.")]
    NotCompleted(String),
    #[error("Unable to rerun workflow because one or more tasks is not found: {}", .0.join(","))]
    TasksNotFound(Vec<String>),
}

impl TaskReRun {
    /// The request in `context`, when it names tasks (a re-run without tasks starts afresh).
    pub fn of(context: &Value) -> Option<Self> {
        let marker = context.get("re-run")?;
        let names = |key: &str| -> Vec<String> {
            let names = marker[key].as_array().map(Vec::as_slice).unwrap_or_default();
            names.iter().filter_map(Value::as_str).map(String::from).collect()
        };
        let tasks = names("tasks");
        if tasks.is_empty() {
            return None;
        }
        Some(Self { original: marker["ref"].as_str()?.to_string(), tasks, reset: names("reset") })
    }

    /// The original run's state, made ready to go on from the named tasks.
    pub fn resume(&self, original: Option<FlowState>) -> Result<FlowState, ReRunError> {
        let mut state = original.ok_or_else(|| ReRunError::NotFound(self.original.clone()))?;
        state.upgrade();
        if state.active() {
            return Err(ReRunError::NotCompleted(self.original.clone()));
        }
        let latest: Vec<Option<usize>> =
            self.tasks.iter().map(|task| state.runs.iter().rposition(|run| &run.name == task)).collect();
        let missing: Vec<String> =
            self.tasks.iter().zip(&latest).filter(|(_, run)| run.is_none()).map(|(task, _)| task.clone()).collect();
        if !missing.is_empty() {
            return Err(ReRunError::TasksNotFound(missing));
        }
        state.failing = false;
        state.canceling = false;
        state.paused = false;
        state.closer = None;
        for (task, index) in self.tasks.iter().zip(latest.into_iter().flatten()) {
            state.errors.retain(|error| error["task_id"].as_str() != Some(task.as_str()));
            // The run and what followed it no longer end a branch: they run again.
            let sequence = state.runs[index].sequence;
            state.terminals.retain(|end| end.sequence < sequence);
            let run = &mut state.runs[index];
            if run.items.is_some() {
                let every_item = self.reset.contains(task);
                for slot in run.slots.iter_mut() {
                    if every_item || slot.status.as_deref() != Some("succeeded") {
                        *slot = Slot::default();
                    }
                }
                run.phase = Phase::Running;
                run.status = None;
                run.result = Value::Null;
            } else {
                let again = TaskRun::new(&run.name, run.ctx.clone(), run.ctx_in.clone(), None);
                state.runs.push(again);
            }
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    fn done(name: &str, status: &str, sequence: u64) -> TaskRun {
        let mut run = TaskRun::new(name, Map::new(), vec![0], None);
        run.phase = Phase::Done;
        run.status = Some(status.to_string());
        run.sequence = sequence;
        run.slots =
            vec![Slot { execution_id: Some(format!("x{sequence}")), status: Some(status.into()), result: json!(null) }];
        run
    }

    #[test]
    fn a_failed_task_is_staged_again_with_its_contexts_and_its_errors_dropped() {
        let mut state = FlowState::starting_with(Map::new());
        state.runs = vec![done("one", "succeeded", 1), done("two", "failed", 2)];
        state.failing = true;
        state.error(Some("two"), "Execution failed. See result for details.", Some(json!({})));
        state.terminate(2, vec![0]);
        let re_run = TaskReRun::of(&json!({"re-run": {"ref": "00a", "tasks": ["two"]}})).expect("a task re-run");
        let resumed = re_run.resume(Some(state)).expect("resumes");
        assert!(!resumed.failing && resumed.errors.is_empty() && resumed.terminals.is_empty());
        assert_eq!(resumed.runs.len(), 3);
        assert_eq!((resumed.runs[2].name.as_str(), resumed.runs[2].phase), ("two", Phase::Staged));
    }

    #[test]
    fn items_run_again_only_where_they_did_not_succeed_unless_reset() {
        let mut state = FlowState::starting_with(Map::new());
        let mut run = done("each", "failed", 1);
        run.items = Some(vec![json!(1), json!(2)]);
        run.slots = vec![
            Slot { execution_id: Some("a".into()), status: Some("succeeded".into()), result: json!(1) },
            Slot { execution_id: Some("b".into()), status: Some("failed".into()), result: json!(2) },
        ];
        state.runs = vec![run];
        let only_failed = TaskReRun { original: "00a".into(), tasks: vec!["each".into()], reset: vec![] };
        let resumed = only_failed.resume(Some(state.clone())).expect("resumes");
        assert_eq!(resumed.runs[0].phase, Phase::Running);
        assert_eq!(resumed.runs[0].slots[0].execution_id.as_deref(), Some("a"));
        assert!(resumed.runs[0].slots[1].execution_id.is_none());
        let every_item = TaskReRun { reset: vec!["each".into()], ..only_failed };
        let resumed = every_item.resume(Some(state)).expect("resumes");
        assert!(resumed.runs[0].slots.iter().all(|slot| slot.execution_id.is_none()));
    }

    #[test]
    fn unknown_tasks_and_runs_still_going_are_refused_with_orquestas_words() {
        let mut state = FlowState::starting_with(Map::new());
        state.runs = vec![done("one", "failed", 1)];
        let re_run = TaskReRun { original: "00a".into(), tasks: vec!["nope".into(), "one".into()], reset: vec![] };
        assert_eq!(
            re_run.resume(Some(state.clone())).expect_err("an unknown task").to_string(),
            "Unable to rerun workflow because one or more tasks is not found: nope"
        );
        state.runs[0].phase = Phase::Running;
        let re_run = TaskReRun { tasks: vec!["one".into()], ..re_run };
        assert!(matches!(re_run.resume(Some(state)), Err(ReRunError::NotCompleted(_))));
        assert!(TaskReRun::of(&json!({"re-run": {"ref": "00a"}})).is_none(), "without tasks it starts afresh");
    }
}
