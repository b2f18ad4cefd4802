//! `/api/v1/rules` and `/api/v1/rules/views` (StackStorm's st2api/controllers/v1/rules.py and
//! rule_views.py): the registry's rules, listed, read, created, updated (a full rule, or only
//! `enabled` as `st2 rule enable|disable` send it) and deleted; the views add the action's and
//! the trigger's descriptions.
//!
//! Owns: these routes. Must not: filter, find, check or change rules itself
//! (`service::catalog` and `service::rules` do).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use st2d_core::pack::model::Rule;

use super::body::JsonBody;
use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::registry::Registry;
use crate::service::catalog::{self, RuleFilter};
use crate::service::rules;

fn listed(rest: &Rest, query: Option<&str>, view: fn(&Registry, &Rule) -> Value) -> Result<Response, Fault> {
    let params = Params::parse(query);
    let (window, attributes) = (params.window()?, Attributes::from_params(&params)?);
    let enabled = match params.get("enabled") {
        "" => None,
        _ => Some(params.flag("enabled")?),
    };
    let filter = RuleFilter {
        pack: params.get("pack").to_string(),
        name: params.get("name").to_string(),
        action: params.get("action").to_string(),
        trigger_type: params.get("trigger").to_string(),
        enabled,
    };
    let registry = rest.services.published.registry();
    let page = window.cut(catalog::rules(&registry, &filter));
    let items = page.items.iter().map(|r| view(&registry, r)).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn list(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    listed(&rest, query.as_deref(), views::rule)
}

pub async fn get_one(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    let rule = catalog::rule(&registry, &ref_or_id)?;
    Ok(Json(views::rule(&registry, &rule)).into_response())
}

/// `GET /api/v1/rules/views`.
pub async fn list_views(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    listed(&rest, query.as_deref(), views::rule_view)
}

/// `GET /api/v1/rules/views/{ref_or_id}`.
pub async fn view_one(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    let rule = catalog::rule(&registry, &ref_or_id)?;
    Ok(Json(views::rule_view(&registry, &rule)).into_response())
}

/// `POST /api/v1/rules`: the rule's file is written in its pack; 201 with the rule.
pub async fn create(State(rest): State<Rest>, body: Bytes) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?.into_map();
    let rule = rules::create(&rest.services, body).await?;
    let view = views::rule(&rest.services.published.registry(), &rule);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `PUT /api/v1/rules/{ref_or_id}` with the rule: a change of `enabled` alone is a toggle; any
/// other change rewrites the rule's file.
pub async fn update(State(rest): State<Rest>, Path(ref_or_id): Path<String>, body: Bytes) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?.into_map();
    let rule = rules::update(&rest.services, &ref_or_id, body).await?;
    Ok(Json(views::rule(&rest.services.published.registry(), &rule)).into_response())
}

/// `DELETE /api/v1/rules/{ref_or_id}`: the rule's file is removed; 204.
pub async fn delete(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    rules::delete(&rest.services, &ref_or_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
