//! How the daemon's answers become gRPC statuses: every `tonic::Status` the control plane
//! returns is made here, and each service refusal kind (`service::ServiceError`) has its code
//! here, once.
//!
//! Owns: the gRPC code of each refusal kind. Must not: word the messages (the errors and the
//! callers do), decide anything, or give a domain error a kind (`service::error` does).

use std::fmt::Display;

use tonic::Status;

use crate::action::inquiry::InquiryError;
use crate::datastore::DatastoreError;
use crate::execution::RequestError;
use crate::executor::{CancelError, PauseError, ReRunError};
use crate::packmgmt::config::ConfigError;
use crate::service::ServiceError;

pub fn invalid_argument(message: impl Display) -> Status {
    Status::invalid_argument(message.to_string())
}

pub fn not_found(message: impl Display) -> Status {
    Status::not_found(message.to_string())
}

pub fn failed_precondition(message: impl Display) -> Status {
    Status::failed_precondition(message.to_string())
}

pub fn unavailable(message: impl Display) -> Status {
    Status::unavailable(message.to_string())
}

/// RESOURCE_EXHAUSTED, with the seconds to wait in the `retry-after` metadata (as HTTP's
/// header says it).
pub fn exhausted(message: impl Display, retry_after_secs: u64) -> Status {
    let mut status = Status::resource_exhausted(message.to_string());
    status.metadata_mut().insert("retry-after", retry_after_secs.into());
    status
}

pub fn internal(message: impl Display) -> Status {
    Status::internal(message.to_string())
}

pub fn permission_denied(message: impl Display) -> Status {
    Status::permission_denied(message.to_string())
}

pub fn unauthenticated(message: impl Display) -> Status {
    Status::unauthenticated(message.to_string())
}

pub fn data_loss(message: impl Display) -> Status {
    Status::data_loss(message.to_string())
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(message) => invalid_argument(message),
            ServiceError::NotFound(message) => not_found(message),
            ServiceError::Conflict(message) => failed_precondition(message),
            ServiceError::Forbidden(message) => permission_denied(message),
            ServiceError::Unavailable(message) => unavailable(message),
            ServiceError::Exhausted { message, retry_after_secs } => exhausted(message, retry_after_secs),
            ServiceError::Internal(message) => internal(message),
        }
    }
}

/// Domain errors reach gRPC through their service kind (`service::ServiceError`).
macro_rules! through_service_kind {
    ($($error:ty),*) => {$(
        impl From<$error> for Status {
            fn from(error: $error) -> Self {
                ServiceError::from(error).into()
            }
        }
    )*};
}

through_service_kind!(RequestError, CancelError, ReRunError, PauseError, DatastoreError, InquiryError, ConfigError);
