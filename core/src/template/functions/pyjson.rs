//! JSON as Python's `json` module writes and refuses it: `json.dumps` with `indent`,
//! `sort_keys` and `separators` (non-ASCII escaped, as `ensure_ascii` does), and the
//! `JSONDecodeError` text of a document that does not parse ("Expecting value: line 1
//! column 1 (char 0)").
//!
//! Owns: those two texts. Must not: decide which options a function passes.

use serde_json::Value;

use crate::pyfmt;

/// How `dumps` lays out a document.
pub(super) struct Layout {
    /// The indent of one level; `None` writes everything on one line.
    pub indent: Option<String>,
    pub sort_keys: bool,
    pub item_separator: String,
    pub key_separator: String,
}

/// `json.dumps(value, indent=..., sort_keys=..., separators=...)`.
pub(super) fn dumps(value: &Value, layout: &Layout) -> String {
    let mut out = String::new();
    write(value, layout, 0, &mut out);
    out
}

fn write(value: &Value, layout: &Layout, depth: usize, out: &mut String) {
    let newline = |out: &mut String, depth: usize| {
        if let Some(indent) = &layout.indent {
            out.push('\n');
            out.push_str(&indent.repeat(depth));
        }
    };
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&layout.item_separator);
                }
                newline(out, depth + 1);
                write(item, layout, depth + 1, out);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
            if layout.sort_keys {
                pairs.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (key, item)) in pairs.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(&layout.item_separator);
                }
                newline(out, depth + 1);
                out.push_str(&pyfmt::json_dumps(&Value::String(key.clone())));
                out.push_str(&layout.key_separator);
                write(item, layout, depth + 1, out);
            }
            newline(out, depth);
            out.push('}');
        }
        scalar => out.push_str(&pyfmt::json_dumps(scalar)),
    }
}

/// The `JSONDecodeError` text for `error` while reading `text`: Python's message for the
/// common mistakes (serde_json's otherwise), and where, as `line L column C (char N)`.
pub(super) fn decode_error(text: &str, error: &serde_json::Error) -> String {
    let full = error.to_string();
    let detail = full.find(" at line ").map_or(full.as_str(), |cut| &full[..cut]);
    let message = match detail {
        "EOF while parsing a value" | "expected value" => "Expecting value",
        "trailing characters" => "Extra data",
        "key must be a string" | "EOF while parsing an object" => "Expecting property name enclosed in double quotes",
        "expected `,` or `}`" | "expected `,` or `]`" | "EOF while parsing a list" => "Expecting ',' delimiter",
        "expected `:`" => "Expecting ':' delimiter",
        "EOF while parsing a string" => "Unterminated string starting at",
        "invalid escape" => "Invalid \\escape",
        other if other.starts_with("control character") => "Invalid control character at",
        other => other,
    };
    let chars: Vec<char> = text.chars().collect();
    // serde_json points at the offending character (1-based); at the end of the text Python
    // points just past it.
    let position = if error.is_eof() {
        chars.len()
    } else {
        let line_start = line_start(&chars, error.line());
        (line_start + error.column().saturating_sub(1)).min(chars.len())
    };
    let line = 1 + chars[..position].iter().filter(|&&c| c == '\n').count();
    let column = position - chars[..position].iter().rposition(|&c| c == '\n').map_or(0, |at| at + 1) + 1;
    format!("{message}: line {line} column {column} (char {position})")
}

/// The char index where 1-based `line` starts.
fn line_start(chars: &[char], line: usize) -> usize {
    let mut seen = 1;
    for (at, c) in chars.iter().enumerate() {
        if seen == line {
            return at;
        }
        if *c == '\n' {
            seen += 1;
        }
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layout(indent: Option<&str>, item_separator: &str) -> Layout {
        Layout {
            indent: indent.map(str::to_string),
            sort_keys: false,
            item_separator: item_separator.to_string(),
            key_separator: ": ".to_string(),
        }
    }

    #[test]
    fn dumps_lays_out_as_python() {
        let value = json!({"a": [1, {}], "é": []});
        assert_eq!(dumps(&value, &layout(None, ", ")), r#"{"a": [1, {}], "\u00e9": []}"#);
        assert_eq!(
            dumps(&value, &layout(Some("  "), ",")),
            "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"\\u00e9\": []\n}"
        );
    }

    #[test]
    fn decode_errors_read_as_pythons() {
        let cases = [
            ("", "Expecting value: line 1 column 1 (char 0)"),
            ("{\"a\" 1}", "Expecting ':' delimiter: line 1 column 6 (char 5)"),
            ("1 2", "Extra data: line 1 column 3 (char 2)"),
            ("[1,\n x]", "Expecting value: line 2 column 2 (char 5)"),
            ("{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        ];
        for (text, expected) in cases {
            let error = serde_json::from_str::<Value>(text).expect_err("not JSON");
            assert_eq!(decode_error(text, &error), expected, "{text:?}");
        }
    }
}
