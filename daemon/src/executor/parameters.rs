//! The bridge from an execution to the parameter pipeline: which schema, which runner
//! parameters, which context (`trigger`, `action_context`, `config_context`, `st2kv`).
//!
//! Owns: assembling the pipeline's inputs for one execution. Must not: render or validate
//! (`action::params` does).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::action::params::{self, ParamError, ParamInput};
use crate::execution::{Execution, Resolved};
use crate::registry::Registry;
use crate::trigger::TriggerInstance;
use st2d_core::pack::model::Action;
use st2d_core::template::{Context, KeyValueSource};

/// Why parameters could not be resolved.
pub enum Failure {
    /// A template failed: StackStorm still creates the execution, failed.
    Render(String),
    /// Validation failed: nothing is created.
    Invalid(String),
}

/// The names of the parameters the action's runner declares.
pub fn runner_parameter_names(action: &Action) -> BTreeSet<String> {
    match st2d_core::pack::runners::resolve(&action.runner_type) {
        Some(
            st2d_core::pack::runners::Resolved::Current(runner) | st2d_core::pack::runners::Resolved::Legacy(runner),
        ) => runner.parameters.keys().cloned().collect(),
        None => BTreeSet::new(),
    }
}

/// Resolves the execution's parameters for its action: `trigger` is the instance's payload for
/// rule-driven executions, `config_context` the pack's config, `action_context` the execution's
/// context.
pub fn resolve(
    registry: &Registry,
    action: &Action,
    execution: &Execution,
    trigger_instance: Option<&TriggerInstance>,
    kv: Arc<dyn KeyValueSource>,
    typed: bool,
) -> Result<Resolved, Failure> {
    let schema = match action.parameters.parse() {
        Value::Object(schema) => schema,
        _ => Map::new(),
    };
    let runner_names = runner_parameter_names(action);
    let config = registry
        .pack(&action.pack)
        .and_then(|pack| pack.content.as_ref())
        .map(|content| Value::Object(content.config.values.clone()))
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut context = Context::new(kv, &execution.user)
        .with("action_context", execution.context.clone())
        .with("config_context", config);
    if let Some(instance) = trigger_instance {
        context.set("trigger", instance.payload.clone());
    }
    let input =
        ParamInput { schema: &schema, runner_names: &runner_names, given: &execution.parameters, typed, context };
    params::resolve(input).map_err(|error| match error {
        ParamError::Invalid(message) => Failure::Invalid(message),
        ParamError::Render(message) => Failure::Render(message),
    })
}
