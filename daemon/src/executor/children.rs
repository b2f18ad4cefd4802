//! The executor as workflow conductors see it (`workflow::ChildExecutions`).
//!
//! Owns: that mapping onto the executor's own calls. Must not: add behaviour of its own.

use std::sync::Arc;

use super::Executor;
use crate::execution::{Execution, ExecutionRequest, RequestError};
use crate::store::StoreError;
use crate::workflow::children::{AlsoWrite, ChildExecutions, Pending};
use st2d_core::status::ExecutionStatus;
use st2d_core::template::KeyValueSource;

impl ChildExecutions for Executor {
    fn request_child<'a>(
        &'a self,
        request: ExecutionRequest,
        also: AlsoWrite<'a>,
    ) -> Pending<'a, Result<Execution, RequestError>> {
        Box::pin(self.request_with(request, also))
    }

    fn completion_of(&self, id: String) -> Pending<'static, Option<Execution>> {
        let executor = self.clone();
        Box::pin(async move { executor.completion(&id).await })
    }

    fn cancel_child<'a>(&'a self, id: &'a str) -> Pending<'a, ()> {
        Box::pin(async move {
            let _ = self.cancel(id).await;
        })
    }

    fn pause_child(&self, id: &str, pause: bool) {
        let _ = if pause { self.pause(id) } else { self.resume(id) };
    }

    fn children_of(&self, workflow: &str) -> Vec<Execution> {
        self.children(workflow)
    }

    fn status_of(&self, id: &str) -> Option<ExecutionStatus> {
        self.get(id).map(|execution| execution.status)
    }

    fn pause_itself(&self, workflow: &str) {
        if let Err(error) = self.pause(workflow) {
            tracing::debug!(execution_id = %workflow, error = %error, "the workflow did not pause for its tasks");
        }
    }

    fn datastore(&self) -> Arc<dyn KeyValueSource> {
        self.kv()
    }

    fn api_url(&self) -> String {
        self.api_url().to_string()
    }

    fn stopping(&self) -> bool {
        self.draining()
    }

    fn until_stopping(&self) -> Pending<'_, ()> {
        Box::pin(self.drained())
    }

    fn report_paused(&self, workflow: &str) {
        self.workflow_paused(workflow);
    }

    fn load_state(&self, workflow: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.store.workflow_state(workflow)
    }

    fn save_state(&self, workflow: u64, state: &[u8]) -> Result<(), StoreError> {
        self.inner.store.put_workflow_state(workflow, state)
    }
}
