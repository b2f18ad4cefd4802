//! Inquiries as the doors offer them (StackStorm's st2api/controllers/v1/inquiries.py): list
//! the pending ones, read one, respond to one as a user.
//!
//! Owns: what an inquiry request means. Must not: check a response or change an execution
//! itself (`action::inquiry` and the executor do).

use serde_json::Value;

use super::{Runtime, ServiceError, acting_user};
use crate::action::inquiry;
use crate::execution::Execution;

/// Inquiries listed when a request names no limit.
pub const DEFAULT_LIMIT: usize = 50;

pub fn list(runtime: &Runtime, limit: Option<usize>) -> Vec<Execution> {
    runtime.executor.inquiries(limit.unwrap_or(DEFAULT_LIMIT))
}

/// A pending inquiry (one already answered or timed out is refused with StackStorm's message).
pub fn get(runtime: &Runtime, id: &str) -> Result<Execution, ServiceError> {
    let execution = runtime.executor.inquiry(id.trim())?;
    inquiry::check_open(&execution)?;
    Ok(execution)
}

/// Responds to inquiry `id` as `user`; the response as recorded.
pub async fn respond(
    runtime: &Runtime,
    id: &str,
    response: Value,
    user: &str,
) -> Result<(String, Value), ServiceError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(ServiceError::invalid("id is required"));
    }
    let answered = runtime.executor.respond(id, response, acting_user(user)).await?;
    let response = answered.result.as_ref().and_then(|r| r.get("response")).cloned().unwrap_or(Value::Null);
    Ok((answered.id, response))
}
