//! Orquesta's workflow functions, one implementation for YAQL and Jinja alike: `ctx()`,
//! `result()`, `succeeded()`, `failed()`, `completed()`, `item()`, `task()`, `task_status()`,
//! `st2kv()`, `json()`, `zip()`.
//!
//! Owns: what each function answers from a `Scope` (the context of one evaluation: the
//! branch's variables, the task being evaluated, its item, the tasks run so far, the
//! datastore). Must not: change the workflow's state.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::template::{KeyValueSource, KvError, KvScope};

/// The functions a `Scope` answers (the loader accepts these beside YAQL's library).
pub const FUNCTIONS: [&str; 11] =
    ["ctx", "result", "succeeded", "failed", "completed", "item", "task", "task_status", "st2kv", "json", "zip"];

/// Statuses `failed()` answers true for.
const FAILED: [&str; 4] = ["failed", "timeout", "abandoned", "expired"];
/// Statuses `completed()` answers true for.
const COMPLETED: [&str; 6] = ["succeeded", "failed", "timeout", "abandoned", "expired", "canceled"];

/// Why a function could not answer; the message is Orquesta's where it has one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FunctionError {
    #[error("The variable \"{0}\" is undefined.")]
    UndefinedVariable(String),
    #[error("ctx() takes a variable name, not {0}")]
    CtxArgument(Value),
    #[error("item() is only defined in a with-items task")]
    NoItem,
    #[error("Item does not have key \"{0}\".")]
    ItemKey(String),
    #[error("Item is not type of dict; item(\"{0}\") needs named items")]
    ItemNotDict(String),
    #[error("item() takes a name, not {0}")]
    ItemArgument(Value),
    #[error("task() needs a task name here")]
    TaskNameNeeded,
    #[error("task() takes a task name, not {0}")]
    TaskArgument(Value),
    #[error("Unable to find task execution for \"{0}\".")]
    TaskNotFound(String),
    #[error("task_status() needs a task name")]
    TaskStatusNameNeeded,
    #[error("st2kv() needs a key name")]
    KeyNameNeeded,
    #[error("Key \"{0}\" does not exist in the datastore")]
    KeyNotFound(String),
    #[error(transparent)]
    Datastore(#[from] KvError),
    #[error("json(): {0}")]
    Json(String),
    #[error("json() needs a string")]
    JsonArgument,
    #[error("zip() takes lists, not {0}")]
    ZipArgument(Value),
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

impl Scope {
    pub fn new(ctx: Map<String, Value>, kv: Arc<dyn KeyValueSource>, user: &str) -> Self {
        Self { ctx, current: None, item: None, tasks: Arc::default(), kv, user: user.to_string() }
    }

    /// Answers the function `name`, or `None` when it is not one of Orquesta's.
    pub fn call(&self, name: &str, args: &[Value], named: &Map<String, Value>) -> Option<Result<Value, FunctionError>> {
        let answer = match name {
            "ctx" => self.ctx_(args),
            "result" => Ok(self.current.as_ref().map(|c| c.result.clone()).unwrap_or(Value::Null)),
            "succeeded" => Ok(Value::Bool(self.status_in(&["succeeded"]))),
            "failed" => Ok(Value::Bool(self.status_in(&FAILED))),
            "completed" => Ok(Value::Bool(self.status_in(&COMPLETED))),
            "item" => self.item_(args),
            "task" => self.task_(args),
            "task_status" => match args.first().and_then(Value::as_str) {
                Some(task) => Ok(self.tasks.get(task).map(|view| view["status"].clone()).unwrap_or(Value::Null)),
                None => Err(FunctionError::TaskStatusNameNeeded),
            },
            "st2kv" => self.st2kv(args, named),
            "json" => match args.first() {
                Some(Value::String(text)) => serde_json::from_str(text).map_err(|e| FunctionError::Json(e.to_string())),
                Some(other) => Ok(other.clone()),
                None => Err(FunctionError::JsonArgument),
            },
            "zip" => zip(args),
            _ => return None,
        };
        Some(answer)
    }

    fn status_in(&self, statuses: &[&str]) -> bool {
        self.current.as_ref().is_some_and(|c| statuses.contains(&c.status.as_str()))
    }

    fn ctx_(&self, args: &[Value]) -> Result<Value, FunctionError> {
        match args.first() {
            None => Ok(Value::Object(self.ctx.clone())),
            Some(Value::String(name)) => {
                self.ctx.get(name).cloned().ok_or_else(|| FunctionError::UndefinedVariable(name.clone()))
            }
            Some(other) => Err(FunctionError::CtxArgument(other.clone())),
        }
    }

    fn item_(&self, args: &[Value]) -> Result<Value, FunctionError> {
        let Some(item) = &self.item else { return Err(FunctionError::NoItem) };
        match args.first() {
            None => Ok(item.clone()),
            Some(Value::String(name)) => match item {
                Value::Object(parts) => parts.get(name).cloned().ok_or_else(|| FunctionError::ItemKey(name.clone())),
                _ => Err(FunctionError::ItemNotDict(name.clone())),
            },
            Some(other) => Err(FunctionError::ItemArgument(other.clone())),
        }
    }

    fn task_(&self, args: &[Value]) -> Result<Value, FunctionError> {
        let name = match args.first() {
            Some(Value::String(name)) => name.clone(),
            None => match &self.current {
                Some(current) => current.name.clone(),
                None => return Err(FunctionError::TaskNameNeeded),
            },
            Some(other) => return Err(FunctionError::TaskArgument(other.clone())),
        };
        if let Some(current) = self.current.as_ref().filter(|c| c.name == name) {
            return Ok(serde_json::json!({"id": name, "route": 0, "status": current.status, "result": current.result}));
        }
        self.tasks.get(&name).cloned().ok_or_else(|| FunctionError::TaskNotFound(name))
    }

    /// `st2kv('system.key')` reads a system key, any other name a key of the workflow's user;
    /// `decrypt => true` decrypts a secret; `default => v` answers a missing key.
    fn st2kv(&self, args: &[Value], named: &Map<String, Value>) -> Result<Value, FunctionError> {
        let Some(Value::String(key)) = args.first() else { return Err(FunctionError::KeyNameNeeded) };
        let decrypt = named.get("decrypt").or(args.get(1)).is_some_and(|v| v.as_bool() == Some(true));
        let (scope, name) = match key.strip_prefix("system.") {
            Some(name) => (KvScope::System, name),
            None => (KvScope::User(self.user.clone()), key.strip_prefix("user.").unwrap_or(key)),
        };
        match self.kv.get(&scope, name)? {
            Some(found) if found.secret && decrypt => Ok(Value::String(self.kv.decrypt(&found.value)?)),
            Some(found) => Ok(Value::String(found.value)),
            None => match named.get("default") {
                Some(default) => Ok(default.clone()),
                None => Err(FunctionError::KeyNotFound(key.clone())),
            },
        }
    }
}

/// `zip(a, b, ...)`: lists of the items at each position, as long as the shortest list.
fn zip(args: &[Value]) -> Result<Value, FunctionError> {
    let lists = args
        .iter()
        .map(|arg| arg.as_array().ok_or_else(|| FunctionError::ZipArgument(arg.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let length = lists.iter().map(|list| list.len()).min().unwrap_or(0);
    Ok(Value::Array((0..length).map(|i| Value::Array(lists.iter().map(|list| list[i].clone()).collect())).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::NoKeyValues;
    use serde_json::json;

    #[test]
    fn the_functions_answer_from_the_scope() {
        let mut scope =
            Scope::new(json!({"a": 1}).as_object().cloned().unwrap_or_default(), Arc::new(NoKeyValues), "u");
        scope.current = Some(Current { name: "t".into(), status: "failed".into(), result: json!({"x": 2}) });
        scope.item = Some(json!({"host": "h1"}));
        scope.tasks = Arc::new(BTreeMap::from([("s".to_string(), json!({"status": "succeeded", "result": 5}))]));
        let none = Map::new();
        let cases = [
            ("ctx", json!([]), Ok(json!({"a": 1}))),
            ("ctx", json!(["a"]), Ok(json!(1))),
            ("ctx", json!(["b"]), Err("The variable \"b\" is undefined.")),
            ("result", json!([]), Ok(json!({"x": 2}))),
            ("succeeded", json!([]), Ok(json!(false))),
            ("failed", json!([]), Ok(json!(true))),
            ("completed", json!([]), Ok(json!(true))),
            ("item", json!(["host"]), Ok(json!("h1"))),
            ("item", json!(["port"]), Err("Item does not have key \"port\".")),
            ("task", json!(["s"]), Ok(json!({"status": "succeeded", "result": 5}))),
            ("task", json!(["nope"]), Err("Unable to find task execution for \"nope\".")),
            ("task_status", json!(["s"]), Ok(json!("succeeded"))),
            ("json", json!(["{\"k\": [1]}"]), Ok(json!({"k": [1]}))),
            ("zip", json!([[1, 2, 3], ["a", "b"]]), Ok(json!([[1, "a"], [2, "b"]]))),
            ("st2kv", json!(["system.missing"]), Err("Key \"system.missing\" does not exist")),
        ];
        for (name, args, expected) in cases {
            let args = args.as_array().cloned().unwrap_or_default();
            let answer = scope.call(name, &args, &none).expect("an orquesta function");
            match (answer, expected) {
                (Ok(value), Ok(expected)) => assert_eq!(value, expected, "{name}{args:?}"),
                (Err(error), Err(expected)) => assert!(error.to_string().contains(expected), "{name}: {error}"),
                (answer, expected) => panic!("{name}{args:?}: {answer:?}, expected {expected:?}"),
            }
        }
        let default = Map::from_iter([("default".to_string(), json!("d"))]);
        assert_eq!(scope.call("st2kv", &[json!("k")], &default), Some(Ok(json!("d"))));
        assert!(scope.call("len", &[], &none).is_none());
    }
}
