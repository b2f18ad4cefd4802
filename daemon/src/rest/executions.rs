//! `/api/v1/executions` (StackStorm's st2api/controllers/v1/actionexecutions.py and
//! execution_views.py): run an action, list and read executions (whole, one attribute, the raw
//! result), their children and the history's filter values; cancel, pause, resume and re-run.
//!
//! Owns: these routes. Must not: filter, validate or change executions itself
//! (`service::executions` does).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::body::JsonBody;
use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::auth::Principal;
use crate::execution::Execution;
use crate::executor::ReRun;
use crate::service::executions::{self, ExecutionFilter, RunRequest, Tree};
use crate::service::{ServiceError, parse_time};

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
        rule: first_of(&params, &["rule_ref", "rule"]),
        trigger_instance: params.get("trigger_instance").to_string(),
        parent: if parent == "null" { String::new() } else { parent.to_string() },
        user: params.get("user").to_string(),
        runner: params.get("runner").to_string(),
        started_after: parse_time("timestamp_gt", params.get("timestamp_gt"))?,
        started_before: parse_time("timestamp_lt", params.get("timestamp_lt"))?,
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

fn first_of(params: &Params, names: &[&str]) -> String {
    names.iter().map(|name| params.get(name)).find(|value| !value.is_empty()).unwrap_or_default().to_string()
}

/// `GET /api/v1/executions/views/filters?types=action,status`: every distinct value of the
/// history's filters, for the web UI's drop-downs.
pub async fn filters(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let names = Params::parse(query.as_deref()).list("types");
    let runtime = rest.services.runtime.clone();
    let values = tokio::task::spawn_blocking(move || executions::filter_values(&runtime, &names))
        .await
        .map_err(|e| Fault::from(ServiceError::internal(e)))??;
    Ok(Json(json!(values)).into_response())
}

/// `GET /api/v1/executions/{id}/attribute/{attribute}`: one attribute of the execution's view.
pub async fn attribute(
    State(rest): State<Rest>,
    Path((id, attribute)): Path<(String, String)>,
) -> Result<Response, Fault> {
    let execution = executions::get(&rest.services.runtime, &id)?;
    let view = view(&rest, &execution, false);
    match view.get(&attribute) {
        Some(value) => Ok(Json(value.clone()).into_response()),
        None => Err(Fault::bad_request(format!("Invalid attribute \"{attribute}\" specified."))),
    }
}

/// `GET /api/v1/executions/{id}/result`: the result alone, as JSON (`pretty_format` indents it,
/// `download` offers it as a file).
pub async fn result(
    State(rest): State<Rest>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let execution = executions::get(&rest.services.runtime, &id)?;
    let result = execution.result.clone().unwrap_or(Value::Null);
    let text = if params.flag("pretty_format")? {
        serde_json::to_string_pretty(&result)
    } else {
        serde_json::to_string(&result)
    }
    .map_err(|e| Fault::from(ServiceError::internal(e)))?;
    let mut response = ([(CONTENT_TYPE, "application/json")], text).into_response();
    if params.flag("download")? {
        let disposition = format!("attachment; filename=\"execution_{}_result.json\"", execution.id);
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            response.headers_mut().insert(CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
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
        typed: true,
    };
    let execution = executions::run(&rest.services.runtime, run).await?;
    Ok((StatusCode::CREATED, Json(view(&rest, &execution, false))).into_response())
}

/// `POST /api/v1/executions/{id}/re_run` with `{parameters, tasks, reset, user}`: 201 and the
/// new execution.
pub async fn re_run(
    State(rest): State<Rest>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    let user = body.text("user")?.filter(|u| !u.is_empty()).unwrap_or_else(|| principal.user.clone());
    let spec = ReRun {
        parameters: body.object("parameters")?.unwrap_or_default(),
        tasks: body.texts("tasks")?.unwrap_or_default(),
        reset: body.texts("reset")?.unwrap_or_default(),
        user,
    };
    let execution = executions::re_run(&rest.services.runtime, &id, spec).await?;
    Ok((StatusCode::CREATED, Json(view(&rest, &execution, false))).into_response())
}

/// `PUT /api/v1/executions/{id}` with `{status}`: `pausing`/`paused` pauses, `resuming`
/// resumes, `canceling`/`canceled` cancels. A completed execution is a 400, as in StackStorm;
/// any other status is refused (st2d's runners report their own results).
pub async fn update(State(rest): State<Rest>, Path(id): Path<String>, body: Bytes) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    let status = JsonBody::required("status", body.text("status")?)?;
    let runtime = &rest.services.runtime;
    if executions::get(runtime, &id)?.status.is_completed() {
        return Err(Fault::bad_request("Execution is already in completed state."));
    }
    let execution = match status.as_str() {
        "pausing" | "paused" => executions::pause(runtime, &id, true)?,
        "resuming" => executions::pause(runtime, &id, false)?,
        "canceling" | "canceled" => executions::cancel(runtime, &id).await?,
        other => {
            return Err(Fault::bad_request(format!(
                "Failed updating execution. \"{other}\" cannot be set through the API (field \"status\": pausing, paused, resuming, canceling or canceled)"
            )));
        }
    };
    Ok(Json(view(&rest, &execution, false)).into_response())
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
