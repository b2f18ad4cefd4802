//! The `inquirer` runner (`core.ask`) and what an inquiry is (ST2-COMPAT.md 2.3): the runner
//! announces the inquiry as `core.st2.generic.inquiry` (`{id, route}`) and leaves its execution
//! `pending` with `{schema, roles, users, route, ttl}` as its result; a response is checked
//! (still pending, allowed to answer, valid against the schema with its defaults applied) and
//! becomes `result.response` of a `succeeded` execution.
//!
//! Owns: the runner, the inquiry's view and the checks of a response, with StackStorm's
//! messages (st2common/exceptions/inquiry.py, st2common/services/inquiry.py). Must not:
//! change an execution's status or resume a workflow (the executor does).

use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use crate::execution::Execution;
use crate::runner::{Job, Outcome};
use crate::trigger::journal::JournalError;
use st2d_core::status::ExecutionStatus;

/// The runner of inquiries.
pub const RUNNER: &str = "inquirer";

/// The trigger announcing a new inquiry.
pub const TRIGGER: &str = "core.st2.generic.inquiry";

/// StackStorm's `[inquiry]` default TTL, in minutes.
pub const DEFAULT_TTL: i64 = 1440;

/// The schema asked when an action gives none (inquirer_runner.py's `DEFAULT_SCHEMA`).
pub fn default_schema() -> Value {
    json!({
        "title": "response_data",
        "type": "object",
        "properties": {
            "continue": {"type": "boolean", "description": "Would you like to continue the workflow?", "required": true}
        }
    })
}

/// Why a response is refused; the text is StackStorm's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InquiryError {
    #[error("inquiry {0} does not exist")]
    NotFound(String),
    #[error("Action execution \"{0}\" is not an inquiry.")]
    NotAnInquiry(String),
    #[error("Inquiry \"{0}\" timed out and cannot be responded to.")]
    TimedOut(String),
    #[error("Inquiry \"{0}\" has already been responded to.")]
    AlreadyResponded(String),
    #[error("User \"{user}\" does not have permission to respond to inquiry \"{id}\".")]
    Unauthorized { id: String, user: String },
    #[error("Response for inquiry \"{id}\" did not pass schema validation. {error}")]
    Invalid { id: String, error: String },
    #[error("cannot record the response: {0}")]
    Store(String),
}

/// Runs `core.ask`: announces the inquiry and leaves the execution pending.
pub async fn run(job: &Job<'_>) -> Outcome {
    let runner = &job.runner;
    let schema = match runner.get("schema") {
        Some(Value::Object(schema)) => Value::Object(schema.clone()),
        _ => default_schema(),
    };
    let route = job.runner_text("route").unwrap_or_default();
    let ttl = runner.get("ttl").and_then(Value::as_i64).unwrap_or(DEFAULT_TTL);
    let list = |name: &str| runner.get(name).filter(|v| v.is_array()).cloned().unwrap_or_else(|| json!([]));
    let payload = json!({"id": job.execution.id, "route": route});
    let (done, journaled) = oneshot::channel();
    let reply = Box::new(move |result: Result<String, JournalError>| {
        let _ = done.send(result);
    });
    job.context.journal.append(TRIGGER.to_string(), payload, Some(job.action.ref_.clone()), None, reply).await;
    if let Ok(Err(error)) | Err(error) = journaled.await.map_err(|_| JournalError::Stopped) {
        return Outcome::failed(format!("cannot announce the inquiry: {error}"));
    }
    Outcome {
        status: ExecutionStatus::Pending,
        result: json!({"schema": schema, "roles": list("roles"), "users": list("users"), "route": route, "ttl": ttl}),
    }
}

/// Whether `execution` is an inquiry.
pub fn is_inquiry(execution: &Execution) -> bool {
    execution.runner == RUNNER
}

/// An inquiry as StackStorm's API shows it (`InquiryResponseAPI`): `{id, route, ttl, users,
/// roles, schema}`.
pub fn view(execution: &Execution) -> Value {
    let result = execution.result.clone().unwrap_or(Value::Null);
    let mut view = Map::new();
    view.insert("id".to_string(), Value::String(execution.id.clone()));
    for field in ["route", "ttl", "users", "roles", "schema"] {
        view.insert(field.to_string(), result.get(field).cloned().unwrap_or(Value::Null));
    }
    Value::Object(view)
}

/// `check_inquiry`: the execution is an inquiry still waiting for its response.
pub fn check_open(execution: &Execution) -> Result<(), InquiryError> {
    let id = execution.id.clone();
    if !is_inquiry(execution) {
        return Err(InquiryError::NotAnInquiry(id));
    }
    match execution.status {
        ExecutionStatus::Pending => Ok(()),
        ExecutionStatus::Timeout => Err(InquiryError::TimedOut(id)),
        _ => Err(InquiryError::AlreadyResponded(id)),
    }
}

/// `check_permission`: with `users`, only those may answer. `roles` need RBAC, which st2d does
/// not have: as StackStorm without its RBAC backend, a role list lets nobody through.
pub fn check_permission(execution: &Execution, user: &str) -> Result<(), InquiryError> {
    let result = execution.result.as_ref();
    let names = |field: &str| -> Vec<String> {
        result
            .and_then(|r| r.get(field))
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).map(String::from).collect())
            .unwrap_or_default()
    };
    let (users, roles) = (names("users"), names("roles"));
    let users_pass = users.is_empty() || users.iter().any(|allowed| allowed == user);
    if users_pass && roles.is_empty() {
        return Ok(());
    }
    Err(InquiryError::Unauthorized { id: execution.id.clone(), user: user.to_string() })
}

/// `validate_response`: the response against the inquiry's schema, with its defaults applied.
pub fn validate(execution: &Execution, response: &mut Value) -> Result<(), InquiryError> {
    let schema = execution.result.as_ref().and_then(|r| r.get("schema")).cloned().unwrap_or_else(default_schema);
    crate::trigger::payload::validate_as(response, &schema, "response")
        .map_err(|error| InquiryError::Invalid { id: execution.id.clone(), error: error.to_string() })
}

/// Whether an inquiry has outlived its TTL.
pub fn expired(execution: &Execution, now: chrono::DateTime<chrono::Utc>) -> bool {
    deadline(execution).is_some_and(|deadline| now >= deadline)
}

/// When an inquiry expires: `ttl` minutes after it started; `None` with a TTL of zero or less
/// (`purge_inquiries` skips those). StackStorm compares whole minutes and so lets a TTL of one
/// minute run up to two; st2d expires at the TTL.
pub fn deadline(execution: &Execution) -> Option<chrono::DateTime<chrono::Utc>> {
    let ttl = execution.result.as_ref().and_then(|r| r.get("ttl")).and_then(Value::as_i64).unwrap_or(DEFAULT_TTL);
    (ttl > 0).then(|| execution.start_timestamp + chrono::Duration::minutes(ttl))
}

#[cfg(test)]
#[path = "inquiry_tests.rs"]
mod tests;
