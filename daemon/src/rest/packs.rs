//! `/api/v1/packs` and `/api/v1/triggertypes`: the registry's packs and trigger types.
//!
//! Owns: these routes. Must not: filter or find resources itself (`service::catalog` does).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::service::catalog;

pub async fn list(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let (window, attributes) = (params.window()?, Attributes::from_params(&params)?);
    let registry = rest.services.published.registry();
    let page = window.cut(catalog::packs(&registry, params.get("name")));
    let items = page.items.iter().map(|p| views::pack(p)).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn get_one(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    Ok(Json(views::pack(catalog::pack(&registry, &ref_or_id)?)).into_response())
}

pub async fn trigger_types(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let (window, attributes) = (params.window()?, Attributes::from_params(&params)?);
    let registry = rest.services.published.registry();
    let page = window.cut(catalog::trigger_types(&registry, params.get("pack")));
    let items = page.items.iter().map(|t| views::trigger_type(t)).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn trigger_type(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    let trigger_type = catalog::trigger_type(&registry, &ref_or_id)?;
    Ok(Json(views::trigger_type(&trigger_type)).into_response())
}
