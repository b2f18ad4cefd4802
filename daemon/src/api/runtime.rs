//! The control plane's runtime verbs: firing triggers, rule toggles, enforcements and
//! executions. `service` delegates here so each file keeps one concern.
//!
//! Owns: request validation for these verbs and their mapping to `tonic::Status`. Must not:
//! hold state or block the runtime on store scans of size (they run on blocking threads).

use serde_json::{Map, Value};
use st2d_proto::v1 as pb;
use tokio::sync::oneshot;
use tonic::Status;

use super::convert;
use super::status::{self, internal};
use crate::execution::Execution;
use crate::executor::ReRun;
use crate::reload::Published;
use crate::service::ServiceError;
use crate::service::enforcements::{self, EnforcementFilter};
use crate::service::executions::{self, ExecutionFilter, RunRequest, Tree};
use crate::service::{Runtime, Window};
use crate::trigger::parse_id;

/// A JSON object from a `*_json` field ("" is an empty object); the error names the field.
pub fn object_field(text: &str, field: &str) -> Result<Map<String, Value>, Status> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(status::invalid_argument(format!("{field} must be a JSON object, not {other}"))),
        Err(error) => Err(status::invalid_argument(format!("{field} is not valid JSON: {error}"))),
    }
}

fn schema_of(published: &Published, action: &str) -> Value {
    published.registry().action(action).map(|a| a.parameters.parse()).unwrap_or(Value::Null)
}

pub fn execution_message(published: &Published, execution: &Execution) -> pb::Execution {
    convert::execution(execution, &schema_of(published, &execution.action))
}

pub async fn fire_trigger(
    published: &Published,
    runtime: &Runtime,
    request: pb::FireTriggerRequest,
) -> Result<pb::TriggerInstance, Status> {
    let trigger = request.trigger.trim().to_string();
    if trigger.is_empty() {
        return Err(status::invalid_argument("trigger is required"));
    }
    let mut payload = Value::Object(object_field(&request.payload_json, "payload_json")?);
    crate::trigger::validate_dispatch(&published.registry(), &trigger, &mut payload)
        .map_err(status::invalid_argument)?;
    runtime.journal.admission().admit().map_err(ServiceError::from)?;
    let (tx, rx) = oneshot::channel();
    let trace_tag = (!request.trace_tag.is_empty()).then_some(request.trace_tag);
    let reply = Box::new(move |result| {
        let _ = tx.send(result);
    });
    runtime.journal.append(trigger, payload, Some("api".to_string()), trace_tag, reply).await;
    let id = rx.await.map_err(|_| status::unavailable("the daemon is shutting down"))?.map_err(status::unavailable)?;
    let numeric = parse_id(&id).ok_or_else(|| internal("journal returned a bad id"))?;
    let processed_through = runtime.store.processed_through().map_err(internal)?;
    let record = runtime.store.trigger_instance(numeric).map_err(internal)?.ok_or_else(|| internal("instance lost"))?;
    let instance = crate::trigger::from_record(&record, processed_through).map_err(internal)?;
    Ok(convert::trigger_instance(&instance))
}

pub fn list_enforcements(
    runtime: &Runtime,
    request: pb::ListRuleEnforcementsRequest,
) -> Result<pb::ListRuleEnforcementsResponse, Status> {
    let filter = EnforcementFilter {
        rule_ref: request.rule,
        trigger_instance: request.trigger_instance,
        ..EnforcementFilter::default()
    };
    let window = Window { offset: 0, limit: (request.limit > 0).then_some(request.limit as usize) };
    let page = enforcements::list(runtime, &filter, window)?;
    Ok(pb::ListRuleEnforcementsResponse { enforcements: page.items.iter().map(convert::enforcement).collect() })
}

pub async fn run_action(
    published: &Published,
    runtime: &Runtime,
    request: pb::RunActionRequest,
) -> Result<pb::Execution, Status> {
    let run = RunRequest {
        action: request.action,
        parameters: object_field(&request.parameters_json, "parameters_json")?,
        user: request.user,
        trace_tag: (!request.trace_tag.is_empty()).then_some(request.trace_tag),
        context: Map::new(),
        typed: false,
    };
    let execution = executions::run(runtime, run).await?;
    Ok(execution_message(published, &execution))
}

pub fn list_executions(
    published: &Published,
    runtime: &Runtime,
    request: pb::ListExecutionsRequest,
) -> Result<pb::ListExecutionsResponse, Status> {
    let filter = ExecutionFilter {
        action: request.action,
        status: request.status,
        rule: request.rule,
        trigger_instance: request.trigger_instance,
        include_children: request.include_children,
        ..ExecutionFilter::default()
    };
    let window = Window { offset: 0, limit: (request.limit > 0).then_some(request.limit as usize) };
    let page = executions::list(runtime, &filter, window)?;
    Ok(pb::ListExecutionsResponse { executions: page.items.iter().map(|e| execution_message(published, e)).collect() })
}

/// One execution with its task tree, when it is a workflow.
pub fn get_execution(published: &Published, runtime: &Runtime, id: &str) -> Result<pb::Execution, Status> {
    Ok(tree_message(published, &executions::tree(runtime, id, executions::TREE_DEPTH)?))
}

fn tree_message(published: &Published, tree: &Tree) -> pb::Execution {
    let mut message = execution_message(published, &tree.execution);
    message.children = tree.children.iter().map(|child| tree_message(published, child)).collect();
    message
}

pub async fn cancel_execution(published: &Published, runtime: &Runtime, id: &str) -> Result<pb::Execution, Status> {
    Ok(execution_message(published, &executions::cancel(runtime, id).await?))
}

/// Runs a completed execution again (`st2 execution re-run`).
pub async fn re_run_execution(
    published: &Published,
    runtime: &Runtime,
    request: pb::ReRunRequest,
) -> Result<pb::Execution, Status> {
    let re_run = ReRun {
        parameters: object_field(&request.parameters_json, "parameters_json")?,
        tasks: request.tasks,
        reset: request.reset,
        user: request.user,
    };
    Ok(execution_message(published, &executions::re_run(runtime, &request.id, re_run).await?))
}

/// Pauses (`pause`) or resumes an Orquesta workflow.
pub fn pause_execution(
    published: &Published,
    runtime: &Runtime,
    id: &str,
    pause: bool,
) -> Result<pb::Execution, Status> {
    Ok(execution_message(published, &executions::pause(runtime, id, pause)?))
}

pub type ExecutionEvents =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::ExecutionEvent, Status>> + Send + 'static>>;

/// The execution now, its output so far, live output and status changes, and its final state.
pub fn watch_execution(published: &Published, runtime: &Runtime, id: &str) -> Result<ExecutionEvents, Status> {
    use pb::execution_event::Event;
    // Subscribe before reading, so a change in between is not missed.
    let mut updates = runtime.executor.subscribe();
    let output = runtime.executor.output(id);
    let current =
        runtime.executor.get(id).ok_or_else(|| status::not_found(format!("execution {id} does not exist")))?;
    let published = published.clone();
    let id = id.to_string();
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move {
        let send = |event: Event| {
            let tx = tx.clone();
            async move { tx.send(Ok(pb::ExecutionEvent { event: Some(event) })).await.is_ok() }
        };
        if !send(Event::Execution(execution_message(&published, &current))).await || current.status.is_completed() {
            return;
        }
        let (kept, mut lines) = match &output {
            Some(output) => {
                let (kept, rx) = output.subscribe();
                (kept, Some(rx))
            }
            None => (Vec::new(), None),
        };
        for line in kept {
            let event = Event::Output(pb::OutputLine { stream: line.stream.as_str().to_string(), line: line.line });
            if !send(event).await {
                return;
            }
        }
        loop {
            let next_line = async {
                match &mut lines {
                    Some(rx) => rx.recv().await.ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                line = next_line => match line {
                    Some(line) => {
                        let event = Event::Output(pb::OutputLine { stream: line.stream.as_str().to_string(), line: line.line });
                        if !send(event).await { return; }
                    }
                    None => lines = None,
                },
                update = updates.recv() => match update {
                    Ok(announced) if announced.execution.id == id => {
                        let execution = &announced.execution;
                        let done = execution.status.is_completed();
                        // Output printed before the end arrives before the end.
                        while let Some(line) = done.then(|| lines.as_mut().and_then(|rx| rx.try_recv().ok())).flatten() {
                            let event = Event::Output(pb::OutputLine { stream: line.stream.as_str().to_string(), line: line.line });
                            if !send(event).await { return; }
                        }
                        if !send(Event::Execution(execution_message(&published, execution))).await || done {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
}
