//! `/api/v1/keys`: the datastore (StackStorm's st2api/controllers/v1/keyvalue.py): list with
//! `prefix` and `scope`, get with `decrypt`, put (`secret`, `ttl`), delete. A request acts in
//! the caller's user scope unless it names another user.
//!
//! Owns: these routes. Must not: resolve scopes or names itself (`service::keys` does).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::body::JsonBody;
use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::auth::Principal;
use crate::service::keys::{self, KeyRef, NewValue};

fn user_of<'a>(params: &'a Params, principal: &'a Principal) -> &'a str {
    match params.get("user") {
        "" => &principal.user,
        user => user,
    }
}

pub async fn list(
    State(rest): State<Rest>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let window = params.window()?;
    let attributes = Attributes::from_params(&params)?;
    let scope = match params.get("scope") {
        "" => "system",
        scope => scope,
    };
    let items = keys::list(
        &rest.services.runtime.datastore,
        scope,
        user_of(&params, &principal),
        params.get("prefix"),
        params.flag("decrypt")?,
    )?;
    let page = window.cut(items);
    let views = page.items.iter().map(views::key).collect();
    Ok(list_answer(views, page.total, window, &attributes))
}

fn key_ref(name: String, params: &Params, principal: &Principal) -> KeyRef {
    KeyRef { name, scope: params.get("scope").to_string(), user: user_of(params, principal).to_string() }
}

pub async fn get_one(
    State(rest): State<Rest>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let item =
        keys::get(&rest.services.runtime.datastore, &key_ref(name, &params, &principal), params.flag("decrypt")?)?;
    Ok(Json(views::key(&item)).into_response())
}

/// `PUT /api/v1/keys/{name}` with `{name, value, secret, scope, user, ttl}`.
pub async fn put(
    State(rest): State<Rest>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    let value = JsonBody::required("value", body.text("value")?)?;
    let secret = body.flag("secret")?.unwrap_or(false);
    let ttl_seconds = body.count("ttl")?.filter(|ttl| *ttl > 0);
    let user = body.text("user")?.filter(|u| !u.is_empty()).unwrap_or_else(|| principal.user.clone());
    let key = KeyRef { name, scope: body.text("scope")?.unwrap_or_default(), user };
    let item = keys::set(&rest.services.runtime.datastore, &key, &NewValue { value, secret, ttl_seconds })?;
    Ok(Json(views::key(&item)).into_response())
}

pub async fn delete(
    State(rest): State<Rest>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    keys::delete(&rest.services.runtime.datastore, &key_ref(name, &params, &principal))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
