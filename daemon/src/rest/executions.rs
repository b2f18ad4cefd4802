//! `/api/v1/executions` (StackStorm's st2api/controllers/v1/actionexecutions.py): run an
//! action, list and read executions, their children, and cancel one.
//!
//! Owns: these routes. Must not: filter, validate or change executions itself
//! (`service::executions` does).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::body::JsonBody;
use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::auth::Principal;
use crate::execution::Execution;
use crate::service::ServiceError;
use crate::service::executions::{self, ExecutionFilter, RunRequest, Tree};

fn view(rest: &Rest, execution: &Execution, show_secrets: bool) -> Value {
    let children = executions::child_ids(&rest.services.runtime, &execution.id);
    views::execution(&rest.services.published.registry(), execution, &children, show_secrets)
}

pub async fn list(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let window = params.window()?;
    let attributes = Attributes::from_params(&params)?;
    let show_secrets = params.flag("show_secrets")?;
    let parent = params.get("parent");
    let filter = ExecutionFilter {
        action: params.get("action").to_string(),
        status: params.get("status").to_string(),
        rule: params.get("rule_ref").to_string(),
        trigger_instance: params.get("trigger_instance").to_string(),
        parent: if parent == "null" { String::new() } else { parent.to_string() },
        user: params.get("user").to_string(),
        runner: params.get("runner").to_string(),
        include_children: parent.is_empty(),
    };
    let runtime = rest.services.runtime.clone();
    let page = tokio::task::spawn_blocking(move || executions::list(&runtime, &filter, window))
        .await
        .map_err(|e| Fault::from(ServiceError::internal(e)))??;
    let window = crate::service::Window { limit: Some(window.limit.unwrap_or(executions::DEFAULT_LIMIT)), ..window };
    let items = page.items.iter().map(|e| view(&rest, e, show_secrets)).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn get_one(
    State(rest): State<Rest>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let attributes = Attributes::from_params(&params)?;
    let execution = executions::get(&rest.services.runtime, &id)?;
    Ok(Json(attributes.apply(view(&rest, &execution, params.flag("show_secrets")?))).into_response())
}

/// `GET /api/v1/executions/{id}/children?depth=N`: the executions below a workflow, depth
/// first (`depth=-1`, the default, is all levels).
pub async fn children(
    State(rest): State<Rest>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let depth = match params.get("depth") {
        "" | "-1" => executions::TREE_DEPTH,
        text => text.parse::<usize>().map_err(|_| {
            Fault::bad_request(format!("'{text}' is not of type 'integer' (query parameter \"depth\")"))
        })?,
    };
    let tree: Tree = executions::tree(&rest.services.runtime, &id, depth)?;
    let show_secrets = params.flag("show_secrets")?;
    let items: Vec<Value> = tree.descendants().into_iter().map(|e| view(&rest, e, show_secrets)).collect();
    Ok(Json(Value::Array(items)).into_response())
}

/// `POST /api/v1/executions` with `{action, parameters, context, trace_tag}`: 201 and the
/// execution, acting as the caller.
pub async fn create(
    State(rest): State<Rest>,
    Extension(principal): Extension<Principal>,
    body: Bytes,
) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    let run = RunRequest {
        action: JsonBody::required("action", body.text("action")?)?,
        parameters: body.object("parameters")?.unwrap_or_default(),
        user: principal.user.clone(),
        trace_tag: body.text("trace_tag")?,
        context: body.object("context")?.unwrap_or_default(),
    };
    let execution = executions::run(&rest.services.runtime, run).await?;
    Ok((StatusCode::CREATED, Json(view(&rest, &execution, false))).into_response())
}

/// `DELETE /api/v1/executions/{id}`: cancels; an execution already completed is answered as
/// StackStorm answers it, 200 with a `faultstring`.
pub async fn cancel(State(rest): State<Rest>, Path(id): Path<String>) -> Result<Response, Fault> {
    match executions::cancel(&rest.services.runtime, &id).await {
        Ok(execution) => Ok(Json(view(&rest, &execution, false)).into_response()),
        Err(ServiceError::Conflict(message)) => Ok(Json(json!({ "faultstring": message })).into_response()),
        Err(error) => Err(error.into()),
    }
}
