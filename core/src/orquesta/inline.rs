//! Orquesta's shorthand assignments: `action: core.echo message="hi" count=<% ctx(n) %>` and
//! `publish: msg="done", out=<% result() %>`. Pairs are `key=value`, delimited by blanks,
//! commas or semicolons; a value is a quoted string, an expression (`<% %>`, `{{ }}`) that may
//! hold blanks, or a bare word read as a YAML scalar (`3` is a number, `true` a boolean).
//!
//! Owns: splitting such text into ordered pairs. Must not: evaluate expressions.

use serde_json::Value;

/// What is wrong with shorthand text; each quotes where reading stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InlineError {
    /// Text that is not `key=value` (its first 40 characters).
    #[error("expected key=value at \"{0}\"")]
    ExpectedPair(String),
    #[error("unterminated {0} quote")]
    UnterminatedQuote(char),
    #[error("unterminated expression \"{0}\"")]
    UnterminatedExpression(String),
}

/// The ordered `key=value` pairs of `text`, or what is wrong with it.
pub fn pairs(text: &str) -> Result<Vec<(String, Value)>, InlineError> {
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    let mut found = Vec::new();
    loop {
        while at < chars.len() && is_delimiter(chars[at]) {
            at += 1;
        }
        if at >= chars.len() {
            return Ok(found);
        }
        let start = at;
        while at < chars.len() && (chars[at].is_alphanumeric() || matches!(chars[at], '_' | '-' | '.')) {
            at += 1;
        }
        let key: String = chars[start..at].iter().collect();
        if key.is_empty() || chars.get(at) != Some(&'=') {
            return Err(InlineError::ExpectedPair(chars[start..].iter().take(40).collect()));
        }
        at += 1;
        let (value, next) = value(&chars, at)?;
        at = next;
        found.push((key, value));
    }
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || c == ',' || c == ';'
}

/// Reads one value starting at `at`; returns it and where reading stopped.
fn value(chars: &[char], at: usize) -> Result<(Value, usize), InlineError> {
    match chars.get(at) {
        Some(&quote) if quote == '"' || quote == '\'' => {
            let mut text = String::new();
            let mut index = at + 1;
            while index < chars.len() {
                match chars[index] {
                    '\\' if chars.get(index + 1) == Some(&quote) => {
                        text.push(quote);
                        index += 2;
                    }
                    c if c == quote => return Ok((Value::String(text), index + 1)),
                    c => {
                        text.push(c);
                        index += 1;
                    }
                }
            }
            Err(InlineError::UnterminatedQuote(quote))
        }
        _ => {
            let mut text = String::new();
            let mut index = at;
            while index < chars.len() && !is_delimiter(chars[index]) {
                // An expression keeps its blanks and delimiters.
                let closing = match (chars[index], chars.get(index + 1)) {
                    ('<', Some('%')) => Some(['%', '>']),
                    ('{', Some('{')) => Some(['}', '}']),
                    _ => None,
                };
                if let Some(closing) = closing {
                    let end = (index + 2..chars.len().saturating_sub(1))
                        .find(|&i| chars[i] == closing[0] && chars[i + 1] == closing[1])
                        .ok_or_else(|| InlineError::UnterminatedExpression(chars[index..].iter().collect()))?;
                    text.extend(&chars[index..end + 2]);
                    index = end + 2;
                } else {
                    text.push(chars[index]);
                    index += 1;
                }
            }
            let value = if text.contains("<%") || text.contains("{{") { Value::String(text) } else { scalar(&text) };
            Ok((value, index))
        }
    }
}

/// A bare word as YAML reads it: numbers, booleans and null, else the text.
fn scalar(text: &str) -> Value {
    match crate::yaml::parse(text) {
        Ok(value @ (Value::Number(_) | Value::Bool(_) | Value::Null)) if !text.is_empty() => value,
        _ => Value::String(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shorthand_pairs_read_as_orquesta_reads_them() {
        let cases = [
            ("message=\"Fee fi\"", json!([["message", "Fee fi"]])),
            ("cmd=\"rm -rf <% ctx().file %>\"", json!([["cmd", "rm -rf <% ctx().file %>"]])),
            ("message=<% ctx().name %>", json!([["message", "<% ctx().name %>"]])),
            (
                "operand1=<% ctx(\"c\") %> operand2=<% ctx(\"d\") %>",
                json!([["operand1", "<% ctx(\"c\") %>"], ["operand2", "<% ctx(\"d\") %>"]]),
            ),
            ("msg=\"task2 done\", cd=<% result() %>", json!([["msg", "task2 done"], ["cd", "<% result() %>"]])),
            ("msg=\"task3 done\" abcd=<% result() %>", json!([["msg", "task3 done"], ["abcd", "<% result() %>"]])),
            ("x=123; y=true, z=null w=abc", json!([["x", 123], ["y", true], ["z", null], ["w", "abc"]])),
            ("msg4=\"I'll grind his bones\"", json!([["msg4", "I'll grind his bones"]])),
            ("m='say \\'hi\\''", json!([["m", "say 'hi'"]])),
            ("message={{ ctx('a') }}", json!([["message", "{{ ctx('a') }}"]])),
            ("cmd=\"sleep 3; touch <% ctx().file %>\"", json!([["cmd", "sleep 3; touch <% ctx().file %>"]])),
            ("", json!([])),
        ];
        for (text, expected) in cases {
            let read = pairs(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let read: Vec<Value> = read.into_iter().map(|(k, v)| json!([k, v])).collect();
            assert_eq!(Value::Array(read), expected, "{text}");
        }
    }

    #[test]
    fn broken_shorthand_says_where() {
        let cases = [
            ("message", "expected key=value at \"message\""),
            ("a=1 =2", "expected key=value at \"=2\""),
            ("m=\"open", "unterminated \" quote"),
            ("m=<% ctx(", "unterminated expression"),
        ];
        for (text, expected) in cases {
            let error = pairs(text).expect_err(text).to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
