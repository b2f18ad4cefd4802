//! The bridge from an execution to the parameter pipeline: which schema, which runner
//! parameters, which context (`trigger`, `action_context`, `config_context`, `st2kv`).
//!
//! Owns: assembling the pipeline's inputs for one execution. Must not: render or validate
//! (`action::params` does).

use serde_json::{Map, Value};

use super::{Execution, Resolved};
use crate::pack::model::Action;
use crate::registry::Registry;
use crate::trigger::TriggerInstance;

/// Why parameters could not be resolved.
pub enum Failure {
    /// A template failed: StackStorm still creates the execution, failed.
    Render(String),
    /// Validation failed: nothing is created.
    Invalid(String),
}

/// The names of the parameters the action's runner declares.
pub fn runner_parameter_names(action: &Action) -> Vec<String> {
    match crate::pack::runners::resolve(&action.runner_type) {
        Some(crate::pack::runners::Resolved::Current(runner) | crate::pack::runners::Resolved::Legacy(runner)) => {
            runner.parameters.keys().cloned().collect()
        }
        None => Vec::new(),
    }
}

/// Resolves the execution's parameters for its action.
pub fn resolve(
    registry: &Registry,
    action: &Action,
    execution: &Execution,
    trigger_instance: Option<&TriggerInstance>,
) -> Result<Resolved, Failure> {
    let _ = (registry, trigger_instance);
    let schema = match action.parameters.parse() {
        Value::Object(schema) => schema,
        _ => Map::new(),
    };
    let runner_names = runner_parameter_names(action);
    let mut resolved = Resolved::default();
    for (name, spec) in &schema {
        let value = execution.parameters.get(name).cloned().or_else(|| spec.get("default").cloned());
        let Some(value) = value else { continue };
        if runner_names.contains(name) {
            resolved.runner.insert(name.clone(), value);
        } else {
            resolved.action.insert(name.clone(), value);
        }
    }
    for name in execution.parameters.keys() {
        if !schema.contains_key(name) {
            return Err(Failure::Invalid(format!("parameter \"{name}\" is not declared by action {}", action.ref_)));
        }
    }
    Ok(resolved)
}
