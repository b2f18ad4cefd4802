//! `/api/v1/packs`, `/api/v1/triggertypes` and `/api/v1/rules`: the registry's packs, trigger
//! types and rules, and turning a rule on or off.
//!
//! Owns: these routes. Must not: filter, find or change resources itself (`service::catalog`
//! and `service::rules` do).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::body::JsonBody;
use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::service::catalog::{self, RuleFilter};

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

pub async fn rules(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
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
    let items = page.items.iter().map(|r| views::rule(&registry, r)).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn rule(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    let rule = catalog::rule(&registry, &ref_or_id)?;
    Ok(Json(views::rule(&registry, &rule)).into_response())
}

/// `PUT /api/v1/rules/{ref_or_id}` with the rule (as `st2 rule enable|disable` sends it):
/// `enabled` is applied; a change to anything else is refused, as rules are files.
pub async fn update_rule(
    State(rest): State<Rest>,
    Path(ref_or_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    let registry = rest.services.published.registry();
    let rule = catalog::rule(&registry, &ref_or_id)?;
    let current = views::rule(&registry, &rule);
    let enabled = body.flag("enabled")?.unwrap_or_else(|| registry.rule_enabled(&rule));
    for field in ["criteria", "action", "description"] {
        if let Some(given) = body.get(field)
            && Some(given) != current.get(field)
        {
            return Err(Fault::bad_request(format!(
                "field \"{field}\": rules are files in packs; change {} and st2d reloads it (only \"enabled\" is set through the API)",
                rule.metadata_file
            )));
        }
    }
    drop(registry);
    let rule = crate::service::rules::set_enabled(&rest.services, &rule.ref_, enabled).await?;
    Ok(Json(views::rule(&rest.services.published.registry(), &rule)).into_response())
}
