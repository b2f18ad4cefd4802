//! Contents: StackStorm's own check of each task (st2's `inspect_task_contents`): the action
//! is a reference (`pack.name`), is registered, and the task's input gives every required
//! parameter without a default and nothing the action does not take. An action given by an
//! expression, or input that is not a mapping, is not checked.
//!
//! Owns: those checks and their messages. Must not: know where actions are registered (the
//! caller's `ActionCatalog` answers).

use serde_json::{Map, Value};

use super::expressions::languages;
use super::view::{Workflow, truthy};
use super::{At, Category, Problem};

/// The registered actions, as the content check needs them.
pub trait ActionCatalog {
    /// The parameters a registered action takes (its runner's and its own, merged); `None`
    /// when no action has that reference.
    fn parameters(&self, action_ref: &str) -> Option<Map<String, Value>>;
}

impl<F: Fn(&str) -> Option<Map<String, Value>>> ActionCatalog for F {
    fn parameters(&self, action_ref: &str) -> Option<Map<String, Value>> {
        self(action_ref)
    }
}

pub(super) fn inspect(workflow: &Workflow<'_>, actions: &dyn ActionCatalog) -> Vec<Problem> {
    let mut problems = Vec::new();
    let tasks = At::root().property("tasks");
    for task in &workflow.tasks {
        let Some(Value::String(action)) = &task.action else { continue };
        if action.is_empty() || !languages(action).is_empty() {
            continue;
        }
        let at = tasks.task(&task.name);
        if !action.contains('.') {
            let message = format!("The action reference \"{action}\" is not formatted correctly.");
            problems.push(at.property("action").problem(Category::Content, message));
            continue;
        }
        let Some(parameters) = actions.parameters(action) else {
            let message = format!("The action \"{action}\" is not registered in the database.");
            problems.push(at.property("action").problem(Category::Content, message));
            continue;
        };
        let given = match task.input.as_ref().filter(|input| truthy(input)) {
            None => Map::new(),
            Some(Value::Object(given)) => given.clone(),
            Some(_) => continue,
        };
        let mut missing: Vec<&String> = parameters
            .iter()
            .filter(|(_, schema)| schema.get("required").is_some_and(truthy) && schema.get("default").is_none())
            .map(|(name, _)| name)
            .filter(|name| !given.contains_key(*name))
            .collect();
        missing.sort();
        for name in missing {
            let message = format!("Action \"{action}\" is missing required input \"{name}\".");
            problems.push(at.property("input").problem(Category::Content, message));
        }
        let mut unexpected: Vec<&String> = given.keys().filter(|name| !parameters.contains_key(*name)).collect();
        unexpected.sort();
        for name in unexpected {
            let message = format!("Action \"{action}\" has unexpected input \"{name}\".");
            let input = at.property("input");
            let entry = At {
                spec_path: format!("{}.{name}", input.spec_path),
                schema_path: format!("{}.patternProperties.^\\w+$", input.schema_path),
            };
            problems.push(entry.problem(Category::Content, message));
        }
    }
    problems
}
