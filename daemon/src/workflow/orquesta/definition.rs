//! The definition an Orquesta run follows: the one read with the action (its last good
//! version), or the file when it was not there then; inspected as StackStorm inspects a
//! requested workflow, with the content check against the registry.
//!
//! Owns: reading and inspecting the definition, and the result of a run that cannot start from
//! it. Must not: start the run or keep its state (the conductor does).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::FlowError;
use crate::registry::Registry;
use st2d_core::orquesta::inspect;
use st2d_core::orquesta::spec::WorkflowSpec;
use st2d_core::pack::model::Action;

/// The result of a run whose definition could not be read.
pub(super) fn failed_to_load(error: &FlowError) -> Value {
    json!({"output": null, "errors": [{"type": "error", "message": error.to_string()}]})
}

/// The definition to run; with `inspect`, one that fails inspection gives the run's result,
/// Orquesta's errors (as orquesta_runner.py turns a WorkflowInspectionError into `{errors,
/// output: null}`); one that cannot be read, or that st2d's reading refuses, its error.
pub(super) async fn read(
    registry: &Registry,
    action: &Action,
    entry_point: Option<std::path::PathBuf>,
    inspect: bool,
) -> Result<WorkflowSpec, Value> {
    let document = match (&action.workflow, entry_point) {
        (Some(document), _) => Arc::clone(document),
        (None, Some(path)) => match tokio::task::spawn_blocking(move || WorkflowSpec::read_document(&path)).await {
            Ok(Ok((_, document))) => Arc::new(document),
            Ok(Err(error)) => return Err(failed_to_load(&FlowError::from(error))),
            Err(error) => return Err(failed_to_load(&FlowError::from(error))),
        },
        (None, None) => return Err(failed_to_load(&FlowError::NoEntryPoint)),
    };
    if inspect && let Value::Object(definition) = document.as_ref() {
        let registered = |reference: &str| match registry.action(reference)?.parameters.parse() {
            Value::Object(parameters) => Some(parameters),
            _ => Some(Map::new()),
        };
        let problems = inspect::inspect_with_contents(definition, &registered);
        if !problems.is_empty() {
            return Err(json!({"errors": inspect::errors(&problems), "output": null}));
        }
    }
    WorkflowSpec::parse(&document).map_err(|error| failed_to_load(&FlowError::Spec(error)))
}
