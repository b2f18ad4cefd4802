//! A definition as Orquesta's spec objects see it: a task's `action` shorthand split into the
//! action and its input (which then replaces `input`), `with` given as text read as its
//! `items`, a transition's `publish` shorthand read as assignments and an absent `do` read as
//! `continue`; the engine commands are tasks with nothing in them; and the graph (next,
//! previous and start tasks, cycles) as Orquesta walks it.
//!
//! Owns: that reading, for the inspection's categories. Must not: report problems (a part
//! of the wrong shape is read as absent; syntax reports it).

use serde_json::{Map, Value};

use crate::orquesta::inline;
use crate::orquesta::spec::{COMMANDS, split_action};
use crate::pyfmt::py_str;

pub(super) use crate::pyfmt::truthy;

/// The `k=v` pairs of shorthand text as single-key mappings, when it holds any.
pub(super) fn inline_assignments(text: &str) -> Option<Vec<Value>> {
    let pairs = inline::pairs(text).ok().filter(|pairs| !pairs.is_empty())?;
    Some(pairs.into_iter().map(|(key, value)| Value::Object(Map::from_iter([(key, value)]))).collect())
}

pub(super) struct Workflow<'a> {
    pub document: &'a Map<String, Value>,
    /// The tasks in the order the definition lists them (empty when `tasks` is not a mapping).
    pub tasks: Vec<Task<'a>>,
    /// What an engine command is as a task: nothing.
    command: Task<'a>,
}

pub(super) struct Task<'a> {
    pub name: String,
    /// The task's own fields; empty for an engine command or a task that is not a mapping.
    fields: Option<&'a Map<String, Value>>,
    /// The action, without the shorthand's input.
    pub action: Option<Value>,
    /// The shorthand's input when the action has one, else `input`.
    pub input: Option<Value>,
    pub transitions: Vec<Transition>,
}

pub(super) struct Transition {
    pub when: Option<Value>,
    /// `publish`, shorthand text read as a list of single-key mappings.
    pub publish: Option<Value>,
    /// `do` as written (`continue` when it is absent or empty).
    pub targets_field: Value,
    /// The names `do` gives.
    pub targets: Vec<String>,
}

impl<'a> Workflow<'a> {
    pub fn new(document: &'a Map<String, Value>) -> Self {
        let tasks = match document.get("tasks") {
            Some(Value::Object(tasks)) => tasks.iter().map(|(name, body)| Task::new(name, body.as_object())).collect(),
            _ => Vec::new(),
        };
        Self { document, tasks, command: Task::new("", None) }
    }

    /// A task the definition defines (engine command names included when a task has one).
    pub fn defined(&self, name: &str) -> Option<&Task<'a>> {
        self.tasks.iter().find(|task| task.name == name)
    }

    /// Whether `do` may name it: an engine command or a defined task.
    pub fn has_task(&self, name: &str) -> bool {
        COMMANDS.contains(&name) || self.defined(name).is_some()
    }

    /// The task `name` as Orquesta gets it: an engine command is an empty task (even when a
    /// task has its name); `None` for a name that is not defined.
    pub fn task(&self, name: &str) -> Option<&Task<'a>> {
        if COMMANDS.contains(&name) {
            return Some(&self.command);
        }
        self.defined(name)
    }

    /// The names each transition of `name` leads to, sorted by name (Orquesta's
    /// `get_next_tasks`).
    pub fn next_tasks(&self, name: &str) -> Vec<String> {
        let mut next: Vec<String> = match self.task(name) {
            Some(task) => task.transitions.iter().flat_map(|t| t.targets.iter().cloned()).collect(),
            None => Vec::new(),
        };
        next.sort();
        next
    }

    /// How many transitions lead to `name`.
    pub fn inbound_count(&self, name: &str) -> usize {
        self.tasks.iter().map(|task| self.next_tasks(&task.name).iter().filter(|n| *n == name).count()).sum()
    }

    /// The tasks no transition leads to, sorted by name.
    pub fn start_tasks(&self) -> Vec<String> {
        let mut starts: Vec<String> =
            self.tasks.iter().filter(|task| self.inbound_count(&task.name) == 0).map(|t| t.name.clone()).collect();
        starts.sort();
        starts
    }

    /// Whether a path of transitions leads from `name` back to it.
    pub fn in_cycle(&self, name: &str) -> bool {
        let mut traversed: Vec<String> = Vec::new();
        let mut queue: std::collections::VecDeque<String> = self.next_tasks(name).into();
        while let Some(next) = queue.pop_front() {
            if next == name {
                return true;
            }
            if traversed.contains(&next) {
                continue;
            }
            queue.extend(self.next_tasks(&next));
            traversed.push(next);
        }
        false
    }

    /// Orquesta's join: the task has `join` (any value but null).
    pub fn is_join(&self, name: &str) -> bool {
        self.task(name).is_some_and(|task| task.field("join").is_some_and(|join| !join.is_null()))
    }
}

impl<'a> Task<'a> {
    fn new(name: &str, fields: Option<&'a Map<String, Value>>) -> Self {
        let raw = |key: &str| fields.and_then(|f| f.get(key)).cloned();
        let (action, input) = match raw("action") {
            Some(Value::String(text)) => match shorthand(&text) {
                Some((reference, input)) => (Some(Value::String(reference)), Some(input)),
                None => (Some(Value::String(text)), raw("input")),
            },
            action => (action, raw("input")),
        };
        let transitions = match raw("next") {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).map(Transition::new).collect(),
            _ => Vec::new(),
        };
        Self { name: name.to_string(), fields, action, input, transitions }
    }

    pub fn field(&self, key: &str) -> Option<&'a Value> {
        self.fields.and_then(|fields| fields.get(key))
    }

    /// `with` as a mapping (text is its `items`); `None` when absent, empty or of another shape.
    pub fn with(&self) -> Option<Map<String, Value>> {
        match self.field("with")? {
            Value::String(items) if !items.is_empty() => {
                Some(Map::from_iter([("items".to_string(), Value::String(items.clone()))]))
            }
            Value::Object(with) if !with.is_empty() => Some(with.clone()),
            _ => None,
        }
    }
}

/// `core.echo message="hi"` → (`core.echo`, `{"message": "hi"}`), when the text has pairs.
fn shorthand(text: &str) -> Option<(String, Value)> {
    let (reference, rest) = split_action(text);
    let pairs = inline::pairs(rest).ok().filter(|pairs| !pairs.is_empty())?;
    Some((reference.to_string(), Value::Object(pairs.into_iter().collect())))
}

impl Transition {
    fn new(fields: &Map<String, Value>) -> Self {
        let publish = match fields.get("publish") {
            Some(Value::String(text)) => inline_assignments(text).map(Value::Array),
            other => other.cloned(),
        };
        let targets_field =
            fields.get("do").filter(|targets| truthy(targets)).cloned().unwrap_or_else(|| Value::from("continue"));
        let targets = match &targets_field {
            Value::String(text) => text.split(',').map(|name| name.trim().to_string()).collect(),
            Value::Array(names) => names.iter().map(py_str).collect(),
            Value::Object(names) => names.keys().cloned().collect(),
            _ => Vec::new(),
        };
        Self { when: fields.get("when").cloned(), publish, targets_field, targets }
    }
}
