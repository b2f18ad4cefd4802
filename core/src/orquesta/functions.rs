//! The functions Orquesta workflows call, one implementation for YAQL and Jinja alike:
//! Orquesta's own (`ctx`, `json`, `zip`, `item`, `task_status`, `succeeded`, `failed`,
//! `completed`, `result`: `orquesta/expressions/functions/`), StackStorm's `st2kv` and `task`
//! (`contrib/runners/orquesta_runner/orquesta_functions/`), and the rest of what StackStorm's
//! runner registers (`template::functions::ORQUESTA`: paths, data, regex, time, versions).
//!
//! Owns: what each function answers from a `Scope` (the context of one evaluation: the
//! branch's variables, the task being evaluated, its item, the tasks run so far, the
//! datastore), the Python signature each is called with, and the exception texts Orquesta and
//! StackStorm raise. Must not: change the workflow's state.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::pyfmt::py_str;
use crate::template::functions::{self as st2, Signature, python_type, truthy};
use crate::template::{KeyValueSource, KvScope};

/// Every function a workflow may call (the loader accepts these beside YAQL's library).
pub const FUNCTIONS: [&str; 38] = [
    // Orquesta's own (orquesta's setup.py).
    "ctx",
    "json",
    "zip",
    "item",
    "task_status",
    "succeeded",
    "failed",
    "completed",
    "result",
    // StackStorm's Orquesta runner (contrib/runners/orquesta_runner/setup.py).
    "st2kv",
    "task",
    "basename",
    "dirname",
    "from_json_string",
    "from_yaml_string",
    "json_dump",
    "json_parse",
    "json_escape",
    "jsonpath_query",
    "regex_match",
    "regex_replace",
    "regex_search",
    "regex_substring",
    "to_human_time_from_seconds",
    "to_json_string",
    "to_yaml_string",
    "use_none",
    "version_compare",
    "version_more_than",
    "version_less_than",
    "version_equal",
    "version_match",
    "version_bump_major",
    "version_bump_minor",
    "version_bump_patch",
    "version_strip_patch",
    "yaml_dump",
    "yaml_parse",
];

/// Statuses `failed()` answers true for: a task whose action failed, timed out or was
/// abandoned while running is failed in Orquesta.
const FAILED: [&str; 4] = ["failed", "timeout", "abandoned", "expired"];
/// Statuses `completed()` answers true for.
const COMPLETED: [&str; 6] = ["succeeded", "failed", "timeout", "abandoned", "expired", "canceled"];
/// What `task_status()` answers for a task that has no status (Orquesta's `statuses.UNSET`).
const UNSET: &str = "null";

/// Why a function could not answer, as the exception Orquesta or StackStorm raises
/// (`ClassName: message`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FunctionError {
    #[error("VariableUndefinedError: The variable \"{0}\" is undefined.")]
    UndefinedVariable(String),
    #[error("VariableInaccessibleError: The variable \"{0}\" is for internal use and inaccessible.")]
    InaccessibleVariable(String),
    /// The function cannot answer here (no current task, no such item key, task or key).
    #[error("ExpressionEvaluationException: {0}")]
    Unanswerable(String),
    /// `task()` without a name outside a task: the task id is missing from the context.
    #[error("KeyError: '{0}'")]
    MissingContextKey(String),
    #[error("TypeError: {0}")]
    WrongType(String),
    #[error(transparent)]
    Function(#[from] st2::FunctionError),
}

impl FunctionError {
    /// The arguments do not fit the function's parameters.
    pub fn is_wrong_call(&self) -> bool {
        matches!(self, FunctionError::Function(st2::FunctionError::WrongCall(_)))
    }

    /// The key of a Python `KeyError`, which Orquesta's YAQL evaluator reports apart.
    pub fn missing_key(&self) -> Option<&str> {
        match self {
            FunctionError::MissingContextKey(key) | FunctionError::Function(st2::FunctionError::MissingKey(key)) => {
                Some(key)
            }
            _ => None,
        }
    }
}

/// The task an expression is evaluated for (transitions, retry, publish).
#[derive(Debug, Clone, Default)]
pub struct Current {
    pub name: String,
    pub status: String,
    pub result: Value,
}

/// Everything an expression can read.
#[derive(Clone)]
pub struct Scope {
    pub ctx: Map<String, Value>,
    pub current: Option<Current>,
    /// The item of a with-items task (with named items, a mapping of the names).
    pub item: Option<Value>,
    /// `task(name)` views of the latest run of each task.
    pub tasks: Arc<BTreeMap<String, Value>>,
    pub kv: Arc<dyn KeyValueSource>,
    pub user: String,
}

/// The functions answered here rather than by `template::functions`: Orquesta's own and
/// StackStorm's `st2kv` and `task`.
#[derive(Debug, Clone, Copy)]
enum ScopeFunction {
    Ctx,
    Json,
    Zip,
    Item,
    TaskStatus,
    Succeeded,
    Failed,
    Completed,
    Result,
    Task,
    St2kv,
}

/// Python signatures; a leading `context` parameter is filled by the scope, as Orquesta binds it.
const SCOPE_FUNCTIONS: [(&str, ScopeFunction, Signature); 11] = [
    ("ctx", ScopeFunction::Ctx, Signature::new("ctx_", &["context", "key"], 1)),
    ("json", ScopeFunction::Json, Signature::new("json_", &["s"], 1)),
    ("zip", ScopeFunction::Zip, Signature { name: "zip_", params: &[], required: 0, rest: true, any_named: true }),
    ("item", ScopeFunction::Item, Signature::new("item_", &["context", "key"], 1)),
    ("task_status", ScopeFunction::TaskStatus, Signature::new("task_status_", &["context", "task_id", "route"], 2)),
    ("succeeded", ScopeFunction::Succeeded, Signature::new("succeeded_", &["context"], 1)),
    ("failed", ScopeFunction::Failed, Signature::new("failed_", &["context"], 1)),
    ("completed", ScopeFunction::Completed, Signature::new("completed_", &["context"], 1)),
    ("result", ScopeFunction::Result, Signature::new("result_", &["context"], 1)),
    ("task", ScopeFunction::Task, Signature::new("task", &["context", "task_id", "route"], 1)),
    (
        "st2kv",
        ScopeFunction::St2kv,
        Signature { name: "st2kv_", params: &["context", "key"], required: 2, rest: false, any_named: true },
    ),
];

impl Scope {
    pub fn new(ctx: Map<String, Value>, kv: Arc<dyn KeyValueSource>, user: &str) -> Self {
        Self { ctx, current: None, item: None, tasks: Arc::default(), kv, user: user.to_string() }
    }

    /// Answers the function `name`, or `None` when a workflow has no function of that name.
    pub fn call(&self, name: &str, args: &[Value], named: &Map<String, Value>) -> Option<Result<Value, FunctionError>> {
        if let Some(function) = st2::orquesta_function(name) {
            return Some(function.call(args.to_vec(), named.clone()).map_err(FunctionError::from));
        }
        let (_, function, signature) = SCOPE_FUNCTIONS.iter().find(|(scope_name, ..)| *scope_name == name)?;
        let mut positional = Vec::with_capacity(args.len() + 1);
        if signature.params.first() == Some(&"context") {
            positional.push(Value::Null);
        }
        positional.extend_from_slice(args);
        Some(signature.bind(positional, named.clone()).map_err(FunctionError::from).and_then(|bound| match function {
            ScopeFunction::Ctx => self.variables(bound.arg(1)),
            ScopeFunction::Json => json_document(bound.arg(0)),
            ScopeFunction::Zip => zip_longest(&bound.rest, &bound.named),
            ScopeFunction::Item => self.item_part(bound.arg(1)),
            ScopeFunction::TaskStatus => Ok(Value::String(self.task_status(bound.arg(1)))),
            ScopeFunction::Succeeded => self.current_status().map(|s| Value::Bool(s == "succeeded")),
            ScopeFunction::Failed => self.current_status().map(|s| Value::Bool(FAILED.contains(&s))),
            ScopeFunction::Completed => self.current_status().map(|s| Value::Bool(COMPLETED.contains(&s))),
            ScopeFunction::Result => self.current().map(|c| c.result.clone()),
            ScopeFunction::Task => self.task_run(bound.arg(1)),
            ScopeFunction::St2kv => self.st2kv(bound.arg(1), &bound.named),
        }))
    }

    fn current(&self) -> Result<&Current, FunctionError> {
        self.current
            .as_ref()
            .ok_or_else(|| FunctionError::Unanswerable("The current task is not set in the context.".to_string()))
    }

    fn current_status(&self) -> Result<&str, FunctionError> {
        self.current().map(|c| c.status.as_str())
    }

    /// `ctx()`: the variables (without internal `__` ones); `ctx(name)`: one of them.
    fn variables(&self, key: &Value) -> Result<Value, FunctionError> {
        if !truthy(key) {
            let visible = self.ctx.iter().filter(|(name, _)| !name.starts_with("__"));
            return Ok(Value::Object(visible.map(|(k, v)| (k.clone(), v.clone())).collect()));
        }
        let name = hashable(key)?;
        match self.ctx.get(&name) {
            None => Err(FunctionError::UndefinedVariable(name)),
            Some(_) if name.starts_with("__") && key.is_string() => Err(FunctionError::InaccessibleVariable(name)),
            Some(value) if key.is_string() => Ok(value.clone()),
            Some(_) => Err(FunctionError::UndefinedVariable(name)),
        }
    }

    /// `item()`: the current item (null outside with-items); `item(name)`: a part of it.
    fn item_part(&self, key: &Value) -> Result<Value, FunctionError> {
        let item = self.item.clone().unwrap_or(Value::Null);
        if !truthy(key) {
            return Ok(item);
        }
        let Value::Object(parts) = item else {
            return Err(FunctionError::Unanswerable("Item is not type of collections.abc.Mapping.".to_string()));
        };
        let name = hashable(key)?;
        match parts.get(&name).filter(|_| key.is_string()) {
            Some(value) => Ok(value.clone()),
            None => Err(FunctionError::Unanswerable(format!("Item does not have key \"{name}\"."))),
        }
    }

    /// `task_status(name)`: the task's status as Orquesta names it, `"null"` when it has none.
    fn task_status(&self, task: &Value) -> String {
        let status = match (task, &self.current) {
            (Value::String(name), Some(current)) if *name == current.name => Some(current.status.clone()),
            (Value::String(name), _) => {
                self.tasks.get(name).and_then(|view| view["status"].as_str().map(str::to_string))
            }
            _ => None,
        };
        match status {
            Some(status) if FAILED.contains(&status.as_str()) => "failed".to_string(),
            Some(status) => status,
            None => UNSET.to_string(),
        }
    }

    /// `task()`: the current task's run; `task(name)`: the latest run of that task.
    fn task_run(&self, task: &Value) -> Result<Value, FunctionError> {
        let name = match task {
            Value::Null => match &self.current {
                Some(current) => current.name.clone(),
                None => return Err(FunctionError::MissingContextKey("id".to_string())),
            },
            // Orquesta formats the name into its lookup key, so any value names a task.
            other => py_str(other),
        };
        let not_found = || FunctionError::Unanswerable(format!("Unable to find task execution for \"{name}\"."));
        let mut view = match &self.current {
            Some(current) if current.name == name => {
                serde_json::json!({"id": name, "status": current.status, "result": current.result})
            }
            _ => self.tasks.get(&name).cloned().ok_or_else(not_found)?,
        };
        if let Value::Object(fields) = &mut view {
            for key in ["task_id", "task_name"] {
                fields.entry(key).or_insert_with(|| Value::String(name.clone()));
            }
            fields.entry("route").or_insert(Value::from(0));
        }
        Ok(view)
    }

    /// `st2kv('system.key')` reads a system key, any other name a key of the workflow's user
    /// (`user:key`); `decrypt=True` decrypts a secret; `default=v` answers a missing key.
    fn st2kv(&self, key: &Value, named: &Map<String, Value>) -> Result<Value, FunctionError> {
        let Value::String(key) = key else {
            return Err(FunctionError::WrongType("Given key is not typeof string.".to_string()));
        };
        let decrypt = match named.get("decrypt") {
            None => false,
            Some(Value::Bool(flag)) => *flag,
            Some(_) => return Err(FunctionError::WrongType("Decrypt parameter is not typeof bool.".to_string())),
        };
        let (scope, name, shown) = match key.strip_prefix("system.") {
            Some(name) => (KvScope::System, name, name.to_string()),
            None => (KvScope::User(self.user.clone()), key.as_str(), format!("{}:{key}", self.user)),
        };
        let unanswerable = |e: crate::template::KvError| FunctionError::Unanswerable(e.to_string());
        match self.kv.get(&scope, name).map_err(unanswerable)? {
            Some(found) if found.secret && decrypt => {
                Ok(Value::String(self.kv.decrypt(&found.value).map_err(unanswerable)?))
            }
            Some(found) => Ok(Value::String(found.value)),
            None => match named.get("default") {
                Some(default) => Ok(default.clone()),
                None => Err(FunctionError::Unanswerable(format!(
                    "The key \"{shown}\" does not exist in the StackStorm datastore."
                ))),
            },
        }
    }
}

/// A key as Python compares it with a dict's keys: a string, or the text of a number or
/// boolean (which never equals a string key); lists and dicts cannot be keys.
fn hashable(key: &Value) -> Result<String, FunctionError> {
    match key {
        Value::Array(_) | Value::Object(_) => {
            Err(FunctionError::WrongType(format!("unhashable type: '{}'", python_type(key))))
        }
        other => Ok(py_str(other)),
    }
}

/// `json(s)`: a dict as it is, a string's JSON document.
fn json_document(value: &Value) -> Result<Value, FunctionError> {
    match value {
        Value::Object(_) => Ok(value.clone()),
        Value::String(text) => Ok(st2::parse_json(text)?),
        _ => Err(FunctionError::WrongType("Given object is not typeof string.".to_string())),
    }
}

/// `zip(a, b, ..., pad=None)`: lists of the items at each position, as long as the longest
/// argument, the shorter padded with `pad`; one argument is returned as it is; null counts as
/// an empty list; a string is its characters and a dict its keys.
fn zip_longest(args: &[Value], named: &Map<String, Value>) -> Result<Value, FunctionError> {
    let args: Vec<Value> =
        args.iter().map(|arg| if arg.is_null() { Value::Array(Vec::new()) } else { arg.clone() }).collect();
    if let [only] = args.as_slice() {
        return Ok(only.clone());
    }
    let pad = named.get("pad").cloned().unwrap_or(Value::Null);
    let lists = args
        .iter()
        .enumerate()
        .map(|(at, arg)| match arg {
            Value::Array(items) => Ok(items.clone()),
            Value::String(text) => Ok(text.chars().map(|c| Value::String(c.to_string())).collect()),
            Value::Object(map) => Ok(map.keys().map(|k| Value::String(k.clone())).collect()),
            _ => Err(FunctionError::WrongType(format!("zip_longest argument #{} must support iteration", at + 1))),
        })
        .collect::<Result<Vec<Vec<Value>>, _>>()?;
    let length = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(Value::Array(
        (0..length)
            .map(|i| {
                Value::Array(lists.iter().map(|list| list.get(i).cloned().unwrap_or_else(|| pad.clone())).collect())
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_list_is_orquestas_and_stackstorms() {
        let own: Vec<&str> = SCOPE_FUNCTIONS.iter().map(|(name, ..)| *name).collect();
        let st2: Vec<&str> = st2::ORQUESTA.iter().map(|(name, _)| *name).collect();
        let mut expected: Vec<&str> = own.into_iter().chain(st2).collect();
        let mut listed = FUNCTIONS.to_vec();
        expected.sort_unstable();
        listed.sort_unstable();
        assert_eq!(listed, expected);
    }
}
