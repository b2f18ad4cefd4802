//! Expressions: each `<% YAQL %>` and `{{ Jinja }}` (or `{% %}` block) in the definition
//! parses, found and reported as Orquesta's evaluators do (text that mixes the two languages
//! is a problem of its own); and the variables an expression reads through `ctx()`, found as
//! Orquesta finds them for the context check.
//!
//! Owns: where expressions are in text, how their parse errors read (YAQL's own messages:
//! "Parse error: unexpected '<' at position 0 of expression '...'", "Lexical error: ..."), and
//! the variable references. Must not: evaluate anything.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::view::{Task, Workflow};
use super::{At, Category, Problem};
use crate::orquesta::expr;
use crate::pyfmt::float_repr;

pub(super) const YAQL: &str = "yaql";
pub(super) const JINJA: &str = "jinja";

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("a fixed pattern compiles"))
}

/// The `<% %>` expressions of `text`, delimiters included.
fn yaql_expressions(text: &str) -> Vec<&str> {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    regex(&PATTERN, r"<%.*?%>").find_iter(text).map(|m| m.as_str()).collect()
}

/// The `{{ }}` expressions of `text`, delimiters included.
fn jinja_expressions(text: &str) -> Vec<&str> {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    regex(&PATTERN, r"\{\{.*?\}\}").find_iter(text).map(|m| m.as_str()).collect()
}

fn has_jinja_block(text: &str) -> bool {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    regex(&PATTERN, r"\{%.*?%\}").is_match(text)
}

/// The languages whose expressions `text` holds.
pub(super) fn languages(text: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    if !yaql_expressions(text).is_empty() {
        found.push(YAQL);
    }
    if !jinja_expressions(text).is_empty() || has_jinja_block(text) {
        found.push(JINJA);
    }
    found
}

/// `expression` without its delimiters and the blanks inside them (Python's
/// `strip(delimiter).strip()`).
fn stripped<'t>(expression: &'t str, delimiter: &str) -> &'t str {
    expression.trim_matches(|c| delimiter.contains(c)).trim()
}

pub(super) fn inspect(workflow: &Workflow<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let root = At::root();
    for name in ["vars", "input", "output"] {
        if let Some(value) = workflow.document.get(name) {
            check(value, &root.property(name), &mut problems);
        }
    }
    let tasks = root.property("tasks");
    for task in &workflow.tasks {
        check_task(task, &tasks.task(&task.name), &mut problems);
    }
    problems
}

fn check_task(task: &Task<'_>, at: &At, problems: &mut Vec<Problem>) {
    for name in ["delay", "join"] {
        if let Some(value) = task.field(name) {
            check(value, &at.property(name), problems);
        }
    }
    if let Some(with) = task.with() {
        for name in ["items", "concurrency"] {
            if let Some(value) = with.get(name) {
                check(value, &at.property("with").property(name), problems);
            }
        }
    }
    for (name, value) in [("action", &task.action), ("input", &task.input)] {
        if let Some(value) = value {
            check(value, &at.property(name), problems);
        }
    }
    if let Some(Value::Object(retry)) = task.field("retry") {
        for name in ["when", "count", "delay"] {
            if let Some(value) = retry.get(name) {
                check(value, &at.property("retry").property(name), problems);
            }
        }
    }
    for (index, transition) in task.transitions.iter().enumerate() {
        let at = at.property("next").item(index);
        for (name, value) in [("when", &transition.when), ("publish", &transition.publish)] {
            if let Some(value) = value {
                check(value, &at.property(name), problems);
            }
        }
        check(&transition.targets_field, &at.property("do"), problems);
    }
}

/// Orquesta's `validate` of a value: every string in it (mapping keys too).
fn check(value: &Value, at: &At, problems: &mut Vec<Problem>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                check_text(key, at, problems);
                check(item, at, problems);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| check(item, at, problems)),
        Value::String(text) => check_text(text, at, problems),
        _ => {}
    }
}

fn check_text(text: &str, at: &At, problems: &mut Vec<Problem>) {
    match languages(text).as_slice() {
        [YAQL] => {
            for expression in yaql_expressions(text) {
                if let Some(message) = yaql_error(stripped(expression, "<%>")) {
                    problems.push(at.expression_problem(Category::Expression, Some(YAQL), expression, message));
                }
            }
        }
        [JINJA] => {
            let mut failed: Vec<&str> = Vec::new();
            if let Some(message) = jinja_error(text) {
                problems.push(at.expression_problem(Category::Expression, Some(JINJA), text, message));
                failed.push(text);
            }
            for expression in jinja_expressions(text) {
                if failed.contains(&expression) {
                    continue;
                }
                let inner = stripped(expression, "{}");
                if let Some(message) = jinja_error(&format!("{{{{ {inner} }}}}")) {
                    problems.push(at.expression_problem(Category::Expression, Some(JINJA), expression, message));
                    failed.push(expression);
                }
            }
        }
        [] => {}
        _ => problems.push(at.expression_problem(
            Category::Expression,
            None,
            text,
            "Expression with multiple types is not supported.",
        )),
    }
}

/// Jinja's complaint about a template (minijinja's words; Jinja2's differ), without its kind
/// and its note of where the text came from.
fn jinja_error(text: &str) -> Option<String> {
    match expr::check(&Value::String(text.to_string())) {
        Err(expr::ExprError::JinjaSyntax { error, .. }) => {
            let message = error.0;
            let message = message.strip_prefix("syntax error: ").unwrap_or(&message);
            Some(message.split(" (in <string>").next().unwrap_or(message).to_string())
        }
        _ => None,
    }
}

/// YAQL's complaint about `expression`, as the yaql library words it.
fn yaql_error(expression: &str) -> Option<String> {
    let error = crate::yaql::parse(expression).err()?;
    if !is_lexical(&error) {
        return Some(grammar_message(expression, error.offset));
    }
    // yaql reads tokens as its parser asks for them: a grammar error before the character
    // it cannot read is the one it reports.
    let before = expression.get(..error.offset).unwrap_or(expression);
    match crate::yaql::parse(before) {
        Err(earlier)
            if !is_lexical(&earlier) && !before.get(earlier.offset..).unwrap_or_default().trim().is_empty() =>
        {
            Some(grammar_message(expression, earlier.offset))
        }
        _ => {
            let character = expression.get(error.offset..).and_then(|rest| rest.chars().next()).unwrap_or(' ');
            Some(format!(
                "Lexical error: illegal character '{character}' at position {}",
                position(expression, error.offset)
            ))
        }
    }
}

/// Whether the error is the lexer's (a character or literal it cannot read).
fn is_lexical(error: &crate::yaql::SyntaxError) -> bool {
    [
        "unexpected character",
        "unterminated string",
        "invalid number",
        "integer ",
        "names starting with",
        "invalid escape",
    ]
    .iter()
    .any(|start| error.message.starts_with(start))
}

fn grammar_message(expression: &str, offset: usize) -> String {
    let rest = expression.get(offset..).unwrap_or_default();
    if rest.trim().is_empty() {
        return "Parse error: unexpected end of statement".to_string();
    }
    format!(
        "Parse error: unexpected '{}' at position {} of expression '{expression}'",
        token_value(rest),
        position(expression, offset)
    )
}

/// The character position of a byte offset (yaql counts characters).
fn position(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(offset, |before| before.chars().count())
}

/// The value yaql's lexer gives the token `rest` starts with: a string's text, a number as
/// Python prints it, a function's name without its parenthesis, `True`/`False`/`None`, or the
/// operator.
fn token_value(rest: &str) -> String {
    let first = rest.chars().next().unwrap_or(' ');
    let word = |text: &str| text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    match first {
        '\'' | '"' | '`' => rest[1..].split(first).next().unwrap_or_default().to_string(),
        '0'..='9' => {
            let number: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            match number.parse::<f64>() {
                Ok(float) if number.contains('.') => float_repr(float),
                _ => number,
            }
        }
        '$' => format!("${}", word(&rest[1..])),
        c if c.is_alphabetic() || c == '_' => match word(rest).as_str() {
            "true" => "True".to_string(),
            "false" => "False".to_string(),
            "null" => "None".to_string(),
            name => name.to_string(),
        },
        _ => ["?.", "=~", "!~", ">=", "<=", "!=", "->", "=>"]
            .iter()
            .find(|operator| rest.starts_with(*operator))
            .map_or_else(|| first.to_string(), |operator| operator.to_string()),
    }
}

/// A variable an expression reads: its language, the text it is in, and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Reference {
    pub name: String,
    pub language: &'static str,
    pub text: String,
}

/// Orquesta's `extract_vars`: the variables read through `ctx()` in every string of `value`,
/// each once, sorted by name.
pub(super) fn references(value: &Value) -> Vec<Reference> {
    let mut found = Vec::new();
    collect(value, &mut found);
    found.sort();
    found.dedup();
    found
}

fn collect(value: &Value, found: &mut Vec<Reference>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                collect_text(key, found);
                collect(item, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, found)),
        Value::String(text) => collect_text(text, found),
        _ => {}
    }
}

fn collect_text(text: &str, found: &mut Vec<Reference>) {
    static CTX: OnceLock<Regex> = OnceLock::new();
    let ctx = regex(&CTX, r#"\bctx\(['"]?[\]\[a-zA-Z0-9_'".()]*['"]?\)\.?[\]\[a-zA-Z0-9_'".()]*"#);
    for (language, expressions, delimiter) in
        [(YAQL, yaql_expressions(text), "<%>"), (JINJA, jinja_expressions(text), "{}")]
    {
        let mut refs: Vec<&str> =
            expressions.iter().flat_map(|e| ctx.find_iter(stripped(e, delimiter)).map(|m| m.as_str().trim())).collect();
        refs.sort_unstable();
        refs.dedup();
        for reference in refs {
            for name in variable_names(reference).into_iter().filter(|name| !name.is_empty()) {
                found.push(Reference { name, language, text: text.to_string() });
            }
        }
    }
}

/// The name each of Orquesta's four extraction patterns finds in a reference (`ctx().x`,
/// `ctx(x)`, `ctx('x')`, `ctx("x")`); empty where a pattern finds none.
fn variable_names(reference: &str) -> [String; 4] {
    static QUOTED: OnceLock<[Regex; 3]> = OnceLock::new();
    let [bare, single, double] = QUOTED.get_or_init(|| {
        [r"\bctx\(([a-zA-Z0-9_-]+)\)", r"\bctx\('([a-zA-Z0-9_-]+)'\)", r#"\bctx\("([a-zA-Z0-9_-]+)"\)"#]
            .map(|pattern| Regex::new(pattern).expect("a fixed pattern compiles"))
    });
    let first = |regex: &Regex| regex.captures(reference).map(|c| c[1].to_string()).unwrap_or_default();
    [dotted_name(reference), first(bare), first(single), first(double)]
}

/// `(?<=\bctx\(\)\.)([a-zA-Z0-9_-]+)\b(?!\()`: the name after the first `ctx().` that is not
/// a method call.
fn dotted_name(reference: &str) -> String {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    for (start, _) in reference.match_indices("ctx().") {
        if reference[..start].chars().next_back().is_some_and(is_word) {
            continue;
        }
        let rest = &reference[start + "ctx().".len()..];
        let run: Vec<char> = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
        for length in (1..=run.len()).rev() {
            let last = run[length - 1];
            let next = rest.chars().nth(length);
            let boundary = is_word(last) != next.is_some_and(is_word);
            if boundary && next != Some('(') {
                return run[..length].iter().collect();
            }
        }
    }
    String::new()
}
