//! What a conductor needs from whoever runs its tasks: request a child execution (with the
//! conductor's state written in the same flush), wait for it, cancel it, find it again after a
//! crash, and keep the conductor's own state. The executor implements it.
//!
//! Owns: that interface. Must not: name the executor, so conductors stay below it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::execution::{Execution, ExecutionRequest, RequestError};
use crate::store::StoreError;
use st2d_core::status::ExecutionStatus;
use st2d_core::template::KeyValueSource;

/// A future a conductor awaits.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Written in the same flush as a child's request (the conductor records which execution runs
/// its task, so a restart finds it).
pub type AlsoWrite<'a> = Box<dyn FnOnce(&Execution) -> Result<(), StoreError> + Send + 'a>;

pub trait ChildExecutions: Send + Sync {
    /// Requests a task's execution: prepared, recorded durably with `also`, then started.
    fn request_child<'a>(
        &'a self,
        request: ExecutionRequest,
        also: AlsoWrite<'a>,
    ) -> Pending<'a, Result<Execution, RequestError>>;

    /// The execution once it has completed; `None` when the daemon stops first.
    fn completion_of(&self, id: String) -> Pending<'static, Option<Execution>>;

    /// Cancels an execution of the workflow's tree: a child, or the workflow itself when one
    /// of its tasks was canceled; one that completed meanwhile is left as it is.
    fn cancel_child<'a>(&'a self, id: &'a str) -> Pending<'a, ()>;

    /// Pauses (`pause`) or resumes a child that is a workflow (a pause cascades down to
    /// subworkflows); a child that cannot is left as it is.
    fn pause_child(&self, id: &str, pause: bool);

    /// A workflow's task executions, in the order they were requested.
    fn children_of(&self, workflow: &str) -> Vec<Execution>;

    /// An execution's status now.
    fn status_of(&self, id: &str) -> Option<ExecutionStatus>;

    /// Pauses a running workflow for its own tasks (one is pending): `pausing`, then `paused`
    /// once nothing of it runs; its other tasks are not paused.
    fn pause_itself(&self, workflow: &str);

    /// Where templates read the datastore from.
    fn datastore(&self) -> Arc<dyn KeyValueSource>;

    /// The REST API's URL as actions reach it (`ctx(st2).api_url`); empty without one.
    fn api_url(&self) -> String;

    /// Whether the daemon has begun to stop (a workflow then starts no new task).
    fn stopping(&self) -> bool;

    /// Resolves when the daemon begins to stop.
    fn until_stopping(&self) -> Pending<'_, ()>;

    /// Told by a pausing workflow that none of its tasks runs any more.
    fn report_paused(&self, workflow: &str);

    /// The conductor state an earlier run of `workflow` saved.
    fn load_state(&self, workflow: u64) -> Result<Option<Vec<u8>>, StoreError>;

    /// Saves the conductor state of `workflow` (flushed with the next request or record).
    fn save_state(&self, workflow: u64, state: &[u8]) -> Result<(), StoreError>;
}
