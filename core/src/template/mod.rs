//! Jinja templating as StackStorm renders it (ST2-COMPAT.md 2.2, 5.2): one shared environment
//! with strict undefined, trim/lstrip blocks, values printed as Python prints them, StackStorm's
//! filters, and `st2kv.system.*` / `st2kv.user.*` datastore lookups; and StackStorm's expression
//! functions (`functions`), which the filters and Orquesta's YAQL and Jinja share.
//!
//! Owns: rendering a string, a parameter value or a criteria pattern, and listing the variables
//! a template uses. Must not: decide which context a render gets (the parameter pipeline and
//! the rules engine do) or read the store other than through `KeyValueSource`.

pub(crate) mod filters;
pub mod functions;
mod kv;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, OnceLock};

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

pub use kv::{KeyValueSource, KvError, KvScope, KvValue, NoKeyValues};

/// The user executions run for when nobody else is named (StackStorm's system user), and
/// whose `st2kv.user` scope templates read then.
pub const SYSTEM_USER: &str = "stanley";

/// What `use_none` renders; casting turns it into null.
pub const NONE_MAGIC: &str = "%*****__%NONE%__*****%";

/// The most work one render (or one expression) may do, in minijinja's fuel: one unit per
/// instruction executed, and about one per 64 bytes of data the template creates or walks
/// through (a string it builds, a list it iterates, the text it writes). 2,000,000 is a few
/// hundred milliseconds of work or about 128 MB of data; StackStorm's templates use a tiny
/// part of it. A render past it fails with [`budget_exceeded`]'s message, not the daemon.
pub const FUEL: u64 = 2_000_000;

/// The message of a render that ran out of its budget.
pub fn budget_exceeded() -> String {
    format!(
        "the template does too much work or builds too much data (its limit is {FUEL} units of fuel: one per instruction, one per 64 bytes of data)"
    )
}

/// A template that did not render, with Jinja's message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

impl From<minijinja::Error> for TemplateError {
    fn from(error: minijinja::Error) -> Self {
        if error.kind() == minijinja::ErrorKind::OutOfFuel {
            return TemplateError(budget_exceeded());
        }
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        TemplateError(text)
    }
}

/// A value holds a template when its text (a string, or the JSON of a list or map) contains
/// `{{` or `{%`.
pub fn is_template(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains("{{") || text.contains("{%"),
        Value::Array(_) | Value::Object(_) => {
            let text = value.to_string();
            text.contains("{{") || text.contains("{%")
        }
        _ => false,
    }
}

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(build_environment)
}

/// A new environment as StackStorm's: strict undefined, trim/lstrip blocks, Python printing,
/// StackStorm's filters (workflows add their functions to one of their own), and the work and
/// data one render may use bounded by [`FUEL`].
pub(crate) fn build_environment() -> Environment<'static> {
    {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        let syntax = minijinja::syntax::SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build();
        if let Ok(syntax) = syntax {
            env.set_syntax(syntax);
        }
        env.set_formatter(|out, _state, value| {
            out.write_str(&python_text(value)).map_err(|_| {
                minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "cannot write the rendered text")
            })
        });
        filters::register(&mut env);
        env
    }
}

/// A value printed as Python's `str()` prints it (`True`, `None`, `{'a': 1}`).
pub(crate) fn python_text(value: &minijinja::Value) -> String {
    use minijinja::value::ValueKind;
    match value.kind() {
        ValueKind::Undefined => String::new(),
        ValueKind::String => value.as_str().unwrap_or_default().to_string(),
        ValueKind::Plain if value.as_object().is_some() => value.to_string(),
        _ => crate::pyfmt::py_str(&to_json(value)),
    }
}

/// A Jinja value as JSON.
pub(crate) fn to_json(value: &minijinja::Value) -> Value {
    if value.as_object().is_some_and(|o| o.downcast_ref::<kv::Lookup>().is_some()) {
        return Value::String(value.to_string());
    }
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The context of one render: named JSON values, and where `st2kv` reads from.
#[derive(Clone)]
pub struct Context {
    values: BTreeMap<String, Value>,
    kv: Arc<dyn KeyValueSource>,
    user: String,
    /// Also offer `system.<key>`, the old name of `st2kv.system.<key>` (action-chain).
    legacy_system: bool,
}

impl Context {
    /// `user` is whose `st2kv.user` keys are read.
    pub fn new(kv: Arc<dyn KeyValueSource>, user: &str) -> Self {
        Self { values: BTreeMap::new(), kv, user: user.to_string(), legacy_system: false }
    }

    /// Offers `system.<key>` beside `st2kv.system.<key>`, as action-chain templates may use it.
    pub fn with_legacy_system(mut self) -> Self {
        self.legacy_system = true;
        self
    }

    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.values.insert(name.to_string(), value);
        self
    }

    pub fn set(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_string(), value);
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str).chain(["st2kv"])
    }

    fn jinja(&self) -> minijinja::Value {
        let mut map: BTreeMap<String, minijinja::Value> =
            self.values.iter().map(|(k, v)| (k.clone(), minijinja::Value::from(minijinja::value::Serde(v)))).collect();
        let root = kv::root(self.kv.clone(), &self.user);
        if self.legacy_system && !self.values.contains_key("system") {
            map.insert("system".to_string(), root.get_attr("system").unwrap_or_default());
        }
        map.insert("st2kv".to_string(), root);
        minijinja::Value::from(map)
    }
}

/// Renders `source` to text.
pub fn render(source: &str, context: &Context) -> Result<String, TemplateError> {
    Ok(environment().render_str(source, context.jinja())?)
}

/// The top-level names `source` reads (`trigger`, other parameters, `st2kv`...).
pub fn variables(source: &str) -> Result<HashSet<String>, TemplateError> {
    Ok(environment().template_from_str(source)?.undeclared_variables(false))
}

/// A parameter value rendered as StackStorm's parameter pipeline does: a string renders to a
/// string; a list or map is JSON-encoded, each `"{{ x }}"` string becomes `{{ x | to_complex }}`,
/// and the rendered text is decoded back, which keeps types. Values without templates are
/// returned as they are.
pub fn render_value(value: &Value, context: &Context) -> Result<Value, TemplateError> {
    match value {
        _ if !is_template(value) => Ok(value.clone()),
        Value::String(text) => render(text, context).map(Value::String),
        other => {
            let json = quoted_expressions().replace_all(&other.to_string(), "{{$1 | to_complex}}").into_owned();
            let rendered = render(&json, context)?;
            serde_json::from_str(&rendered)
                .map_err(|error| TemplateError(format!("the rendered value is not JSON ({error}): {rendered}")))
        }
    }
}

/// A value rendered keeping types, as workflows render: a string that is one `{{ expression }}`
/// becomes the expression's value (a number stays a number, a dict a dict); any other string
/// with a template renders to text; lists and maps render item by item.
pub fn render_typed(value: &Value, context: &Context) -> Result<Value, TemplateError> {
    match value {
        Value::String(text) => match single_expression(text) {
            Some(expression) => {
                let compiled = environment().compile_expression(expression)?;
                let value = compiled.eval(context.jinja())?;
                if value.is_undefined() {
                    // Rendering it as text gives Jinja's own "... is undefined" error.
                    return render(text, context).map(Value::String);
                }
                Ok(to_json(&value))
            }
            None if text.contains("{{") || text.contains("{%") => render(text, context).map(Value::String),
            None => Ok(value.clone()),
        },
        Value::Array(items) => {
            items.iter().map(|item| render_typed(item, context)).collect::<Result<_, _>>().map(Value::Array)
        }
        Value::Object(map) => map
            .iter()
            .map(|(key, item)| Ok((key.clone(), render_typed(item, context)?)))
            .collect::<Result<_, TemplateError>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

/// The expression of a string that is exactly one `{{ expression }}` (blanks around allowed).
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner.trim())
}

/// A criteria pattern rendered as StackStorm's rules engine does: every `{{ x }}` becomes
/// `{{ x | to_complex }}` and the result is decoded as JSON (so `"{{ trigger.n }}"` stays a
/// number); when that is not JSON, the pattern is rendered again as plain text. Patterns that
/// are not strings are used as they are.
pub fn render_pattern(pattern: &Value, context: &Context) -> Result<Value, TemplateError> {
    let Value::String(text) = pattern else { return Ok(pattern.clone()) };
    if !text.contains("{{") && !text.contains("{%") {
        return Ok(pattern.clone());
    }
    if text.contains("{{") {
        let complex = expressions().replace_all(text, "{{$1 | to_complex}}").into_owned();
        if let Ok(rendered) = render(&complex, context)
            && let Ok(decoded) = serde_json::from_str::<Value>(&rendered)
        {
            return Ok(decoded);
        }
    }
    render(text, context).map(Value::String)
}

fn expressions() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"\{\{(.*?)\}\}").expect("a valid regex"))
}

fn quoted_expressions() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r#""\{\{(.*?)\}\}""#).expect("a valid regex"))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
