//! Executions as the doors offer them: run an action, list and read executions (with their
//! workflow trees), cancel, pause, resume and re-run (StackStorm's
//! st2api/controllers/v1/actionexecutions.py).
//!
//! Owns: what a request for executions means (defaults, filters, required fields). Must not:
//! change an execution itself (the executor does) or format one for a door.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use st2d_core::status::ExecutionStatus;

use super::{Page, Runtime, ServiceError, Window};
use crate::execution::{Execution, ExecutionRequest};
use crate::executor::ReRun;

/// Executions listed when a request names no limit.
pub const DEFAULT_LIMIT: usize = 50;

/// How deep a workflow's tree is followed when one execution is read.
pub const TREE_DEPTH: usize = 16;

/// An action run asked for by a user.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub action: String,
    pub parameters: Map<String, Value>,
    /// Empty means the system user.
    pub user: String,
    pub trace_tag: Option<String>,
    /// Entries the caller adds to the execution's context.
    pub context: Map<String, Value>,
    /// The parameters are JSON values typed by the caller (the REST API), checked against their
    /// declared types as StackStorm's API checks them; otherwise `key=value` text, cast by type.
    pub typed: bool,
}

/// Which executions a list asks for; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub action: String,
    pub status: String,
    pub rule: String,
    pub trigger_instance: String,
    pub parent: String,
    pub user: String,
    pub runner: String,
    /// Started strictly after / before these times (StackStorm's `timestamp_gt`, `timestamp_lt`).
    pub started_after: Option<DateTime<Utc>>,
    pub started_before: Option<DateTime<Utc>>,
    /// Also the tasks of workflows (otherwise only top-level executions, unless `parent` is set).
    pub include_children: bool,
}

pub async fn run(runtime: &Runtime, request: RunRequest) -> Result<Execution, ServiceError> {
    let action = request.action.trim().to_string();
    if action.is_empty() {
        return Err(ServiceError::invalid("action is required"));
    }
    runtime.journal.admission().admit_execution()?;
    let execution = runtime
        .executor
        .request(ExecutionRequest {
            action,
            parameters: request.parameters,
            user: request.user,
            rule: None,
            trigger_instance: None,
            trace_tag: request.trace_tag,
            parent: None,
            context: request.context,
            typed: request.typed,
        })
        .await?;
    Ok(execution)
}

/// The newest executions that pass `filter`, newest first, in `window` (a window without a
/// limit gets `DEFAULT_LIMIT`). `total` counts those passing up to the window's end and one
/// more when more exist, so a client can tell there are more.
pub fn list(runtime: &Runtime, filter: &ExecutionFilter, window: Window) -> Result<Page<Execution>, ServiceError> {
    let status = match filter.status.trim() {
        "" => None,
        text => Some(
            ExecutionStatus::parse(text)
                .ok_or_else(|| ServiceError::invalid(format!("\"{text}\" is not an execution status")))?,
        ),
    };
    let keep = |e: &Execution| {
        let top_level_only = !filter.include_children && filter.parent.is_empty();
        (!top_level_only || e.parent.is_none())
            && (filter.action.is_empty() || e.action == filter.action)
            && status.is_none_or(|s| e.status == s)
            && (filter.rule.is_empty() || e.rule.as_deref() == Some(filter.rule.as_str()))
            && (filter.trigger_instance.is_empty()
                || e.trigger_instance.as_deref() == Some(filter.trigger_instance.as_str()))
            && (filter.parent.is_empty() || e.parent.as_deref() == Some(filter.parent.as_str()))
            && (filter.user.is_empty() || e.user == filter.user)
            && (filter.runner.is_empty() || e.runner == filter.runner)
            // At the microseconds StackStorm's timestamps (and st2d's views) carry.
            && filter.started_after.is_none_or(|after| e.start_timestamp.timestamp_micros() > after.timestamp_micros())
            && filter.started_before.is_none_or(|before| e.start_timestamp.timestamp_micros() < before.timestamp_micros())
    };
    let limit = window.limit.unwrap_or(DEFAULT_LIMIT);
    let wanted = window.offset.saturating_add(limit).saturating_add(1);
    let records = runtime
        .store
        .recent_executions(wanted, |record| Execution::from_record(record).is_some_and(|e| keep(&e)))
        .map_err(ServiceError::internal)?;
    let executions: Vec<Execution> = records.iter().filter_map(|r| Execution::from_record(r)).collect();
    Ok(Window { offset: window.offset, limit: Some(limit) }.cut(executions))
}

/// The filters of the history view (StackStorm's `/executions/views/filters`): the names whose
/// distinct values are offered.
pub const FILTER_NAMES: [&str; 6] = ["action", "status", "rule", "runner", "trigger_type", "user"];

/// Every distinct value of each filter in `names` (all of `FILTER_NAMES` when empty) across the
/// kept history, sorted. An unknown name is refused.
pub fn filter_values(runtime: &Runtime, names: &[String]) -> Result<BTreeMap<String, Vec<String>>, ServiceError> {
    if let Some(unknown) = names.iter().find(|n| !FILTER_NAMES.contains(&n.as_str())) {
        return Err(ServiceError::invalid(format!(
            "\"{unknown}\" is not an execution filter (types: {})",
            FILTER_NAMES.join(", ")
        )));
    }
    let wanted: Vec<&str> =
        FILTER_NAMES.iter().copied().filter(|n| names.is_empty() || names.iter().any(|w| w == n)).collect();
    let seen: Mutex<BTreeMap<&str, BTreeSet<String>>> =
        Mutex::new(wanted.iter().map(|name| (*name, BTreeSet::new())).collect());
    runtime
        .store
        .recent_executions(usize::MAX, |record| {
            let Some(execution) = Execution::from_record(record) else { return false };
            let mut seen = seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for (name, values) in seen.iter_mut() {
                let value = match *name {
                    "action" => Some(execution.action.clone()),
                    "status" => Some(execution.status.as_str().to_string()),
                    "rule" => execution.rule.clone(),
                    "runner" => Some(execution.runner.clone()),
                    "trigger_type" => trigger_type_of(&execution),
                    _ => Some(execution.user.clone()),
                };
                values.extend(value.filter(|v| !v.is_empty()));
            }
            false
        })
        .map_err(ServiceError::internal)?;
    let seen = seen.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(seen.into_iter().map(|(name, values)| (name.to_string(), values.into_iter().collect())).collect())
}

/// The trigger (type) that made an execution, as its context records it.
fn trigger_type_of(execution: &Execution) -> Option<String> {
    execution.context.get("trigger_instance")?.get("ref").and_then(Value::as_str).map(str::to_string)
}

pub fn get(runtime: &Runtime, id: &str) -> Result<Execution, ServiceError> {
    runtime.executor.get(id.trim()).ok_or_else(|| missing(id))
}

fn missing(id: &str) -> ServiceError {
    ServiceError::not_found(format!("execution {} does not exist", id.trim()))
}

/// The ids of a workflow's tasks, in creation order (the links alone, without reading the
/// tasks' records).
pub fn child_ids(runtime: &Runtime, id: &str) -> Vec<String> {
    let Some(numeric) = crate::trigger::parse_id(id) else { return Vec::new() };
    let children = runtime.store.children(numeric).unwrap_or_else(|error| {
        tracing::error!(execution_id = %id, error = %error, "cannot read a workflow's children");
        Vec::new()
    });
    children.into_iter().map(crate::trigger::format_id).collect()
}

/// An execution and its workflow tasks, to `depth` levels.
#[derive(Debug, Clone)]
pub struct Tree {
    pub execution: Execution,
    pub children: Vec<Tree>,
}

impl Tree {
    /// Every execution of the tree below its root, depth first, in creation order.
    pub fn descendants(&self) -> Vec<&Execution> {
        let mut found = Vec::new();
        for child in &self.children {
            found.push(&child.execution);
            found.extend(child.descendants());
        }
        found
    }
}

/// One execution with its tasks (and theirs, to `depth` levels).
pub fn tree(runtime: &Runtime, id: &str, depth: usize) -> Result<Tree, ServiceError> {
    Ok(grow(runtime, get(runtime, id)?, depth))
}

fn grow(runtime: &Runtime, execution: Execution, depth: usize) -> Tree {
    let children = if depth == 0 {
        Vec::new()
    } else {
        runtime.executor.children(&execution.id).into_iter().map(|child| grow(runtime, child, depth - 1)).collect()
    };
    Tree { execution, children }
}

pub async fn cancel(runtime: &Runtime, id: &str) -> Result<Execution, ServiceError> {
    Ok(runtime.executor.cancel(id.trim()).await?)
}

/// Pauses (`pause`) or resumes a workflow.
pub fn pause(runtime: &Runtime, id: &str, pause: bool) -> Result<Execution, ServiceError> {
    let id = id.trim();
    Ok(if pause { runtime.executor.pause(id)? } else { runtime.executor.resume(id)? })
}

pub async fn re_run(runtime: &Runtime, id: &str, re_run: ReRun) -> Result<Execution, ServiceError> {
    runtime.journal.admission().admit_execution()?;
    Ok(runtime.executor.re_run(id.trim(), re_run).await?)
}
