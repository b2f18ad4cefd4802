//! `/api/v1/policytypes` and `/api/v1/policies` (StackStorm's
//! st2api/controllers/v1/policies.py): the policy types st2d enforces and the policies loaded
//! from packs. Policies are pack files, so creating, updating or deleting one through the API
//! is refused with the way to do it.
//!
//! Owns: these routes. Must not: filter or find policies itself (`service::catalog` does).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::service::catalog::{self, PolicyFilter};

pub async fn types(RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let (window, attributes) = (params.window()?, Attributes::from_params(&params)?);
    let page = window.cut(catalog::policy_types(params.get("resource_type")));
    let items = page.items.iter().map(views::policy_type).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn policy_type(Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    Ok(Json(views::policy_type(&catalog::policy_type(&ref_or_id)?)).into_response())
}

pub async fn list(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let (window, attributes) = (params.window()?, Attributes::from_params(&params)?);
    let filter = PolicyFilter {
        pack: params.get("pack").to_string(),
        resource_ref: params.get("resource_ref").to_string(),
        policy_type: params.get("policy_type").to_string(),
    };
    let registry = rest.services.published.registry();
    let page = window.cut(catalog::policies(&registry, &filter));
    let items = page.items.iter().map(|p| views::policy(p)).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn get_one(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    let policy = catalog::policy(&registry, &ref_or_id)?;
    Ok(Json(views::policy(&policy)).into_response())
}

/// POST, PUT and DELETE: policies are files in packs.
pub async fn read_only() -> Fault {
    Fault::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Policies are files in packs: add, change or remove the policy's metadata file in its pack's policies directory (or install the pack); st2d reloads it.",
    )
}
