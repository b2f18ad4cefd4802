//! The inquiry RPCs: ListInquiries, GetInquiry, RespondInquiry (StackStorm's
//! st2api/controllers/v1/inquiries.py).
//!
//! Owns: request checks and proto conversion. Must not: check a
//! response or change an execution itself (`action::inquiry` and the executor do).

use serde_json::Value;
use st2d_proto::v1 as pb;
use tonic::Status;

use super::runtime::{execution_message, object_field};
use super::status;
use crate::action::inquiry;
use crate::execution::Execution;
use crate::reload::Published;
use crate::service::Runtime;
use st2d_core::template::SYSTEM_USER;

/// Inquiries listed when a request names no limit.
const DEFAULT_LIMIT: usize = 50;

fn message(published: &Published, execution: &Execution) -> pb::Inquiry {
    let view = inquiry::view(execution);
    let names = |field: &str| -> Vec<String> {
        view[field]
            .as_array()
            .map(|l| l.iter().filter_map(Value::as_str).map(String::from).collect())
            .unwrap_or_default()
    };
    pb::Inquiry {
        id: execution.id.clone(),
        route: view["route"].as_str().unwrap_or_default().to_string(),
        ttl: view["ttl"].as_i64().unwrap_or(inquiry::DEFAULT_TTL),
        users: names("users"),
        roles: names("roles"),
        schema_json: view["schema"].to_string(),
        execution: Some(execution_message(published, execution)),
    }
}

pub fn list_inquiries(
    published: &Published,
    runtime: &Runtime,
    request: &pb::ListInquiriesRequest,
) -> pb::ListInquiriesResponse {
    let limit = if request.limit == 0 { DEFAULT_LIMIT } else { request.limit as usize };
    let inquiries = runtime.executor.inquiries(limit).iter().map(|execution| message(published, execution)).collect();
    pb::ListInquiriesResponse { inquiries }
}

pub fn get_inquiry(published: &Published, runtime: &Runtime, id: &str) -> Result<pb::Inquiry, Status> {
    let execution = runtime.executor.inquiry(id)?;
    inquiry::check_open(&execution)?;
    Ok(message(published, &execution))
}

pub async fn respond_inquiry(
    runtime: &Runtime,
    request: &pb::RespondInquiryRequest,
) -> Result<pb::InquiryResponse, Status> {
    let id = request.id.trim();
    if id.is_empty() {
        return Err(status::invalid_argument("id is required"));
    }
    let response = Value::Object(object_field(&request.response_json, "response_json")?);
    let user = if request.user.is_empty() { SYSTEM_USER } else { request.user.as_str() };
    let answered = runtime.executor.respond(id, response, user).await?;
    let response = answered.result.as_ref().and_then(|r| r.get("response")).cloned().unwrap_or(Value::Null);
    Ok(pb::InquiryResponse { id: answered.id, response_json: response.to_string() })
}
