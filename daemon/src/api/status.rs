//! How the daemon's answers become gRPC statuses: every `tonic::Status` the control plane
//! returns is made here, and each domain error has its code here, once.
//!
//! Owns: the code of each refusal (bad argument, missing resource, wrong state, unavailable,
//! internal). Must not: word the messages (the errors and the callers do) or decide anything.

use std::fmt::Display;

use tonic::Status;

use crate::action::inquiry::InquiryError;
use crate::datastore::DatastoreError;
use crate::execution::RequestError;
use crate::executor::{CancelError, PauseError, ReRunError};

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

impl From<RequestError> for Status {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::ActionNotFound(_) => not_found(error),
            RequestError::Disabled(_) => failed_precondition(error),
            RequestError::Invalid(_) => invalid_argument(error),
            RequestError::Store(_) => internal(error),
        }
    }
}

impl From<CancelError> for Status {
    fn from(error: CancelError) -> Self {
        match error {
            CancelError::NotFound(_) => not_found(error),
            CancelError::Completed { .. } => failed_precondition(error),
            CancelError::Store(_) => internal(error),
        }
    }
}

impl From<ReRunError> for Status {
    fn from(error: ReRunError) -> Self {
        match error {
            ReRunError::NotFound(_) => not_found(error),
            ReRunError::ParametersWithTasks | ReRunError::ResetNotInTasks | ReRunError::TasksNeedOrquesta => {
                invalid_argument(error)
            }
            ReRunError::Request(error) => error.into(),
        }
    }
}

impl From<PauseError> for Status {
    fn from(error: PauseError) -> Self {
        match error {
            PauseError::NotFound(_) => not_found(error),
            PauseError::NotPausable { .. } => invalid_argument(error),
            PauseError::Status { .. } => failed_precondition(error),
            PauseError::Store(_) => internal(error),
        }
    }
}

impl From<DatastoreError> for Status {
    fn from(error: DatastoreError) -> Self {
        match error {
            DatastoreError::Invalid(message) => invalid_argument(message),
            DatastoreError::Decrypt(_) => failed_precondition(error),
            DatastoreError::Key(_) | DatastoreError::Store(_) => internal(error),
        }
    }
}

impl From<InquiryError> for Status {
    fn from(error: InquiryError) -> Self {
        match error {
            InquiryError::NotFound(_) => not_found(error),
            InquiryError::NotAnInquiry(_) | InquiryError::TimedOut(_) | InquiryError::AlreadyResponded(_) => {
                failed_precondition(error)
            }
            InquiryError::Unauthorized { .. } => permission_denied(error),
            InquiryError::Invalid { .. } => invalid_argument(error),
            InquiryError::Store(_) => internal(error),
        }
    }
}
