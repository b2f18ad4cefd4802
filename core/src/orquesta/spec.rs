//! An Orquesta workflow definition (`version: 1.0`): `input`, `vars`, `tasks` (with `action`,
//! `input`, `next` transitions with `when`, `publish` and `do`, `join`, `with` items, `retry`,
//! `delay`) and `output`, read and checked as a whole before the workflow runs: unknown keys,
//! wrong types, transitions to tasks that do not exist, and every expression (YAQL and Jinja)
//! compiled, each error naming the file, the line and the field.
//!
//! What StackStorm reports before a run (Orquesta's inspection) is `inspect`'s; this is st2d's
//! own reading, which the conductor runs from: a definition must pass both.
//!
//! Owns: reading and checking the definition, and the task graph (start tasks, inbound tasks
//! of each join). Must not: evaluate expressions or run anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{expr, inline, inspect};

/// The engine commands a transition's `do` may name instead of a task.
pub const COMMANDS: [&str; 4] = ["continue", "fail", "noop", "retry"];

/// A checked workflow.
#[derive(Debug, Clone)]
pub struct WorkflowSpec {
    /// Input names with their default (which may hold expressions), in order.
    pub input: Vec<(String, Option<Value>)>,
    pub vars: Vec<(String, Value)>,
    pub tasks: BTreeMap<String, TaskSpec>,
    /// Task names in the order the file lists them.
    pub order: Vec<String>,
    pub output: Vec<(String, Value)>,
    /// The tasks no transition leads to: where the workflow starts.
    pub starts: Vec<String>,
    /// For each task, the distinct tasks with a transition to it.
    pub inbound: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub name: String,
    /// The action reference (it may be an expression); `None` for a task with no action.
    pub action: Option<Value>,
    /// Input from the shorthand on `action`, then `input` (a mapping, or one expression giving one).
    pub input: Value,
    pub join: Option<Join>,
    pub with: Option<WithItems>,
    pub retry: Option<Retry>,
    pub delay: Option<Value>,
    pub next: Vec<Transition>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Join {
    All,
    Count(usize),
}

#[derive(Debug, Clone)]
pub struct WithItems {
    /// The expression giving the list (or, with several names, the list of tuples).
    pub items: Value,
    /// `x, y in <% ... %>`: the names of each item's parts; empty for plain items.
    pub names: Vec<String>,
    pub concurrency: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Retry {
    /// When to retry; `None` retries a failed task.
    pub when: Option<Value>,
    pub count: Value,
    pub delay: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Transition {
    pub when: Option<Value>,
    pub publish: Vec<(String, Value)>,
    /// Task names and engine commands, in order.
    pub next: Vec<String>,
}

/// A definition problem: the field path and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl SpecError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// A definition file, and the line in it when it is known: `path` or `path:line`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileLine {
    pub path: PathBuf,
    pub line: Option<u32>,
}

impl std::fmt::Display for FileLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        match self.line {
            Some(line) => write!(f, ":{line}"),
            None => Ok(()),
        }
    }
}

/// Why a workflow definition file cannot be used; each names the file, and the line when it
/// can be found.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the workflow {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{at}: the workflow is not valid YAML: {}", .error.message)]
    Yaml { at: FileLine, error: crate::yaml::YamlError },
    #[error("{at}: a workflow must be a mapping")]
    NotMapping { at: FileLine },
}

/// Why a definition that reads cannot run: what st2d's reading or Orquesta's inspection found.
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionProblem {
    /// The field it is about (`tasks.t1.input`), to find its line; `None` for the whole.
    pub field: Option<String>,
    /// The problem, its field first.
    pub text: String,
}

/// What is wrong with the items of `with`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum WithItemsError {
    #[error("expected \"name in <% expression %>\", found \"{0}\"")]
    ExpectedNames(String),
    #[error("item names must be words separated by commas, found \"{0}\"")]
    Names(String),
    #[error("the items must be an expression, found \"{0}\"")]
    NotExpression(String),
}

impl WorkflowSpec {
    /// Reads the definition file `path`: its text and the definition, which must be a YAML
    /// mapping (else nothing of it can be inspected or run). What is wrong inside it is for
    /// `problems`.
    pub fn read_document(path: &Path) -> Result<(String, Value), LoadError> {
        let at = |line| FileLine { path: path.to_path_buf(), line };
        let text =
            std::fs::read_to_string(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
        let document = crate::yaml::parse(&text).map_err(|error| LoadError::Yaml { at: at(error.line), error })?;
        if !document.is_object() {
            return Err(LoadError::NotMapping { at: at(None) });
        }
        Ok((text, document))
    }

    /// What keeps a definition that reads from running, but what needs the registered
    /// actions (Orquesta's content check, made at run time): st2d's own reading of it
    /// (`parse`) first, then each problem of Orquesta's inspection.
    pub fn problems(document: &Value) -> Vec<DefinitionProblem> {
        let mut problems = Vec::new();
        if let Err(error) = Self::parse(document) {
            let text = if error.field.is_empty() { error.message.clone() } else { error.to_string() };
            problems.push(DefinitionProblem { field: Some(error.field).filter(|f| !f.is_empty()), text });
        }
        if let Value::Object(document) = document {
            problems.extend(
                inspect::inspect(document)
                    .into_iter()
                    .map(|problem| DefinitionProblem { field: problem.spec_path.clone(), text: problem.to_string() }),
            );
        }
        problems
    }

    pub fn parse(document: &Value) -> Result<Self, SpecError> {
        let Value::Object(top) = document else { return Err(SpecError::new("", "a workflow must be a mapping")) };
        const KEYS: [&str; 8] = ["version", "name", "description", "tags", "input", "vars", "tasks", "output"];
        if let Some(unknown) = top.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(SpecError::new(unknown.as_str(), format!("unknown key (a workflow has {})", KEYS.join(", "))));
        }
        match top.get("version") {
            Some(Value::Number(n)) if n.as_f64() == Some(1.0) => {}
            Some(Value::String(v)) if v.trim() == "1.0" || v.trim() == "1" => {}
            Some(other) => {
                return Err(SpecError::new("version", format!("unsupported version {other}; st2d runs 1.0")));
            }
            // Orquesta reads a definition without a version as 1.0.
            None => {}
        }
        let input = assignments(top.get("input"), "input", true)?;
        let vars = assignments(top.get("vars"), "vars", true)?
            .into_iter()
            .map(|(name, value)| (name, value.unwrap_or(Value::Null)))
            .collect::<Vec<_>>();
        let output = assignments(top.get("output"), "output", false)?
            .into_iter()
            .map(|(name, value)| (name, value.unwrap_or(Value::Null)))
            .collect::<Vec<_>>();
        let Some(Value::Object(task_map)) = top.get("tasks") else {
            return Err(SpecError::new("tasks", "is required and must be a mapping of task names to tasks"));
        };
        if task_map.is_empty() {
            return Err(SpecError::new("tasks", "the workflow has no tasks"));
        }
        let mut tasks = BTreeMap::new();
        let mut order = Vec::new();
        for (name, body) in task_map {
            if COMMANDS.contains(&name.as_str()) {
                return Err(SpecError::new(format!("tasks.{name}"), "is an engine command, not a task name"));
            }
            tasks.insert(name.clone(), task(name, body)?);
            order.push(name.clone());
        }
        for (name, value) in input.iter().filter_map(|(n, v)| v.as_ref().map(|v| (n, v))) {
            checked(value, &format!("input.{name}"))?;
        }
        for (name, value) in &vars {
            checked(value, &format!("vars.{name}"))?;
        }
        for (name, value) in &output {
            checked(value, &format!("output.{name}"))?;
        }
        let mut inbound: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for name in &order {
            for (index, transition) in tasks[name].next.iter().enumerate() {
                for target in &transition.next {
                    if COMMANDS.contains(&target.as_str()) {
                        continue;
                    }
                    if !tasks.contains_key(target) {
                        return Err(SpecError::new(
                            format!("tasks.{name}.next[{index}].do"),
                            format!("task \"{target}\" does not exist"),
                        ));
                    }
                    inbound.entry(target.clone()).or_default().insert(name.clone());
                }
            }
        }
        let starts: Vec<String> = order.iter().filter(|name| !inbound.contains_key(*name)).cloned().collect();
        if starts.is_empty() {
            return Err(SpecError::new(
                "tasks",
                "every task has an inbound transition: the workflow has no start task",
            ));
        }
        Ok(Self { input, vars, tasks, order, output, starts, inbound })
    }

    /// How many arrivals satisfy the join of `task`.
    pub fn join_needs(&self, task: &TaskSpec) -> Option<usize> {
        match task.join? {
            Join::All => Some(self.inbound.get(&task.name).map_or(1, BTreeSet::len)),
            Join::Count(count) => Some(count),
        }
    }
}

/// Compiles every expression in `value`.
fn checked(value: &Value, field: &str) -> Result<(), SpecError> {
    expr::check(value).map_err(|error| SpecError::new(field, error.to_string()))
}

/// `input`, `vars`, `output` and `publish`: a list of names or single-key mappings (a mapping
/// is also taken, in its order).
fn assignments(
    value: Option<&Value>,
    field: &str,
    bare_names: bool,
) -> Result<Vec<(String, Option<Value>)>, SpecError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => Ok(map.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(name) if bare_names || field == "output" => Ok((name.clone(), None)),
                Value::Object(map) if map.len() == 1 => {
                    let (name, value) = map.iter().next().expect("a mapping of one key has a first key");
                    Ok((name.clone(), Some(value.clone())))
                }
                _ if bare_names => Err(SpecError::new(
                    format!("{field}[{index}]"),
                    "must be a name or a single-key mapping of a name to its value",
                )),
                _ => Err(SpecError::new(
                    format!("{field}[{index}]"),
                    "must be a single-key mapping of a name to its value",
                )),
            })
            .collect(),
        Some(_) => Err(SpecError::new(field, "must be a list of names or of single-key mappings")),
    }
}

fn task(name: &str, body: &Value) -> Result<TaskSpec, SpecError> {
    let at = |field: &str| format!("tasks.{name}.{field}");
    let fields = match body {
        Value::Object(fields) => fields.clone(),
        Value::Null => Map::new(),
        _ => return Err(SpecError::new(format!("tasks.{name}"), "a task must be a mapping")),
    };
    const KEYS: [&str; 8] = ["action", "input", "next", "join", "with", "retry", "delay", "description"];
    if let Some(unknown) = fields.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(SpecError::new(at(unknown), format!("unknown key (a task has {})", KEYS.join(", "))));
    }
    let (action, mut input) = match fields.get("action") {
        None | Some(Value::Null) => (None, Map::new()),
        Some(Value::String(text)) => {
            let text = text.trim();
            let (reference, rest) = split_action(text);
            let pairs = inline::pairs(rest).map_err(|e| SpecError::new(at("action"), e.to_string()))?;
            (Some(Value::String(reference.to_string())), pairs.into_iter().collect())
        }
        Some(_) => return Err(SpecError::new(at("action"), "must be an action reference")),
    };
    checked(&Value::Object(input.clone()), &at("action"))?;
    let input = match fields.get("input") {
        None | Some(Value::Null) => Value::Object(input),
        Some(Value::Object(map)) => {
            input.extend(map.clone());
            Value::Object(input)
        }
        Some(Value::String(text)) if expr::has_expression(text) && input.is_empty() => Value::String(text.clone()),
        Some(_) => return Err(SpecError::new(at("input"), "must be a mapping of parameters (or one expression)")),
    };
    if let Some(action) = &action {
        checked(action, &at("action"))?;
    }
    checked(&input, &at("input"))?;
    let join = match fields.get("join") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text == "all" => Some(Join::All),
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => {
            Some(Join::Count(n.as_u64().and_then(|n| usize::try_from(n).ok()).unwrap_or(usize::MAX)))
        }
        Some(_) => return Err(SpecError::new(at("join"), "must be \"all\" or a positive number")),
    };
    let with = match fields.get("with") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            Some(with_items(text, None).map_err(|e| SpecError::new(at("with"), e.to_string()))?)
        }
        Some(Value::Object(map)) => {
            if let Some(unknown) = map.keys().find(|k| !["items", "concurrency"].contains(&k.as_str())) {
                return Err(SpecError::new(
                    at(&format!("with.{unknown}")),
                    "unknown key (with has items, concurrency)",
                ));
            }
            let items = match map.get("items") {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Array(_)) => {
                    return Err(SpecError::new(at("with.items"), "must be an expression giving the items"));
                }
                _ => return Err(SpecError::new(at("with.items"), "is required")),
            };
            let concurrency = map.get("concurrency").filter(|v| !v.is_null()).cloned();
            Some(with_items(&items, concurrency).map_err(|e| SpecError::new(at("with.items"), e.to_string()))?)
        }
        Some(_) => return Err(SpecError::new(at("with"), "must be an expression or a mapping with items")),
    };
    if let Some(with) = &with {
        checked(&with.items, &at("with.items"))?;
        if let Some(concurrency) = &with.concurrency {
            checked(concurrency, &at("with.concurrency"))?;
        }
    }
    let retry = match fields.get("retry") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => {
            if let Some(unknown) = map.keys().find(|k| !["when", "count", "delay"].contains(&k.as_str())) {
                return Err(SpecError::new(
                    at(&format!("retry.{unknown}")),
                    "unknown key (retry has when, count, delay)",
                ));
            }
            let count = map.get("count").cloned().ok_or_else(|| SpecError::new(at("retry.count"), "is required"))?;
            let retry = Retry {
                when: map.get("when").filter(|v| !v.is_null()).cloned(),
                count,
                delay: map.get("delay").filter(|v| !v.is_null()).cloned(),
            };
            for (field, value) in
                [("when", &retry.when), ("count", &Some(retry.count.clone())), ("delay", &retry.delay)]
            {
                if let Some(value) = value {
                    checked(value, &at(&format!("retry.{field}")))?;
                }
            }
            Some(retry)
        }
        Some(_) => return Err(SpecError::new(at("retry"), "must be a mapping with count (and when, delay)")),
    };
    let delay = fields.get("delay").filter(|v| !v.is_null()).cloned();
    if let Some(delay) = &delay {
        checked(delay, &at("delay"))?;
    }
    let next = match fields.get("next") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            items.iter().enumerate().map(|(index, item)| transition(name, index, item)).collect::<Result<_, _>>()?
        }
        Some(_) => return Err(SpecError::new(at("next"), "must be a list of transitions")),
    };
    Ok(TaskSpec { name: name.to_string(), action, input, join, with, retry, delay, next })
}

/// `core.echo message="hi"` → (`core.echo`, `message="hi"`).
pub(crate) fn split_action(text: &str) -> (&str, &str) {
    if text.starts_with("<%") || text.starts_with("{{") {
        return (text, "");
    }
    match text.find(char::is_whitespace) {
        Some(cut) => (&text[..cut], text[cut..].trim()),
        None => (text, ""),
    }
}

/// `<% ctx(xs) %>`, `x in <% ctx(xs) %>` or `x, y in <% zip(...) %>`.
fn with_items(text: &str, concurrency: Option<Value>) -> Result<WithItems, WithItemsError> {
    let text = text.trim();
    let expression_at = text.find("<%").or_else(|| text.find("{{"));
    let (names, items) = match expression_at {
        Some(at) if at > 0 => {
            let head = text[..at].trim();
            let Some(names) = head.strip_suffix(" in").or_else(|| (head == "in").then_some("")) else {
                return Err(WithItemsError::ExpectedNames(text.to_string()));
            };
            let names: Vec<String> = names.split(',').map(|n| n.trim().to_string()).collect();
            if names.iter().any(|n| n.is_empty() || !n.chars().all(|c| c.is_alphanumeric() || c == '_')) {
                return Err(WithItemsError::Names(head.to_string()));
            }
            (names, text[at..].to_string())
        }
        Some(_) => (Vec::new(), text.to_string()),
        None => return Err(WithItemsError::NotExpression(text.to_string())),
    };
    Ok(WithItems { items: Value::String(items), names, concurrency })
}

fn transition(task: &str, index: usize, item: &Value) -> Result<Transition, SpecError> {
    let at = |field: &str| format!("tasks.{task}.next[{index}].{field}");
    let Value::Object(fields) = item else {
        return Err(SpecError::new(format!("tasks.{task}.next[{index}]"), "a transition must be a mapping"));
    };
    if let Some(unknown) = fields.keys().find(|k| !["when", "publish", "do"].contains(&k.as_str())) {
        return Err(SpecError::new(at(unknown), "unknown key (a transition has when, publish, do)"));
    }
    let when = fields.get("when").filter(|v| !v.is_null()).cloned();
    if let Some(when) = &when {
        checked(when, &at("when"))?;
    }
    let publish = match fields.get("publish") {
        Some(Value::String(text)) => inline::pairs(text).map_err(|e| SpecError::new(at("publish"), e.to_string()))?,
        other => assignments(other, &at("publish"), false)?
            .into_iter()
            .map(|(name, value)| (name, value.unwrap_or(Value::Null)))
            .collect(),
    };
    for (name, value) in &publish {
        checked(value, &at(&format!("publish.{name}")))?;
    }
    let next = match fields.get("do") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => text.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(name) => Ok(name.trim().to_string()),
                _ => Err(SpecError::new(at("do"), "must name tasks or engine commands")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(SpecError::new(at("do"), "must name tasks or engine commands")),
    };
    Ok(Transition { when, publish, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(yaml: &str) -> Result<WorkflowSpec, SpecError> {
        WorkflowSpec::parse(&crate::yaml::parse(yaml).expect("yaml"))
    }

    #[test]
    fn a_workflow_reads_with_its_graph_and_shorthands() {
        let spec = parsed(
            "version: 1.0\ninput:\n  - a\n  - b: 2\nvars:\n  - v: <% ctx(a) %>\n  - w\ntasks:\n  t1:\n    action: core.echo message=\"hi there\" n=3\n    next:\n      - when: <% succeeded() %>\n        publish: x=<% result().stdout %> y=\"z\"\n        do: t2, t3\n  t2:\n    action: core.noop\n    next:\n      - do: [t4, noop]\n  t3:\n    with: i, j in <% zip(ctx(a), ctx(b)) %>\n    action: core.echo\n    input:\n      message: <% item(i) %>\n    next:\n      - do: t4\n  t4:\n    join: all\n    retry:\n      count: 2\n      delay: 1\noutput:\n  - x: <% ctx(x) %>\n",
        )
        .expect("valid");
        assert_eq!(spec.input, vec![("a".to_string(), None), ("b".to_string(), Some(Value::from(2)))]);
        assert_eq!(spec.vars[1], ("w".to_string(), Value::Null));
        assert_eq!(spec.starts, vec!["t1"]);
        let t1 = &spec.tasks["t1"];
        assert_eq!(t1.action, Some(Value::from("core.echo")));
        assert_eq!(t1.input, serde_json::json!({"message": "hi there", "n": 3}));
        assert_eq!(t1.next[0].next, vec!["t2", "t3"]);
        assert_eq!(t1.next[0].publish[1], ("y".to_string(), Value::from("z")));
        assert_eq!(spec.tasks["t2"].next[0].next, vec!["t4", "noop"]);
        let with = spec.tasks["t3"].with.as_ref().expect("items");
        assert_eq!(with.names, vec!["i", "j"]);
        assert_eq!(with.items, Value::from("<% zip(ctx(a), ctx(b)) %>"));
        let t4 = &spec.tasks["t4"];
        assert_eq!(t4.join, Some(Join::All));
        assert_eq!(spec.join_needs(t4), Some(2));
        assert!(t4.action.is_none());
    }

    #[test]
    fn a_definition_reads_as_orquesta_reads_it_and_lists_its_problems() {
        // Orquesta takes a definition without a version, and with a name and tags.
        let spec = parsed("name: n\ntags: [t]\ntasks:\n  a: {action: core.noop}\n").expect("valid");
        assert_eq!(spec.starts, vec!["a"]);
        let document = crate::yaml::parse(
            "version: 1.0\ntasks:\n  a:\n    action: core.echo message=<% ctx().x %>\n    next:\n      - do: b\n",
        )
        .expect("yaml");
        let problems: Vec<String> = WorkflowSpec::problems(&document).into_iter().map(|p| p.text).collect();
        assert_eq!(
            problems,
            [
                // st2d's own reading first, then Orquesta's inspection.
                "tasks.a.next[0].do: task \"b\" does not exist",
                "tasks.a.input: context error in \"<% ctx().x %>\": Variable \"x\" is referenced before assignment.",
                "tasks.a.next[0].do: semantic error: The task \"b\" is not defined.",
            ]
        );
    }

    #[test]
    fn broken_workflows_name_the_field() {
        let base = "version: 1.0\ntasks:\n";
        let cases = [
            ("version: 2.0\ntasks:\n  a: {}\n", "version", "unsupported version"),
            ("version: 1.0\n", "tasks", "is required"),
            ("version: 1.0\ntasks: {}\nextra: 1\n", "extra", "unknown key"),
            (&format!("{base}  a: {{action: core.noop, nxt: []}}\n"), "tasks.a.nxt", "unknown key"),
            (&format!("{base}  a:\n    next:\n      - do: b\n"), "tasks.a.next[0].do", "task \"b\" does not exist"),
            (&format!("{base}  a:\n    next:\n      - do: a\n"), "tasks", "no start task"),
            (&format!("{base}  fail: {{}}\n"), "tasks.fail", "engine command"),
            (&format!("{base}  a: {{join: some}}\n"), "tasks.a.join", "\"all\" or a positive number"),
            (&format!("{base}  a: {{with: ctx(x)}}\n"), "tasks.a.with", "must be an expression"),
            (&format!("{base}  a: {{retry: {{delay: 1}}}}\n"), "tasks.a.retry.count", "is required"),
            (&format!("{base}  a:\n    action: core.echo message\n"), "tasks.a.action", "expected key=value"),
            (&format!("{base}  a:\n    next:\n      - publish: [x]\n"), "tasks.a.next[0].publish[0]", "single-key"),
            (&format!("{base}  a:\n    next:\n      - when: <% succeeded( %>\n"), "tasks.a.next[0].when", ""),
            (&format!("{base}  a:\n    input: {{x: '{{{{ ctx( }}}}'}}\n"), "tasks.a.input", ""),
        ];
        for (yaml, field, message) in cases {
            let error = parsed(yaml).expect_err(yaml);
            assert_eq!(error.field, field, "{yaml}: {error:?}");
            assert!(error.message.contains(message), "{yaml}: {error:?}");
        }
    }
}
