//! `/api/v1/apikeys` (StackStorm's st2api/controllers/v1/auth.py): create a key for the caller
//! (or a named user; the key is shown once), list, get (the hash masked unless
//! `show_secrets`), enable or disable with `PUT`, delete.
//!
//! Owns: these routes and the JSON of an API key. Must not: keep or hash a key itself
//! (`auth::api_keys` does).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::body::JsonBody;
use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::auth::{ApiKeyRecord, Principal};

/// StackStorm's mask for a secret attribute.
const MASKED: &str = "********";

fn view(record: &ApiKeyRecord, show_secrets: bool) -> Value {
    json!({
        "id": record.id,
        "uid": format!("api_key:{}", record.key_hash),
        "user": record.user,
        "key_hash": if show_secrets { record.key_hash.as_str() } else { MASKED },
        "metadata": if record.metadata.is_null() { json!({}) } else { record.metadata.clone() },
        "created_at": views::timestamp(&record.created_at),
        "enabled": record.enabled,
    })
}

pub async fn list(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let (window, attributes) = (params.window()?, Attributes::from_params(&params)?);
    let show_secrets = params.flag("show_secrets")?;
    let page = window.cut(rest.auth.api_keys().all()?);
    let items = page.items.iter().map(|k| view(k, show_secrets)).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn get_one(
    State(rest): State<Rest>,
    Path(id_or_key): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let record = rest.auth.api_keys().by_id_or_key(&id_or_key)?;
    Ok(Json(view(&record, params.flag("show_secrets")?)).into_response())
}

/// `POST /api/v1/apikeys` with `{user, metadata, key_hash}`: 201 and the key, shown this once.
pub async fn create(
    State(rest): State<Rest>,
    Extension(principal): Extension<Principal>,
    body: Bytes,
) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    let user = body.text("user")?.filter(|u| !u.is_empty()).unwrap_or(principal.user);
    let given_hash = body.text("key_hash")?.filter(|h| !h.is_empty() && h != MASKED);
    let metadata = body.object("metadata")?.map(Value::Object).unwrap_or(Value::Null);
    let (key, record) = rest.auth.api_keys().create(&user, metadata, given_hash)?;
    let mut answer = view(&record, false);
    if let Some(object) = answer.as_object_mut() {
        object.shift_remove("key_hash");
        object.insert("key".into(), json!(key));
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `PUT /api/v1/apikeys/{id_or_key}` with the key (as `st2 apikey enable|disable` send it).
pub async fn update(State(rest): State<Rest>, Path(id_or_key): Path<String>, body: Bytes) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    let current = rest.auth.api_keys().by_id_or_key(&id_or_key)?;
    if body.text("key_hash")?.is_some_and(|h| !h.is_empty() && h != MASKED && h != current.key_hash) {
        return Err(Fault::bad_request("Update of key_hash is not allowed."));
    }
    let enabled = body.flag("enabled")?.unwrap_or(current.enabled);
    let metadata = body.object("metadata")?.map(Value::Object);
    let record = rest.auth.api_keys().update(&current.id, enabled, body.text("user")?, metadata)?;
    Ok(Json(view(&record, false)).into_response())
}

pub async fn delete(State(rest): State<Rest>, Path(id_or_key): Path<String>) -> Result<Response, Fault> {
    rest.auth.api_keys().delete(&id_or_key)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
