//! Why the service layer refused or failed a request: one kind per answer a door gives
//! (a gRPC code, an HTTP status), and each domain error's kind, decided here once.
//!
//! Owns: the kind of every refusal. Must not: word the messages (the domain errors and the
//! callers do) or know a door's codes (`api::status` and `rest::fault` map the kinds).

use std::fmt::Display;

use st2d_core::alias::AliasError;

use crate::action::inquiry::InquiryError;
use crate::datastore::DatastoreError;
use crate::execution::RequestError;
use crate::executor::{CancelError, PauseError, ReRunError};
use crate::packmgmt::config::ConfigError;
use crate::packmgmt::files::FilesError;
use crate::packmgmt::register::RegisterError;
use crate::packmgmt::rule_files::RuleFileError;
use crate::trigger::admission::Refusal;

/// A refusal or failure, with the message the caller sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// A request that can never succeed as given: a missing or malformed field.
    #[error("{0}")]
    Invalid(String),
    /// The named resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The resource is not in a state that allows it (already completed, disabled, ...).
    #[error("{0}")]
    Conflict(String),
    /// The acting user may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The daemon cannot do it now (shutting down, the reload actor gone).
    #[error("{0}")]
    Unavailable(String),
    /// The daemon takes no more for now (a backlog, a full queue, the disk short of space);
    /// the caller should try again after `retry_after_secs`.
    #[error("{message}")]
    Exhausted { message: String, retry_after_secs: u64 },
    /// Something broke inside the daemon (the store).
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    pub fn invalid(message: impl Display) -> Self {
        Self::Invalid(message.to_string())
    }

    pub fn not_found(message: impl Display) -> Self {
        Self::NotFound(message.to_string())
    }

    pub fn conflict(message: impl Display) -> Self {
        Self::Conflict(message.to_string())
    }

    pub fn unavailable(message: impl Display) -> Self {
        Self::Unavailable(message.to_string())
    }

    pub fn internal(message: impl Display) -> Self {
        Self::Internal(message.to_string())
    }
}

impl From<Refusal> for ServiceError {
    fn from(refusal: Refusal) -> Self {
        Self::Exhausted { message: refusal.to_string(), retry_after_secs: refusal.retry_after_secs() }
    }
}

impl From<AliasError> for ServiceError {
    fn from(error: AliasError) -> Self {
        match error {
            // A format of an installed alias that is not a regular expression.
            AliasError::Pattern { .. } => Self::internal(error),
            _ => Self::invalid(error),
        }
    }
}

impl From<RequestError> for ServiceError {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::ActionNotFound(_) => Self::not_found(error),
            RequestError::Disabled(_) => Self::conflict(error),
            RequestError::Invalid(_) => Self::invalid(error),
            RequestError::Store(_) => Self::internal(error),
        }
    }
}

impl From<CancelError> for ServiceError {
    fn from(error: CancelError) -> Self {
        match error {
            CancelError::NotFound(_) => Self::not_found(error),
            CancelError::Completed { .. } => Self::conflict(error),
            CancelError::Store(_) => Self::internal(error),
        }
    }
}

impl From<ReRunError> for ServiceError {
    fn from(error: ReRunError) -> Self {
        match error {
            ReRunError::NotFound(_) => Self::not_found(error),
            ReRunError::ParametersWithTasks | ReRunError::ResetNotInTasks | ReRunError::TasksNeedOrquesta => {
                Self::invalid(error)
            }
            ReRunError::Request(error) => error.into(),
        }
    }
}

impl From<PauseError> for ServiceError {
    fn from(error: PauseError) -> Self {
        match error {
            PauseError::NotFound(_) => Self::not_found(error),
            PauseError::NotPausable { .. } => Self::invalid(error),
            PauseError::Status { .. } => Self::conflict(error),
            PauseError::Store(_) => Self::internal(error),
        }
    }
}

impl From<DatastoreError> for ServiceError {
    fn from(error: DatastoreError) -> Self {
        match error {
            DatastoreError::Invalid(message) => Self::Invalid(message),
            DatastoreError::Decrypt(_) => Self::conflict(error),
            DatastoreError::Key(_) | DatastoreError::Store(_) => Self::internal(error),
        }
    }
}

impl From<InquiryError> for ServiceError {
    fn from(error: InquiryError) -> Self {
        match error {
            InquiryError::NotFound(_) => Self::not_found(error),
            InquiryError::NotAnInquiry(_) | InquiryError::TimedOut(_) | InquiryError::AlreadyResponded(_) => {
                Self::conflict(error)
            }
            InquiryError::Unauthorized { .. } => Self::Forbidden(error.to_string()),
            InquiryError::Invalid { .. } => Self::invalid(error),
            InquiryError::Store(_) => Self::internal(error),
        }
    }
}

impl From<RegisterError> for ServiceError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::UnknownPack { .. } => Self::invalid(error),
            RegisterError::Reload(_) => Self::unavailable(error),
        }
    }
}

impl From<ConfigError> for ServiceError {
    fn from(error: ConfigError) -> Self {
        match error {
            ConfigError::NotInstalled { .. } => Self::not_found(error),
            ConfigError::Ref(_)
            | ConfigError::Invalid(_)
            | ConfigError::NotAMapping { .. }
            | ConfigError::Parse { .. } => Self::invalid(error),
            ConfigError::Reload(_) => Self::unavailable(error),
            ConfigError::Read { .. }
            | ConfigError::Yaml(_)
            | ConfigError::NoDirectory
            | ConfigError::Create { .. }
            | ConfigError::Write { .. } => Self::internal(error),
        }
    }
}

impl From<FilesError> for ServiceError {
    fn from(error: FilesError) -> Self {
        match error {
            FilesError::NotRelative { .. } | FilesError::TooLarge { .. } => Self::invalid(error),
            FilesError::NotFound { .. } => Self::not_found(error),
            FilesError::Read { .. } => Self::internal(error),
        }
    }
}

impl From<RuleFileError> for ServiceError {
    fn from(error: RuleFileError) -> Self {
        match error {
            RuleFileError::BadName { .. } | RuleFileError::OutsideRules { .. } | RuleFileError::Escapes { .. } => {
                Self::invalid(error)
            }
            RuleFileError::Exists { .. } => Self::conflict(error),
            RuleFileError::Yaml(_) | RuleFileError::Write { .. } | RuleFileError::Remove { .. } => {
                Self::internal(error)
            }
        }
    }
}
