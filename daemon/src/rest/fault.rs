//! StackStorm's error answers: a status code and `{"faultstring": "..."}`; every refusal of
//! the REST API is made here, and each service refusal kind has its HTTP status here, once.
//!
//! Owns: the HTTP status of each refusal kind. Must not: word the messages (the service layer
//! and the domain errors do).

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::AuthError;
use crate::service::ServiceError;

/// A refusal: the status and the `faultstring`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub status: StatusCode,
    pub message: String,
    /// `Retry-After` seconds, for a refusal that will pass.
    pub retry_after_secs: Option<u64>,
}

impl Fault {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), retry_after_secs: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// StackStorm's 401: `Unauthorized - <why>`.
    pub fn unauthorized(why: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, format!("Unauthorized - {why}"))
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "faultstring": self.message }))).into_response();
        if let Some(seconds) = self.retry_after_secs {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<ServiceError> for Fault {
    fn from(error: ServiceError) -> Self {
        let status = match &error {
            ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Exhausted { retry_after_secs, .. } => {
                return Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message: error.to_string(),
                    retry_after_secs: Some(*retry_after_secs),
                };
            }
            ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, error.to_string())
    }
}

impl From<AuthError> for Fault {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::BadCredentials => Self::new(StatusCode::UNAUTHORIZED, error.to_string()),
            AuthError::TokenNotFound | AuthError::TokenExpired | AuthError::ApiKeyDisabled => Self::unauthorized(error),
            AuthError::ApiKeyNotFound(_) => Self::new(StatusCode::NOT_FOUND, error.to_string()),
            AuthError::TtlTooLarge { .. } => Self::bad_request(error.to_string()),
            AuthError::Off => Self::new(StatusCode::NOT_IMPLEMENTED, error.to_string()),
            AuthError::Users(_) | AuthError::Store(_) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
            }
        }
    }
}
