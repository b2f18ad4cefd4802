//! The `regex_*` functions (`st2common/expressions/functions/regex.py`): Python's `re.match`,
//! `re.search`, `re.sub` and `re.findall` over the text of a value (a value that is not a
//! string is matched as Python's `str()` prints it), with `ignorecase`.
//!
//! Owns: those four, Python's replacement templates (`\1`, `\g<name>`, `\n`...) and findall's
//! result shapes. Patterns are Rust's `regex` syntax, which is Python's without look-around
//! and backreferences (`\Z` is read as Python means it); matching takes linear time, so no
//! pattern hangs a render. Must not: evaluate expressions.

use regex::{Captures, Regex, RegexBuilder};
use serde_json::Value;

use super::FunctionError;
use super::signature::{Bound, python_type, truthy};
use crate::pyfmt::py_str;

/// The largest compiled pattern accepted.
const SIZE_LIMIT: usize = 1 << 22;

/// Compiles parameter 1 of `args` with `ignorecase` from parameter `flag_at`; `anchored`
/// matches only at the start of the text (`re.match`).
fn pattern(args: &Bound, flag_at: usize, anchored: bool) -> Result<Regex, FunctionError> {
    let Value::String(source) = args.arg(1) else {
        return Err(FunctionError::WrongType("first argument must be string or compiled pattern".to_string()));
    };
    let ignorecase = args.given(flag_at).is_some_and(truthy);
    let translated = python_pattern(source);
    let translated = if anchored { format!(r"\A(?:{translated})") } else { translated };
    RegexBuilder::new(&translated).case_insensitive(ignorecase).size_limit(SIZE_LIMIT).build().map_err(|e| {
        let detail = e.to_string();
        let last = detail.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("invalid pattern").trim();
        FunctionError::InvalidRegex(format!("{last} in {}", crate::pyfmt::string_repr(source)))
    })
}

/// Python's `\Z` (end of text) as Rust's `\z`; everything else as written.
fn python_pattern(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\\'
            && let Some(next) = chars.next()
        {
            out.push(if next == 'Z' { 'z' } else { next });
        }
    }
    out
}

/// The text a value is matched as.
fn subject(args: &Bound) -> String {
    py_str(args.arg(0))
}

/// `regex_match(value, pattern, ignorecase=False)`: whether the pattern matches at the start.
pub(super) fn regex_match(args: &Bound) -> Result<Value, FunctionError> {
    Ok(Value::Bool(pattern(args, 2, true)?.is_match(&subject(args))))
}

/// `regex_search(value, pattern, ignorecase=False)`: whether the pattern matches anywhere.
pub(super) fn regex_search(args: &Bound) -> Result<Value, FunctionError> {
    let re = pattern(args, 2, false)?;
    Ok(Value::Bool(re.is_match(&subject(args))))
}

/// `regex_replace(value, pattern, replacement, ignorecase=False)`: every match replaced.
pub(super) fn regex_replace(args: &Bound) -> Result<Value, FunctionError> {
    let re = pattern(args, 3, false)?;
    let Value::String(template) = args.arg(2) else {
        return Err(FunctionError::WrongType(format!("expected str instance, {} found", python_type(args.arg(2)))));
    };
    let pieces = replacement(template, &re)?;
    let text = subject(args);
    let replaced = re.replace_all(&text, |caps: &Captures| {
        pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => text.as_str(),
                Piece::Group(at) => caps.get(*at).map_or("", |m| m.as_str()),
            })
            .collect::<String>()
    });
    Ok(Value::String(replaced.into_owned()))
}

/// `regex_substring(value, pattern, result_index=0, ignorecase=False)`: item `result_index`
/// of Python's `re.findall`: the whole match without groups, the group with one, the list of
/// groups with more.
pub(super) fn regex_substring(args: &Bound) -> Result<Value, FunctionError> {
    let re = pattern(args, 3, false)?;
    let text = subject(args);
    let groups = re.captures_len() - 1;
    let found: Vec<Value> = re
        .captures_iter(&text)
        .map(|caps| {
            let group = |at: usize| Value::String(caps.get(at).map_or("", |m| m.as_str()).to_string());
            match groups {
                0 => group(0),
                1 => group(1),
                _ => Value::Array((1..=groups).map(group).collect()),
            }
        })
        .collect();
    let index = match args.given(2).unwrap_or(&Value::from(0)) {
        Value::Bool(flag) => i64::from(*flag),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.as_i64().unwrap_or(i64::MAX),
        other => {
            return Err(FunctionError::WrongType(format!(
                "list indices must be integers or slices, not {}",
                python_type(other)
            )));
        }
    };
    let len = i64::try_from(found.len()).unwrap_or(i64::MAX);
    let at = if index < 0 { index + len } else { index };
    usize::try_from(at)
        .ok()
        .and_then(|at| found.get(at).cloned())
        .ok_or_else(|| FunctionError::NoSuchIndex("list index out of range".to_string()))
}

/// A part of a replacement: text, or a group's match.
enum Piece {
    Text(String),
    Group(usize),
}

/// Python's replacement template: `\1`..`\99` and `\g<n>`/`\g<name>` name groups, `\n`,
/// `\t`... are characters, `\0` starts an octal escape, another `\` + ASCII letter is an error,
/// `\` + anything else stays as written.
fn replacement(template: &str, re: &Regex) -> Result<Vec<Piece>, FunctionError> {
    let chars: Vec<char> = template.chars().collect();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut at = 0;
    let bad = |message: String| FunctionError::InvalidRegex(message);
    while at < chars.len() {
        let c = chars[at];
        if c != '\\' {
            text.push(c);
            at += 1;
            continue;
        }
        let Some(&next) = chars.get(at + 1) else {
            return Err(bad(format!("bad escape (end of pattern) at position {at}")));
        };
        let mut group = None;
        match next {
            'g' => {
                let close = chars[at + 2..].iter().position(|&c| c == '>');
                let (Some('<'), Some(close)) = (chars.get(at + 2), close) else {
                    return Err(bad(format!("missing < at position {}", at + 2)));
                };
                let name: String = chars[at + 3..at + 2 + close].iter().collect();
                group = Some(group_index(&name, re, at + 3)?);
                at += 3 + close;
            }
            '0' => {
                let digits: String = chars[at + 2..].iter().take(2).take_while(|c| c.is_digit(8)).collect();
                let code = u32::from_str_radix(&format!("0{digits}"), 8).unwrap_or(0);
                text.push(char::from_u32(code).unwrap_or('\0'));
                at += 2 + digits.len();
            }
            '1'..='9' => {
                let digits: String = chars[at + 1..].iter().take(2).take_while(|c| c.is_ascii_digit()).collect();
                let number: usize = digits.parse().unwrap_or(0);
                if number >= re.captures_len() {
                    return Err(bad(format!("invalid group reference {number} at position {}", at + 1)));
                }
                group = Some(number);
                at += 1 + digits.len();
            }
            _ => {
                let escaped = match next {
                    'a' => Some('\u{7}'),
                    'b' => Some('\u{8}'),
                    'f' => Some('\u{c}'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    'v' => Some('\u{b}'),
                    '\\' => Some('\\'),
                    c if c.is_ascii_alphabetic() => return Err(bad(format!("bad escape \\{c} at position {at}"))),
                    _ => None,
                };
                match escaped {
                    Some(c) => text.push(c),
                    None => {
                        text.push('\\');
                        text.push(next);
                    }
                }
                at += 2;
            }
        }
        if let Some(group) = group {
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Group(group));
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// The index of group `name` (a number or a group name) in `re`.
fn group_index(name: &str, re: &Regex, position: usize) -> Result<usize, FunctionError> {
    if let Ok(number) = name.parse::<usize>() {
        return if number < re.captures_len() {
            Ok(number)
        } else {
            Err(FunctionError::InvalidRegex(format!("invalid group reference {number} at position {position}")))
        };
    }
    re.capture_names()
        .position(|group| group == Some(name))
        .ok_or_else(|| FunctionError::NoSuchIndex(format!("unknown group name '{name}'")))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::filter;

    fn call(name: &str, args: Value) -> Result<Value, String> {
        let function = filter(name).ok_or("no such function")?;
        function.call(args.as_array().cloned().unwrap_or_default(), serde_json::Map::new()).map_err(|e| e.to_string())
    }

    #[test]
    fn replacements_and_findall_read_as_pythons() {
        // Python's re.sub templates and re.findall shapes (docs.python.org/3/library/re.html).
        let cases = [
            ("regex_replace", json!(["v1.2", r"v(\d)\.(?P<minor>\d)", r"\g<minor>-\1\n\g<0>"]), Ok(json!("2-1\nv1.2"))),
            ("regex_replace", json!(["a.b", r"\.", r"\."]), Ok(json!(r"a\.b"))),
            ("regex_replace", json!(["ab", "a", r"\2"]), Err("error: invalid group reference 2 at position 1")),
            ("regex_replace", json!(["ab", "a", r"\g<x>"]), Err("IndexError: unknown group name 'x'")),
            ("regex_substring", json!(["k1=v1 k2=v2", r"(\w+)=(\w+)", 1]), Ok(json!(["k2", "v2"]))),
            ("regex_substring", json!(["k1=v1 k2=v2", r"\w+=\w+", -1]), Ok(json!("k2=v2"))),
            (
                "regex_substring",
                json!(["x", "x", "0"]),
                Err("TypeError: list indices must be integers or slices, not str"),
            ),
            ("regex_match", json!([12, "1"]), Ok(json!(true))),
            ("regex_match", json!(["a\nb", "(?m)b"]), Ok(json!(false))),
            ("regex_search", json!(["ab", r"b\Z"]), Ok(json!(true))),
        ];
        for (name, args, expected) in cases {
            assert_eq!(call(name, args.clone()), expected.map_err(str::to_string), "{name}{args}");
        }
    }
}
