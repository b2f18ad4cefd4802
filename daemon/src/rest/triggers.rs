//! `/api/v1/triggers`, `/api/v1/triggerinstances` and the webhooks' listing (`GET
//! /api/v1/webhooks[/{url}]`; posting to one is the ingress's) (StackStorm's
//! st2api/controllers/v1/triggers.py and webhooks.py): st2d's triggers (a type's parameterless trigger, and the
//! trigger of each active rule), trigger instances listed with StackStorm's filters and read
//! by id, and `re_emit` (StackStorm's `re_send` too), which dispatches an instance's payload
//! again.
//!
//! Owns: these routes. Must not: filter, find or dispatch itself (`service::catalog` and
//! `service::trigger_instances` do).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::service::trigger_instances::{self, InstanceFilter};
use crate::service::{ServiceError, Services, Window, catalog};

pub async fn list(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let (window, attributes) = (params.window()?, Attributes::from_params(&params)?);
    let registry = rest.services.published.registry();
    let page = window.cut(catalog::triggers(&registry));
    let items = page.items.iter().map(views::trigger).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn get_one(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    Ok(Json(views::trigger(&catalog::trigger(&registry, &ref_or_id)?)).into_response())
}

/// `GET /api/v1/webhooks`: the webhook triggers the active rules bind (`st2 webhook list`).
pub async fn webhooks(State(rest): State<Rest>) -> Response {
    let registry = rest.services.published.registry();
    let items: Vec<_> = catalog::webhooks(&registry, None).iter().map(|hook| views::trigger(&hook.trigger)).collect();
    Json(items).into_response()
}

/// `GET /api/v1/webhooks/{url}`: the first trigger of that url (`st2 webhook get`). Mounted by
/// the ingress beside the webhook's `POST`, which shares the path.
pub fn webhook(services: &Services, url: &str) -> Response {
    let registry = services.published.registry();
    match catalog::webhook(&registry, url) {
        Ok(hook) => Json(views::trigger(&hook.trigger)).into_response(),
        Err(error) => Fault::from(error).into_response(),
    }
}

/// `GET /api/v1/triggerinstances`: newest first.
pub async fn instances(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let (window, attributes) = (params.window()?, Attributes::from_params(&params)?);
    let filter = InstanceFilter {
        triggers: params.list("trigger"),
        trigger_type: params.get("trigger_type").to_string(),
        status: params.get("status").to_string(),
        after: params.get("timestamp_gt").to_string(),
        before: params.get("timestamp_lt").to_string(),
    };
    let (runtime, registry) = (rest.services.runtime.clone(), rest.services.published.registry());
    let page = tokio::task::spawn_blocking(move || trigger_instances::list(&runtime, &registry, &filter, window))
        .await
        .map_err(|e| Fault::from(ServiceError::internal(e)))??;
    let window = Window { limit: Some(window.limit.unwrap_or(trigger_instances::DEFAULT_LIMIT)), ..window };
    let items = page.items.iter().map(views::trigger_instance).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn instance(State(rest): State<Rest>, Path(id): Path<String>) -> Result<Response, Fault> {
    Ok(Json(views::trigger_instance(&trigger_instances::get(&rest.services.runtime, &id)?)).into_response())
}

/// `POST /api/v1/triggerinstances/{id}/re_emit`: 200 with StackStorm's message and the payload
/// dispatched.
pub async fn re_emit(State(rest): State<Rest>, Path(id): Path<String>) -> Result<Response, Fault> {
    let emitted = trigger_instances::re_emit(&rest.services.runtime, &id).await?;
    let answer = json!({
        "message": format!("Trigger instance {} succesfully re-sent.", id.trim()),
        "payload": emitted.payload,
        "id": emitted.id,
    });
    Ok((StatusCode::OK, Json(answer)).into_response())
}
