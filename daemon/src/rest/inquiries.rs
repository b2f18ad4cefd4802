//! `/api/v1/inquiries` (StackStorm's st2api/controllers/v1/inquiries.py): the pending
//! inquiries, one of them, and a response (`PUT` with `{"id", "response"}`) as the caller.
//!
//! Owns: these routes. Must not: check a response itself (`service::inquiries` does).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::body::JsonBody;
use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::auth::Principal;
use crate::service::inquiries;

pub async fn list(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let (window, attributes) = (params.window()?, Attributes::from_params(&params)?);
    let page = window.cut(inquiries::list(&rest.services.runtime, None));
    let items = page.items.iter().map(views::inquiry).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn get_one(State(rest): State<Rest>, Path(id): Path<String>) -> Result<Response, Fault> {
    Ok(Json(views::inquiry(&inquiries::get(&rest.services.runtime, &id)?)).into_response())
}

pub async fn respond(
    State(rest): State<Rest>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    let response = Value::Object(JsonBody::required("response", body.object("response")?)?);
    let (id, response) = inquiries::respond(&rest.services.runtime, &id, response, &principal.user).await?;
    Ok(Json(json!({ "id": id, "response": response })).into_response())
}
