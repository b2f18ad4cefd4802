//! Semantics: what Orquesta's task mapping finds wrong with the graph: a task named as an
//! engine command, no task to start from, a transition to a task that is not defined (on the
//! tasks reachable from the start), a join that cannot tell at which level of nested forks it
//! joins, and a with-items task without an action.
//!
//! Owns: those checks, walked as Orquesta walks the graph. Must not: look at values inside
//! the tasks (expressions and context are other categories).

use std::collections::{BTreeSet, HashMap, VecDeque};

use super::view::{Task, Workflow, truthy};
use super::{At, Category, Problem};
use crate::orquesta::spec::COMMANDS;

pub(super) fn inspect(workflow: &Workflow<'_>) -> Vec<Problem> {
    let tasks = At::root().property("tasks");
    let mut problems = reserved_names(workflow, &tasks);
    if !workflow.tasks.is_empty() && workflow.start_tasks().is_empty() {
        problems.push(tasks.problem(
            Category::Semantic,
            "Unable to identify any tasks to start the workflow. If the workflow has a loop, please add a task \
             that serves as an entry point (or lead) into the loop.",
        ));
    }
    problems.extend(undefined_tasks(workflow, &tasks));
    problems.extend(unreachable_joins(workflow, &tasks));
    let has_items = |task: &Task<'_>| task.field("with").is_some_and(|with| !with.is_null());
    for task in workflow.tasks.iter().filter(|task| has_items(task) && !task.action.as_ref().is_some_and(truthy)) {
        let message = "The action property is required for with items task.";
        problems.push(tasks.task(&task.name).problem(Category::Semantic, message));
    }
    problems
}

fn reserved_names(workflow: &Workflow<'_>, tasks: &At) -> Vec<Problem> {
    workflow
        .tasks
        .iter()
        .filter(|task| COMMANDS.contains(&task.name.as_str()))
        .map(|task| {
            let message = format!("The task name \"{}\" is reserved with special function.", task.name);
            tasks.task(&task.name).problem(Category::Semantic, message)
        })
        .collect()
}

/// Transitions to names that are neither a task nor an engine command, on the tasks reached
/// from the start tasks; one problem per transition that names one.
fn undefined_tasks(workflow: &Workflow<'_>, tasks: &At) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut traversed: Vec<String> = Vec::new();
    let mut queued: Vec<String> = Vec::new();
    let mut queue: VecDeque<String> = workflow.start_tasks().into();
    while let Some(name) = queue.pop_front() {
        traversed.push(name.clone());
        let Some(task) = workflow.task(&name) else { continue };
        let at = tasks.task(&name).property("next");
        for (index, transition) in task.transitions.iter().enumerate() {
            for target in &transition.targets {
                if traversed.contains(target) {
                    continue;
                }
                if workflow.has_task(target) {
                    if !COMMANDS.contains(&target.as_str()) && !queued.contains(target) {
                        queue.push_back(target.clone());
                        queued.push(target.clone());
                    }
                } else {
                    let message = format!("The task \"{target}\" is not defined.");
                    problems.push(at.item(index).property("do").problem(Category::Semantic, message));
                }
            }
        }
    }
    problems
}

/// Where each reached task stands: whether it joins, the split tasks above it, and the tasks
/// it was reached from.
struct Staged {
    join: bool,
    splits: BTreeSet<String>,
    previous: BTreeSet<String>,
}

/// A join is unreachable when the tasks it is reached from sit below different splits (a
/// task with several inbound transitions and no join, outside a cycle).
fn unreachable_joins(workflow: &Workflow<'_>, tasks: &At) -> Vec<Problem> {
    let mut staging: Vec<(String, Staged)> = Vec::new();
    let mut seen_splits: HashMap<(String, String), BTreeSet<String>> = HashMap::new();
    let mut queue: VecDeque<(Option<String>, String, Vec<String>)> =
        workflow.start_tasks().into_iter().map(|name| (None, name, Vec::new())).collect();
    while let Some((previous, name, mut splits)) = queue.pop_front() {
        if workflow.defined(&name).is_none() {
            continue;
        }
        if !workflow.is_join(&name) && workflow.inbound_count(&name) > 1 && !workflow.in_cycle(&name) {
            splits.push(name.clone());
        }
        let position = match staging.iter().position(|(staged, _)| *staged == name) {
            Some(position) => position,
            None => {
                let staged =
                    Staged { join: workflow.is_join(&name), splits: BTreeSet::new(), previous: BTreeSet::new() };
                staging.push((name.clone(), staged));
                staging.len() - 1
            }
        };
        let staged = &mut staging[position].1;
        staged.splits.extend(splits.iter().cloned());
        staged.previous.extend(previous);
        for next in workflow.next_tasks(&name) {
            let is_staged = staging.iter().any(|(staged, _)| *staged == next);
            if is_staged && workflow.in_cycle(&next) {
                continue;
            }
            let new: BTreeSet<String> = splits.iter().cloned().collect();
            let existing = seen_splits.entry((name.clone(), next.clone())).or_default();
            // An edge seen only without splits is walked again (Orquesta's check of an
            // empty set is false).
            if existing.is_empty() || !new.is_subset(existing) {
                queue.push_back((Some(name.clone()), next, splits.clone()));
                existing.extend(new);
            }
        }
    }
    let splits_of = |name: &str| staging.iter().find(|(staged, _)| staged == name).map(|(_, s)| &s.splits);
    staging
        .iter()
        .filter(|(_, staged)| staged.join)
        .filter(|(_, staged)| staged.previous.iter().any(|previous| splits_of(previous) != Some(&staged.splits)))
        .map(|(name, _)| {
            let message = format!(
                "The join task \"{name}\" is unreachable. A join task is determined to be unreachable if there are \
                 nested forks from multi-referenced tasks that join on the said task. This is ambiguous to the \
                 workflow engine because it does not know at which level should the join occurs."
            );
            tasks.task(name).problem(Category::Semantic, message)
        })
        .collect()
}
