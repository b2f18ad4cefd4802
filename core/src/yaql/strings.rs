//! The library's string functions: `str`, `join`, `split`, `replace`, `trim`, `format`,
//! `substring`, `indexOf` on strings and the like.
//!
//! Owns: Python's string semantics for them (positions count characters, `split()` without a
//! separator splits on runs of whitespace, `format` is `str.format`). Must not: evaluate
//! expressions or call the host.

use serde_json::{Map, Value};

use super::EvalError;
use super::eval::Evaluator;
use super::library::{Args, Param};
use super::values::{MAX_TEXT, err, py_repr, py_str, yaql_str};

/// Arguments bound to parameters.
type Bound<'a> = Vec<Option<&'a Value>>;

fn need<'a>(slots: &[Option<&'a Value>], i: usize, name: &str) -> Result<&'a Value, EvalError> {
    slots.get(i).copied().flatten().ok_or_else(|| err(format!("{name}() is missing an argument")))
}

/// The string argument at `i` of `params`.
fn string_at<'a>(a: &Args, slots: &[Option<&'a Value>], params: &[&str], i: usize) -> Result<&'a str, EvalError> {
    Param(a.name, params[i]).string(need(slots, i, a.name)?)
}

/// The receiver string and the slots of `params`.
fn text<'a>(a: &'a Args, params: &[&str], required: usize) -> Result<(&'a str, Bound<'a>), EvalError> {
    let slots = a.bind(params, required)?;
    Ok((string_at(a, &slots, params, 0)?, slots))
}

/// `str(value)`: YAQL's conversion (`null`, `true`, `false`; lists as Python tuples).
pub(crate) fn str_(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let slots = a.bind(&["value"], 1)?;
    Ok(Value::String(yaql_str(need(&slots, 0, a.name)?)))
}

/// `collection.join(separator)` or `separator.join(collection)`; items pass through `str()`.
pub(crate) fn join(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let slots = a.bind(&["sequence", "separator"], 2)?;
    let (first, second) = (need(&slots, 0, a.name)?, need(&slots, 1, a.name)?);
    let (items, separator) = match (first, second) {
        (Value::String(separator), Value::Array(items)) => (items, separator.as_str()),
        _ => (Param(a.name, "sequence").list(first)?, Param(a.name, "separator").string(second)?),
    };
    let parts: Vec<String> = items.iter().map(yaql_str).collect();
    let size = parts
        .iter()
        .map(String::len)
        .sum::<usize>()
        .saturating_add(parts.len().saturating_sub(1).saturating_mul(separator.len()));
    check_text_size(a.name, size)?;
    Ok(Value::String(parts.join(separator)))
}

/// Refuses a text a function would build past `MAX_TEXT`, before building it.
fn check_text_size(name: &str, size: usize) -> Result<(), EvalError> {
    if size > MAX_TEXT {
        return Err(err(format!("{name}() would make a string too large (its limit is {MAX_TEXT} bytes)")));
    }
    Ok(())
}

/// Byte spans of the whitespace-separated words of `s`.
fn words(s: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(from)) => {
                spans.push((from, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(from) = start {
        spans.push((from, s.len()));
    }
    spans
}

fn split_impl(a: &Args, from_right: bool) -> Result<Value, EvalError> {
    let params = ["string", "separator", "maxSplits"];
    let (s, slots) = text(a, &params, 1)?;
    let separator = Param(a.name, "separator").opt_string(slots[1])?;
    let max = slots[2].map(|m| Param(a.name, "maxSplits").int(m)).transpose()?.unwrap_or(-1);
    let max = usize::try_from(max).ok();
    let parts: Vec<&str> = match separator {
        Some("") => return Err(err(format!("{}() separator must not be empty", a.name))),
        Some(sep) => match (max, from_right) {
            (None, _) => s.split(sep).collect(),
            (Some(n), false) => s.splitn(n.saturating_add(1), sep).collect(),
            (Some(n), true) => {
                let mut parts: Vec<&str> = s.rsplitn(n.saturating_add(1), sep).collect();
                parts.reverse();
                parts
            }
        },
        None => {
            let spans = words(s);
            match max {
                Some(n) if n < spans.len() && from_right => {
                    let head = &s[..spans[spans.len() - n - 1].1];
                    std::iter::once(head).chain(spans[spans.len() - n..].iter().map(|&(x, y)| &s[x..y])).collect()
                }
                Some(n) if n < spans.len() => {
                    spans[..n].iter().map(|&(x, y)| &s[x..y]).chain(std::iter::once(&s[spans[n].0..])).collect()
                }
                _ => spans.iter().map(|&(x, y)| &s[x..y]).collect(),
            }
        }
    };
    Ok(Value::Array(parts.into_iter().map(|p| Value::String(p.to_string())).collect()))
}

/// `split(separator => null, maxSplits => -1)`, as Python's `str.split`.
pub(crate) fn split(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    split_impl(a, false)
}

pub(crate) fn right_split(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    split_impl(a, true)
}

/// `string.replace(old, new, count => -1)`, `string.replace(dict, count => -1)`, or on a list
/// `replace(position, value, count => 1)`.
pub(crate) fn replace(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let count_of = |v: Option<&Value>, default: i64| {
        v.map(|c| Param(a.name, "count").int(c)).transpose().map(|c| c.unwrap_or(default))
    };
    match (a.values.first(), a.values.get(1)) {
        (Some(Value::Array(items)), _) => {
            let slots = a.bind(&["collection", "position", "value", "count"], 3)?;
            let position = Param(a.name, "position").int(need(&slots, 1, a.name)?)?;
            let value = need(&slots, 2, a.name)?;
            let count = count_of(slots[3], 1)?;
            let replaced = |i: usize| {
                let i = i64::try_from(i).unwrap_or(i64::MAX);
                i >= position && (count < 0 || i < position.saturating_add(count))
            };
            let mut out = Vec::new();
            let mut inserted = false;
            for (i, item) in items.iter().enumerate() {
                if !replaced(i) {
                    out.push(item.clone());
                } else if !inserted {
                    inserted = true;
                    out.push(value.clone());
                }
            }
            Ok(Value::Array(out))
        }
        (_, Some(Value::Object(_))) => {
            let (s, slots) = text(a, &["string", "replacements", "count"], 2)?;
            let replacements: &Map<String, Value> = Param(a.name, "replacements").dict(need(&slots, 1, a.name)?)?;
            let count = count_of(slots[2], -1)?;
            let mut out = s.to_string();
            for (old, new) in replacements {
                out = replace_n(a.name, &out, old, &yaql_str(new), count)?;
            }
            Ok(Value::String(out))
        }
        _ => {
            let params = ["string", "old", "new", "count"];
            let (s, slots) = text(a, &params, 3)?;
            let (old, new) = (string_at(a, &slots, &params, 1)?, string_at(a, &slots, &params, 2)?);
            Ok(Value::String(replace_n(a.name, s, old, new, count_of(slots[3], -1)?)?))
        }
    }
}

/// `s` with `old` replaced by `new` (`count` times, all when negative), refused before it is
/// built when it would pass `MAX_TEXT` (an empty `old` matches between every character).
fn replace_n(name: &str, s: &str, old: &str, new: &str, count: i64) -> Result<String, EvalError> {
    if new.len() > old.len() {
        let found = if old.is_empty() { s.chars().count() + 1 } else { s.matches(old).count() };
        let replaced = usize::try_from(count).map_or(found, |n| n.min(found));
        check_text_size(name, s.len().saturating_add(replaced.saturating_mul(new.len() - old.len())))?;
    }
    Ok(match usize::try_from(count) {
        Ok(n) => s.replacen(old, new, n),
        Err(_) => s.replace(old, new),
    })
}

fn trim_impl(a: &Args, left: bool, right: bool) -> Result<Value, EvalError> {
    let (s, slots) = text(a, &["string", "chars"], 1)?;
    let chars = Param(a.name, "chars").opt_string(slots[1])?;
    let strip = |c: char| chars.map_or(c.is_whitespace(), |set| set.contains(c));
    let s = if left { s.trim_start_matches(strip) } else { s };
    let s = if right { s.trim_end_matches(strip) } else { s };
    Ok(Value::String(s.to_string()))
}

/// `trim(chars => null)`: whitespace (or the given characters) removed from both ends.
pub(crate) fn trim(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    trim_impl(a, true, true)
}

pub(crate) fn trim_left(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    trim_impl(a, true, false)
}

pub(crate) fn trim_right(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    trim_impl(a, false, true)
}

pub(crate) fn to_upper(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    Ok(Value::String(text(a, &["string"], 1)?.0.to_uppercase()))
}

pub(crate) fn to_lower(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    Ok(Value::String(text(a, &["string"], 1)?.0.to_lowercase()))
}

fn affix(a: &Args, ends: bool) -> Result<Value, EvalError> {
    let values = a.exactly(1, usize::MAX)?;
    let s = Param(a.name, "string").string(&values[0])?;
    for candidate in &values[1..] {
        let candidate = Param(a.name, if ends { "suffixes" } else { "prefixes" }).string(candidate)?;
        if (ends && s.ends_with(candidate)) || (!ends && s.starts_with(candidate)) {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

/// `startsWith(prefix, ...)`: whether the string starts with any of them.
pub(crate) fn starts_with(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    affix(a, false)
}

pub(crate) fn ends_with(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    affix(a, true)
}

/// A Python slice bound: negative counts from the end, then clamped to `0..=len`.
fn bound(i: i64, len: usize) -> usize {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let i = if i < 0 { i.saturating_add(len_i) } else { i };
    usize::try_from(i.clamp(0, len_i)).unwrap_or(0)
}

/// `substring(start, length => -1)`, as YAQL: a negative length means "to the end".
pub(crate) fn substring(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (s, slots) = text(a, &["string", "start", "length"], 2)?;
    let chars: Vec<char> = s.chars().collect();
    let len = i64::try_from(chars.len()).unwrap_or(i64::MAX);
    let mut start = Param(a.name, "start").int(need(&slots, 1, a.name)?)?;
    let mut length = slots[2].map(|l| Param(a.name, "length").int(l)).transpose()?.unwrap_or(-1);
    if length < 0 {
        length = len;
    }
    if start < 0 {
        start = start.saturating_add(len);
    }
    let (from, to) = (bound(start, chars.len()), bound(start.saturating_add(length), chars.len()));
    Ok(Value::String(if from < to { chars[from..to].iter().collect() } else { String::new() }))
}

/// `indexOf(sub, start => 0)` and `lastIndexOf` on a string: a character position, or -1.
pub(crate) fn find(a: &Args, from_end: bool) -> Result<Value, EvalError> {
    let params = ["string", "sub", "start"];
    let (s, slots) = text(a, &params, 2)?;
    let sub = string_at(a, &slots, &params, 1)?;
    let count = s.chars().count();
    let start = slots[2].map(|v| Param(a.name, "start").int(v)).transpose()?.unwrap_or(0);
    let start_char = if start < 0 { bound(start, count) } else { usize::try_from(start).unwrap_or(usize::MAX) };
    if start_char > count {
        return Ok(Value::from(-1));
    }
    let from = s.char_indices().nth(start_char).map_or(s.len(), |(b, _)| b);
    let found = if from_end { s[from..].rfind(sub) } else { s[from..].find(sub) };
    Ok(found.map_or(Value::from(-1), |b| Value::from(s[..from + b].chars().count())))
}

/// `format(args...)`: Python's `str.format` with `{}`, `{0}`, `{name}`, `!r`/`!s` and `{{ }}`;
/// format specifications (`{:>5}`) are not supported.
pub(crate) fn format(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let template =
        Param(a.name, "string").string(a.values.first().ok_or_else(|| err("format() needs a format string"))?)?;
    let args = &a.values[1..];
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    let mut auto = Some(0usize);
    let mut manual = false;
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '}' => return Err(err("format() found a single '}' in the format string")),
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => field.push(c),
                        None => return Err(err("format() found an unclosed '{' in the format string")),
                    }
                }
                let (field, conversion) = match field.split_once('!') {
                    Some((f, conv)) => (f.to_string(), conv.to_string()),
                    None => (field, "s".to_string()),
                };
                if field.contains(':') || (conversion != "s" && conversion != "r") {
                    return Err(err(format!(
                        "format() does not support the field \"{{{field}}}\" (format specs and conversions other than !r, !s)"
                    )));
                }
                let value = if field.is_empty() {
                    let Some(next) = auto.filter(|_| !manual) else {
                        return Err(err("format() cannot mix automatic and numbered fields"));
                    };
                    auto = Some(next + 1);
                    args.get(next).ok_or_else(|| err(format!("format() has no argument {next}")))?
                } else if let Ok(n) = field.parse::<usize>() {
                    if auto != Some(0) {
                        return Err(err("format() cannot mix automatic and numbered fields"));
                    }
                    manual = true;
                    args.get(n).ok_or_else(|| err(format!("format() has no argument {n}")))?
                } else {
                    a.named.get(&field).ok_or_else(|| err(format!("format() has no argument named \"{field}\"")))?
                };
                out.push_str(&if conversion == "r" { py_repr(value) } else { py_str(value) });
                check_text_size(a.name, out.len())?;
            }
            c => out.push(c),
        }
    }
    Ok(Value::String(out))
}

pub(crate) fn to_char_array(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (s, _) = text(a, &["string"], 1)?;
    Ok(Value::Array(s.chars().map(|c| Value::String(c.to_string())).collect()))
}

pub(crate) fn is_string(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let slots = a.bind(&["value"], 1)?;
    Ok(Value::Bool(need(&slots, 0, a.name)?.is_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{check_errors, check_values};

    #[test]
    fn strings() {
        let n = json!(null);
        check_values(&[
            (
                "[str(null), str(true), str(1.5), str([1, 'a']), str({a => [b]}), str('x')]",
                n.clone(),
                json!(["null", "true", "1.5", "(1, 'a')", "{'a': ('b',)}", "x"]),
            ),
            (
                "[[1, true, null].join(', '), '-'.join([a, b]), join([x], '')]",
                n.clone(),
                json!(["1, true, null", "a-b", "x"]),
            ),
            ("'a,b,,c'.split(',')", n.clone(), json!(["a", "b", "", "c"])),
            ("'a,b,c'.split(',', 1)", n.clone(), json!(["a", "b,c"])),
            ("'a,b,c'.split(',', maxSplits => 0)", n.clone(), json!(["a,b,c"])),
            ("'  a b\t c  '.split()", n.clone(), json!(["a", "b", "c"])),
            ("'  a b  c  '.split(null, 1)", n.clone(), json!(["a", "b  c  "])),
            ("'  a b  c  '.rightSplit(null, 1)", n.clone(), json!(["  a b", "c"])),
            ("'a,b,c'.rightSplit(',', 1)", n.clone(), json!(["a,b", "c"])),
            ("''.split()", n.clone(), json!([])),
            (
                "['aXbX'.replace(X, '-'), 'aXbX'.replace(X, '', 1), 'abc'.replace({a => 1, c => true})]",
                n.clone(),
                json!(["a-b-", "abX", "1btrue"]),
            ),
            ("[0, 1, 2, 3].replace(1, x, 2)", n.clone(), json!([0, "x", 3])),
            (
                "['  x  '.trim(), '  x  '.trimLeft(), '  x  '.trimRight(), '--x-'.trim('-')]",
                n.clone(),
                json!(["x", "x  ", "  x", "x"]),
            ),
            ("['Ab'.toUpper(), 'Ab'.toLower()]", n.clone(), json!(["AB", "ab"])),
            ("['abc'.startsWith(x, a), 'abc'.endsWith(b), 'abc'.endsWith(bc)]", n.clone(), json!([true, false, true])),
            (
                "['hello'.substring(1, 3), 'hello'.substring(-3), 'héllo'.substring(1, 1), 'abc'.substring(5)]",
                n.clone(),
                json!(["ell", "llo", "é", ""]),
            ),
            (
                "['héllo'.indexOf(l), 'hello'.indexOf(l, 3), 'hello'.indexOf(z), 'hello'.lastIndexOf(l)]",
                n.clone(),
                json!([2, 3, -1, 3]),
            ),
            (
                "['{0} and {1}'.format(a, 2), '{} {}'.format(x, null), '{n}!r={n!r}'.format(n => 'q'), '{{}}'.format()]",
                n.clone(),
                json!(["a and 2", "x None", "q!r='q'", "{}"]),
            ),
            ("'ab'.toCharArray()", n.clone(), json!(["a", "b"])),
            ("[isString(''), isString(1)]", n.clone(), json!([true, false])),
        ]);
        check_errors(&[
            ("'a'.split('')", n.clone(), "split() separator must not be empty"),
            ("1.toUpper()", n.clone(), "toUpper() expects a string for \"string\", got an integer"),
            ("'{}'.format()", n.clone(), "format() has no argument 0"),
            ("'{:>5}'.format(1)", n.clone(), "format() does not support the field"),
            ("'{'.format()", n.clone(), "unclosed '{'"),
            ("'{0}{}'.format(1, 2)", n.clone(), "cannot mix automatic and numbered fields"),
            ("[1].join(1)", n.clone(), "join() expects a string for \"separator\", got an integer"),
        ]);
    }

    #[test]
    fn a_replace_or_join_that_would_build_a_huge_string_is_refused_before_it_is_built() {
        let n = json!(null);
        check_errors(&[
            // An empty pattern matches between every character: a million copies of a million bytes.
            ("('a' * 1000000).replace('', 'b' * 1000000)", n.clone(), "replace() would make a string too large"),
            ("('a' * 1000000).replace({a => 'b' * 1000}, -1)", n.clone(), "replace() would make a string too large"),
            ("range(1000000).join('x' * 1000000)", n.clone(), "join() would make a string too large"),
            ("('{0}' * 300000).format('x' * 1000000)", n.clone(), "format() would make a string too large"),
        ]);
        check_values(&[("('a' * 10).replace('', '-', 3)", n.clone(), json!("-a-a-aaaaaaaa"))]);
    }
}
