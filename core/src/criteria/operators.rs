//! Rule criteria (ST2-COMPAT.md 5.2, 5.3): looking up a criterion's key in a trigger payload and
//! applying StackStorm's operators with their exact typing.
//!
//! Owns: key paths (`trigger.a.b`, `trigger.headers['X-Id']`, `trigger.items[0]`, `#tag`
//! suffixes) and every operator and alias. Must not: render Jinja patterns or walk a rule's
//! criteria (`matcher` compiles and evaluates them, `search` included) or record enforcements.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

/// Why a criterion could not be evaluated; the rule then records a failed enforcement.
pub type EvalError = String;

/// Evaluates every criterion of a rule against `payload` (ANDed, stopping at the first false),
/// with patterns taken literally. With criteria, an empty or null payload never matches.
pub fn matches(criteria: &Map<String, Value>, payload: &Value) -> Result<bool, EvalError> {
    super::matcher::Criteria::compile(criteria)?.evaluate(payload, &super::matcher::Literal, Utc::now())
}

/// Finds `key` (with any `#tag` suffix removed) in `context`; `None` when absent.
pub fn lookup(context: &Value, key: &str) -> Option<Value> {
    let key = key.split('#').next().unwrap_or(key);
    follow(context, &path_segments(key)?).cloned()
}

/// Follows `segments` from `value`; `None` when a step is missing.
pub fn follow<'a>(value: &'a Value, segments: &[Segment]) -> Option<&'a Value> {
    let mut current = value;
    for segment in segments {
        current = match segment {
            Segment::Key(name) => current.get(name)?,
            Segment::Index(index) => current.get(index)?,
        };
    }
    Some(current)
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// `a.b['c d'][0]` → `a`, `b`, `c d`, `0`; `None` when a bracket holds neither a quoted key nor
/// an index.
pub fn path_segments(path: &str) -> Option<Vec<Segment>> {
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

/// The regular expression an operator applies, compiled from its pattern (fnmatch for
/// `matchwildcard`, anchored with DOTALL for `matchregex`, a search for `regex`/`iregex`).
pub fn operator_regex(operator: Operator, pattern: &str) -> Result<regex::Regex, EvalError> {
    let source = match operator {
        Operator::MatchWildcard => wildcard_regex(pattern),
        Operator::MatchRegex => format!("(?s)^(?:{pattern})"),
        Operator::Regex => pattern.to_string(),
        Operator::IRegex => format!("(?i){pattern}"),
        other => return Err(format!("{} takes no regular expression", other.name())),
    };
    regex::Regex::new(&source).map_err(|e| format!("invalid regular expression: {e}"))
}

/// Shell-style wildcard over the whole string (fnmatch), as a regular expression.
fn wildcard_regex(pattern: &str) -> String {
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
    regex
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

/// StackStorm's criteria operators (aliases resolve to the same operator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equals,
    NEquals,
    IEquals,
    Contains,
    NContains,
    IContains,
    INContains,
    StartsWith,
    IStartsWith,
    EndsWith,
    IEndsWith,
    LessThan,
    GreaterThan,
    MatchWildcard,
    MatchRegex,
    Regex,
    IRegex,
    TimeDiffLt,
    TimeDiffGt,
    Exists,
    NExists,
    Inside,
    NInside,
    Search,
}

/// Every operator with its names: the canonical one first, then aliases.
const NAMES: &[(Operator, &[&str])] = &[
    (Operator::Equals, &["equals", "eq"]),
    (Operator::NEquals, &["nequals", "neq"]),
    (Operator::IEquals, &["iequals", "ieq"]),
    (Operator::Contains, &["contains"]),
    (Operator::NContains, &["ncontains"]),
    (Operator::IContains, &["icontains"]),
    (Operator::INContains, &["incontains"]),
    (Operator::StartsWith, &["startswith"]),
    (Operator::IStartsWith, &["istartswith"]),
    (Operator::EndsWith, &["endswith"]),
    (Operator::IEndsWith, &["iendswith"]),
    (Operator::LessThan, &["lessthan", "lt"]),
    (Operator::GreaterThan, &["greaterthan", "gt"]),
    (Operator::MatchWildcard, &["matchwildcard"]),
    (Operator::MatchRegex, &["matchregex"]),
    (Operator::Regex, &["regex"]),
    (Operator::IRegex, &["iregex"]),
    (Operator::TimeDiffLt, &["timediff_lt", "td_lt"]),
    (Operator::TimeDiffGt, &["timediff_gt", "td_gt"]),
    (Operator::Exists, &["exists"]),
    (Operator::NExists, &["nexists"]),
    (Operator::Inside, &["inside", "in"]),
    (Operator::NInside, &["ninside", "nin"]),
    (Operator::Search, &["search"]),
];

impl Operator {
    /// An operator by name or alias, case-insensitively, as StackStorm matches them.
    pub fn parse(name: &str) -> Option<Operator> {
        let name = name.to_ascii_lowercase();
        NAMES.iter().find(|(_, names)| names.contains(&name.as_str())).map(|(op, _)| *op)
    }

    pub fn name(self) -> &'static str {
        NAMES.iter().find(|(op, _)| *op == self).and_then(|(_, names)| names.first()).copied().unwrap_or("unknown")
    }
}

/// One operator by name (compiling any regular expression on the spot).
pub fn apply(operator: &str, value: Option<&Value>, pattern: &Value, now: DateTime<Utc>) -> Result<bool, EvalError> {
    let op = Operator::parse(operator).ok_or_else(|| format!("unknown operator \"{operator}\""))?;
    apply_op(op, value, pattern, None, now)
}

/// One operator; `regex` is the pattern's compiled regular expression when the caller has it.
pub fn apply_op(
    op: Operator,
    value: Option<&Value>,
    pattern: &Value,
    regex: Option<&regex::Regex>,
    now: DateTime<Utc>,
) -> Result<bool, EvalError> {
    let null = Value::Null;
    let v = value.unwrap_or(&null);
    let affix = |check: fn(&str, &str) -> bool, fold: bool| -> Result<bool, EvalError> {
        let (v, p) = strings(value, pattern)?;
        Ok(if fold { check(&v.to_lowercase(), &p.to_lowercase()) } else { check(v, p) })
    };
    Ok(match op {
        Operator::Equals => equal(v, pattern),
        Operator::NEquals => !equal(v, pattern),
        Operator::IEquals => affix(|v, p| v == p, true)?,
        Operator::Contains => contains(value, pattern)?,
        Operator::NContains => !contains(value, pattern)?,
        Operator::IContains => affix(|v, p| v.contains(p), true)?,
        Operator::INContains => !affix(|v, p| v.contains(p), true)?,
        Operator::StartsWith => affix(|v, p| v.starts_with(p), false)?,
        Operator::IStartsWith => affix(|v, p| v.starts_with(p), true)?,
        Operator::EndsWith => affix(|v, p| v.ends_with(p), false)?,
        Operator::IEndsWith => affix(|v, p| v.ends_with(p), true)?,
        Operator::LessThan => compare(value, pattern)? == std::cmp::Ordering::Less,
        Operator::GreaterThan => compare(value, pattern)? == std::cmp::Ordering::Greater,
        Operator::MatchWildcard | Operator::MatchRegex | Operator::Regex | Operator::IRegex => {
            let (v, p) = strings(value, pattern)?;
            match regex {
                Some(regex) => regex.is_match(v),
                None => operator_regex(op, p)?.is_match(v),
            }
        }
        Operator::TimeDiffLt => age_seconds(value, now)? < number(pattern)?,
        Operator::TimeDiffGt => age_seconds(value, now)? > number(pattern)?,
        Operator::Exists => !v.is_null(),
        Operator::NExists => v.is_null(),
        Operator::Inside => contains(Some(pattern), v)?,
        Operator::NInside => !contains(Some(pattern), v)?,
        Operator::Search => return Err("search needs a compiled criterion".to_string()),
    })
}

#[cfg(test)]
#[path = "operators_tests.rs"]
mod tests;
