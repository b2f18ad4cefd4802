//! Values written as Python writes them: `str()` and `repr()` of JSON values (`True`, `None`,
//! `{'a': 1}`), float repr, and `shlex.quote`. StackStorm passes Python's text forms to scripts
//! and templates, so st2d must produce the same bytes.
//!
//! Owns: these text forms. Must not: parse anything.

use serde_json::Value;

/// Python's `str(value)`: a string is itself, everything else its `repr`.
pub fn str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => repr(other),
    }
}

/// Python's `repr(value)` of the value decoded from JSON.
pub fn repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(value, &mut out);
    out
}

fn write_repr(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(int), _, _) => out.push_str(&int.to_string()),
            (None, Some(uint), _) => out.push_str(&uint.to_string()),
            (None, None, Some(float)) => out.push_str(&float_repr(float)),
            _ => out.push_str(&number.to_string()),
        },
        Value::String(text) => out.push_str(&string_repr(text)),
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                write_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (n, (key, item)) in map.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                out.push_str(&string_repr(key));
                out.push_str(": ");
                write_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(float)`: the shortest round-trip digits, positional for exponents from -4 to
/// 15, scientific (`1e+16`, `1.5e-07`) outside; `inf`, `nan`.
pub fn float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..16).contains(&exponent) {
        let text = value.to_string();
        if text.contains('.') { text } else { format!("{text}.0") }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// Python's `repr(str)`: single quotes unless the text has `'` and no `"`; backslash escapes for
/// the quote, `\\`, `\n`, `\r`, `\t` and other control characters.
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
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if ('\u{80}'..'\u{a0}').contains(&c) => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `shlex.quote`: unchanged when only `[A-Za-z0-9_@%+=:,./-]`, else single-quoted.
pub fn shell_quote(text: &str) -> String {
    if text.is_empty() {
        return "''".to_string();
    }
    let safe = text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if safe { text.to_string() } else { format!("'{}'", text.replace('\'', "'\"'\"'")) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_print_as_python_prints_them() {
        let cases = [
            (json!(null), "None"),
            (json!(true), "True"),
            (json!(false), "False"),
            (json!(5), "5"),
            (json!(-3), "-3"),
            (json!(1.0), "1.0"),
            (json!(0.1), "0.1"),
            (json!(1.5e-7), "1.5e-07"),
            (json!(1e16), "1e+16"),
            (json!(123456789.5), "123456789.5"),
            (json!("text"), "text"),
            (json!(["a", 1, null]), "['a', 1, None]"),
            (json!({"k": "v", "n": [true]}), "{'k': 'v', 'n': [True]}"),
            (json!(["it's"]), "[\"it's\"]"),
            (json!(["a'b\"c"]), "['a\\'b\"c']"),
            (json!(["line\nbreak\\"]), "['line\\nbreak\\\\']"),
            (json!(["é"]), "['é']"),
        ];
        for (value, expected) in cases {
            assert_eq!(str(&value), expected, "{value}");
        }
    }

    #[test]
    fn shell_quoting_follows_shlex() {
        let cases = [
            ("", "''"),
            ("plain-word_1.2/x:y,z@%+=", "plain-word_1.2/x:y,z@%+="),
            ("two words", "'two words'"),
            ("it's", "'it'\"'\"'s'"),
            ("$HOME", "'$HOME'"),
            ("é", "'é'"),
        ];
        for (text, expected) in cases {
            assert_eq!(shell_quote(text), expected, "{text}");
        }
    }
}
