//! A rule's criteria, compiled once per registry snapshot: key paths split, operators resolved,
//! literal regular expressions built; then evaluated against each trigger payload without
//! re-parsing (ST2-COMPAT.md 5.2).
//!
//! Owns: compiling and walking criteria (ANDed, stopping at the first false; `search` with its
//! four conditions). Must not: render templates itself (a `PatternRenderer` does) or know about
//! rules, the registry or the store.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::operators::{EvalError, Operator, Segment, apply_op, follow, operator_regex, path_segments};

/// Renders a criterion's templated pattern (one with `{{` or `{%`) for one payload, typed as
/// StackStorm types it (`to_complex`, then JSON when it decodes).
pub trait PatternRenderer {
    fn render(&self, source: &str, payload: &Value) -> Result<Value, EvalError>;
}

/// Takes patterns literally (the rule tester without a datastore, and tests).
pub struct Literal;

impl PatternRenderer for Literal {
    fn render(&self, source: &str, _: &Value) -> Result<Value, EvalError> {
        Ok(Value::String(source.to_string()))
    }
}

/// A rule's criteria, ready to evaluate.
#[derive(Debug, Clone, Default)]
pub struct Criteria {
    items: Vec<Criterion>,
}

#[derive(Debug, Clone)]
struct Criterion {
    key: String,
    /// The root name the key starts with (`trigger`, or `item` inside `search`), then the rest.
    root: String,
    path: Vec<Segment>,
    operator: Operator,
    pattern: Pattern,
    search: Option<Search>,
}

#[derive(Debug, Clone)]
enum Pattern {
    Literal { value: Value, regex: Option<regex::Regex> },
    Template(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    Any,
    All,
    AnyToAny,
    AllToAny,
}

#[derive(Debug, Clone)]
struct Search {
    condition: Condition,
    children: Vec<Criterion>,
}

fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

impl Criteria {
    /// Compiles a rule's `criteria` mapping; the error names the key and what is wrong.
    pub fn compile(criteria: &Map<String, Value>) -> Result<Self, EvalError> {
        let items = criteria.iter().map(|(key, spec)| compile_one(key, spec)).collect::<Result<_, _>>()?;
        Ok(Self { items })
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether `payload` satisfies every criterion. With criteria, an empty or null payload
    /// never matches (even for `nexists`).
    pub fn evaluate(
        &self,
        payload: &Value,
        renderer: &dyn PatternRenderer,
        now: DateTime<Utc>,
    ) -> Result<bool, EvalError> {
        if self.items.is_empty() {
            return Ok(true);
        }
        if payload.is_null() || payload.as_object().is_some_and(Map::is_empty) {
            return Ok(false);
        }
        for criterion in &self.items {
            if !criterion.holds("trigger", payload, payload, renderer, now)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn compile_one(key: &str, spec: &Value) -> Result<Criterion, EvalError> {
    let type_name = spec.get("type").and_then(Value::as_str).ok_or_else(|| format!("criterion {key} has no type"))?;
    let operator =
        Operator::parse(type_name).ok_or_else(|| format!("criterion {key}: unknown operator \"{type_name}\""))?;
    let bare = key.split('#').next().unwrap_or(key);
    let mut path = path_segments(bare).ok_or_else(|| format!("criterion {key}: the key is not a valid path"))?;
    let root = match path.first() {
        Some(Segment::Key(name)) => name.clone(),
        _ => return Err(format!("criterion {key}: the key must start with a name such as trigger")),
    };
    path.remove(0);
    let raw = spec.get("pattern").cloned().unwrap_or(Value::Null);
    if operator == Operator::Search {
        let condition = match spec.get("condition").and_then(Value::as_str).unwrap_or_default() {
            "any" => Condition::Any,
            "all" => Condition::All,
            "any2any" => Condition::AnyToAny,
            "all2any" => Condition::AllToAny,
            other => return Err(format!("criterion {key}: unknown search condition \"{other}\"")),
        };
        let children = raw
            .as_object()
            .ok_or_else(|| format!("criterion {key}: the pattern of search must be a mapping of criteria"))?
            .iter()
            .map(|(child_key, child)| compile_one(child_key, child))
            .collect::<Result<Vec<_>, _>>()?;
        let pattern = Pattern::Literal { value: Value::Null, regex: None };
        return Ok(Criterion {
            key: key.to_string(),
            root,
            path,
            operator,
            pattern,
            search: Some(Search { condition, children }),
        });
    }
    let pattern = match raw {
        Value::String(text) if is_template(&text) => Pattern::Template(text),
        Value::String(text) if is_regex(operator) => {
            let regex = operator_regex(operator, &text).map_err(|e| format!("criterion {key}: {e}"))?;
            Pattern::Literal { value: Value::String(text), regex: Some(regex) }
        }
        value => Pattern::Literal { value, regex: None },
    };
    Ok(Criterion { key: key.to_string(), root, path, operator, pattern, search: None })
}

fn is_regex(operator: Operator) -> bool {
    matches!(operator, Operator::MatchWildcard | Operator::MatchRegex | Operator::Regex | Operator::IRegex)
}

impl Criterion {
    /// Evaluates against `scope` (named `scope_name`); `payload` is what templates see as
    /// `trigger`.
    fn holds(
        &self,
        scope_name: &str,
        scope: &Value,
        payload: &Value,
        renderer: &dyn PatternRenderer,
        now: DateTime<Utc>,
    ) -> Result<bool, EvalError> {
        let value = if self.root == scope_name { follow(scope, &self.path) } else { None };
        if let Some(search) = &self.search {
            return search.holds(value, payload, renderer, now).map_err(|e| format!("criterion {}: {e}", self.key));
        }
        let result = match &self.pattern {
            Pattern::Literal { value: pattern, regex } => apply_op(self.operator, value, pattern, regex.as_ref(), now),
            Pattern::Template(source) => {
                let pattern = renderer.render(source, payload)?;
                apply_op(self.operator, value, &pattern, None, now)
            }
        };
        result.map_err(|e| format!("criterion {} ({}): {e}", self.key, self.operator.name()))
    }
}

impl Search {
    fn holds(
        &self,
        value: Option<&Value>,
        payload: &Value,
        renderer: &dyn PatternRenderer,
        now: DateTime<Utc>,
    ) -> Result<bool, EvalError> {
        let items: &[Value] = match value {
            Some(Value::Array(items)) => items,
            Some(object @ Value::Object(_)) => std::slice::from_ref(object),
            _ => return Ok(false),
        };
        let every_child = |item: &Value| -> Result<bool, EvalError> {
            for child in &self.children {
                if !child.holds("item", item, payload, renderer, now)? {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        let some_child = |item: &Value| -> Result<bool, EvalError> {
            for child in &self.children {
                if child.holds("item", item, payload, renderer, now)? {
                    return Ok(true);
                }
            }
            Ok(false)
        };
        let item_holds = |item: &Value| match self.condition {
            Condition::Any | Condition::All => every_child(item),
            Condition::AnyToAny | Condition::AllToAny => some_child(item),
        };
        match self.condition {
            Condition::Any | Condition::AnyToAny => {
                for item in items {
                    if item_holds(item)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::All | Condition::AllToAny => {
                for item in items {
                    if !item_holds(item)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        }
    }
}
