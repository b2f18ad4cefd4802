//! The Orquesta conductor: runs a workflow graph (the StackStorm/orquesta language) as child
//! executions. Start tasks run at once; each completed task evaluates its transitions in
//! order, publishes into its branch's context and stages the tasks of every transition whose
//! `when` holds; a task without `join` runs once per arrival, a join runs once when enough
//! branches have arrived, with their contexts merged (one that can no longer fire when nothing
//! runs fails the workflow). with-items tasks run one execution per item (within
//! `concurrency`), `retry` and `delay` wait on timers, and the engine commands `continue`,
//! `fail`, `noop` and `retry` act as Orquesta's do. A failure no transition
//! remediates fails the workflow: nothing new starts, running tasks finish, and the output is
//! still rendered. The result is `{output}` plus `errors` when there are any.
//!
//! Owns: the workflow's state machine and its persisted state (`state`), written with each
//! task's request and after every transition. Must not: run processes, take execution slots
//! or change an execution's status itself (the executor does).

mod definition;
mod rerun;
mod state;
mod transitions;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::Utc;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Map, Value, json};

use super::{Conduct, Signals, Tasks};
use crate::execution::Execution;
use crate::execution::{ExecutionRequest, ParentLink, RequestError};
use crate::registry::Registry;
use crate::runner::Outcome;
use crate::workflow::children::ChildExecutions;
use rerun::TaskReRun;
use st2d_core::orquesta::expr::{self, ExprError};
use st2d_core::orquesta::functions::Scope;
use st2d_core::orquesta::spec::{LoadError, SpecError, TaskSpec, WorkflowSpec};
use st2d_core::pack::model::Action;
use st2d_core::status::ExecutionStatus;
use state::{FlowState, Phase, Slot};

/// Why a workflow cannot start, or a task cannot go on; the message is an entry of the
/// result's `errors`.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The definition read and checked with the action.
    #[error("{0}")]
    Spec(SpecError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot read the workflow: {0}")]
    LoadTask(#[from] tokio::task::JoinError),
    #[error("entry_point is required by the orquesta runner")]
    NoEntryPoint,
    #[error(transparent)]
    Expression(#[from] ExprError),
    #[error("the items of task \"{task}\" are not a list: {items}")]
    ItemsNotList { task: String, items: Value },
    #[error("the retry delay is not a number of seconds")]
    RetryDelay,
}

/// Conducts an Orquesta execution.
pub async fn run(
    executor: &dyn ChildExecutions,
    registry: &Registry,
    action: &Action,
    workflow: &Execution,
    entry_point: Option<std::path::PathBuf>,
    signals: &Signals,
) -> Conduct {
    let tasks = Tasks::new(executor, workflow);
    let saved = tasks.load::<FlowState>();
    let re_run = TaskReRun::of(&workflow.context);
    // Inspected when a run starts, as StackStorm inspects a requested workflow; not again when
    // it goes on after a restart, nor for a re-run of a run that was.
    let inspect = saved.is_none() && re_run.is_none();
    let spec = match definition::read(registry, action, entry_point, inspect).await {
        Ok(spec) => spec,
        Err(result) => return Conduct::Done(Outcome { status: ExecutionStatus::Failed, result }),
    };
    let conductor = Conductor { executor, action, workflow, spec: &spec, tasks };
    let mut state = match saved {
        Some(mut state) => {
            state.upgrade();
            state
        }
        None if let Some(re_run) = &re_run => match conductor.resume(re_run) {
            Ok(state) => state,
            Err(error) => {
                // orquesta_runner.py's rerun_workflow: the error's message only.
                return Conduct::Done(Outcome {
                    status: ExecutionStatus::Failed,
                    result: json!({"output": null, "errors": [{"message": error.to_string()}]}),
                });
            }
        },
        None => match conductor.start() {
            Ok(state) => state,
            Err(error) => {
                return Conduct::Done(Outcome {
                    status: ExecutionStatus::Failed,
                    result: json!({"output": null, "errors": [{"type": "error", "message": error.to_string()}]}),
                });
            }
        },
    };
    match conductor.conduct(&mut state, signals).await {
        Some(suspended) => suspended,
        None => Conduct::Done(conductor.finish(&mut state)),
    }
}

/// How often a pausing workflow looks whether its subworkflows have paused.
const PAUSED_CHILDREN_CHECK: std::time::Duration = std::time::Duration::from_millis(200);

type Completion = Pin<Box<dyn Future<Output = (usize, usize, Option<Execution>)> + Send>>;

struct Conductor<'a> {
    executor: &'a dyn ChildExecutions,
    action: &'a Action,
    workflow: &'a Execution,
    spec: &'a WorkflowSpec,
    tasks: Tasks<'a>,
}

impl Conductor<'_> {
    /// The state of a workflow about to start: input and vars assigned in order, start tasks staged.
    fn start(&self) -> Result<FlowState, FlowError> {
        let resolved = self.workflow.resolved.clone().unwrap_or_default();
        let mut given = resolved.runner.clone();
        given.extend(resolved.action.clone());
        // Orquesta's initial context is StackStorm's (`st2`, and `parent`: the workflow
        // execution's context), with the input rendered in it and merged over it.
        let mut ctx = Map::new();
        ctx.insert("st2".to_string(), self.st2_context());
        if self.workflow.context.as_object().is_some_and(|c| !c.is_empty()) {
            ctx.insert("parent".to_string(), self.workflow.context.clone());
        }
        for (name, default) in &self.spec.input {
            let value = match (given.get(name), default) {
                (Some(value), _) if !value.is_null() => value.clone(),
                (_, Some(default)) => expr::evaluate(default, &self.scope(&ctx))?,
                (given, None) => given.cloned().unwrap_or(Value::Null),
            };
            ctx.insert(name.clone(), value);
        }
        // Parameters the input list does not name are offered too, as StackStorm passes
        // every parameter of the action.
        for (name, value) in given {
            if !self.spec.input.iter().any(|(input, _)| *input == name) {
                ctx.insert(name, value);
            }
        }
        for (name, value) in &self.spec.vars {
            let value = expr::evaluate(value, &self.scope(&ctx))?;
            ctx.insert(name.clone(), value);
        }
        let mut state = FlowState::starting_with(ctx);
        for name in &self.spec.starts {
            self.stage(&mut state, None, name, vec![0]);
        }
        Ok(state)
    }

    /// The state of a re-run that resumes another run from some of its tasks.
    fn resume(&self, re_run: &TaskReRun) -> Result<FlowState, rerun::ReRunError> {
        let original = crate::trigger::parse_id(&re_run.original)
            .and_then(|id| self.executor.load_state(id).ok().flatten())
            .and_then(|record| serde_json::from_slice::<FlowState>(&record).ok());
        re_run.resume(original)
    }

    /// StackStorm's runtime context, `ctx(st2)` (orquesta_runner.py's `_construct_st2_context`,
    /// and `workflow_execution_id` from workflows.py's `request`). st2d keeps no workflow
    /// execution apart from the action execution: both ids are the execution's. `api_url` is
    /// the REST API's URL (empty without `--http-listen`).
    fn st2_context(&self) -> Value {
        let mut st2 = json!({
            "action_execution_id": self.workflow.id,
            "api_url": self.executor.api_url(),
            "user": self.workflow.user,
            "pack": self.action.pack,
            "action": self.action.ref_,
            "runner": self.action.runner_type,
            "workflow_execution_id": self.workflow.id,
        });
        for key in ["api_user", "source_channel"] {
            if let Some(value) = self.workflow.context.get(key).filter(|v| !v.is_null()) {
                st2[key] = value.clone();
            }
        }
        st2
    }

    fn scope(&self, ctx: &Map<String, Value>) -> Scope {
        Scope::new(ctx.clone(), self.executor.datastore(), &self.workflow.user)
    }

    /// Runs the workflow until nothing is staged or running (`None`), or the daemon stops.
    async fn conduct(&self, state: &mut FlowState, signals: &Signals) -> Option<Conduct> {
        let mut pause = signals.pause.clone();
        state.paused = *pause.borrow();
        let mut waits: FuturesUnordered<Completion> = FuturesUnordered::new();
        // After a restart, wait again for every execution the saved state has in flight.
        for (index, run) in state.runs.iter().enumerate().filter(|(_, run)| run.phase == Phase::Running) {
            for (slot, entry) in run.slots.iter().enumerate() {
                if let (Some(id), None) = (&entry.execution_id, &entry.status) {
                    waits.push(self.wait(index, slot, id.clone()));
                }
            }
        }
        let mut reported_paused = false;
        // Whether to look at the statuses of the tasks in flight: after a restart, when one
        // went pending or paused, and after a resume.
        let mut recheck = true;
        // Whether the last look found a task that waits: the next completion looks again.
        let mut a_task_waits = false;
        loop {
            if signals.cancel.is_cancelled() && !state.canceling {
                self.cancel(state).await;
            }
            if !state.paused && !state.canceling {
                self.advance(state, &mut waits).await;
            }
            if std::mem::take(&mut recheck) && !state.paused && !state.canceling {
                let (pause_now, waiting) = self.waits_on_its_tasks(state);
                a_task_waits = waiting;
                if pause_now {
                    // Orquesta's TASK_PENDING, TASK_PAUSED_WORKFLOW_DORMANT and
                    // TASK_SUCCEEDED_WORKFLOW_*_PAUSED events: pausing while other tasks run,
                    // paused when none does (orquesta/machines.py).
                    state.paused = true;
                    reported_paused = false;
                    self.executor.pause_itself(&self.workflow.id);
                }
            }
            self.tasks.save(state);
            if !state.active() {
                return None;
            }
            if state.paused && !reported_paused && self.nothing_runs(state) {
                self.executor.report_paused(&self.workflow.id);
                reported_paused = true;
            }
            let wakeup = if state.paused || state.canceling { None } else { state.next_wakeup() };
            let sleep = async {
                match wakeup {
                    Some(at) => tokio::time::sleep((at - Utc::now()).to_std().unwrap_or_default()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some((run, slot, completed)) = waits.next(), if !waits.is_empty() => {
                    let Some(execution) = completed else {
                        self.tasks.save(state);
                        return Some(Conduct::Suspended);
                    };
                    if execution.status == ExecutionStatus::Canceled && !state.canceling {
                        // A task canceled on its own (a subworkflow, an action) cancels its
                        // workflow, and with it the other running tasks (test_cancel.py of
                        // StackStorm's orquesta runner: the cancellation cascades up).
                        self.executor.cancel_child(&self.workflow.id).await;
                        self.cancel(state).await;
                    }
                    self.slot_completed(state, run, slot, &execution);
                    recheck = a_task_waits;
                }
                () = sleep => {}
                // While pausing with tasks in flight, look again whether they have paused.
                () = tokio::time::sleep(PAUSED_CHILDREN_CHECK), if state.paused && !reported_paused && state.in_flight() > 0 => {}
                () = signals.cancel.cancelled(), if !state.canceling => {}
                () = signals.nudge.notified() => recheck = true,
                changed = pause.changed() => {
                    if changed.is_err() {
                        // The executor dropped the control channel: it is stopping.
                        self.tasks.save(state);
                        return Some(Conduct::Suspended);
                    }
                    let paused = *pause.borrow();
                    reported_paused = false;
                    recheck = !paused;
                    // A pause or resume asked of the workflow cascades down to the tasks that
                    // are workflows; one the workflow made itself (a task pending) does not.
                    if paused != state.paused {
                        state.paused = paused;
                        for id in state.in_flight_executions() {
                            self.executor.pause_child(&id, state.paused);
                        }
                    }
                }
                () = self.executor.until_stopping(), if waits.is_empty() => {
                    self.tasks.save(state);
                    return Some(Conduct::Suspended);
                }
            }
        }
    }

    /// Whether none of the workflow's tasks runs: none in flight, or each one in flight waits
    /// (an inquiry pending, a subworkflow paused).
    fn nothing_runs(&self, state: &FlowState) -> bool {
        state.in_flight_executions().iter().all(|id| self.executor.status_of(id).is_some_and(waits))
    }

    /// Whether the workflow is to pause for its tasks (one of them is a pending inquiry, or
    /// every one in flight waits), and whether any of them waits.
    fn waits_on_its_tasks(&self, state: &FlowState) -> (bool, bool) {
        let statuses: Vec<ExecutionStatus> =
            state.in_flight_executions().iter().filter_map(|id| self.executor.status_of(id)).collect();
        let any = statuses.iter().any(|status| waits(*status));
        let pause =
            statuses.contains(&ExecutionStatus::Pending) || (any && statuses.iter().all(|status| waits(*status)));
        (pause, any)
    }

    fn wait(&self, run: usize, slot: usize, id: String) -> Completion {
        let completion = self.executor.completion_of(id);
        Box::pin(async move {
            let completed = completion.await;
            (run, slot, completed)
        })
    }

    /// Cancels every running task; staged ones are dropped.
    async fn cancel(&self, state: &mut FlowState) {
        state.canceling = true;
        for run in state.runs.iter_mut() {
            if run.phase == Phase::Staged {
                run.phase = Phase::Skipped;
            }
        }
        for id in state.in_flight_executions() {
            self.executor.cancel_child(&id).await;
        }
        for run in state.runs.iter_mut().filter(|run| run.phase == Phase::Running && run.in_flight() == 0) {
            // Nothing of it runs: unrequested items are dropped.
            run.phase = Phase::Done;
            run.status = Some("canceled".to_string());
        }
    }

    /// Starts every staged run that is due and requests the executions runs can take, until
    /// nothing more can start now.
    async fn advance(&self, state: &mut FlowState, waits: &mut FuturesUnordered<Completion>) {
        loop {
            let now = Utc::now();
            let due = state
                .runs
                .iter()
                .position(|run| run.phase == Phase::Staged && run.not_before.is_none_or(|at| at <= now));
            if let Some(index) = due {
                self.begin(state, index);
                continue;
            }
            // A failing workflow still starts the tasks staged with the failure (`do: [log,
            // fail]`), but no further items of tasks under way.
            let requestable = state.runs.iter().enumerate().find_map(|(index, run)| {
                (run.phase == Phase::Running && (!state.failing || !run.started()))
                    .then(|| run.next_slot().map(|slot| (index, slot)))
                    .flatten()
            });
            let Some((index, slot)) = requestable else { break };
            if self.executor.stopping() {
                break;
            }
            self.request(state, index, slot, waits).await;
        }
        // A failing workflow requests no more items: runs with nothing in flight end.
        if state.failing {
            for index in 0..state.runs.len() {
                let run = &state.runs[index];
                if run.phase == Phase::Running && run.started() && run.in_flight() == 0 {
                    self.run_completed(state, index);
                }
            }
        }
    }

    /// Moves a staged run to running: its items are evaluated; a task with no action, or no
    /// items, completes at once.
    fn begin(&self, state: &mut FlowState, index: usize) {
        let task = &self.spec.tasks[&state.runs[index].name];
        let scope = self.scope(&state.runs[index].ctx);
        let sequence = state.next_sequence();
        let run = &mut state.runs[index];
        run.phase = Phase::Running;
        run.status = None;
        run.sequence = sequence;
        if let Some(with) = &task.with {
            let items = expr::evaluate(&with.items, &scope).map_err(FlowError::from).and_then(|items| match items {
                Value::Array(items) => Ok(items),
                other => Err(FlowError::ItemsNotList { task: task.name.clone(), items: other }),
            });
            let concurrency = with
                .concurrency
                .as_ref()
                .map(|c| expr::evaluate(c, &scope).map(|c| c.as_u64().map(|n| n.max(1) as usize)))
                .transpose()
                .map(Option::flatten)
                .map_err(FlowError::from);
            match (items, concurrency) {
                (Ok(items), Ok(concurrency)) => {
                    run.slots = vec![Slot::default(); items.len()];
                    run.items = Some(items);
                    run.concurrency = concurrency;
                }
                (Err(error), _) | (_, Err(error)) => {
                    run.slots = vec![Slot { status: Some("failed".into()), ..Slot::default() }];
                    state.failing = true;
                    state.task_error(&task.name, error.to_string());
                    self.run_completed(state, index);
                    return;
                }
            }
        } else {
            run.slots = vec![Slot::default()];
        }
        if task.action.is_none() {
            run.slots = vec![Slot { status: Some("succeeded".into()), ..Slot::default() }];
            run.items = None;
        }
        if run.slots.is_empty() || task.action.is_none() {
            self.run_completed(state, index);
        }
    }

    /// Requests the execution of one slot of a run, recording it in the same flush.
    async fn request(
        &self,
        state: &mut FlowState,
        index: usize,
        slot: usize,
        waits: &mut FuturesUnordered<Completion>,
    ) {
        let task = &self.spec.tasks[&state.runs[index].name];
        let run = &state.runs[index];
        let mut scope = self.scope(&run.ctx);
        scope.tasks = Arc::new(state.views());
        scope.item = run.items.as_ref().map(|items| item_value(task, &items[slot]));
        let rendered = task
            .action
            .as_ref()
            .map(|action| expr::evaluate(action, &scope))
            .transpose()
            .and_then(|action| Ok((action, expr::evaluate(&task.input, &scope)?)));
        let (action, input) = match rendered {
            Ok((Some(Value::String(action)), Value::Object(input))) => (action, input),
            Ok((action, input)) => {
                let problem = match input {
                    Value::Object(_) => format!("the action of task \"{}\" is not a reference: {action:?}", task.name),
                    other => format!("the input of task \"{}\" is not a mapping: {other}", task.name),
                };
                return self.slot_failed(state, index, slot, problem);
            }
            Err(error) => return self.slot_failed(state, index, slot, error.to_string()),
        };
        // workflows.py's `request_action_execution`: the task's `orquesta` context (no
        // `task_execution_id`: st2d keeps no task execution records).
        let mut orquesta = json!({
            "workflow_execution_id": self.workflow.id,
            "task_name": task.name,
            "task_id": task.name,
            "task_route": 0,
        });
        if run.items.is_some() {
            orquesta["item_id"] = json!(slot);
        }
        let link = ParentLink::of(self.workflow, &task.name, Map::from_iter([("orquesta".to_string(), orquesta)]));
        let request = ExecutionRequest {
            action: action.clone(),
            parameters: input,
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
                    state.runs[index].slots[slot].execution_id = Some(child.id.clone());
                    self.tasks.write(state)
                }),
            )
            .await;
        match requested {
            Ok(child) => waits.push(self.wait(index, slot, child.id)),
            Err(RequestError::ActionNotFound(action)) => {
                let problem = format!("The action \"{action}\" of task \"{}\" is not registered.", task.name);
                self.slot_failed(state, index, slot, problem);
            }
            Err(error) => {
                let problem = format!("Failed to request the execution of task \"{}\": {error}", task.name);
                self.slot_failed(state, index, slot, problem);
            }
        }
    }

    /// A slot that could not be requested fails its task and the workflow.
    fn slot_failed(&self, state: &mut FlowState, index: usize, slot: usize, problem: String) {
        let name = state.runs[index].name.clone();
        let entry = &mut state.runs[index].slots[slot];
        entry.execution_id = None;
        entry.status = Some("failed".to_string());
        entry.result = json!({"error": problem});
        state.failing = true;
        state.task_error(&name, problem);
        if state.runs[index].in_flight() == 0 {
            self.run_completed(state, index);
        }
    }

    /// Records a completed execution; a run whose executions are all done completes.
    fn slot_completed(&self, state: &mut FlowState, index: usize, slot: usize, execution: &Execution) {
        let Some(entry) = state.runs.get_mut(index).and_then(|run| run.slots.get_mut(slot)) else { return };
        entry.status = Some(execution.status.as_str().to_string());
        entry.result = execution.result.clone().unwrap_or(Value::Null);
        let run = &state.runs[index];
        let more = !state.failing && !state.canceling && run.slots.iter().any(|s| s.status.is_none());
        if run.phase == Phase::Running && run.in_flight() == 0 && !more {
            self.run_completed(state, index);
        }
    }

    /// The workflow's outcome once nothing runs: the output rendered from the terminal context,
    /// each entry in order with those before it in scope; an entry that fails to render is an
    /// error and fails the workflow, the others are kept; no entries is `output: null`
    /// (`render_workflow_output` in orquesta/conducting.py, `update_workflow_execution` in
    /// st2common/services/workflows.py).
    fn finish(&self, state: &mut FlowState) -> Outcome {
        if state.canceling {
            return Outcome { status: ExecutionStatus::Canceled, result: json!({"output": null}) };
        }
        if !state.failing {
            fail_unreachable_joins(state);
        }
        if let Some(index) = state.closer.take() {
            let run = &state.runs[index];
            let (sequence, ctx_in) = (run.sequence, run.ctx_in.clone());
            state.terminate(sequence, ctx_in);
        }
        let mut ctx = state.terminal_context();
        let mut output = Map::new();
        for (name, value) in &self.spec.output {
            let mut scope = self.scope(&ctx);
            scope.tasks = Arc::new(state.views());
            match expr::evaluate(value, &scope) {
                Ok(value) => {
                    ctx.insert(name.clone(), value.clone());
                    output.insert(name.clone(), value);
                }
                Err(error) => {
                    state.failing = true;
                    state.error(None, error.to_string(), None);
                }
            }
        }
        let output = if output.is_empty() { Value::Null } else { Value::Object(output) };
        let mut result = json!({"output": output});
        // Errors are part of the result only when the workflow failed: a remediated task
        // failure is logged but the workflow succeeds without it.
        if state.failing {
            result["errors"] = Value::Array(state.errors.clone());
        }
        let status = if state.failing { ExecutionStatus::Failed } else { ExecutionStatus::Succeeded };
        self.tasks.save(state);
        Outcome { status, result }
    }
}

/// Whether a task in this status waits for something outside the workflow (a response, a
/// resume) rather than runs.
fn waits(status: ExecutionStatus) -> bool {
    matches!(status, ExecutionStatus::Pending | ExecutionStatus::Paused)
}

/// A join some branches reached but that can no longer fire, now that nothing runs, fails the
/// workflow (Orquesta's `UnreachableJoinError`) rather than letting it succeed without it.
fn fail_unreachable_joins(state: &mut FlowState) {
    let unreachable: Vec<String> = state
        .joins
        .iter()
        .filter(|(_, join)| !join.fired && !join.arrived.is_empty())
        .map(|(name, _)| name.clone())
        .collect();
    for name in unreachable {
        state.failing = true;
        let message =
            format!("UnreachableJoinError: The join task|route \"{name}|0\" is partially satisfied but unreachable.");
        state.error(Some(&name), message, None);
    }
}

/// What `item()` gives for one item: the item, or with named items a mapping of the names.
fn item_value(task: &TaskSpec, item: &Value) -> Value {
    let names = task.with.as_ref().map(|w| w.names.as_slice()).unwrap_or_default();
    match names {
        [] => item.clone(),
        [one] => Value::Object(Map::from_iter([(one.clone(), item.clone())])),
        many => {
            let parts = item.as_array().cloned().unwrap_or_default();
            Value::Object(
                many.iter()
                    .enumerate()
                    .map(|(i, name)| (name.clone(), parts.get(i).cloned().unwrap_or(Value::Null)))
                    .collect(),
            )
        }
    }
}
