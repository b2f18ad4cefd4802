//! JSON values written the way StackStorm's Python writes them: `str()`, `repr()`,
//! `json.dumps()` with its default separators, and `shlex.quote()`; and Python's truth of a
//! value, which YAQL, Orquesta's transitions and inspection and script arguments all follow.
//! Runners pass parameters on as text in these forms (script arguments, environment
//! variables, query strings).
//!
//! Owns: those text forms and that truth. Must not: decide which form a runner uses where.

use serde_json::{Number, Value};

/// Python's truth of a value: `None`, `False`, zero, and empty text, lists and mappings are
/// false.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// Python's `str(value)`: strings as they are, `True`/`False`/`None`, containers as `repr`.
pub fn py_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr(value)`: `'text'`, `True`, `None`, `1.0`, `['a', 1]`, `{'k': 'v'}`.
pub fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(number) => number_text(number),
        Value::String(text) => string_repr(text),
        Value::Array(items) => format!("[{}]", items.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter().map(|(k, v)| format!("{}: {}", string_repr(k), py_repr(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Python's `json.dumps(value)`: `", "` and `": "` separators, non-ASCII escaped as `\uXXXX`.
pub fn json_dumps(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number_text(number),
        Value::String(text) => json_string(text),
        Value::Array(items) => format!("[{}]", items.iter().map(json_dumps).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter().map(|(k, v)| format!("{}: {}", json_string(k), json_dumps(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Python's `shlex.quote(text)`: unchanged when every character is safe, else single-quoted.
pub fn shell_quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if text.is_empty() {
        "''".to_string()
    } else if text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\"'\"'"))
    }
}

/// Integers as digits; floats as Python's `repr(float)` (`1.0`, `1e+20`, `1.5e-07`).
fn number_text(number: &Number) -> String {
    if number.is_i64() || number.is_u64() {
        return number.to_string();
    }
    match number.as_f64() {
        Some(float) => float_repr(float),
        None => number.to_string(),
    }
}

/// Python's `repr(float)`: shortest round-trip digits, scientific below 1e-4 and from 1e16.
pub fn float_repr(float: f64) -> String {
    if float.is_nan() {
        return "nan".to_string();
    }
    if float.is_infinite() {
        return if float > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let scientific = format!("{float:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..16).contains(&exponent) {
        let plain = format!("{float}");
        if plain.contains('.') { plain } else { format!("{plain}.0") }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// Python's `repr(str)`: single quotes unless the text has one and no double quote; control
/// characters (C0, DEL and C1) as `\xNN`.
pub fn string_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn python_text_forms() {
        let cases = [
            (json!("a b"), "a b", "'a b'", "\"a b\""),
            (json!(true), "True", "True", "true"),
            (json!(null), "None", "None", "null"),
            (json!(5), "5", "5", "5"),
            (json!(2.0), "2.0", "2.0", "2.0"),
            (json!(1.5e-7), "1.5e-07", "1.5e-07", "1.5e-07"),
            (json!(1e20), "1e+20", "1e+20", "1e+20"),
            (json!(["a", 1, false]), "['a', 1, False]", "['a', 1, False]", "[\"a\", 1, false]"),
            (
                json!({"k": "v", "n": null}),
                "{'k': 'v', 'n': None}",
                "{'k': 'v', 'n': None}",
                "{\"k\": \"v\", \"n\": null}",
            ),
            (json!("it's"), "it's", "\"it's\"", "\"it's\""),
            (json!("é\n"), "é\n", "'é\\n'", "\"\\u00e9\\n\""),
        ];
        for (value, str_form, repr_form, json_form) in cases {
            assert_eq!(py_str(&value), str_form, "str({value})");
            assert_eq!(py_repr(&value), repr_form, "repr({value})");
            assert_eq!(json_dumps(&value), json_form, "json.dumps({value})");
        }
    }

    #[test]
    fn shell_quoting_follows_shlex() {
        let cases = [
            ("", "''"),
            ("plain-1.txt", "plain-1.txt"),
            ("--name=x", "--name=x"),
            ("a b", "'a b'"),
            ("it's", "'it'\"'\"'s'"),
            ("$HOME", "'$HOME'"),
        ];
        for (text, quoted) in cases {
            assert_eq!(shell_quote(text), quoted, "{text}");
        }
    }
}
