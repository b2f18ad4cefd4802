//! The parameter pipeline (ST2-COMPAT.md 2.2): the given parameters and the schema's defaults
//! become nodes of a dependency graph (a template refers to other parameters and to `trigger`,
//! `action_context`, `config_context`, `st2kv`); they are rendered in dependency order, cast by
//! declared type, validated (immutable, undeclared, required, type, enum) and split into the
//! runner's parameters and the action's.
//!
//! Owns: turning given parameters into what a runner receives. Must not: look anything up in
//! the registry or the store (the caller gives the schema and the template context).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::execution::Resolved;
use st2d_core::pyfmt::py_repr;
use st2d_core::template::{self, Context, NONE_MAGIC};

/// Why parameters could not be resolved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// The parameters break the schema: nothing is created.
    #[error("{0}")]
    Invalid(String),
    /// A template or a cast failed: StackStorm still creates the execution, failed.
    #[error("{0}")]
    Render(String),
}

/// Why a value cannot be cast to its declared type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CastError {
    #[error("parameter \"{name}\": cannot cast {} to {kind}", py_repr(.value))]
    Cast { name: String, value: Value, kind: String },
    #[error("parameter \"{name}\": {} is not a string", py_repr(.value))]
    NotString { name: String, value: Value },
}

/// What the pipeline works on.
pub struct ParamInput<'a> {
    /// The effective schema: the runner's parameters merged with the action's.
    pub schema: &'a Map<String, Value>,
    /// The names the runner declares.
    pub runner_names: &'a BTreeSet<String>,
    /// The parameters as given (by a caller, or a rule's `action.parameters`).
    pub given: &'a Map<String, Value>,
    /// The given values are JSON as a client typed them: each must already be of its declared
    /// type (a template aside), as StackStorm's API validates them before any cast.
    pub typed: bool,
    /// `action_context`, `config_context`, `trigger` (for rules), and `st2kv`.
    pub context: Context,
}

/// Runs the whole pipeline.
pub fn resolve(input: ParamInput<'_>) -> Result<Resolved, ParamError> {
    let ParamInput { schema, runner_names, given, typed, context } = input;
    check_given(schema, given)?;
    if typed {
        check_given_types(schema, given)?;
    }
    let values = render_all(schema, given, context)?;
    let mut cast = Map::new();
    for (name, value) in values {
        let declared = schema.get(&name).and_then(|s| s.get("type")).and_then(Value::as_str);
        cast.insert(name.clone(), cast_value(&name, declared, value).map_err(|e| ParamError::Render(e.to_string()))?);
    }
    validate(schema, &cast)?;
    let mut resolved = Resolved::default();
    for (name, value) in cast {
        if runner_names.contains(&name) {
            resolved.runner.insert(name, value);
        } else {
            resolved.action.insert(name, value);
        }
    }
    Ok(resolved)
}

/// Immutable parameters cannot be given; undeclared ones are refused.
fn check_given(schema: &Map<String, Value>, given: &Map<String, Value>) -> Result<(), ParamError> {
    let immutable: Vec<&String> = given
        .keys()
        .filter(|name| schema.get(*name).and_then(|s| s.get("immutable")).and_then(Value::as_bool) == Some(true))
        .collect();
    if !immutable.is_empty() {
        let names: Vec<Value> = immutable.iter().map(|n| Value::String((*n).clone())).collect();
        return Err(ParamError::Invalid(format!(
            "Override of immutable parameter(s) {} is unsupported.",
            py_repr(&Value::Array(names))
        )));
    }
    if let Some(name) = given.keys().find(|name| !schema.contains_key(*name)) {
        return Err(ParamError::Invalid(format!("Additional properties are not allowed ('{name}' was unexpected)")));
    }
    Ok(())
}

/// Each given value (a template aside, which is rendered and cast later) of its declared type
/// and within its enum, before any cast.
fn check_given_types(schema: &Map<String, Value>, given: &Map<String, Value>) -> Result<(), ParamError> {
    for (name, spec) in schema {
        match given.get(name) {
            Some(value) if !value.is_null() && !template::is_template(value) => check_value(name, spec, value)?,
            _ => {}
        }
    }
    Ok(())
}

/// The given values and the defaults of the rest, rendered in dependency order.
fn render_all(
    schema: &Map<String, Value>,
    given: &Map<String, Value>,
    mut context: Context,
) -> Result<Map<String, Value>, ParamError> {
    // Every declared parameter is a node: given, else its default, else None (as StackStorm
    // passes it on).
    let mut values: Map<String, Value> = Map::new();
    for (name, spec) in schema {
        let value = match given.get(name) {
            Some(value) if !value.is_null() => value.clone(),
            _ => spec.get("default").cloned().unwrap_or(Value::Null),
        };
        values.insert(name.clone(), value);
    }
    let context_names: BTreeSet<String> = context.names().map(str::to_string).collect();
    // Each template's parameter dependencies.
    let mut depends: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, value) in &values {
        if !template::is_template(value) {
            continue;
        }
        let text = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let names = template::variables(&text).map_err(|e| ParamError::Render(format!("parameter \"{name}\": {e}")))?;
        let mut edges = BTreeSet::new();
        for variable in names {
            if values.contains_key(&variable) {
                edges.insert(variable);
            } else if !context_names.contains(&variable) {
                return Err(ParamError::Render(format!("Dependency unsatisfied in variable \"{variable}\"")));
            }
        }
        depends.insert(name.clone(), edges);
    }
    for name in order(&depends)? {
        for (other, value) in &values {
            context.set(other, value.clone());
        }
        let rendered = template::render_value(&values[&name], &context)
            .map_err(|e| ParamError::Render(format!("Failed to render parameter \"{name}\": {e}")))?;
        values.insert(name, rendered);
    }
    Ok(values)
}

/// The templates in an order where each comes after the templates it uses.
fn order(depends: &BTreeMap<String, BTreeSet<String>>) -> Result<Vec<String>, ParamError> {
    let mut done: Vec<String> = Vec::new();
    let mut pending: BTreeSet<&String> = depends.keys().collect();
    while !pending.is_empty() {
        let ready: Vec<&String> = pending
            .iter()
            .filter(|name| depends[**name].iter().all(|dep| !depends.contains_key(dep) || done.contains(dep)))
            .copied()
            .collect();
        if ready.is_empty() {
            let cycle: Vec<&str> = pending.iter().map(|n| n.as_str()).collect();
            return Err(ParamError::Render(format!(
                "Cyclic dependency found in the following variables: {}",
                cycle.join(", ")
            )));
        }
        for name in ready {
            pending.remove(name);
            done.push(name.clone());
        }
    }
    Ok(done)
}

/// A value cast to its declared type as StackStorm's `util/casts.py` does.
pub fn cast_value(name: &str, declared: Option<&str>, value: Value) -> Result<Value, CastError> {
    if value.as_str() == Some(NONE_MAGIC) {
        return Ok(Value::Null);
    }
    let fail = |kind: &str| CastError::Cast { name: name.to_string(), value: value.clone(), kind: kind.to_string() };
    match (declared, &value) {
        (_, Value::Null) | (None, _) => Ok(value),
        (Some("string"), Value::String(_)) => Ok(value),
        (Some("string"), _) => Err(CastError::NotString { name: name.to_string(), value }),
        (Some("integer"), Value::String(text)) => {
            text.trim().parse::<i64>().map(Value::from).map_err(|_| fail("integer"))
        }
        (Some("integer"), Value::Number(n)) if n.is_f64() => {
            Ok(n.as_f64().map(|f| Value::from(f.trunc() as i64)).unwrap_or(value.clone()))
        }
        (Some("integer"), Value::Bool(b)) => Ok(Value::from(i64::from(*b))),
        (Some("number"), Value::String(text)) => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| fail("number")),
        (Some("boolean"), Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(fail("boolean")),
        },
        (Some("object" | "array"), Value::String(text)) => serde_json::from_str(text)
            .or_else(|_| {
                st2d_core::yaml::parse(text).map_err(|_| ()).and_then(|v| if v.is_string() { Err(()) } else { Ok(v) })
            })
            .map_err(|_| fail(declared.unwrap_or_default())),
        _ => Ok(value),
    }
}

/// Required parameters present, values of their declared type and within their enum.
fn validate(schema: &Map<String, Value>, values: &Map<String, Value>) -> Result<(), ParamError> {
    for (name, spec) in schema {
        let required = spec.get("required").and_then(Value::as_bool) == Some(true);
        let value = values.get(name).unwrap_or(&Value::Null);
        if value.is_null() {
            if required {
                return Err(ParamError::Invalid(format!("'{name}' is a required property")));
            }
            continue;
        }
        check_value(name, spec, value)?;
    }
    Ok(())
}

/// A present value of its declared type and within its enum.
fn check_value(name: &str, spec: &Value, value: &Value) -> Result<(), ParamError> {
    if !type_matches(spec.get("type"), value) {
        return Err(ParamError::Invalid(format!(
            "parameter \"{name}\": {} is not of type {}",
            py_repr(value),
            type_names(spec)
        )));
    }
    if let Some(Value::Array(allowed)) = spec.get("enum")
        && !allowed.contains(value)
    {
        return Err(ParamError::Invalid(format!(
            "parameter \"{name}\": {} is not one of {}",
            py_repr(value),
            py_repr(&Value::Array(allowed.clone()))
        )));
    }
    Ok(())
}

fn type_names(spec: &Value) -> String {
    match spec.get("type") {
        Some(Value::String(name)) => format!("'{name}'"),
        Some(other) => py_repr(other),
        None => "any".to_string(),
    }
}

fn type_matches(declared: Option<&Value>, value: &Value) -> bool {
    declared.is_none_or(|kind| st2d_core::schema::matches_type(value, kind))
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
