//! `/api/v1/actions`, its web UI views (`/actions/views/...`: merged parameters, entry point
//! source) and `/api/v1/runnertypes`: the registry's actions and the runner catalogue. Actions are pack files, so creating, updating or deleting one through the API
//! is refused with the way to do it.
//!
//! Owns: these routes. Must not: filter or find resources itself (`service::catalog` does).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use st2d_core::pack::model::Action;

use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::service::actions as service_actions;
use crate::service::catalog::{self, ActionFilter};

pub async fn list(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    list_as(&rest, query.as_deref(), views::action)
}

/// The actions a list's query asks for, each shown by `view`.
fn list_as(rest: &Rest, query: Option<&str>, view: fn(&Action) -> Value) -> Result<Response, Fault> {
    let params = Params::parse(query);
    let window = params.window()?;
    let attributes = Attributes::from_params(&params)?;
    let filter = action_filter(&params);
    let registry = rest.services.published.registry();
    let page = window.cut(catalog::actions(&registry, &filter));
    let items = page.items.iter().map(|a| view(a)).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn get_one(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    let action = catalog::action(&registry, &ref_or_id)?;
    Ok(Json(views::action(&action)).into_response())
}

/// StackStorm's action filters: `pack`, `name`, `tags`, `id`.
fn action_filter(params: &Params) -> ActionFilter {
    ActionFilter {
        pack: params.get("pack").to_string(),
        name: params.get("name").to_string(),
        tag: params.get("tags").to_string(),
        ids: params.list("id"),
    }
}

/// POST, PUT and DELETE: actions are files in packs.
pub async fn read_only() -> Fault {
    Fault::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Actions are files in packs: add, change or remove the action's metadata file in its pack (or install the pack); st2d reloads it.",
    )
}

pub async fn runners(RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let window = params.window()?;
    let attributes = Attributes::from_params(&params)?;
    let page = window.cut(catalog::runners(params.get("name")));
    let items = page.items.iter().map(|r| views::runner(r)).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn runner(Path(name_or_id): Path<String>) -> Result<Response, Fault> {
    Ok(Json(views::runner(catalog::runner(&name_or_id)?)).into_response())
}

/// `GET /api/v1/actions/views/overview`: actions with their parameters merged with their
/// runner's, as the web UI lists them.
pub async fn overview(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    list_as(&rest, query.as_deref(), overview_of)
}

/// `GET /api/v1/actions/views/overview/{ref_or_id}`.
pub async fn overview_one(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    let action = catalog::action(&registry, &ref_or_id)?;
    Ok(Json(overview_of(&action)).into_response())
}

fn overview_of(action: &Action) -> Value {
    let mut view = views::action(action);
    view["parameters"] = Value::Object(service_actions::merged_parameters(action));
    view
}

/// `GET /api/v1/actions/views/parameters/{ref_or_id}`: `{"parameters": merged}`.
pub async fn parameters(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    let action = catalog::action(&registry, &ref_or_id)?;
    Ok(Json(json!({ "parameters": service_actions::merged_parameters(&action) })).into_response())
}

/// `GET /api/v1/actions/views/entry_point/{ref_or_id}`: the entry point's source, typed by its
/// extension (YAML for workflows, `text/x-python` for Python, plain text otherwise).
pub async fn entry_point(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    let action = catalog::action(&registry, &ref_or_id)?;
    let source = service_actions::entry_point(&registry, &action)?;
    let content_type = match source.path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "yaml" | "yml" => "application/x-yaml",
        "py" => "text/x-python",
        "json" => "application/json",
        "sh" => "application/x-sh",
        _ => "text/plain",
    };
    Ok(([(CONTENT_TYPE, content_type)], source.text).into_response())
}
