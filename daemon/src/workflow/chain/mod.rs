//! The action-chain conductor (ST2-COMPAT.md 2.7): runs a chain's tasks one at a time as child
//! executions, follows `on-success`/`on-failure`, publishes variables, and answers
//! `{tasks, published}` (plus `error` when the chain could not go on).
//!
//! Templates see, later names winning: the chain's parameters, each finished task's result by
//! its name, `vars` with everything published so far, `__results`, `system` and `st2kv`,
//! `action_context` (`{parent: ...}`) and `config_context`. A value that is one `{{ ... }}`
//! keeps its type (StackStorm renders to text and casts only task parameters; published dicts
//! stay dicts here).
//!
//! Owns: the chain's state machine and its persisted state (the task running, results so far,
//! published values), written with each task's request. Must not: run processes or wait for a
//! slot (tasks are executions).

use super::{Conduct, Signals, Tasks};
use crate::execution::Execution;
use crate::execution::{ExecutionRequest, ParentLink, RequestError};
use crate::registry::Registry;
use crate::runner::Outcome;
use crate::workflow::children::ChildExecutions;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use st2d_core::chain::{ChainNode, ChainSpec};
use st2d_core::pack::model::Action;
use st2d_core::status::ExecutionStatus;
use st2d_core::template::{self, Context, TemplateError};

/// Why the chain cannot go on; the message is the result's `error`.
#[derive(Debug, thiserror::Error)]
pub enum ChainRunError {
    #[error("Failed initializing ``vars`` in chain. \"{name}\": {error}")]
    Vars { name: String, error: TemplateError },
    /// `template` is the value as Python prints it.
    #[error(
        "Failed rendering value for publish parameter \"{name}\" in task \"{task}\" (template string={template}): {error}"
    )]
    Publish { name: String, task: String, template: String, error: TemplateError },
}

/// The chain's state between tasks, persisted after each transition.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ChainState {
    /// `vars` as rendered at the start, updated by every publish.
    vars: Map<String, Value>,
    published: Map<String, Value>,
    /// The latest result of each task, by name.
    results: Map<String, Value>,
    /// The task entries of the result, in the order they ran.
    tasks: Vec<Value>,
    /// The task to run or being run.
    current: Option<Current>,
    /// The chain's status so far: the status of the last task.
    status: Option<ExecutionStatus>,
    /// Why the chain stopped early.
    error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Current {
    node: String,
    execution_id: Option<String>,
    created_at: DateTime<Utc>,
}

/// Conducts an action-chain execution.
pub async fn run(
    executor: &dyn ChildExecutions,
    registry: &Registry,
    action: &Action,
    workflow: &Execution,
    entry_point: Option<std::path::PathBuf>,
    signals: &Signals,
) -> Conduct {
    let Some(path) = entry_point else {
        return Conduct::Done(Outcome::failed("entry_point is required by the action-chain runner"));
    };
    let spec = match ChainSpec::load(&path) {
        Ok(spec) => spec,
        Err(error) => return Conduct::Done(Outcome::failed(error.to_string())),
    };
    let resolved = workflow.resolved.clone().unwrap_or_default();
    let display_published = resolved.runner.get("display_published").and_then(Value::as_bool).unwrap_or(true);
    let mut parameters = resolved.runner.clone();
    parameters.extend(resolved.action.clone());
    let chain =
        Chain { executor, registry, action, workflow, spec: &spec, parameters, tasks: Tasks::new(executor, workflow) };
    let (mut state, resumed) = match chain.tasks.load::<ChainState>() {
        Some(state) => (state, Resumed::Yes),
        None => match chain.start() {
            Ok(state) => (state, Resumed::No),
            Err(error) => {
                let mut result = json!({"tasks": [], "error": error.to_string()});
                if display_published {
                    result["published"] = json!({});
                }
                return Conduct::Done(Outcome { status: ExecutionStatus::Failed, result });
            }
        },
    };
    if let Some(suspended) = chain.conduct(&mut state, resumed, signals).await {
        return suspended;
    }
    let mut result = json!({"tasks": state.tasks});
    if display_published {
        result["published"] = Value::Object(state.published.clone());
    }
    let status = match &state.error {
        Some(error) => {
            result["error"] = Value::String(error.clone());
            ExecutionStatus::Failed
        }
        None => state.status.unwrap_or(ExecutionStatus::Succeeded),
    };
    Conduct::Done(Outcome { status, result })
}

struct Chain<'a> {
    executor: &'a dyn ChildExecutions,
    registry: &'a Registry,
    action: &'a Action,
    workflow: &'a Execution,
    spec: &'a ChainSpec,
    parameters: Map<String, Value>,
    tasks: Tasks<'a>,
}

/// Whether the chain resumes from a state saved before a restart.
#[derive(Clone, Copy, PartialEq)]
enum Resumed {
    Yes,
    No,
}

impl Chain<'_> {
    /// The state of a chain about to start: `vars` rendered with the chain's parameters.
    fn start(&self) -> Result<ChainState, ChainRunError> {
        let mut context = Context::new(self.executor.datastore(), &self.workflow.user);
        for (name, value) in &self.parameters {
            context.set(name, value.clone());
        }
        let mut vars = Map::new();
        for (name, value) in &self.spec.vars {
            let rendered = template::render_typed(value, &context)
                .map_err(|error| ChainRunError::Vars { name: name.clone(), error })?;
            vars.insert(name.clone(), rendered);
        }
        let current = self.spec.start.clone().map(|node| Current { node, execution_id: None, created_at: Utc::now() });
        Ok(ChainState { vars, current, ..ChainState::default() })
    }

    /// Runs tasks until the chain ends (`None`) or the daemon stops (`Some(Suspended)`). A pause
    /// lets the running task finish (a task that is a workflow pauses with the chain) and starts
    /// no next task until resumed (action_chain_runner.py: `pause`, `resume`).
    async fn conduct(&self, state: &mut ChainState, mut resumed: Resumed, signals: &Signals) -> Option<Conduct> {
        let cancel = &signals.cancel;
        let mut pause = signals.pause.clone();
        while let Some(current) = state.current.clone() {
            let Some(node) = self.spec.node(&current.node) else {
                state.error = Some(format!("Unable to find node with name \"{}\".", current.node));
                break;
            };
            // After a restart, the task's execution may be on disk while the state naming it
            // is not.
            let adopted = if resumed == Resumed::Yes { self.tasks.adopt(&node.name, &state.tasks) } else { None };
            resumed = Resumed::No;
            let child_id = match current.execution_id.clone().or(adopted) {
                Some(id) => id,
                None => {
                    if *pause.borrow() && !cancel.is_cancelled() {
                        self.tasks.save(state);
                        if let Some(suspended) = self.stay_paused(&mut pause, cancel).await {
                            return Some(suspended);
                        }
                        continue;
                    }
                    if cancel.is_cancelled() {
                        state.status = Some(ExecutionStatus::Canceled);
                        break;
                    }
                    if self.executor.stopping() {
                        return Some(Conduct::Suspended);
                    }
                    match self.request(node, state).await {
                        Ok(id) => id,
                        Err(Failed::Abort(error)) => {
                            state.error = Some(error);
                            break;
                        }
                        Err(Failed::Task(error)) => {
                            let entry = task_entry(node, None, &current.created_at, "failed", json!({"error": error}));
                            self.finish_task(state, node, entry, ExecutionStatus::Failed, None);
                            continue;
                        }
                    }
                }
            };
            let child = self.wait_for(&child_id, &mut pause, cancel).await;
            let Some(child) = child else { return Some(Conduct::Suspended) };
            let result = child.result.clone().unwrap_or(Value::Null);
            let entry = task_entry(node, Some(&child.id), &current.created_at, child.status.as_str(), result.clone());
            self.finish_task(state, node, entry, child.status, Some(result));
            if cancel.is_cancelled() {
                state.status = Some(ExecutionStatus::Canceled);
                state.current = None;
            }
        }
        self.tasks.save(state);
        None
    }

    /// Waits for the task `child_id` to complete. Canceling the chain cancels it; pausing or
    /// resuming the chain pauses or resumes it when it is a workflow, and the chain counts as
    /// paused once that workflow has.
    async fn wait_for(
        &self,
        child_id: &str,
        pause: &mut tokio::sync::watch::Receiver<bool>,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Option<Execution> {
        let completion = self.executor.completion_of(child_id.to_string());
        tokio::pin!(completion);
        let mut reported_paused = false;
        loop {
            let pausing = *pause.borrow() && !reported_paused;
            tokio::select! {
                child = &mut completion => return child,
                () = cancel.cancelled() => {
                    self.executor.cancel_child(child_id).await;
                    return self.executor.completion_of(child_id.to_string()).await;
                }
                changed = pause.changed() => {
                    if changed.is_err() {
                        return completion.await;
                    }
                    reported_paused = false;
                    self.executor.pause_child(child_id, *pause.borrow());
                }
                () = tokio::time::sleep(PAUSED_CHILD_CHECK), if pausing => {
                    // A task that waits (a paused workflow, a pending inquiry) lets the chain
                    // pause (action_chain_runner.py: "paused because task ... is pending").
                    let status = self.executor.status_of(child_id);
                    if matches!(status, Some(ExecutionStatus::Paused | ExecutionStatus::Pending)) {
                        self.executor.report_paused(&self.workflow.id);
                        reported_paused = true;
                    }
                }
            }
        }
    }

    /// Stays paused until resumed (`None`), canceled (`None`: the loop then ends the chain
    /// canceled), or the daemon stops (`Some(Suspended)`).
    async fn stay_paused(
        &self,
        pause: &mut tokio::sync::watch::Receiver<bool>,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Option<Conduct> {
        self.executor.report_paused(&self.workflow.id);
        loop {
            tokio::select! {
                changed = pause.changed() => {
                    if changed.is_err() {
                        return Some(Conduct::Suspended);
                    }
                    if !*pause.borrow() {
                        return None;
                    }
                }
                () = cancel.cancelled() => return None,
                () = self.executor.until_stopping() => return Some(Conduct::Suspended),
            }
        }
    }

    /// Records a finished task, publishes, and moves to the next task by its status.
    fn finish_task(
        &self,
        state: &mut ChainState,
        node: &ChainNode,
        entry: Value,
        status: ExecutionStatus,
        result: Option<Value>,
    ) {
        state.tasks.push(entry);
        let result = result.unwrap_or_else(|| state.tasks.last().map(|t| t["result"].clone()).unwrap_or_default());
        state.results.insert(node.name.clone(), result.clone());
        if let Err(error) = self.publish(state, node, &result) {
            state.error = Some(error.to_string());
            state.current = None;
            return;
        }
        state.status = Some(status);
        let next = match status {
            ExecutionStatus::Succeeded => node.on_success.clone(),
            ExecutionStatus::Failed | ExecutionStatus::Timeout | ExecutionStatus::Abandoned => node.on_failure.clone(),
            _ => None,
        };
        state.current = next.map(|node| Current { node, execution_id: None, created_at: Utc::now() });
    }

    /// Requests the execution of `node`, recording in the same flush that it runs the task.
    async fn request(&self, node: &ChainNode, state: &mut ChainState) -> Result<String, Failed> {
        let context = self.context(state, true);
        let mut parameters = Map::new();
        for (name, value) in &node.parameters {
            let rendered = template::render_typed(value, &context).map_err(|e| {
                Failed::Abort(format!(
                    "Failed to run task \"{}\". Parameter rendering failed.. Failed rendering value for action parameter \"{name}\" in task \"{}\" (template string={}): {e}",
                    node.name,
                    node.name,
                    st2d_core::pyfmt::py_str(value)
                ))
            })?;
            parameters.insert(name.clone(), rendered);
        }
        let link = ParentLink::of(self.workflow, &node.name, Map::from_iter([("chain".to_string(), node.raw.clone())]));
        let request = ExecutionRequest {
            action: node.action.clone(),
            parameters,
            user: self.workflow.user.clone(),
            trace_tag: self.workflow.trace_tag.clone(),
            parent: Some(link),
            ..ExecutionRequest::default()
        };
        let requested = self
            .executor
            .request_child(
                request,
                Box::new(|child| {
                    if let Some(current) = state.current.as_mut() {
                        current.execution_id = Some(child.id.clone());
                    }
                    self.tasks.write(state)
                }),
            )
            .await;
        match requested {
            Ok(child) => Ok(child.id),
            Err(RequestError::ActionNotFound(action)) => Err(Failed::Abort(format!(
                "Failed to run task \"{}\". Action with reference \"{action}\" doesn't exist.",
                node.name
            ))),
            Err(error) => Err(Failed::Task(format!("Failed running task \"{}\".. {error}", node.name))),
        }
    }

    /// Renders `node`'s `publish` with its result, and adds it to the chain's variables.
    fn publish(&self, state: &mut ChainState, node: &ChainNode, result: &Value) -> Result<(), ChainRunError> {
        if node.publish.is_empty() {
            return Ok(());
        }
        let mut context = self.context(state, false);
        context.set(&node.name, result.clone());
        let mut published = Map::new();
        for (name, value) in &node.publish {
            let rendered = template::render_typed(value, &context).map_err(|error| ChainRunError::Publish {
                name: name.clone(),
                task: node.name.clone(),
                template: st2d_core::pyfmt::py_str(value),
                error,
            })?;
            published.insert(name.clone(), rendered);
        }
        state.vars.extend(published.clone());
        state.published.extend(published);
        Ok(())
    }

    /// The template context of a task's parameters (`for_parameters`) or of a publish.
    fn context(&self, state: &ChainState, for_parameters: bool) -> Context {
        let mut context = Context::new(self.executor.datastore(), &self.workflow.user).with_legacy_system();
        for (name, value) in self.parameters.iter().chain(&state.results).chain(&state.vars) {
            context.set(name, value.clone());
        }
        context.set("__results", Value::Object(state.results.clone()));
        if for_parameters {
            let parent = ParentLink::of(self.workflow, "", Map::new()).parent_context;
            context.set("action_context", json!({"parent": parent}));
            let config = self
                .registry
                .pack(&self.action.pack)
                .and_then(|pack| pack.content.as_ref())
                .map(|content| Value::Object(content.config.values.clone()))
                .unwrap_or_else(|| json!({}));
            context.set("config_context", config);
        }
        context
    }
}

/// How often a pausing chain looks whether its running workflow task has paused.
const PAUSED_CHILD_CHECK: std::time::Duration = std::time::Duration::from_millis(200);

/// Why a task could not be requested: the chain stops (`Abort`), or the task counts as failed.
enum Failed {
    Abort(String),
    Task(String),
}

/// A task entry of the chain's result, as StackStorm writes it.
fn task_entry(
    node: &ChainNode,
    execution: Option<&str>,
    created_at: &DateTime<Utc>,
    state: &str,
    result: Value,
) -> Value {
    json!({
        "id": node.name,
        "name": node.name,
        "execution_id": execution,
        "workflow": null,
        "created_at": created_at.to_rfc3339(),
        "updated_at": Utc::now().to_rfc3339(),
        "state": state,
        "result": result,
    })
}
