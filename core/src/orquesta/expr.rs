//! Expressions in workflow values, as Orquesta evaluates them: `<% YAQL %>` and `{{ Jinja }}`
//! (or `{% %}` blocks). A string that is one expression gives the expression's value with its
//! type; a string with text around expressions gives text (each value printed as Python
//! prints it); mappings and lists are evaluated item by item (keys too). One string uses one
//! language: a string with Jinja in it is rendered by Jinja.
//!
//! Owns: finding expressions, compiling them for the load-time check, evaluating them against
//! a `Scope`, and how a function's failure reads in each language (Orquesta's evaluator texts:
//! YAQL's "no matching function" for a wrong call, Python's `TypeError` in Jinja). Must not:
//! decide what a scope holds (the conductor does) or what a function answers (`functions`).

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use minijinja::value::{Kwargs, Object, Rest};
use minijinja::{Environment, Error, ErrorKind, State};
use serde_json::{Map, Value};

use super::functions::{FUNCTIONS, FunctionError, Scope};
use crate::pyfmt::py_str;
use crate::template::filters::{self, cause};
use crate::template::{TemplateError, functions as st2};
use crate::yaql;

/// Why an expression does not compile or evaluate; each quotes the expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExprError {
    #[error("Jinja in \"{text}\": {error}")]
    JinjaSyntax { text: String, error: TemplateError },
    #[error("YAQL in \"<%{expression}%>\": {error}")]
    YaqlSyntax { expression: String, error: yaql::SyntaxError },
    #[error("YAQL in \"<%{expression}%>\": unknown function \"{name}\"")]
    UnknownFunction { expression: String, name: String },
    #[error("unterminated YAQL expression in \"{0}\"")]
    UnterminatedYaql(String),
    #[error("YaqlEvaluationException: Unable to evaluate expression '<%{expression}%>'. {error}")]
    YaqlParse { expression: String, error: yaql::SyntaxError },
    #[error("YaqlEvaluationException: Unable to evaluate expression '<%{expression}%>'. {error}")]
    YaqlEval { expression: String, error: yaql::EvalError },
    /// A function needed a key the context lacks (Orquesta reports Python's `KeyError` so).
    #[error("YaqlEvaluationException: Unable to resolve key '{key}' in expression '<%{expression}%>' from context.")]
    YaqlKey { expression: String, key: String },
    #[error("JinjaEvaluationException: Unable to evaluate expression '{text}'. {error}")]
    JinjaEval { text: String, error: TemplateError },
}

/// Whether `text` holds an expression.
pub fn has_expression(text: &str) -> bool {
    text.contains("<%") || is_jinja(text)
}

fn is_jinja(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// Compiles every expression in `value`; the error quotes the expression.
pub fn check(value: &Value) -> Result<(), ExprError> {
    match value {
        Value::String(text) if is_jinja(text) => jinja()
            .template_from_str(text)
            .map(drop)
            .map_err(|e| ExprError::JinjaSyntax { text: text.clone(), error: e.into() }),
        Value::String(text) => {
            for source in yaql_sources(text)? {
                let parsed = yaql::parse(source)
                    .map_err(|error| ExprError::YaqlSyntax { expression: source.to_string(), error })?;
                if let Some(unknown) = parsed
                    .functions()
                    .into_iter()
                    .find(|name| !yaql::is_library_function(name) && !FUNCTIONS.contains(&name.as_str()))
                {
                    return Err(ExprError::UnknownFunction { expression: source.to_string(), name: unknown });
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            check(&Value::String(key.clone()))?;
            check(item)
        }),
        _ => Ok(()),
    }
}

/// `value` with every expression evaluated.
pub fn evaluate(value: &Value, scope: &Scope) -> Result<Value, ExprError> {
    match value {
        Value::String(text) if is_jinja(text) => evaluate_jinja(text, scope),
        Value::String(text) if text.contains("<%") => evaluate_yaql(text, scope),
        Value::Array(items) => {
            items.iter().map(|item| evaluate(item, scope)).collect::<Result<_, _>>().map(Value::Array)
        }
        Value::Object(map) => {
            let mut evaluated = Map::new();
            for (key, item) in map {
                let key = match evaluate(&Value::String(key.clone()), scope)? {
                    Value::String(text) => text,
                    other => py_str(&other),
                };
                evaluated.insert(key, evaluate(item, scope)?);
            }
            Ok(Value::Object(evaluated))
        }
        other => Ok(other.clone()),
    }
}

/// The sources between `<%` and `%>` in `text`.
fn yaql_sources(text: &str) -> Result<Vec<&str>, ExprError> {
    let mut sources = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<%") {
        let after = &rest[start + 2..];
        let end = after.find("%>").ok_or_else(|| ExprError::UnterminatedYaql(text.to_string()))?;
        sources.push(&after[..end]);
        rest = &after[end + 2..];
    }
    Ok(sources)
}

fn evaluate_yaql(text: &str, scope: &Scope) -> Result<Value, ExprError> {
    let sources = yaql_sources(text)?;
    let one = |source: &str| -> Result<Value, ExprError> {
        let parsed =
            yaql::parse(source).map_err(|error| ExprError::YaqlParse { expression: source.to_string(), error })?;
        // As in Orquesta, variables are read through ctx(), not `$`.
        let host = Host { scope, missing_key: RefCell::new(None) };
        parsed.evaluate(&Value::Null, &host).map_err(|error| match host.missing_key.take() {
            Some(key) => ExprError::YaqlKey { expression: source.to_string(), key },
            None => ExprError::YaqlEval { expression: source.to_string(), error },
        })
    };
    let trimmed = text.trim();
    if sources.len() == 1 && trimmed.starts_with("<%") && trimmed.ends_with("%>") {
        return one(sources[0]);
    }
    let mut out = String::new();
    let mut rest = text;
    for source in sources {
        let start = rest.find("<%").unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        out.push_str(&py_str(&one(source)?));
        rest = &rest[start + 2 + source.len() + 2..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

/// The scope's functions for YAQL, with their failures as Orquesta's YAQL evaluator words
/// them.
struct Host<'a> {
    scope: &'a Scope,
    /// The key of a `KeyError` a function raised, which Orquesta reports apart.
    missing_key: RefCell<Option<String>>,
}

impl yaql::Host for Host<'_> {
    fn call(&self, name: &str, args: &[Value], named: &Map<String, Value>) -> Option<Result<Value, yaql::EvalError>> {
        let answer = self.scope.call(name, args, named)?;
        Some(answer.map_err(|error| {
            if let Some(key) = error.missing_key() {
                self.missing_key.replace(Some(key.trim_matches('\'').to_string()));
            }
            yaql::EvalError { message: yaql_message(name, &error) }
        }))
    }
}

/// A function's failure as Orquesta's YAQL evaluator shows it: a call whose arguments fit no
/// signature is YAQL's "no matching function", and the quotes around a `TypeError`'s or
/// `ValueError`'s message are stripped, as Orquesta strips them.
fn yaql_message(name: &str, error: &FunctionError) -> String {
    if error.is_wrong_call() {
        return format!("NoMatchingFunctionException: No function \"{name}\" matches supplied arguments");
    }
    let text = error.to_string();
    match text.split_once(": ") {
        Some((class @ ("TypeError" | "ValueError" | "JSONDecodeError"), message)) => {
            format!("{class}: {}", message.trim_matches('\''))
        }
        _ => text,
    }
}

fn evaluate_jinja(text: &str, scope: &Scope) -> Result<Value, ExprError> {
    let failure = |e: Error| ExprError::JinjaEval { text: text.to_string(), error: jinja_failure(e) };
    let context =
        minijinja::context! { __orquesta => minijinja::Value::from_object(ScopeObject(Arc::new(scope.clone()))) };
    if let Some(expression) = single_expression(text) {
        let compiled = jinja().compile_expression(expression).map_err(failure)?;
        let value = compiled.eval(context).map_err(failure)?;
        return Ok(if value.is_undefined() { Value::Null } else { crate::template::to_json(&value) });
    }
    jinja().render_str(text, context).map(Value::String).map_err(failure)
}

/// A render's failure: a function's exception as Python shows it, else Jinja's message.
fn jinja_failure(error: Error) -> TemplateError {
    if let Some(failed) = cause::<FunctionError>(&error) {
        return TemplateError(failed.to_string());
    }
    if let Some(failed) = cause::<st2::FunctionError>(&error) {
        return TemplateError(failed.to_string());
    }
    error.into()
}

/// The expression of a string that is exactly one `{{ expression }}`.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner.trim())
}

/// The scope, handed to the Jinja functions through the render context.
#[derive(Clone)]
struct ScopeObject(Arc<Scope>);

impl std::fmt::Debug for ScopeObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("orquesta scope")
    }
}

impl Object for ScopeObject {}

/// StackStorm's Jinja environment with the workflow functions added, as functions and (those
/// that do not read the scope) as filters too, as Orquesta registers them.
fn jinja() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = crate::template::build_environment();
        for name in FUNCTIONS {
            if let Some(function) = st2::orquesta_function(name) {
                env.add_function(name, move |args: Rest<minijinja::Value>, kwargs: Kwargs| {
                    filters::call(function, args.iter().map(crate::template::to_json).collect(), &kwargs)
                });
                env.add_filter(name, move |value: minijinja::Value, args: Rest<minijinja::Value>, kwargs: Kwargs| {
                    let positional = std::iter::once(&value).chain(args.iter()).map(crate::template::to_json).collect();
                    filters::call(function, positional, &kwargs)
                });
            } else {
                env.add_function(name, move |state: &State, args: Rest<minijinja::Value>, kwargs: Kwargs| {
                    call_jinja(name, state, args.iter().map(crate::template::to_json).collect(), &kwargs)
                });
            }
        }
        for name in ["json", "zip"] {
            env.add_filter(
                name,
                move |state: &State, value: minijinja::Value, args: Rest<minijinja::Value>, kwargs: Kwargs| {
                    let positional = std::iter::once(&value).chain(args.iter()).map(crate::template::to_json).collect();
                    call_jinja(name, state, positional, &kwargs)
                },
            );
        }
        env
    })
}

/// Calls the scope's function `name` (the scope comes through the render context).
fn call_jinja(name: &str, state: &State, positional: Vec<Value>, kwargs: &Kwargs) -> Result<minijinja::Value, Error> {
    let scope = state
        .lookup("__orquesta")
        .and_then(|value| value.downcast_object::<ScopeObject>())
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("{name}() is only defined in workflows")))?;
    match scope.0.call(name, &positional, &filters::named(kwargs)?) {
        Some(Ok(value)) => Ok(minijinja::Value::from(minijinja::value::Serde(&value))),
        Some(Err(error)) => Err(filters::failure(error)),
        None => Err(Error::new(ErrorKind::UnknownFunction, name.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orquesta::functions::Current;
    use crate::template::NoKeyValues;
    use serde_json::json;

    fn scope() -> Scope {
        let ctx = json!({"a": 1, "name": "x", "list": [1, 2], "d": {"k": "v"}});
        let mut scope = Scope::new(ctx.as_object().cloned().unwrap_or_default(), Arc::new(NoKeyValues), "u");
        scope.current = Some(Current { name: "t".into(), status: "succeeded".into(), result: json!({"stdout": "hi"}) });
        scope
    }

    #[test]
    fn expressions_evaluate_with_their_types_or_as_text() {
        let cases = [
            (json!("<% ctx(a) %>"), json!(1)),
            (json!(" <% ctx().list %> "), json!([1, 2])),
            (json!("n=<% ctx(a) %>, <% ctx(name) %>"), json!("n=1, x")),
            (json!("<% ctx(d) %> and <% succeeded() %>"), json!("{'k': 'v'} and True")),
            (json!("{{ ctx('a') }}"), json!(1)),
            (json!("{{ ctx().list }}"), json!([1, 2])),
            (json!("{{ result().stdout }} there"), json!("hi there")),
            (json!("{% if succeeded() %}ok{% endif %}"), json!("ok")),
            (json!({"k": "<% ctx(a) %>", "<% ctx(name) %>": ["{{ ctx('name') }}"]}), json!({"k": 1, "x": ["x"]})),
            (json!("plain"), json!("plain")),
            (json!(3), json!(3)),
        ];
        for (value, expected) in cases {
            assert_eq!(evaluate(&value, &scope()), Ok(expected), "{value}");
        }
    }

    #[test]
    fn failures_name_the_expression() {
        let cases = [
            (
                json!("<% ctx(nope) %>"),
                "Unable to evaluate expression '<% ctx(nope) %>'. VariableUndefinedError: The variable \"nope\" is undefined.",
            ),
            (
                json!("{{ ctx('nope') }}"),
                "Unable to evaluate expression '{{ ctx('nope') }}'. VariableUndefinedError: The variable \"nope\" is undefined.",
            ),
            (json!("<% ctx(a"), "unterminated YAQL expression"),
        ];
        for (value, expected) in cases {
            let error = evaluate(&value, &scope()).expect_err("fails").to_string();
            assert!(error.contains(expected), "{value}: {error}");
        }
    }

    #[test]
    fn the_load_check_finds_syntax_errors_and_unknown_functions() {
        assert_eq!(check(&json!({"a": ["<% ctx(x).select($.y) %>", "{{ ctx('x') | to_json_string }}"]})), Ok(()));
        let cases = [
            (json!("<% ctx( %>"), "YAQL in \"<% ctx( %>\""),
            (json!("<% frobnicate(1) %>"), "unknown function \"frobnicate\""),
            (json!(["{{ ctx( }}"]), "Jinja in \"{{ ctx( }}\""),
        ];
        for (value, expected) in cases {
            let error = check(&value).expect_err("fails").to_string();
            assert!(error.contains(expected), "{value}: {error}");
        }
    }
}
