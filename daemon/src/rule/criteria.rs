//! Rule criteria (ST2-COMPAT.md 5.2, 5.3): looking up a criterion's key in a trigger payload and
//! applying StackStorm's operators with their exact typing.
//!
//! Owns: key paths (`trigger.a.b`, `trigger.headers['X-Id']`, `trigger.items[0]`, `#tag`
//! suffixes), every operator and alias, `search` with its four conditions. Must not: render
//! Jinja patterns (the caller renders a pattern before handing it in) or record enforcements.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

/// Why a criterion could not be evaluated; the rule then records a failed enforcement.
pub type EvalError = String;

/// Evaluates every criterion of a rule against `payload` (ANDed, stopping at the first false).
/// With criteria, an empty or null payload never matches.
pub fn matches(criteria: &Map<String, Value>, payload: &Value) -> Result<bool, EvalError> {
    if criteria.is_empty() {
        return Ok(true);
    }
    if payload.is_null() || payload.as_object().is_some_and(Map::is_empty) {
        return Ok(false);
    }
    let context = serde_json::json!({ "trigger": payload });
    for (key, criterion) in criteria {
        if !criterion_holds(key, criterion, &context, Utc::now())? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn criterion_holds(key: &str, criterion: &Value, context: &Value, now: DateTime<Utc>) -> Result<bool, EvalError> {
    let operator =
        criterion.get("type").and_then(Value::as_str).ok_or_else(|| format!("criterion {key} has no type"))?;
    let pattern = criterion.get("pattern").unwrap_or(&Value::Null);
    let value = lookup(context, key);
    if operator.eq_ignore_ascii_case("search") {
        let condition = criterion.get("condition").and_then(Value::as_str).unwrap_or_default();
        return search(value.as_ref(), pattern, condition, now);
    }
    apply(operator, value.as_ref(), pattern, now).map_err(|e| format!("criterion {key} ({operator}): {e}"))
}

/// Finds `key` (with any `#tag` suffix removed) in `context`; `None` when absent.
pub fn lookup(context: &Value, key: &str) -> Option<Value> {
    let key = key.split('#').next().unwrap_or(key);
    let mut current = context;
    for segment in path_segments(key)? {
        current = match segment {
            Segment::Key(name) => current.get(&name)?,
            Segment::Index(index) => current.get(index)?,
        };
    }
    Some(current.clone())
}

enum Segment {
    Key(String),
    Index(usize),
}

/// `a.b['c d'][0]` → `a`, `b`, `c d`, `0`.
fn path_segments(path: &str) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    let mut chars = path.chars().peekable();
    let mut name = String::new();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !name.is_empty() {
                    segments.push(Segment::Key(std::mem::take(&mut name)));
                }
            }
            '[' => {
                if !name.is_empty() {
                    segments.push(Segment::Key(std::mem::take(&mut name)));
                }
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    inner.push(c);
                }
                let inner = inner.trim();
                let quoted = (inner.starts_with('\'') && inner.ends_with('\''))
                    || (inner.starts_with('"') && inner.ends_with('"'));
                if quoted && inner.len() >= 2 {
                    segments.push(Segment::Key(inner[1..inner.len() - 1].to_string()));
                } else {
                    segments.push(Segment::Index(inner.parse().ok()?));
                }
            }
            other => name.push(other),
        }
    }
    if !name.is_empty() {
        segments.push(Segment::Key(name));
    }
    Some(segments)
}

/// Typed equality: numbers compare by value (5 == 5.0), everything else structurally.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

fn strings<'a>(value: Option<&'a Value>, pattern: &'a Value) -> Result<(&'a str, &'a str), EvalError> {
    match (value.and_then(Value::as_str), pattern.as_str()) {
        (Some(v), Some(p)) => Ok((v, p)),
        _ => Err(format!("needs strings, got {} and {}", describe(value), describe(Some(pattern)))),
    }
}

fn describe(value: Option<&Value>) -> &'static str {
    match value {
        None | Some(Value::Null) => "None",
        Some(Value::Bool(_)) => "bool",
        Some(Value::Number(n)) if n.is_f64() => "float",
        Some(Value::Number(_)) => "int",
        Some(Value::String(_)) => "str",
        Some(Value::Array(_)) => "list",
        Some(Value::Object(_)) => "dict",
    }
}

/// `needle in haystack` as Python means it for strings, lists and dicts.
fn contains(haystack: Option<&Value>, needle: &Value) -> Result<bool, EvalError> {
    match haystack {
        Some(Value::String(s)) => match needle {
            Value::String(n) => Ok(s.contains(n.as_str())),
            other => Err(format!("'in <string>' requires a string, not {}", describe(Some(other)))),
        },
        Some(Value::Array(items)) => Ok(items.iter().any(|item| equal(item, needle))),
        Some(Value::Object(map)) => Ok(needle.as_str().is_some_and(|k| map.contains_key(k))),
        other => Err(format!("argument of type {} is not iterable", describe(other))),
    }
}

fn compare(value: Option<&Value>, pattern: &Value) -> Result<std::cmp::Ordering, EvalError> {
    match (value, pattern) {
        (Some(Value::Number(a)), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b))
            .ok_or_else(|| "numbers cannot be compared".to_string()),
        (Some(Value::String(a)), Value::String(b)) => Ok(a.cmp(b)),
        (Some(Value::Bool(a)), Value::Bool(b)) => Ok(a.cmp(b)),
        (value, pattern) => Err(format!("cannot compare {} with {}", describe(value), describe(Some(pattern)))),
    }
}

/// Shell-style wildcard over the whole string (fnmatch).
fn wildcard(text: &str, pattern: &str) -> Result<bool, EvalError> {
    let mut regex = String::from("(?s)^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => regex.push_str(".*"),
            '?' => regex.push('.'),
            '[' => {
                let mut class = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == ']' && !class.is_empty() {
                        closed = true;
                        break;
                    }
                    class.push(c);
                }
                if closed {
                    let class = class.strip_prefix('!').map(|rest| format!("^{rest}")).unwrap_or(class);
                    regex.push('[');
                    regex.push_str(&class.replace('\\', "\\\\"));
                    regex.push(']');
                } else {
                    regex.push_str(&regex::escape(&format!("[{class}")));
                }
            }
            other => regex.push_str(&regex::escape(&other.to_string())),
        }
    }
    regex.push('$');
    regex::Regex::new(&regex).map(|r| r.is_match(text)).map_err(|e| e.to_string())
}

fn regex_match(text: &str, pattern: &str, flags: &str, anchored: bool) -> Result<bool, EvalError> {
    let flags = if flags.is_empty() { String::new() } else { format!("(?{flags})") };
    let source = if anchored { format!("{flags}^(?:{pattern})") } else { format!("{flags}{pattern}") };
    regex::Regex::new(&source).map(|r| r.is_match(text)).map_err(|e| format!("invalid regular expression: {e}"))
}

/// Seconds from `value` (a date, UTC when it has no offset) to `now`.
fn age_seconds(value: Option<&Value>, now: DateTime<Utc>) -> Result<f64, EvalError> {
    let text = value.and_then(Value::as_str).ok_or_else(|| format!("needs a date string, got {}", describe(value)))?;
    let parsed = DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z").ok().map(|d| d.with_timezone(&Utc)))
        .or_else(|| {
            ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
                .map(|n| n.and_utc())
        })
        .ok_or_else(|| format!("\"{text}\" is not a date"))?;
    Ok((now - parsed).num_milliseconds() as f64 / 1000.0)
}

fn number(pattern: &Value) -> Result<f64, EvalError> {
    pattern.as_f64().ok_or_else(|| format!("needs a number of seconds, got {}", describe(Some(pattern))))
}

/// One operator (names are matched case-insensitively, as StackStorm does at match time).
pub fn apply(operator: &str, value: Option<&Value>, pattern: &Value, now: DateTime<Utc>) -> Result<bool, EvalError> {
    let null = Value::Null;
    let v = value.unwrap_or(&null);
    Ok(match operator.to_ascii_lowercase().as_str() {
        "equals" | "eq" => equal(v, pattern),
        "nequals" | "neq" => !equal(v, pattern),
        "iequals" | "ieq" => {
            let (v, p) = strings(value, pattern)?;
            v.to_lowercase() == p.to_lowercase()
        }
        "contains" => contains(value, pattern)?,
        "ncontains" => !contains(value, pattern)?,
        "icontains" => {
            let (v, p) = strings(value, pattern)?;
            v.to_lowercase().contains(&p.to_lowercase())
        }
        "incontains" => {
            let (v, p) = strings(value, pattern)?;
            !v.to_lowercase().contains(&p.to_lowercase())
        }
        "startswith" => {
            let (v, p) = strings(value, pattern)?;
            v.starts_with(p)
        }
        "istartswith" => {
            let (v, p) = strings(value, pattern)?;
            v.to_lowercase().starts_with(&p.to_lowercase())
        }
        "endswith" => {
            let (v, p) = strings(value, pattern)?;
            v.ends_with(p)
        }
        "iendswith" => {
            let (v, p) = strings(value, pattern)?;
            v.to_lowercase().ends_with(&p.to_lowercase())
        }
        "lessthan" | "lt" => compare(value, pattern)? == std::cmp::Ordering::Less,
        "greaterthan" | "gt" => compare(value, pattern)? == std::cmp::Ordering::Greater,
        "matchwildcard" => {
            let (v, p) = strings(value, pattern)?;
            wildcard(v, p)?
        }
        "matchregex" => {
            let (v, p) = strings(value, pattern)?;
            regex_match(v, p, "s", true)?
        }
        "regex" => {
            let (v, p) = strings(value, pattern)?;
            regex_match(v, p, "", false)?
        }
        "iregex" => {
            let (v, p) = strings(value, pattern)?;
            regex_match(v, p, "i", false)?
        }
        "timediff_lt" | "td_lt" => age_seconds(value, now)? < number(pattern)?,
        "timediff_gt" | "td_gt" => age_seconds(value, now)? > number(pattern)?,
        "exists" => !v.is_null(),
        "nexists" => v.is_null(),
        "inside" | "in" => contains(Some(pattern), v)?,
        "ninside" | "nin" => !contains(Some(pattern), v)?,
        other => return Err(format!("unknown operator \"{other}\"")),
    })
}

/// `search`: `value` is a list (a single object counts as a one-item list); `pattern` maps
/// `item.<path>` keys to child criteria.
fn search(value: Option<&Value>, pattern: &Value, condition: &str, now: DateTime<Utc>) -> Result<bool, EvalError> {
    let items: Vec<&Value> = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(object @ Value::Object(_)) => vec![object],
        _ => return Ok(false),
    };
    let children = pattern.as_object().ok_or("the pattern of search must be a mapping of criteria")?;
    let child_holds = |item: &Value, key: &str, criterion: &Value| -> Result<bool, EvalError> {
        criterion_holds(key, criterion, &serde_json::json!({ "item": item }), now)
    };
    let all_children = |item: &Value| -> Result<bool, EvalError> {
        for (key, criterion) in children {
            if !child_holds(item, key, criterion)? {
                return Ok(false);
            }
        }
        Ok(true)
    };
    let any_child = |item: &Value| -> Result<bool, EvalError> {
        for (key, criterion) in children {
            if child_holds(item, key, criterion)? {
                return Ok(true);
            }
        }
        Ok(false)
    };
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        results.push(match condition {
            "any" | "all" => all_children(item)?,
            "any2any" | "all2any" => any_child(item)?,
            other => return Err(format!("unknown search condition \"{other}\"")),
        });
    }
    Ok(match condition {
        "any" | "any2any" => results.iter().any(|r| *r),
        _ => results.iter().all(|r| *r),
    })
}

#[cfg(test)]
#[path = "criteria_tests.rs"]
mod tests;
