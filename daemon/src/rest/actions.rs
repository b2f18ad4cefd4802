//! `/api/v1/actions` and `/api/v1/runnertypes`: the registry's actions and the runner
//! catalogue. Actions are pack files, so creating, updating or deleting one through the API
//! is refused with the way to do it.
//!
//! Owns: these routes. Must not: filter or find resources itself (`service::catalog` does).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::service::catalog::{self, ActionFilter};

pub async fn list(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let window = params.window()?;
    let attributes = Attributes::from_params(&params)?;
    let filter = ActionFilter {
        pack: params.get("pack").to_string(),
        name: params.get("name").to_string(),
        tag: params.get("tags").to_string(),
        ids: params.list("id"),
    };
    let registry = rest.services.published.registry();
    let page = window.cut(catalog::actions(&registry, &filter));
    let items = page.items.iter().map(|a| views::action(a)).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn get_one(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    let action = catalog::action(&registry, &ref_or_id)?;
    Ok(Json(views::action(&action)).into_response())
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
