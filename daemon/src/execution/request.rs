//! What a caller asks the executor for: the request (action, parameters, who and why), a
//! child's link to its workflow, and why a request created nothing.
//!
//! Owns: those types. Must not: validate or record a request (the executor does).

use serde_json::{Map, Value};

use super::Execution;
use crate::trigger::TriggerInstance;

/// What to execute, and why.
#[derive(Debug, Clone, Default)]
pub struct ExecutionRequest {
    pub action: String,
    pub parameters: Map<String, Value>,
    /// Empty means the system user.
    pub user: String,
    /// The rule that fired, for rule-driven executions.
    pub rule: Option<String>,
    /// The trigger instance that fired it; its payload is `trigger` in templates.
    pub trigger_instance: Option<TriggerInstance>,
    pub trace_tag: Option<String>,
    /// Set when a workflow requests it for one of its tasks.
    pub parent: Option<ParentLink>,
    /// Entries of the new execution's context beside those the executor sets (`re-run`).
    pub context: Map<String, Value>,
    /// The parameters are JSON values as a client typed them (StackStorm's REST API): each is
    /// checked against its declared type before any cast, as StackStorm's API validates them.
    /// Otherwise they are text from `key=value` arguments or templates, cast by type.
    pub typed: bool,
}

/// A child execution's place in its workflow.
#[derive(Debug, Clone, Default)]
pub struct ParentLink {
    /// The workflow execution's id.
    pub execution_id: String,
    pub task: String,
    /// The workflow's context with its `execution_id`: the child's `context.parent`.
    pub parent_context: Value,
    /// Entries merged into the child's context beside `parent` (`chain: {name}`,
    /// `orquesta: {...}`).
    pub context: Map<String, Value>,
}

impl ParentLink {
    /// The link of a task of `workflow` (StackStorm's `context.parent`: the workflow's own
    /// context and its execution id).
    pub fn of(workflow: &Execution, task: &str, context: Map<String, Value>) -> Self {
        let mut parent_context = match &workflow.context {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        parent_context.insert("execution_id".to_string(), Value::String(workflow.id.clone()));
        Self {
            execution_id: workflow.id.clone(),
            task: task.to_string(),
            parent_context: Value::Object(parent_context),
            context,
        }
    }
}

/// Why nothing was created.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("Action \"{0}\" doesn't exist")]
    ActionNotFound(String),
    #[error("Unable to execute. Action {0} is disabled.")]
    Disabled(String),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot record the execution: {0}")]
    Store(String),
}
