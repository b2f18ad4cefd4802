//! The inquiry RPCs: ListInquiries, GetInquiry, RespondInquiry (StackStorm's
//! st2api/controllers/v1/inquiries.py).
//!
//! Owns: proto conversion. Must not: decide what a request means (`service::inquiries` does),
//! check a response or change an execution itself (`action::inquiry` and the executor do).

use serde_json::Value;
use st2d_proto::v1 as pb;
use tonic::Status;

use super::runtime::{execution_message, object_field};
use crate::action::inquiry;
use crate::execution::Execution;
use crate::reload::Published;
use crate::service::{Runtime, inquiries};

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
    let limit = (request.limit > 0).then_some(request.limit as usize);
    let inquiries = inquiries::list(runtime, limit).iter().map(|execution| message(published, execution)).collect();
    pb::ListInquiriesResponse { inquiries }
}

pub fn get_inquiry(published: &Published, runtime: &Runtime, id: &str) -> Result<pb::Inquiry, Status> {
    Ok(message(published, &inquiries::get(runtime, id)?))
}

pub async fn respond_inquiry(
    runtime: &Runtime,
    request: &pb::RespondInquiryRequest,
) -> Result<pb::InquiryResponse, Status> {
    let response = Value::Object(object_field(&request.response_json, "response_json")?);
    let (id, response) = inquiries::respond(runtime, &request.id, response, &request.user).await?;
    Ok(pb::InquiryResponse { id, response_json: response.to_string() })
}
