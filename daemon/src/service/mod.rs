//! The service layer: every query, command, validation and permission check the daemon's doors
//! offer (the gRPC control plane in `api`, StackStorm's REST API in `rest`), written once.
//!
//! Owns: what a request means (defaults, filters, required fields, who may act) and the kind of
//! each refusal (`ServiceError`). Must not: see proto or HTTP types, hold state of its own, or
//! block the runtime on store scans of size (callers run those on blocking threads).

pub mod aliases;
pub mod catalog;
mod error;
pub mod executions;
pub mod inquiries;
pub mod keys;
pub mod rules;

pub use error::ServiceError;

use std::sync::Arc;

use crate::reload::{Published, ReloadHandle};

/// The running parts the doors report on and steer.
pub struct Runtime {
    pub sensors: crate::sensor::supervisor::Supervisor,
    pub shim: crate::shim::ShimServer,
    pub store: crate::store::Store,
    pub journal: crate::trigger::journal::Journal,
    pub executor: crate::executor::Executor,
    pub datastore: crate::datastore::Datastore,
    pub packs: crate::packmgmt::PackManager,
    /// The tokens of running executions (`ST2_ACTION_AUTH_TOKEN`).
    pub action_tokens: Arc<crate::auth::ActionTokens>,
}

/// What every service function reads and steers: the published registry, the reload actor
/// and the runtime.
#[derive(Clone)]
pub struct Services {
    pub published: Published,
    pub reload: ReloadHandle,
    pub runtime: Arc<Runtime>,
}

impl Services {
    pub fn new(published: Published, reload: ReloadHandle, runtime: Runtime) -> Self {
        Self { published, reload, runtime: Arc::new(runtime) }
    }
}

/// A page of a longer list: the items asked for and how many there are in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: usize,
}

/// Which part of a list is asked for (`offset`, then at most `limit`; no limit is all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub offset: usize,
    pub limit: Option<usize>,
}

impl Window {
    /// The window's part of `items`, with the count of all of them.
    pub fn cut<T>(&self, items: Vec<T>) -> Page<T> {
        let total = items.len();
        let items = items.into_iter().skip(self.offset).take(self.limit.unwrap_or(usize::MAX)).collect();
        Page { items, total }
    }
}

/// The user a request acts as when its door names none (StackStorm's `system_user`).
pub fn acting_user(user: &str) -> &str {
    if user.trim().is_empty() { st2d_core::template::SYSTEM_USER } else { user }
}
