//! Context: every variable an expression reads through `ctx()` is assigned before it is read
//! ("Variable "x" is referenced before assignment."), and none starts with `__` (private).
//! Assignments come from the application context (StackStorm's `st2`, `parent`), `input`,
//! `vars`, each transition's `publish` (for the tasks it leads to; a join gets what every
//! branch published) and `output`, walked from the start tasks as Orquesta walks them.
//!
//! Owns: that walk and its problems. Must not: decide what an expression means beyond the
//! names it reads (`expressions` finds them).

use std::collections::{BTreeSet, HashMap, VecDeque};

use serde_json::Value;

use super::expressions::references;
use super::view::{Task, Transition, Workflow, inline_assignments, truthy};
use super::{At, Category, Problem};

type Names = BTreeSet<String>;

pub(super) fn inspect(workflow: &Workflow<'_>, application: &[&str]) -> Vec<Problem> {
    let mut assigned: Names = application.iter().map(|name| name.to_string()).collect();
    let mut problems = Vec::new();
    let root = At::root();
    for name in ["input", "vars", "tasks", "output"] {
        if name == "tasks" {
            if !workflow.tasks.is_empty() {
                let (found, after) = tasks(workflow, &assigned, &root.property("tasks"));
                problems.extend(found);
                assigned.extend(after);
            }
            continue;
        }
        if let Some(value) = workflow.document.get(name).filter(|value| truthy(value)) {
            property(value, &root.property(name), &mut assigned, &mut problems, true);
        }
    }
    problems
}

/// The tasks from the start tasks on, each with what its inbound transitions assigned; gives
/// the problems and every name assigned on the way.
fn tasks(workflow: &Workflow<'_>, before: &Names, at: &At) -> (Vec<Problem>, Names) {
    let mut problems = Vec::new();
    let mut assigned = before.clone();
    let mut joined: HashMap<String, Names> = HashMap::new();
    let mut sent: HashMap<String, Names> = HashMap::new();
    let mut traversed: Vec<String> = Vec::new();
    let mut queue: VecDeque<(String, Option<Names>)> =
        workflow.start_tasks().into_iter().map(|name| (name, Some(before.clone()))).collect();
    while let Some((name, context)) = queue.pop_front() {
        traversed.push(name.clone());
        let context = context
            .filter(|context| !context.is_empty())
            .unwrap_or_else(|| joined.get(&name).cloned().unwrap_or_default());
        let Some(task) = workflow.task(&name) else { continue };
        let task_at = at.task(&name);
        let mut found = task_problems(task, &context, &task_at);
        found.sort_by(|a, b| a.spec_path.cmp(&b.spec_path));
        problems.extend(found);
        assigned.extend(context.iter().cloned());
        for (index, transition) in task.transitions.iter().enumerate() {
            for target in &transition.targets {
                let (found, branch) = transition_problems(transition, &context, &task_at.property("next").item(index));
                problems.extend(found);
                if traversed.contains(target) || !workflow.has_task(target) {
                    continue;
                }
                let joins = workflow.task(target).and_then(|task| task.field("join")).is_some_and(truthy);
                if joins {
                    joined.entry(target.clone()).or_default().extend(branch);
                    queue.push_back((target.clone(), None));
                } else if sent.get(target) != Some(&branch) {
                    queue.push_back((target.clone(), Some(branch.clone())));
                    sent.insert(target.clone(), branch);
                }
            }
        }
    }
    (problems, assigned)
}

/// A task's own values, in Orquesta's order: `delay`, `with`, `action`, `input`.
fn task_problems(task: &Task<'_>, context: &Names, at: &At) -> Vec<Problem> {
    let mut assigned = context.clone();
    let mut problems = Vec::new();
    if let Some(delay) = task.field("delay").filter(|value| truthy(value)) {
        property(delay, &at.property("delay"), &mut assigned, &mut problems, false);
    }
    if let Some(with) = task.with() {
        for name in ["items", "concurrency"] {
            if let Some(value) = with.get(name).filter(|value| truthy(value)) {
                property(value, &at.property("with").property(name), &mut assigned, &mut problems, false);
            }
        }
    }
    for (name, value) in [("action", &task.action), ("input", &task.input)] {
        if let Some(value) = value.as_ref().filter(|value| truthy(value)) {
            property(value, &at.property(name), &mut assigned, &mut problems, false);
        }
    }
    problems
}

/// A transition's `when`, `publish` (which assigns) and `do`; gives its problems and the
/// names assigned after it.
fn transition_problems(transition: &Transition, context: &Names, at: &At) -> (Vec<Problem>, Names) {
    let mut assigned = context.clone();
    let mut problems = Vec::new();
    let parts = [("when", transition.when.as_ref(), false), ("publish", transition.publish.as_ref(), true)];
    for (name, value, assigns) in parts {
        if let Some(value) = value.filter(|value| truthy(value)) {
            property(value, &at.property(name), &mut assigned, &mut problems, assigns);
        }
    }
    property(&transition.targets_field, &at.property("do"), &mut assigned, &mut problems, false);
    problems.sort_by(|a, b| a.spec_path.cmp(&b.spec_path));
    (problems, assigned)
}

/// One property: shorthand text read as its assignments, a list item by item (in order, so
/// an item sees what the items before it assigned).
fn property(value: &Value, at: &At, assigned: &mut Names, problems: &mut Vec<Problem>, assigns: bool) {
    let shorthand = match value {
        Value::String(text) => inline_assignments(text).map(Value::Array),
        _ => None,
    };
    match shorthand.as_ref().unwrap_or(value) {
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                statement(item, &at.element(index), assigned, problems, assigns);
            }
        }
        value => statement(value, at, assigned, problems, assigns),
    }
}

fn statement(value: &Value, at: &At, assigned: &mut Names, problems: &mut Vec<Problem>, assigns: bool) {
    for reference in references(value) {
        let expression = |message: String| {
            at.expression_problem(Category::Context, Some(reference.language), &reference.text, message)
        };
        if reference.name.starts_with("__") {
            problems.push(expression(format!(
                "Variable \"{}\" that is prefixed with double underscores is considered a private variable and \
                 cannot be referenced.",
                reference.name
            )));
        }
        if !assigned.contains(&reference.name) {
            problems.push(expression(format!("Variable \"{}\" is referenced before assignment.", reference.name)));
        }
    }
    if assigns {
        assigned.extend(assigned_names(value));
    }
}

/// The names a value assigns: a mapping's keys, a list's names and single-key mappings' keys,
/// a text itself.
fn assigned_names(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(items) => items
            .iter()
            .flat_map(|item| match item {
                Value::String(name) => vec![name.clone()],
                Value::Object(map) if map.len() == 1 => map.keys().cloned().collect(),
                _ => Vec::new(),
            })
            .collect(),
        Value::String(name) => vec![name.clone()],
        _ => Vec::new(),
    }
}
