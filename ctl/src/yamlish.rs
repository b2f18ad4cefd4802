//! JSON values printed as block YAML, the way StackStorm's CLI shows execution details: keys
//! sorted, nested values indented two spaces, strings quoted only where YAML needs it,
//! multi-line strings as `|-` blocks.
//!
//! Owns: that text form. Must not: choose which fields are shown.

use serde_json::Value;

/// `key: value` for one top-level attribute (nested values on the following lines).
/// A top-level string is printed as it is (an id that looks like a number stays unquoted).
pub fn attribute(key: &str, value: &Value) -> String {
    if let Value::String(text) = value
        && !text.contains('\n')
    {
        return format!("{key}: {text}\n");
    }
    let mut out = String::new();
    write_entry(key, value, 0, &mut out);
    out
}

fn write_entry(key: &str, value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str(&format!("{pad}{}: \n", scalar_key(key)));
            write_block(value, indent + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str(&format!("{pad}{}: \n", scalar_key(key)));
            write_block(value, indent + 2, out);
        }
        Value::String(text) if text.contains('\n') => {
            out.push_str(&format!("{pad}{}: |-\n", scalar_key(key)));
            for line in text.lines() {
                out.push_str(&format!("{pad}  {line}\n"));
            }
        }
        scalar => out.push_str(&format!("{pad}{}: {}\n", scalar_key(key), scalar_text(scalar))),
    }
}

/// The lines of a mapping or a sequence at `indent`.
fn write_block(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for key in keys {
                write_entry(key, &map[key], indent, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        let mut nested = String::new();
                        write_block(item, indent + 2, &mut nested);
                        // The first line of the mapping goes after the dash.
                        let nested = nested.trim_start_matches(' ');
                        out.push_str(&format!("{pad}- {nested}"));
                    }
                    Value::Array(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{pad}-\n"));
                        write_block(item, indent + 2, out);
                    }
                    scalar => out.push_str(&format!("{pad}- {}\n", scalar_text(scalar))),
                }
            }
        }
        scalar => out.push_str(&format!("{pad}{}\n", scalar_text(scalar))),
    }
}

fn scalar_key(key: &str) -> String {
    if needs_quotes(key) { quoted(key) } else { key.to_string() }
}

/// A scalar as YAML writes it.
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(text) if needs_quotes(text) => quoted(text),
        Value::String(text) => text.clone(),
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
    }
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Text that would read back as something else (a number, a boolean, null), or that YAML
/// syntax would take apart.
fn needs_quotes(text: &str) -> bool {
    if text.is_empty() || text.trim() != text {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    if ["true", "false", "yes", "no", "on", "off", "null", "~"].contains(&lower.as_str()) {
        return true;
    }
    if text.parse::<f64>().is_ok() {
        return true;
    }
    let first = text.chars().next().unwrap_or(' ');
    "-?:,[]{}#&*!|>'\"%@`".contains(first) || text.contains(": ") || text.contains(" #") || text.ends_with(':')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_print_as_block_yaml() {
        assert_eq!(attribute("id", &json!("0000000000000001")), "id: 0000000000000001\n");
        assert_eq!(attribute("status", &json!("succeeded (1s elapsed)")), "status: succeeded (1s elapsed)\n");
        assert_eq!(
            attribute("result", &json!({"stdout": "hi", "stderr": "", "return_code": 0, "failed": false})),
            "result: \n  failed: false\n  return_code: 0\n  stderr: ''\n  stdout: hi\n"
        );
        assert_eq!(
            attribute("parameters", &json!({"hosts": ["a", "b"]})),
            "parameters: \n  hosts: \n    - a\n    - b\n"
        );
        assert_eq!(
            attribute("log", &json!([{"status": "requested", "n": 1}])),
            "log: \n  - n: 1\n    status: requested\n"
        );
        assert_eq!(attribute("out", &json!("one\ntwo")), "out: |-\n  one\n  two\n");
        assert_eq!(
            attribute("x", &json!({"k": "a: b", "t": "true", "e": {}})),
            "x: \n  e: {}\n  k: 'a: b'\n  t: 'true'\n"
        );
    }
}
