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
use super::service::Runtime;
use super::status::{self, internal};
use crate::execution::Execution;
use crate::execution::ExecutionRequest;
use crate::execution::enforcement::Enforcement;
use crate::executor::ReRun;
use crate::reload::Published;
use crate::trigger::parse_id;
use st2d_core::status::ExecutionStatus;

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
    let limit = if request.limit == 0 { 50 } else { request.limit as usize };
    let keep = |e: &Enforcement| {
        (request.rule.is_empty() || e.rule == request.rule)
            && (request.trigger_instance.is_empty() || e.trigger_instance == request.trigger_instance)
    };
    let records = match parse_id(&request.trigger_instance).filter(|_| !request.trigger_instance.is_empty()) {
        Some(instance) => runtime.store.enforcements_of(instance).map_err(internal)?,
        None => runtime
            .store
            .recent_enforcements(limit, |record| Enforcement::from_record(record).is_some_and(|e| keep(&e)))
            .map_err(internal)?,
    };
    let mut enforcements: Vec<Enforcement> =
        records.iter().filter_map(|r| Enforcement::from_record(r)).filter(|e| keep(e)).collect();
    enforcements.sort_by_key(|e| std::cmp::Reverse(e.enforced_at));
    enforcements.truncate(limit);
    Ok(pb::ListRuleEnforcementsResponse { enforcements: enforcements.iter().map(convert::enforcement).collect() })
}

pub async fn run_action(
    published: &Published,
    runtime: &Runtime,
    request: pb::RunActionRequest,
) -> Result<pb::Execution, Status> {
    let action = request.action.trim().to_string();
    if action.is_empty() {
        return Err(status::invalid_argument("action is required"));
    }
    let parameters = object_field(&request.parameters_json, "parameters_json")?;
    let trace_tag = (!request.trace_tag.is_empty()).then_some(request.trace_tag);
    let execution = runtime
        .executor
        .request(ExecutionRequest {
            action,
            parameters,
            user: request.user,
            rule: None,
            trigger_instance: None,
            trace_tag,
            parent: None,
            context: Default::default(),
        })
        .await
        .map_err(Status::from)?;
    Ok(execution_message(published, &execution))
}

pub fn list_executions(
    published: &Published,
    runtime: &Runtime,
    request: pb::ListExecutionsRequest,
) -> Result<pb::ListExecutionsResponse, Status> {
    let limit = if request.limit == 0 { 50 } else { request.limit as usize };
    let status = match request.status.trim() {
        "" => None,
        text => Some(
            ExecutionStatus::parse(text)
                .ok_or_else(|| status::invalid_argument(format!("\"{text}\" is not an execution status")))?,
        ),
    };
    let keep = |e: &Execution| {
        (request.include_children || e.parent.is_none())
            && (request.action.is_empty() || e.action == request.action)
            && status.is_none_or(|s| e.status == s)
            && (request.rule.is_empty() || e.rule.as_deref() == Some(request.rule.as_str()))
            && (request.trigger_instance.is_empty()
                || e.trigger_instance.as_deref() == Some(request.trigger_instance.as_str()))
    };
    let records = runtime
        .store
        .recent_executions(limit, |record| Execution::from_record(record).is_some_and(|e| keep(&e)))
        .map_err(internal)?;
    let executions =
        records.iter().filter_map(|r| Execution::from_record(r)).map(|e| execution_message(published, &e)).collect();
    Ok(pb::ListExecutionsResponse { executions })
}

/// How deep `GetExecution` follows workflows within workflows.
const TREE_DEPTH: usize = 16;

/// One execution with its task tree, when it is a workflow.
pub fn get_execution(published: &Published, runtime: &Runtime, id: &str) -> Result<pb::Execution, Status> {
    let execution =
        runtime.executor.get(id).ok_or_else(|| status::not_found(format!("execution {id} does not exist")))?;
    Ok(with_children(published, runtime, &execution, TREE_DEPTH))
}

fn with_children(published: &Published, runtime: &Runtime, execution: &Execution, depth: usize) -> pb::Execution {
    let mut message = execution_message(published, execution);
    if depth > 0 {
        message.children = runtime
            .executor
            .children(&execution.id)
            .iter()
            .map(|child| with_children(published, runtime, child, depth - 1))
            .collect();
    }
    message
}

pub async fn cancel_execution(published: &Published, runtime: &Runtime, id: &str) -> Result<pb::Execution, Status> {
    let execution = runtime.executor.cancel(id).await?;
    Ok(execution_message(published, &execution))
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
    let execution = runtime.executor.re_run(request.id.trim(), re_run).await?;
    Ok(execution_message(published, &execution))
}

/// Pauses (`pause`) or resumes an Orquesta workflow.
pub fn pause_execution(
    published: &Published,
    runtime: &Runtime,
    id: &str,
    pause: bool,
) -> Result<pb::Execution, Status> {
    let changed = if pause { runtime.executor.pause(id) } else { runtime.executor.resume(id) };
    let execution = changed?;
    Ok(execution_message(published, &execution))
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
                    Ok(execution) if execution.id == id => {
                        let done = execution.status.is_completed();
                        // Output printed before the end arrives before the end.
                        while let Some(line) = done.then(|| lines.as_mut().and_then(|rx| rx.try_recv().ok())).flatten() {
                            let event = Event::Output(pb::OutputLine { stream: line.stream.as_str().to_string(), line: line.line });
                            if !send(event).await { return; }
                        }
                        if !send(Event::Execution(execution_message(&published, &execution))).await || done {
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
