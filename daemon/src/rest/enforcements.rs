//! `/api/v1/ruleenforcements` and `/api/v1/ruleenforcements/views` (StackStorm's
//! st2api/controllers/v1/rule_enforcements.py and rule_enforcement_views.py): rule
//! enforcements listed with StackStorm's filters and read by id; the views embed each one's
//! trigger instance and a part of its execution.
//!
//! Owns: these routes. Must not: filter or find enforcements itself
//! (`service::enforcements` does).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::execution::enforcement::Enforcement;
use crate::service::enforcements::{self, EnforcementFilter};
use crate::service::{ServiceError, Window, executions, trigger_instances};

async fn listed(rest: &Rest, query: Option<&str>, view: fn(&Rest, &Enforcement) -> Value) -> Result<Response, Fault> {
    let params = Params::parse(query);
    let (window, attributes) = (params.window()?, Attributes::from_params(&params)?);
    let filter = EnforcementFilter {
        rule_ref: params.get("rule_ref").to_string(),
        rule_id: params.get("rule_id").to_string(),
        execution: params.get("execution").to_string(),
        trigger_instance: params.get("trigger_instance").to_string(),
        after: params.get("enforced_at_gt").to_string(),
        before: params.get("enforced_at_lt").to_string(),
    };
    let runtime = rest.services.runtime.clone();
    let page = tokio::task::spawn_blocking(move || enforcements::list(&runtime, &filter, window))
        .await
        .map_err(|e| Fault::from(ServiceError::internal(e)))??;
    let window = Window { limit: Some(window.limit.unwrap_or(enforcements::DEFAULT_LIMIT)), ..window };
    let items = page.items.iter().map(|e| view(rest, e)).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

async fn found(rest: &Rest, id: String) -> Result<Enforcement, Fault> {
    let runtime = rest.services.runtime.clone();
    Ok(tokio::task::spawn_blocking(move || enforcements::get(&runtime, &id))
        .await
        .map_err(|e| Fault::from(ServiceError::internal(e)))??)
}

fn plain(_: &Rest, enforcement: &Enforcement) -> Value {
    views::enforcement(enforcement)
}

fn embedded(rest: &Rest, enforcement: &Enforcement) -> Value {
    let runtime = &rest.services.runtime;
    let instance = trigger_instances::get(runtime, &enforcement.trigger_instance).ok();
    let execution = enforcement.execution.as_deref().and_then(|id| executions::get(runtime, id).ok());
    views::enforcement_view(enforcement, instance.as_ref(), execution.as_ref())
}

pub async fn list(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    listed(&rest, query.as_deref(), plain).await
}

pub async fn get_one(State(rest): State<Rest>, Path(id): Path<String>) -> Result<Response, Fault> {
    Ok(Json(views::enforcement(&found(&rest, id).await?)).into_response())
}

/// `GET /api/v1/ruleenforcements/views`.
pub async fn list_views(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    listed(&rest, query.as_deref(), embedded).await
}

/// `GET /api/v1/ruleenforcements/views/{id}`.
pub async fn view_one(State(rest): State<Rest>, Path(id): Path<String>) -> Result<Response, Fault> {
    let enforcement = found(&rest, id).await?;
    Ok(Json(embedded(&rest, &enforcement)).into_response())
}
