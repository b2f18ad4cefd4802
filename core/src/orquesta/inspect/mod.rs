//! Orquesta's inspection of a workflow definition, as StackStorm runs it before each workflow
//! starts (orquesta's `WorkflowSpec.inspect` and st2's `workflows.inspect`): syntax (the
//! definition against Orquesta's JSON schema), semantics (the task graph), expressions (each
//! YAQL and Jinja expression parses), context (every variable is assigned before it is read)
//! and contents (each task's action is registered and given the input it takes). Each
//! problem is an entry of the failed execution's `errors`, shaped and sorted as StackStorm's.
//!
//! Owns: what each category finds, its messages and paths, and the order of the list. Must
//! not: read files, know the registry (contents ask an `ActionCatalog`) or run anything.

mod contents;
mod context;
mod expressions;
mod semantics;
mod syntax;
#[cfg(test)]
mod tests;
mod view;

use serde_json::{Map, Value, json};

pub use contents::ActionCatalog;

/// The keys of StackStorm's workflow context (`st2`, and `parent`: the execution's own
/// context, which StackStorm always has), which a definition may read without assigning.
pub const APPLICATION_CONTEXT: [&str; 2] = ["st2", "parent"];

/// The kinds of problem, named as the entries' `type`; in the order StackStorm lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Content,
    Context,
    Expression,
    Semantic,
    Syntax,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Content => "content",
            Category::Context => "context",
            Category::Expression => "expression",
            Category::Semantic => "semantic",
            Category::Syntax => "syntax",
        }
    }
}

/// One problem, as StackStorm's inspection reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub category: Category,
    pub message: String,
    /// Where in the definition (`tasks.task1.input`); `None` for the definition as a whole.
    pub spec_path: Option<String>,
    /// Where in Orquesta's schema (`properties.tasks.patternProperties.^\w+$.properties.input`).
    pub schema_path: String,
    /// For expression and context problems: `yaql` or `jinja` (`None` for text that mixes
    /// both), and the expression.
    pub expression: Option<(Option<&'static str>, String)>,
}

impl Problem {
    /// The entry of the execution's `errors`.
    pub fn to_json(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("type".to_string(), json!(self.category.as_str()));
        if let Some((language, expression)) = &self.expression {
            entry.insert("language".to_string(), json!(language));
            entry.insert("expression".to_string(), json!(expression));
        }
        entry.insert("message".to_string(), json!(self.message));
        entry.insert("spec_path".to_string(), json!(self.spec_path));
        entry.insert("schema_path".to_string(), json!(self.schema_path));
        Value::Object(entry)
    }
}

/// One line for a person: `tasks.task1.input: context error in "<% ctx().x %>": Variable...`.
impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(at) = &self.spec_path {
            write!(f, "{at}: ")?;
        }
        write!(f, "{} error", self.category.as_str())?;
        if let Some((_, expression)) = &self.expression {
            write!(f, " in \"{expression}\"")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The inspection that needs nothing but the definition (syntax, semantics, expressions,
/// context), in StackStorm's order. `document` is the definition as read (a mapping).
pub fn inspect(document: &Map<String, Value>) -> Vec<Problem> {
    let workflow = view::Workflow::new(document);
    let mut problems = syntax::inspect(document);
    problems.extend(semantics::inspect(&workflow));
    problems.extend(expressions::inspect(&workflow));
    problems.extend(context::inspect(&workflow, &APPLICATION_CONTEXT));
    sort(&mut problems);
    problems
}

/// StackStorm's whole inspection before a run: `inspect`, then the contents of each task
/// against the registered actions.
pub fn inspect_with_contents(document: &Map<String, Value>, actions: &dyn ActionCatalog) -> Vec<Problem> {
    let mut problems = inspect(document);
    problems.extend(contents::inspect(&view::Workflow::new(document), actions));
    sort(&mut problems);
    problems
}

/// The `errors` of an execution that failed inspection.
pub fn errors(problems: &[Problem]) -> Value {
    Value::Array(problems.iter().map(Problem::to_json).collect())
}

/// By type, then schema path (StackStorm's sort), each category within as Orquesta sorted it
/// (by spec path too; content problems stay in task order).
fn sort(problems: &mut [Problem]) {
    problems.sort_by(|a, b| {
        let spec_path = |p: &Problem| match p.category {
            Category::Content => String::new(),
            _ => p.spec_path.clone().unwrap_or_default(),
        };
        (a.category, &a.schema_path, spec_path(a)).cmp(&(b.category, &b.schema_path, spec_path(b)))
    });
}

/// Builds problems that share a place in the definition.
#[derive(Clone)]
struct At {
    spec_path: String,
    schema_path: String,
}

impl At {
    fn root() -> Self {
        Self { spec_path: String::new(), schema_path: String::new() }
    }

    /// A property: `tasks` / `properties.tasks`.
    fn property(&self, name: &str) -> Self {
        Self {
            spec_path: join(&self.spec_path, name),
            schema_path: join(&self.schema_path, &format!("properties.{name}")),
        }
    }

    /// A task of the task mapping: `tasks.t1` / `properties.tasks.patternProperties.^\w+$`.
    fn task(&self, name: &str) -> Self {
        Self {
            spec_path: join(&self.spec_path, name),
            schema_path: format!("{}.patternProperties.^\\w+$", self.schema_path),
        }
    }

    /// An item of a list: `next[0]` / `properties.next.items`.
    fn item(&self, index: usize) -> Self {
        Self { spec_path: format!("{}[{index}]", self.spec_path), schema_path: format!("{}.items", self.schema_path) }
    }

    /// An item of a list whose problems keep the list's schema path (the context walk).
    fn element(&self, index: usize) -> Self {
        Self { spec_path: format!("{}[{index}]", self.spec_path), schema_path: self.schema_path.clone() }
    }

    fn problem(&self, category: Category, message: impl Into<String>) -> Problem {
        Problem {
            category,
            message: message.into(),
            spec_path: Some(self.spec_path.clone()).filter(|p| !p.is_empty()),
            schema_path: self.schema_path.clone(),
            expression: None,
        }
    }

    fn expression_problem(
        &self,
        category: Category,
        language: Option<&'static str>,
        expression: &str,
        message: impl Into<String>,
    ) -> Problem {
        Problem { expression: Some((language, expression.to_string())), ..self.problem(category, message) }
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_string() } else { format!("{parent}.{name}") }
}
