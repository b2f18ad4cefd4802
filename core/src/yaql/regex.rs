//! Regular expressions: `regex()`, `matches`, `search`, `searchAll`, and the `=~` / `!~`
//! operators.
//!
//! Owns: the regex value (`regex()` gives a dict `{"__yaql_regex__": pattern}`, as JSON has no
//! regex type, which `matches`, `search` and `=~` accept), and compiling patterns. Patterns use
//! Rust's `regex` syntax: Python's, less look-around and backreferences; matching takes linear
//! time, so no pattern can hang an evaluation. Must not: evaluate expressions or call the host.

use regex::{Regex, RegexBuilder};
use serde_json::Value;

use super::EvalError;
use super::eval::Evaluator;
use super::library::{Args, Param};
use super::values::{a_type, err};

/// The key of the dict that stands for a compiled regular expression.
pub(crate) const REGEX_KEY: &str = "__yaql_regex__";

/// Arguments bound to parameters.
type Bound<'a> = Vec<Option<&'a Value>>;

fn need<'a>(slots: &[Option<&'a Value>], i: usize, name: &str) -> Result<&'a Value, EvalError> {
    slots.get(i).copied().flatten().ok_or_else(|| err(format!("{name}() is missing an argument")))
}

fn text<'a>(a: &'a Args, params: &[&str], required: usize) -> Result<(&'a str, Bound<'a>), EvalError> {
    let slots = a.bind(params, required)?;
    Ok((Param(a.name, params[0]).string(need(&slots, 0, a.name)?)?, slots))
}

fn compile(pattern: &str) -> Result<Regex, EvalError> {
    RegexBuilder::new(pattern).size_limit(1 << 22).build().map_err(|e| {
        let detail = e.to_string();
        let detail = detail.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("invalid").trim().to_string();
        err(format!("invalid regular expression {pattern:?}: {detail}"))
    })
}

/// The pattern inside a regex value.
fn regex_pattern(value: &Value) -> Option<&str> {
    match value.as_object() {
        Some(map) if map.len() == 1 => map.get(REGEX_KEY)?.as_str(),
        _ => None,
    }
}

/// `regex(pattern, ignoreCase => false, multiLine => false, dotAll => false)`.
pub(crate) fn regex(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let params = ["pattern", "ignoreCase", "multiLine", "dotAll"];
    let (pattern, slots) = text(a, &params, 1)?;
    let mut flags = String::new();
    for (i, flag) in [(1, 'i'), (2, 'm'), (3, 's')] {
        if slots[i].map(|v| Param(a.name, params[i]).bool(v)).transpose()?.unwrap_or(false) {
            flags.push(flag);
        }
    }
    let pattern = if flags.is_empty() { pattern.to_string() } else { format!("(?{flags}){pattern}") };
    compile(&pattern)?;
    Ok(Value::Object([(REGEX_KEY.to_string(), Value::String(pattern))].into_iter().collect()))
}

/// A pattern given as a string or a regex value.
fn pattern_of<'v>(name: &str, value: &'v Value) -> Result<&'v str, EvalError> {
    regex_pattern(value)
        .or_else(|| value.as_str())
        .ok_or_else(|| err(format!("{name} expects a pattern (a string or regex()), got {}", a_type(value))))
}

/// `regex(...).matches(string)` or `string.matches(pattern)`: whether the pattern occurs.
pub(crate) fn matches(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let slots = a.bind(&["regexp", "string"], 2)?;
    let (first, second) = (need(&slots, 0, a.name)?, need(&slots, 1, a.name)?);
    let (pattern, subject) = match regex_pattern(first) {
        Some(pattern) => (pattern, Param(a.name, "string").string(second)?),
        None => (pattern_of("matches()", second)?, Param(a.name, "string").string(first)?),
    };
    Ok(Value::Bool(compile(pattern)?.is_match(subject)))
}

/// The regex receiver and the subject string of `search` / `searchAll`.
fn regex_and_subject(a: &Args) -> Result<(Regex, String), EvalError> {
    let slots = a.bind(&["regexp", "string"], 2)?;
    let receiver = need(&slots, 0, a.name)?;
    let pattern = regex_pattern(receiver).ok_or_else(|| {
        err(format!("{}() expects a regex (from regex()) as its receiver, got {}", a.name, a_type(receiver)))
    })?;
    Ok((compile(pattern)?, Param(a.name, "string").string(need(&slots, 1, a.name)?)?.to_string()))
}

/// `regex(...).search(string)`: the first match, or null.
pub(crate) fn search(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (regex, subject) = regex_and_subject(a)?;
    Ok(regex.find(&subject).map_or(Value::Null, |m| Value::String(m.as_str().to_string())))
}

/// `regex(...).searchAll(string)`: every match.
pub(crate) fn search_all(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (regex, subject) = regex_and_subject(a)?;
    Ok(Value::Array(regex.find_iter(&subject).map(|m| Value::String(m.as_str().to_string())).collect()))
}

/// `string =~ pattern` (and `!~`, negated by the caller).
pub(crate) fn match_operator(left: &Value, right: &Value, symbol: &str) -> Result<bool, EvalError> {
    let subject = left
        .as_str()
        .ok_or_else(|| err(format!("operator \"{symbol}\" expects a string on its left, got {}", a_type(left))))?;
    Ok(compile(pattern_of(&format!("operator \"{symbol}\""), right)?)?.is_match(subject))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{check_errors, check_values};

    #[test]
    fn regexes() {
        let n = json!(null);
        check_values(&[
            (
                "[regex('a.c').matches('xabc'), regex('A.C', ignoreCase => true).matches('abc'), 'abc'.matches('^b')]",
                n.clone(),
                json!([true, true, false]),
            ),
            (
                "[regex('\\d+').search('ab12c34'), regex('x').search('abc'), regex('\\d+').searchAll('a1b22')]",
                n.clone(),
                json!(["12", null, ["1", "22"]]),
            ),
            (
                "['abc' =~ 'b', 'abc' !~ 'b', 'abc' =~ regex('^A', ignoreCase => true)]",
                n.clone(),
                json!([true, false, true]),
            ),
            ("'a\nb'.matches('^b')", n.clone(), json!(false)),
            ("regex('^b', multiLine => true).matches('a\nb')", n.clone(), json!(true)),
            ("regex('a.b', dotAll => true).matches('a\nb')", n.clone(), json!(true)),
            ("regex('é+').searchAll('éé-é')", n.clone(), json!(["éé", "é"])),
        ]);
        check_errors(&[
            ("regex('(')", n.clone(), "invalid regular expression \"(\""),
            ("'abc'.search('b')", n.clone(), "search() expects a regex (from regex()) as its receiver, got a string"),
            ("1 =~ 'a'", n.clone(), "operator \"=~\" expects a string on its left, got an integer"),
            ("'a' =~ 1", n.clone(), "operator \"=~\" expects a pattern"),
            ("regex(a, dotAll => 1)", n.clone(), "regex() expects a boolean for \"dotAll\", got an integer"),
        ]);
    }
}
