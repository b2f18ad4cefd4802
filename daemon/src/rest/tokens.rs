//! `/auth/v1/tokens` (StackStorm's st2auth): a token for HTTP basic credentials checked against
//! the users file, with an optional `ttl`; and `/auth/v1/tokens/validate`.
//!
//! Owns: these routes and reading basic credentials. Must not: check a password or keep a
//! token itself (`auth` does).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::body::JsonBody;
use super::{Fault, Rest, views};
use crate::auth::AuthError;

/// `Authorization: Basic base64(user:password)`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let header = headers.get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = crate::auth::users::base64_decode(encoded.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// `POST /auth/v1/tokens`: 201 and `{user, token, expiry, id, metadata}`.
pub async fn create(State(rest): State<Rest>, headers: HeaderMap, body: Bytes) -> Result<Response, Fault> {
    let Some((user, password)) = basic_credentials(&headers) else {
        return Err(AuthError::BadCredentials.into());
    };
    let body = JsonBody::parse(&body)?;
    let ttl = body.count("ttl")?;
    let metadata = body.get("metadata").cloned().unwrap_or(Value::Null);
    let auth = rest.auth.clone();
    // bcrypt is slow on purpose: off the runtime's threads.
    let issued = tokio::task::spawn_blocking(move || auth.login(&user, &password, ttl, metadata))
        .await
        .map_err(|e| Fault::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok((StatusCode::CREATED, Json(views::token(&issued))).into_response())
}

/// `POST /auth/v1/tokens/validate` with `{"token": ...}`: `{"valid": bool}`.
pub async fn validate(State(rest): State<Rest>, body: Bytes) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    let token = body.text("token")?.unwrap_or_default();
    let valid = !token.is_empty() && rest.auth.token(&token).is_ok();
    Ok(Json(json!({ "valid": valid })).into_response())
}
